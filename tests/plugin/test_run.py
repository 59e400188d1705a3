"""`piccl run` for real: a photo copied into a watched folder shows in the UI; SIGTERM stops it within Docker's
10 s with what was read stored; `kill -9` and a restart resume the scan; /healthz names a part that stopped.

The process tests start `python -m plugin run` on real COCO photos with the real models, as the container does.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from plugin.config import Settings
from plugin.service import build_service
from plugin.store.db import open_database
from plugin.store.models import Analysis, Photo, ScanRun
from tests.conftest import PhotoFactory
from tests.support.davserver import free_port

PASSWORD = "a household secret"
COCO_PHOTOS = 24


def _wait_for(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")


def _health(port: int) -> tuple[int, dict[str, Any]] | None:
    try:
        response = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
    except httpx.HTTPError:
        return None
    return response.status_code, response.json()


def test_healthz_names_a_part_that_stopped_and_was_restarted_then_one_that_stays_stopped(
        tmp_path: Path, make_photo: PhotoFactory, settings_for: Callable[..., Settings]) -> None:
    # GIVEN `piccl run`'s parts over a folder, allowed one restart
    library = tmp_path / "library"
    make_photo(library / "a.jpg", 400, 300)
    port = free_port()
    # (Login off: /healthz then shows each part's details, as it does to a logged-in household.)
    settings = settings_for(library, ui={"port": port, "login_required": False},
                            service={"max_restarts": 1, "check_interval_s": 0.1})
    service = build_service(settings, web=True, watch=True)
    stop = threading.Event()
    thread = threading.Thread(target=service.run, args=(settings, stop), daemon=True)
    thread.start()
    try:
        code, body = _wait_for(lambda: (h := _health(port)) and h[0] == 200 and h, 30, "/healthz to answer 200")
        assert body["status"] == "ok", body
        assert set(body["parts"]) == {"web", "watcher", "scheduler", "analysis"}
        # WHEN the folder watcher dies (an inotify limit, an unmounted share)
        service.watcher.stop_observers()
        # THEN it is restarted, and health shows the restart
        restarted = _wait_for(lambda: (h := _health(port)) and h[1]["parts"]["watcher"]["restarts"] == 1 and h, 10,
                              "the restart")
        assert restarted[0] == 200 and restarted[1]["parts"]["watcher"]["state"] == "running"
        # WHEN it dies again within the window
        service.watcher.stop_observers()
        # THEN it stays stopped, and /healthz answers 503 naming it (Docker marks the container unhealthy)
        code, body = _wait_for(lambda: (h := _health(port)) and h[1]["parts"]["watcher"]["state"] == "failed" and h,
                               10, "the watcher to be left stopped")
        assert code == 503 and body["status"] == "failing"
        assert body["parts"]["web"]["state"] == "running" and body["database"] == "ok"
    finally:
        stop.set()
        thread.join(15)
    assert not thread.is_alive()


# -- the real process -------------------------------------------------------------------------------------------


class Piccl:
    """`python -m plugin run` in a child process, its output collected."""

    def __init__(self, library: Path, data_dir: Path, port: int, models_dir: Path, **env: str) -> None:
        self.port = port
        self.env = {**os.environ, "PICCL_LIBRARY": str(library), "PICCL_DATA_DIR": str(data_dir),
                    "PICCL_UI__PORT": str(port), "PICCL_PASSWORD": PASSWORD, "PICCL_MODELS_DIR": str(models_dir),
                    "PICCL_INFERENCE__DOWNLOAD": "false", "PICCL_SERVICE__LOG_FORMAT": "plain", **env}
        self.output: list[str] = []
        self.proc: subprocess.Popen[str] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "plugin", "run"], env=self.env, text=True,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=Path(__file__).parents[2])
        threading.Thread(target=self._read, args=(self.proc,), daemon=True).start()

    def _read(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            self.output.append(line.rstrip("\n"))

    def signal(self, sig: int) -> float:
        """Send ``sig``; the seconds until the process ended."""
        assert self.proc is not None
        started = time.monotonic()
        self.proc.send_signal(sig)
        self.proc.wait(timeout=30)
        return time.monotonic() - started

    @property
    def log(self) -> str:
        return "\n".join(self.output)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@contextmanager
def _piccl(*args: Any, **env: str) -> Iterator[Piccl]:
    piccl = Piccl(*args, **env)
    piccl.start()
    try:
        yield piccl
    finally:
        piccl.stop()


def _store(data_dir: Path) -> sessionmaker[Session]:
    # PICCL_DATABASE_URL (the PostgreSQL run of the suite) reaches the child through its environment too.
    return open_database(Settings(data_dir=data_dir).resolved_database_url)


def _stored(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(Photo)) or 0


def _login(port: int) -> httpx.Client:
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10)
    page = client.get("/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token, page[:500]
    response = client.post("/login", data={"username": "piccl", "password": PASSWORD, "csrf_token": token[1]})
    assert response.status_code in (302, 303), response.text[:500]
    return client


def _coco_library(coco_dir: Path, library: Path, count: int) -> list[Path]:
    library.mkdir(parents=True, exist_ok=True)
    photos = sorted(coco_dir.glob("*.jpg"))[:count]
    assert len(photos) == count, f"{coco_dir} has fewer than {count} photos"
    return [Path(shutil.copy(photo, library / photo.name)) for photo in photos]


@pytest.fixture
def coco_dir(testdata: Path) -> Path:
    folder = testdata / "objects_coco_mini" / "train2017"
    if not folder.is_dir():
        pytest.skip(f"{folder} is missing")
    return folder


def test_a_photo_copied_in_shows_in_the_ui_within_seconds_and_sigterm_stops_cleanly(
        tmp_path: Path, coco_dir: Path, models_dir: Path) -> None:
    # GIVEN `piccl run` over a folder of two photos, as the container starts it
    library, data_dir, port = tmp_path / "photos", tmp_path / "config", free_port()
    _coco_library(coco_dir, library, 2)
    sessions = _store(data_dir)
    with _piccl(library, data_dir, port, models_dir, PICCL_WATCH_SETTLE_S="1") as piccl:
        _wait_for(lambda: (h := _health(port)) and h[0] == 200, 60, f"/healthz\n{piccl.log}")
        _wait_for(lambda: _stored(sessions) == 2, 60, f"the first scan\n{piccl.log}")
        client = _login(port)
        # WHEN a photo is copied in
        arrived = library / "holiday" / "arrived.jpg"
        arrived.parent.mkdir()
        copied_at = time.monotonic()
        shutil.copy(sorted(coco_dir.glob("*.jpg"))[5], arrived)

        # THEN it is analysed and shows in the UI (searching its name) within seconds
        def shown() -> bool:
            with sessions() as session:
                photo_id = session.scalar(select(Photo.id).where(Photo.relpath == "holiday/arrived.jpg"))
            return photo_id is not None and f"/photos/{photo_id}/thumb" in client.get("/search?q=arrived").text

        _wait_for(shown, 30, f"the photo in the UI\n{piccl.log}")
        print(f"copied in to shown in the UI: {time.monotonic() - copied_at:.1f} s")
        with sessions() as session:
            photo = session.scalar(select(Photo).where(Photo.relpath == "holiday/arrived.jpg"))
            assert photo is not None and photo.status == "ok"
            assert session.scalar(select(func.count()).where(Analysis.photo_id == photo.id)) >= 4
        # WHEN Docker stops the container (SIGTERM)
        seconds = piccl.signal(signal.SIGTERM)
        # THEN it exits cleanly well within Docker's 10 s
        assert piccl.proc is not None and piccl.proc.returncode == 0, piccl.log
        assert seconds < 10, seconds
        assert "stopped cleanly" in piccl.log
    # AND its log is one line per event, with time and level, and never the password
    lines = [line for line in piccl.output if line.strip()]
    event = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d (DEBUG|INFO|WARNING|ERROR|CRITICAL) \S+: ")
    assert lines and all(event.match(line) for line in lines), "\n".join(lines)
    assert PASSWORD not in piccl.log


def test_sigterm_mid_scan_stores_what_was_read_and_kill_9_then_a_restart_resume_the_scan(
        tmp_path: Path, coco_dir: Path, models_dir: Path) -> None:
    # GIVEN `piccl run` starting on a folder of photos, one worker, storing every two photos
    library, data_dir, port = tmp_path / "photos", tmp_path / "config", free_port()
    _coco_library(coco_dir, library, COCO_PHOTOS)
    sessions = _store(data_dir)
    env = {"PICCL_WATCH_SETTLE_S": "0", "PICCL_WORKERS__COUNT": "1", "PICCL_WORKERS__COMMIT_EVERY": "2"}
    with _piccl(library, data_dir, port, models_dir, **env) as piccl:
        _wait_for(lambda: _stored(sessions) >= 2, 90, f"the first photos\n{piccl.log}")
        # WHEN it gets SIGTERM in the middle of the scan
        seconds = piccl.signal(signal.SIGTERM)
        # THEN it exits 0 within 10 s, the photos it read are stored whole, and the scan is marked interrupted
        assert piccl.proc is not None and piccl.proc.returncode == 0 and seconds < 10, (seconds, piccl.log)
    after_term = _stored(sessions)
    assert 2 <= after_term < COCO_PHOTOS, after_term
    with sessions() as session:
        assert session.scalars(select(ScanRun.state).order_by(ScanRun.id.desc())).first() == "interrupted"
        for photo in session.scalars(select(Photo)):
            assert photo.status == "ok" and len(photo.analyses) >= 4, photo.relpath

    # WHEN it starts again, and is killed with SIGKILL (a power cut, the OOM killer) while scanning
    with _piccl(library, data_dir, port, models_dir, **env) as piccl:
        _wait_for(lambda: _stored(sessions) >= after_term + 2, 90, f"more photos\n{piccl.log}")
        piccl.signal(signal.SIGKILL)
    after_kill = _stored(sessions)
    assert after_kill < COCO_PHOTOS, "the scan finished before the kill: nothing left to resume"

    # THEN a restart reads only what is left, and the library is complete
    with _piccl(library, data_dir, port, models_dir, **env) as piccl:
        _wait_for(lambda: _stored(sessions) == COCO_PHOTOS, 120, f"the whole library\n{piccl.log}")

        def last_run() -> ScanRun | None:
            with sessions() as session:
                run = session.scalars(select(ScanRun).order_by(ScanRun.id.desc())).first()
                return run if run is not None and run.state == "done" else None

        run = _wait_for(last_run, 60, f"the scan's end\n{piccl.log}")
        assert run.counts["new"] == COCO_PHOTOS - after_kill, (run.counts, after_kill)
        assert run.counts["unchanged"] == after_kill
        piccl.signal(signal.SIGTERM)
