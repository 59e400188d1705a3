"""``piccl run``, the container's main job: its parts, supervised, and a clean stop.

Four parts run side by side:

- **web**: the review UI on waitress;
- **watcher**: file-system observers of the local libraries (inotify, or polling on SMB/NFS);
- **scheduler**: APScheduler, which only *submits* jobs (the settle check, periodic rescans, WebDAV polls,
  grouping, face re-clustering, write-back, trash retention);
- **analysis**: one thread that runs those jobs one at a time (they share one database writer), and
  with them the scan workers.

A supervisor looks at the parts every few seconds and restarts one that stopped, at most
``service.max_restarts`` times in ``service.restart_window_min``; after that the part stays stopped and
``/healthz`` answers 503 naming it, so Docker, Unraid or Synology show the container unhealthy instead of
it failing in a loop. SIGTERM (``docker stop``) stops the scan in progress (photos in hand get
``workers.stop_grace_s`` to finish and are stored; the rest are read at the next start), closes the web
server and exits within ``service.stop_timeout_s``. Nothing a stop leaves undone is lost: a photo is
either stored with its analysis or still unknown (or unchanged) to the database, and the next scan reads it.
"""

from __future__ import annotations

import logging
import os
import queue
import signal
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import FrameType
from typing import Any, Literal, Protocol

from apscheduler.schedulers.background import BackgroundScheduler
from waitress import wasyncore

from plugin.config import ServiceSettings, Settings

log = logging.getLogger(__name__)

# The longest pause before a part is restarted again.
_MAX_RESTART_DELAY_S = 60.0
# What each job of the work loop is doing, for /healthz.
JOB_NAMES = {
    "start": "scanning the libraries (start)", "settle": "reading new photos", "rescan": "rescanning the libraries",
    "webdav": "scanning WebDAV libraries", "groups": "grouping photos", "faces": "grouping faces into people",
    "writeback": "writing back sidecars and tags", "trash": "emptying old trash",
}
# How often an idle work loop looks whether it is asked to stop.
_IDLE_CHECK_S = 0.2

PartState = Literal["starting", "running", "restarting", "failed", "stopped"]


class Part(Protocol):
    """One supervised part of the service."""

    name: str

    def start(self) -> None: ...

    def alive(self) -> bool: ...

    def stop(self, timeout_s: float) -> None: ...

    def detail(self) -> str: ...


@dataclass(slots=True)
class PartHealth:
    state: PartState = "starting"
    since: datetime = field(default_factory=lambda: datetime.now(UTC))
    restarts: list[float] = field(default_factory=list)  # monotonic times of restarts
    last_failure: str | None = None
    not_before: float = 0.0  # monotonic time of the next restart, while "restarting"

    def set(self, state: PartState) -> None:
        if state != self.state:
            self.state, self.since = state, datetime.now(UTC)


