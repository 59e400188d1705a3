"""The supervisor of `piccl run`: parts that stop are restarted within a limit, health says which part is down,
the work loop outlives failing jobs, and a stop never waits past its deadline."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from plugin.config import ServiceSettings
from plugin.scan import clean_stale_downloads
from plugin.service import Supervisor, WorkLoop


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Beacon:
    """A part that runs a thread until it is told to end, as a crashed part would."""

    def __init__(self, name: str = "beacon", fail_starts: int = 0, stubborn: bool = False) -> None:
        self.name, self.fail_starts, self.stubborn = name, fail_starts, stubborn
        self.starts = 0
        self._end = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self.fail_starts:
            self.fail_starts -= 1
            raise OSError("address already in use")
        self.starts += 1
        self._end = threading.Event()
        self._thread = threading.Thread(target=self._end.wait, daemon=True)
        self._thread.start()

    def crash(self) -> None:
        self._end.set()
        assert self._thread is not None
        self._thread.join()

    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def stop(self, timeout_s: float) -> None:
        if not self.stubborn:
            self._end.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def detail(self) -> str:
        return f"started {self.starts} times"


def _settings(**kw: float) -> ServiceSettings:
    return ServiceSettings(**kw)  # type: ignore[arg-type]


def test_a_part_that_stops_is_restarted_and_the_restart_is_reported() -> None:
    # GIVEN two running parts
    beacon, other = Beacon(), Beacon("other")
    supervisor = Supervisor([beacon, other], _settings(max_restarts=3))
    supervisor.start()
    assert supervisor.health()["ok"]
    # WHEN one stops
    beacon.crash()
    # THEN health says so before the next check, and the check restarts it
    assert supervisor.health()["parts"]["beacon"]["state"] == "stopped"
    assert not supervisor.health()["ok"]
    supervisor.check()
    health = supervisor.health()
    assert health["ok"] and beacon.starts == 2 and other.starts == 1
    assert health["parts"]["beacon"]["restarts"] == 1
    assert health["parts"]["beacon"]["last_failure"] == "stopped unexpectedly"
    supervisor.stop(1.0)


def test_a_part_that_keeps_stopping_is_left_stopped_and_health_fails() -> None:
    # GIVEN a part allowed two restarts in ten minutes
    clock = Clock()
    beacon = Beacon()
    supervisor = Supervisor([beacon], _settings(max_restarts=2, restart_window_min=10), clock=clock)
    supervisor.start()
    # WHEN it stops three times within the window
    for _ in range(3):
        beacon.crash()
        clock.now += 60
        supervisor.check()
        clock.now += 60  # past any pause before a restart
        supervisor.check()
    # THEN the third time it stays stopped, and health names it
    health = supervisor.health()
    assert beacon.starts == 3
    assert not health["ok"] and health["parts"]["beacon"]["state"] == "failed"
    # AND no later check brings it back
    clock.now += 3600
    supervisor.check()
    assert beacon.starts == 3 and supervisor.health()["parts"]["beacon"]["state"] == "failed"


def test_each_restart_after_the_first_waits_longer() -> None:
    # GIVEN a part restarted once already
    clock = Clock()
    beacon = Beacon()
    supervisor = Supervisor([beacon], _settings(max_restarts=5), clock=clock)
    supervisor.start()
    beacon.crash()
    supervisor.check()
    assert beacon.starts == 2
    # WHEN it stops again
    beacon.crash()
    supervisor.check()
    # THEN it waits 2 s before the next start (a share mounted late gets time), and health says restarting
    assert beacon.starts == 2 and supervisor.health()["parts"]["beacon"]["state"] == "restarting"
    clock.now += 1
    supervisor.check()
    assert beacon.starts == 2
    clock.now += 1
    supervisor.check()
    assert beacon.starts == 3 and supervisor.health()["ok"]
    # AND the third restart waits 4 s
    beacon.crash()
    supervisor.check()
    clock.now += 3
    supervisor.check()
    assert beacon.starts == 3
    clock.now += 1
    supervisor.check()
    assert beacon.starts == 4
    supervisor.stop(1.0)


def test_restarts_older_than_the_window_no_longer_count() -> None:
    # GIVEN a part allowed one restart in ten minutes, restarted once
    clock = Clock()
    beacon = Beacon()
    supervisor = Supervisor([beacon], _settings(max_restarts=1, restart_window_min=10), clock=clock)
    supervisor.start()
    beacon.crash()
    supervisor.check()
    # WHEN it stops again an hour later
    clock.now += 3600
    beacon.crash()
    supervisor.check()
    # THEN it is restarted: the first restart is out of the window
    assert beacon.starts == 3 and supervisor.health()["ok"]
    supervisor.stop(1.0)


def test_a_part_that_cannot_start_is_tried_again_at_the_next_check() -> None:
    # GIVEN a part whose first start fails (its port still taken)
    beacon = Beacon(fail_starts=1)
    supervisor = Supervisor([beacon], _settings())
    # WHEN the supervisor starts it, then checks
    supervisor.start()
    assert supervisor.health()["parts"]["beacon"]["state"] == "restarting"
    assert "address already in use" in supervisor.health()["parts"]["beacon"]["last_failure"]
    supervisor.check()
    # THEN it runs
    assert supervisor.health()["ok"] and beacon.starts == 1
    supervisor.stop(1.0)


def test_stopping_does_not_wait_past_its_deadline_for_a_part_that_hangs() -> None:
    # GIVEN a part that ignores being told to stop
    hanging, polite = Beacon("hanging", stubborn=True), Beacon("polite")
    supervisor = Supervisor([polite, hanging], _settings())
    supervisor.start()
    # WHEN the service stops with half a second to do it
    started = time.monotonic()
    clean = supervisor.stop(0.5)
    # THEN it gives up on that part in time, says so, and stopped the others
    assert time.monotonic() - started < 1.5
    assert not clean and not polite.alive()
    hanging.crash()


def test_the_work_loop_outlives_a_failing_job_and_is_restarted_when_its_thread_dies() -> None:
    # GIVEN the analysis loop under a supervisor
    loop = WorkLoop()
    supervisor = Supervisor([loop], _settings(max_restarts=2))
    supervisor.start()
    ran: list[str] = []
    done = threading.Event()

    def fails() -> None:
        raise ValueError("a bug in one job")

    def dies() -> None:
        raise SystemExit("escaped")

    # WHEN a job raises, then another job runs
    loop.submit("fails", fails)
    loop.submit("after", lambda: ran.append("after"))
    # AND a job ends the thread itself
    loop.submit("dies", dies)
    deadline = time.monotonic() + 5
    while loop.alive() and time.monotonic() < deadline:
        time.sleep(0.01)
    # THEN the loop went on after the failing job, and its death shows
    assert ran == ["after"] and not loop.alive()
    assert supervisor.health()["parts"]["analysis"]["state"] == "stopped"
    # AND after a check a new thread runs the next jobs, with the reason on record
    supervisor.check()
    loop.submit("later", lambda: (ran.append("later"), done.set()))
    assert done.wait(5) and ran == ["after", "later"]
    health = supervisor.health()["parts"]["analysis"]
    assert health["state"] == "running" and health["restarts"] == 1
    assert health["last_failure"] == "SystemExit: escaped"
    supervisor.stop(1.0)


def test_a_job_already_waiting_is_not_queued_again() -> None:
    # GIVEN a loop busy with a long job
    loop = WorkLoop()
    loop.start()
    release, ran = threading.Event(), []
    loop.submit("long", release.wait)
    time.sleep(0.05)
    # WHEN the settle check submits itself three times meanwhile
    for _ in range(3):
        loop.submit("settle", lambda: ran.append("settle"))
    release.set()
    # THEN it runs once
    loop.submit("end", lambda: ran.append("end"))
    deadline = time.monotonic() + 5
    while ran[-1:] != ["end"] and time.monotonic() < deadline:
        time.sleep(0.01)
    assert ran == ["settle", "end"]
    loop.stop(1.0)


def test_downloads_left_by_a_killed_process_are_removed_and_live_ones_kept(tmp_path: Path) -> None:
    # GIVEN download folders of a dead process, of this one's earlier life (a container restarted with the
    # same process id) and of another piccl process that runs (a `piccl scan` beside `piccl run`)
    import os

    dead = tmp_path / "tmp" / "webdav-999999999"
    mine = tmp_path / "tmp" / f"webdav-{os.getpid()}"
    other = tmp_path / "tmp" / f"webdav-{os.getppid()}"
    for folder in (dead, mine, other):
        folder.mkdir(parents=True)
        (folder / "photo.jpg").write_bytes(b"partial")
    # WHEN piccl starts
    removed = clean_stale_downloads(tmp_path)
    # THEN only the running process's folder is left
    assert removed == 2 and not dead.exists() and not mine.exists() and other.exists()


def test_a_stop_that_overruns_its_deadline_ends_the_process_before_docker_kills_it(tmp_path: Path) -> None:
    # GIVEN a process whose stop hangs (a part stuck in a long step), with a 1 s deadline
    import subprocess
    import sys

    script = tmp_path / "hang.py"
    script.write_text(
        "import logging, os, signal, threading, time\n"
        "from plugin.logs import configure_logging\n"
        "from plugin.service import StopSignals\n"
        "configure_logging('INFO', 'plain')\n"
        "stop = threading.Event()\n"
        "with StopSignals(stop, deadline_s=1.0):\n"
        "    os.kill(os.getpid(), signal.SIGTERM)\n"
        "    stop.wait(5)\n"
        "    time.sleep(30)  # the stop that never ends\n")
    started = time.monotonic()
    # WHEN it gets SIGTERM
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=30,
                          cwd=Path(__file__).parents[2])
    # THEN it exits on its own after the deadline, saying so
    assert done.returncode == 1 and time.monotonic() - started < 15
    assert "SIGTERM: stopping" in done.stderr and "exiting now" in done.stderr
