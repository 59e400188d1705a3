"""Run :func:`plugin.analysis.analyse_file` over many photos, in processes or threads.

Processes (the default) isolate the decoders: a fuzzer-grade file that
crashes libtiff or libheif kills one worker, is recorded as
``worker_crashed``, and the scan goes on; a file that hangs is killed at the
per-file time limit (``timeout``). Workers are recycled after a number of
photos so memory held by decoders stays bounded. Threads avoid process start-up
and pickling; Pillow, libjpeg and OpenCV release the GIL, so they scale too
(tests/bench/bench_scan.py measures both), but they cannot enforce a time limit.

At most ``workers * 4`` photos are in flight: memory stays bounded however
large the library, and results stream back in completion order.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Protocol

from pebble import ProcessExpired, ProcessPool

from plugin.analysis import AnalysisOptions, PhotoOutcome, PhotoTask, analyse_file
from plugin.reading.decode import ReadFailure

log = logging.getLogger(__name__)

_IN_FLIGHT_PER_WORKER = 4
# pebble's name for its worker processes (pebble.pool.process.WORKERS_NAME).
_PEBBLE_WORKER = "pebble_pool_worker"
# How often a waiting scan (for a photo's analysis or its download) looks at its stop flag.
STOP_CHECK_S = 0.25


class StopSignal(Protocol):
    def is_set(self) -> bool: ...


class Runner(Protocol):
    def run(self, tasks: Iterable[PhotoTask], stop: StopSignal | None = None) -> Iterator[PhotoOutcome]: ...


def _failed(task: PhotoTask, reason: str, detail: str) -> PhotoOutcome:
    return PhotoOutcome(task, size=task.size, mtime_ns=task.mtime_ns,
                        failure=ReadFailure("error", reason, detail))


def _drain(submit: Callable[[PhotoTask], Future[PhotoOutcome]], tasks: Iterable[PhotoTask], limit: int,
           timeout_s: float | None, stop: StopSignal | None = None,
           grace_s: float = 0.0) -> Iterator[PhotoOutcome]:
    """Outcomes in completion order, at most ``limit`` photos in flight.

    Once ``stop`` is set no photo is started; those in flight get ``grace_s`` to finish, and the rest are
    left (the caller stops the pool): their files are unchanged in the database, so the next scan reads them.
    """
    pending: dict[Future[PhotoOutcome], PhotoTask] = {}
    source = iter(tasks)
    stopping_since: float | None = None

    def fill() -> None:
        while len(pending) < limit and not (stop is not None and stop.is_set()):
            task = next(source, None)
            if task is None:
                return
            pending[submit(task)] = task

    fill()
    while pending:
        done, _ = wait(pending, timeout=None if stop is None else STOP_CHECK_S, return_when=FIRST_COMPLETED)
        if stop is not None and stop.is_set() and stopping_since is None:
            stopping_since = time.monotonic()
        for future in done:
            task = pending.pop(future)
            try:
                yield future.result()
            except FutureTimeout:
                yield _failed(task, "timeout", f"took longer than {timeout_s:g} s (setting workers.per_file_timeout_s)")
            except ProcessExpired as exc:
                yield _failed(task, "worker_crashed", f"the decoder crashed (exit code {exc.exitcode})")
            except Exception as exc:  # a bug in piccl must cost this photo, not the scan
                yield _failed(task, "analysis_failed", f"{type(exc).__name__}: {exc}")
        if stopping_since is not None and pending and time.monotonic() - stopping_since >= grace_s:
            log.info("stopping: %d photos in flight are left for the next scan", len(pending))
            return
        fill()


def _init_worker_process(decoder_log: str | None) -> None:
    import signal

    import cv2

    # Ctrl-C reaches the whole process group: the parent stops the scan (photos in hand get a grace
    # period) and then the pool; a worker dying with its photo in hand would record it as crashed.
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    # Pillow logs decoder complaints about broken files; the photo's recorded reason says it already.
    logging.getLogger("PIL").setLevel(logging.CRITICAL)
    if decoder_log:
        # libtiff and libheif print straight to stderr from C. Keep that for debugging, in a log
        # file, instead of scattering it over the user's progress bar.
        with open(decoder_log, "ab", buffering=0) as log:
            os.dup2(log.fileno(), 2)
    # Each process is already one of N workers on N cores; OpenCV's own thread pool on top
    # of that only adds contention.
    cv2.setNumThreads(1)


class ProcessRunner:
    def __init__(self, workers: int, options: AnalysisOptions, timeout_s: float, max_tasks: int,
                 decoder_log: str | None = None, grace_s: float = 0.0) -> None:
        self.workers, self.options, self.timeout_s, self.max_tasks = workers, options, timeout_s, max_tasks
        self.decoder_log, self.grace_s = decoder_log, grace_s

    def run(self, tasks: Iterable[PhotoTask], stop: StopSignal | None = None) -> Iterator[PhotoOutcome]:
        # forkserver, not fork: the parent may run watcher and scheduler threads, and forking a
        # threaded process can deadlock the child on a lock some other thread held.
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["plugin.analysis"])
        pool = ProcessPool(max_workers=self.workers, max_tasks=self.max_tasks, context=context,
                           initializer=_init_worker_process, initargs=(self.decoder_log,))
        try:
            yield from _drain(
                lambda task: pool.schedule(analyse_file, args=(task, self.options), timeout=self.timeout_s),
                tasks, self.workers * _IN_FLIGHT_PER_WORKER, self.timeout_s, stop, self.grace_s)
        finally:
            if stop is not None and stop.is_set():
                # Past the grace period what the workers hold is thrown away: kill them all at once. pebble
                # would ask each in turn and wait 3 s for one busy in a decoder or a model.
                for child in multiprocessing.active_children():
                    if child.name == _PEBBLE_WORKER:
                        child.kill()
            pool.stop()
            pool.join()


class ThreadRunner:
    def __init__(self, workers: int, options: AnalysisOptions, grace_s: float = 0.0) -> None:
        self.workers, self.options, self.grace_s = workers, options, grace_s

    def run(self, tasks: Iterable[PhotoTask], stop: StopSignal | None = None) -> Iterator[PhotoOutcome]:
        pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="piccl-scan")
        try:
            yield from _drain(lambda task: pool.submit(analyse_file, task, self.options),
                              tasks, self.workers * _IN_FLIGHT_PER_WORKER, None, stop, self.grace_s)
        finally:
            # A thread cannot be killed: on a stop, photos still in hand finish unseen and are read again.
            stopping = stop is not None and stop.is_set()
            pool.shutdown(wait=not stopping, cancel_futures=stopping)


def make_runner(kind: str, workers: int, options: AnalysisOptions, timeout_s: float, max_tasks: int,
                decoder_log: str | None = None, grace_s: float = 0.0) -> Runner:
    if kind == "thread":
        return ThreadRunner(workers, options, grace_s)
    return ProcessRunner(workers, options, timeout_s, max_tasks, decoder_log, grace_s)