class Supervisor:
    """Starts parts, restarts one that stopped (with a limit), reports their health, stops them in order."""

    def __init__(self, parts: Iterable[Part], settings: ServiceSettings,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.parts = list(parts)
        self.settings, self.clock = settings, clock
        self._health = {part.name: PartHealth() for part in self.parts}
        self._lock = threading.Lock()

    def start(self) -> None:
        for part in self.parts:
            self._start(part)

    def _start(self, part: Part) -> None:
        try:
            part.start()
        except Exception as exc:  # a part that cannot start is a stopped part: restarted as one
            log.error("%s could not start: %s", part.name, exc, exc_info=True)
            health = self._health[part.name]
            health.last_failure = f"could not start: {exc}"
            self._schedule_restart(part, health)
            return
        with self._lock:
            self._health[part.name].set("running")

    def check(self) -> None:
        """Restart parts that stopped, within the limit, each restart after a longer pause than the last."""
        for part in self.parts:
            health = self._health[part.name]
            if health.state == "failed" or health.state == "stopped":
                continue
            if health.state == "running":
                if part.alive():
                    continue
                health.last_failure = getattr(part, "failure", None) or "stopped unexpectedly"
                self._schedule_restart(part, health)
            if health.state == "restarting" and self.clock() >= health.not_before:
                self._restart(part, health)

    def _recent(self, health: PartHealth) -> list[float]:
        now, window_s = self.clock(), self.settings.restart_window_min * 60
        return [t for t in health.restarts if now - t < window_s]

    def _schedule_restart(self, part: Part, health: PartHealth) -> None:
        """The part stopped: restart it now the first time, then after 2, 4, 8... s (at most a minute), so
        that a cause that passes (a share mounted late, a database starting) gets time to pass."""
        recent = self._recent(health)
        if len(recent) >= self.settings.max_restarts:
            with self._lock:
                health.set("failed")
            log.error("%s stopped (%s) and was restarted %d times in %g min; it stays stopped (restart piccl, and "
                      "see the lines above for why)", part.name, health.last_failure or "no reason given",
                      len(recent), self.settings.restart_window_min)
            _quietly(part.stop, 1.0)
            return
        delay = min(_MAX_RESTART_DELAY_S, 2.0 ** len(recent)) if recent else 0.0
        log.warning("%s stopped (%s); restarting it%s (%d of at most %d in %g min)", part.name,
                    health.last_failure or "no reason given", f" in {delay:.0f} s" if delay else "",
                    len(recent) + 1, self.settings.max_restarts, self.settings.restart_window_min)
        _quietly(part.stop, 2.0)
        with self._lock:
            health.not_before = self.clock() + delay
            health.set("restarting")

    def _restart(self, part: Part, health: PartHealth) -> None:
        with self._lock:
            health.restarts = [*self._recent(health), self.clock()]
        self._start(part)

    def health(self) -> dict[str, Any]:
        """What /healthz shows: each part's state; ``ok`` only when every part runs."""
        parts: dict[str, Any] = {}
        now = self.clock()
        window_s = self.settings.restart_window_min * 60
        with self._lock:
            for part in self.parts:
                health = self._health[part.name]
                state = health.state
                if state == "running" and not part.alive():
                    state = "stopped"  # seen before the next check restarts it
                parts[part.name] = {
                    "state": state, "since": health.since.isoformat(timespec="seconds"),
                    "restarts": sum(1 for t in health.restarts if now - t < window_s),
                    "detail": _quietly(part.detail) or "", "last_failure": health.last_failure,
                }
        ok = all(p["state"] == "running" for p in parts.values())
        return {"ok": ok, "parts": parts}

    def stop(self, timeout_s: float) -> bool:
        """Stop every part, the last started first, within ``timeout_s`` in all; False when one overran."""
        deadline = self.clock() + timeout_s
        clean = True
        for part in reversed(self.parts):
            _quietly(part.stop, max(0.1, deadline - self.clock()))
            if part.alive():
                log.warning("%s did not stop in time", part.name)
                clean = False
            with self._lock:
                self._health[part.name].set("stopped")
        return clean


def _quietly(call: Callable[..., Any], *args: Any) -> Any:
    try:
        return call(*args)
    except Exception:  # a part that fails to stop or describe itself must not stop the others
        log.debug("%s failed", getattr(call, "__qualname__", call), exc_info=True)
        return None


# -- parts -------------------------------------------------------------------------------------------------


class WorkLoop:
    """The ``analysis`` part: one thread that runs submitted jobs in turn (scans, grouping, write-back...).

    A job waiting in the queue is not queued twice (the settle check submits every second). A job that
    raises is logged and the loop goes on; if the thread itself dies (a bug that escapes), the supervisor
    starts a new one on the same queue.
    """

    name = "analysis"

    def __init__(self, on_stop: Callable[[], None] | None = None, on_start: Callable[[], None] | None = None) -> None:
        self._queue: queue.Queue[tuple[str, Callable[[], None]]] = queue.Queue()
        self._waiting: set[str] = set()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._on_stop, self._on_start = on_stop, on_start
        self.current: tuple[str, float] | None = None  # (job, monotonic start)
        self.describe_current: Callable[[], str] | None = None
        self.failure: str | None = None  # why the thread died, if it did

    def submit(self, key: str, job: Callable[[], None]) -> None:
        with self._lock:
            if key in self._waiting or self._stopping.is_set():
                return
            self._waiting.add(key)
        self._queue.put((key, job))

    def start(self) -> None:
        self._stopping.clear()
        self.failure = None
        if self._on_start is not None:
            self._on_start()
        self._thread = threading.Thread(target=self._run, name="piccl-analysis", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._loop()
        except BaseException as exc:  # the thread ends here; the supervisor starts another
            self.failure = f"{type(exc).__name__}: {exc}"
            log.error("the analysis loop stopped: %s", self.failure, exc_info=True)

    def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                key, job = self._queue.get(timeout=_IDLE_CHECK_S)
            except queue.Empty:
                continue
            if self._stopping.is_set():
                self._queue.put((key, job))  # still waiting: a restarted loop runs it
                return
            with self._lock:
                self._waiting.discard(key)
            self.current = (key, time.monotonic())
            try:
                job()
            except Exception:  # one failed job must not stop the loop; it runs again on its schedule
                log.exception("%s failed", key)
            finally:
                self.current = None

    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def stop(self, timeout_s: float) -> None:
        self._stopping.set()
        if self._on_stop is not None:
            self._on_stop()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def detail(self) -> str:
        current = self.current
        if current is None:
            return "idle"
        key, started = current
        extra = self.describe_current() if self.describe_current else ""
        what = JOB_NAMES.get(key, key)
        return f"{what} for {time.monotonic() - started:.0f} s" + (f" ({extra})" if extra else "")


class SchedulerPart:
    """The ``scheduler`` part: APScheduler in a background thread, each job handed to the work loop."""

    name = "scheduler"

    def __init__(self, jobs: Callable[[BackgroundScheduler], None]) -> None:
        self._add_jobs = jobs
        self.scheduler: BackgroundScheduler | None = None

    def start(self) -> None:
        # misfire_grace_time None: a run that comes late (the machine was busy or asleep) still runs, once.
        scheduler = BackgroundScheduler(timezone=UTC, job_defaults={"coalesce": True, "max_instances": 1,
                                                                    "misfire_grace_time": None})
        self._add_jobs(scheduler)
        scheduler.start()
        self.scheduler = scheduler

    def alive(self) -> bool:
        scheduler = self.scheduler
        thread = getattr(scheduler, "_thread", None)
        return bool(scheduler is not None and scheduler.running and thread is not None and thread.is_alive())

    def stop(self, timeout_s: float) -> None:
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.shutdown(wait=False)

    def detail(self) -> str:
        if self.scheduler is None:
            return ""
        jobs = sorted(self.scheduler.get_jobs(), key=lambda job: job.id)
        return ", ".join(job.id for job in jobs)


class WebPart:
    """The ``web`` part: the review UI on waitress, in a thread."""

    name = "web"

    def __init__(self, make_server: Callable[[], Any]) -> None:
        self._make_server = make_server
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self.failure: str | None = None

    def start(self) -> None:
        self.failure = None
        self._server = self._make_server()
        self._thread = threading.Thread(target=self._serve, name="piccl-web", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        try:
            self._server.run()
        except Exception as exc:
            self.failure = f"{type(exc).__name__}: {exc}"
            log.exception("the web server stopped")

    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def stop(self, timeout_s: float) -> None:
        server = self._server
        if server is not None:
            # As waitress's own multi-socket server closes: the listening socket and open connections (a
            # browser's keep-alive would hold the loop), then the request threads, up to a deadline. The
            # sockets are closed by the loop's own thread (through its trigger): closed from here, a select()
            # under way in the loop would fail on a closed descriptor.
            if self.alive():
                server.trigger.pull_trigger(lambda: wasyncore.close_all(server._map))
            else:
                wasyncore.close_all(server._map)
            server.task_dispatcher.shutdown(cancel_pending=True, timeout=max(0.1, min(timeout_s, 3.0)))
        if self._thread is not None:
            self._thread.join(max(0.1, min(timeout_s, 2.0)))

    def detail(self) -> str:
        server = self._server
        if server is None:
            return ""
        return f"http://{server.effective_host}:{server.effective_port}/"


class WatcherPart:
    """The ``watcher`` part: observers of the local libraries. A restart rescans (events may have been missed)."""

    name = "watcher"

    def __init__(self, watcher: Any, rescan: Callable[[], None]) -> None:
        self.watcher, self._rescan = watcher, rescan
        self._started = 0
        self._starting: threading.Thread | None = None

    def start(self) -> None:
        # A polling observer's first snapshot walks the whole library (minutes on a large SMB share): in a
        # thread of its own, so that the other parts start and a SIGTERM is heard meanwhile.
        self._starting = threading.Thread(target=self.watcher.start_observers, name="piccl-watch-start", daemon=True)
        self._starting.start()
        self._started += 1
        if self._started > 1:
            self._rescan()

    def alive(self) -> bool:
        starting = self._starting
        return (starting is not None and starting.is_alive()) or self.watcher.observers_alive()

    def stop(self, timeout_s: float) -> None:
        self.watcher.stop_observers(timeout_s)

    def detail(self) -> str:
        return self.watcher.describe()


# -- running ------------------------------------------------------------------------------------------------


class StopSignals:
    """SIGTERM and SIGINT set ``event``; a second one ends the process at once, and so does a stop that takes
    longer than ``deadline_s`` (before Docker's SIGKILL, and with a line saying so).

    Ending at once loses nothing stored: every batch of photos is one transaction, and SQLite's WAL (or
    PostgreSQL) rolls back what was not committed.
    """

    def __init__(self, event: threading.Event, deadline_s: float | None = None) -> None:
        self.event = event
        self.deadline_s = deadline_s
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        if self.event.is_set():
            log.warning("stopping now (second %s)", signal.Signals(signum).name)
            os._exit(1)
        log.info("%s: stopping", signal.Signals(signum).name)
        self.event.set()
        if self.deadline_s is not None:
            timer = threading.Timer(self.deadline_s, _give_up, args=(self.deadline_s,))
            timer.daemon = True
            timer.start()

    def __exit__(self, *_exc: object) -> None:
        for sig, previous in self._previous.items():
            signal.signal(sig, previous)


def _give_up(deadline_s: float) -> None:
    log.warning("still stopping after %.0f s: exiting now (what was stored stays; the rest is read at the next "
                "start)", deadline_s)
    logging.shutdown()
    os._exit(1)


def supervise(supervisor: Supervisor, settings: Settings, stop: threading.Event,
              ready: Callable[[], None] | None = None) -> bool:
    """Start the parts, check on them until ``stop`` is set, then stop them; True when all stopped in time."""
    service = settings.service
    try:
        supervisor.start()
        if ready is not None:
            ready()
        while not stop.wait(service.check_interval_s):
            supervisor.check()
    finally:
        started = time.monotonic()
        clean = supervisor.stop(service.stop_timeout_s)
    log.info("stopped %s in %.1f s", "cleanly" if clean else "(some parts were still busy)",
             time.monotonic() - started)
    return clean


# -- assembling ---------------------------------------------------------------------------------------------


@dataclass(slots=True)
class Service:
    supervisor: Supervisor
    sessions: Any  # sessionmaker: the scanner and the UI share one engine
    loop: WorkLoop | None = None
    watcher: Any = None

    def run(self, settings: Settings, stop: threading.Event, ready: Callable[[], None] | None = None) -> bool:
        """Run until ``stop`` is set; True when every part stopped in time."""
        try:
            return supervise(self.supervisor, settings, stop, ready)
        finally:
            # Close the pool: SQLite checkpoints its WAL when the last connection closes.
            engine = self.sessions.kw.get("bind")
            if engine is not None:
                engine.dispose()


def run_service(settings: Settings, *, web: bool, watch: bool) -> bool:
    """``piccl run`` / ``watch`` / ``serve``: until SIGTERM or Ctrl-C, heard from the start (a stop during the
    migrations or model loading waits for them instead of killing them half-way)."""
    stop = threading.Event()
    # One second short of Docker's SIGKILL at the default stop_timeout_s (8 s + 1 s; Docker waits 10 s).
    with StopSignals(stop, deadline_s=settings.service.stop_timeout_s + 1):
        service = build_service(settings, web=web, watch=watch)
        if stop.is_set():
            return True
        return service.run(settings, stop)


def waitress_server(settings: Settings, app: Any) -> Any:
    """The review UI on waitress (a production WSGI server), bound but not yet serving."""
    from waitress import create_server

    server = create_server(app, host=settings.ui.host, port=settings.ui.port, threads=settings.ui_threads,
                           ident="piccl", clear_untrusted_proxy_headers=True)
    log.info("review UI on http://%s:%d/", settings.ui.host, settings.ui.port)
    if not settings.ui.login_required:
        log.warning("login is turned off (ui.login_required=false): anyone who reaches this port can trash photos")
    return server


def build_service(settings: Settings, *, web: bool, watch: bool, sessions: Any = None) -> Service:
    """The parts of ``piccl run`` (web and watch), ``piccl watch`` (watch) or ``piccl serve`` (web)."""
    from plugin.scan import Scanner, clean_stale_downloads
    from plugin.store.db import open_database

    sessions = sessions or open_database(settings.resolved_database_url)
    parts: list[Part] = []
    supervisor: Supervisor | None = None
    if web:
        from webui import create_app

        app = create_app(settings, sessions)
        # Read at each request: the supervisor is made once all parts are.
        app.config["PICCL_HEALTH"] = lambda: supervisor.health() if supervisor is not None else {"ok": False}
        parts.append(WebPart(lambda: waitress_server(settings, app)))
    loop: WorkLoop | None = None
    watcher = None
    if watch:
        from plugin.watch import Watcher

        clean_stale_downloads(settings.data_dir)
        scanner = Scanner(settings, sessions)
        watcher = Watcher(
            scanner, settings.library, polling=settings.watch_polling, poll_interval_s=settings.watch_poll_interval_s,
            settle_s=settings.watch_settle_s, rescan_interval_min=settings.rescan_interval_min,
            trash_dir_name=settings.trash_dir_name, on_scan=_log_scan)
        loop = WorkLoop(on_stop=scanner.request_stop, on_start=scanner.stop_requested.clear)
        loop.describe_current = lambda: _progress(scanner)
        work = loop
        # Stopped in reverse: the scheduler first (nothing new is submitted), the web server last.
        parts.append(WatcherPart(watcher, lambda: work.submit("rescan", watcher.full_rescan)))
        parts.append(loop)
        parts.append(SchedulerPart(lambda scheduler: watcher.schedule(scheduler, work.submit)))
        loop.submit("start", watcher.start_work)
    supervisor = Supervisor(parts, settings.service)
    return Service(supervisor, sessions, loop, watcher)


def _progress(scanner: Any) -> str:
    done, total = scanner.progress_now
    return f"{done} of {total} photos" if total else ""


def _log_scan(summary: Any) -> None:
    if summary.interrupted:
        stored = summary.ok + sum(summary.errors.values()) + sum(summary.skipped.values())
        log.info("%s: stopped after reading %d of %d new or changed photos; the rest are read at the next start",
                 summary.library, stored, summary.processed)
        return
    errors = ", ".join(f"{reason} {n}" for reason, n in summary.errors.most_common()) or "none"
    flagged = ", ".join(f"{reason} {n}" for reason, n in summary.flagged.most_common()) or "none"
    log.info("%s: %d new, %d changed, %d moved, %d gone in %.1f s; errors: %s; flagged: %s", summary.library,
             summary.new, summary.changed, summary.moved, summary.gone, summary.seconds, errors, flagged)
