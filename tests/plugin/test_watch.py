"""Watching: a new photo is read once it has settled; junk is ignored; deletions trigger a rescan."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from plugin.scan import Scanner
from plugin.service import build_service
from plugin.store.models import Photo
from plugin.watch import ChangeTracker, Watcher
from tests.conftest import PhotoFactory


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_file_is_ready_only_once_it_stops_changing(tmp_path: Path) -> None:
    # GIVEN a file being copied in
    clock = FakeClock()
    tracker = ChangeTracker(settle_s=5, clock=clock)
    path = tmp_path / "upload.jpg"
    path.write_bytes(b"part one")
    tracker.touched(path)
    assert tracker.take_settled() == []
    # WHEN it keeps growing, it is not ready
    clock.now = 4
    path.write_bytes(b"part one, part two")
    assert tracker.take_settled() == []
    clock.now = 8
    assert tracker.take_settled() == []
    # THEN five quiet seconds later it is, exactly once
    clock.now = 9.5
    assert tracker.take_settled() == [path]
    assert tracker.take_settled() == []


def test_a_file_that_vanishes_while_settling_is_dropped(tmp_path: Path) -> None:
    tracker = ChangeTracker(settle_s=0)
    path = tmp_path / "tmp.jpg"
    path.write_bytes(b"x")
    tracker.touched(path)
    path.unlink()
    assert tracker.take_settled() == []


def _wait_for(predicate, timeout: float = 20) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def _relpaths(sessions: sessionmaker[Session]) -> dict[str, bool]:
    with sessions() as session:
        return {p.relpath: p.gone_at is None for p in session.scalars(select(Photo))}


def test_polling_watcher_picks_up_new_photos_and_deletions(
        tmp_path: Path, make_photo: PhotoFactory, settings_for, sessions: sessionmaker[Session]) -> None:
    # GIVEN a watched library (polling, as on an SMB share), watched as `piccl watch` does
    library = tmp_path / "library"
    make_photo(library / "old.jpg", 400, 300)
    settings = settings_for(library, watch_polling=True, watch_poll_interval_s=0.2, watch_settle_s=0.3,
                            rescan_interval_min=0)
    service = build_service(settings, web=False, watch=True, sessions=sessions)
    stop = threading.Event()
    thread = threading.Thread(target=service.run, args=(settings, stop), daemon=True)
    thread.start()
    try:
        assert _wait_for(lambda: "old.jpg" in _relpaths(sessions))
        # WHEN a photo arrives, junk arrives, and the old photo is deleted
        make_photo(library / "new" / "arrived.jpg", 400, 300, seed=5)
        (library / "@eaDir").mkdir()
        make_photo(library / "@eaDir" / "thumb.jpg", 64, 48)
        # THEN the new photo is analysed, the junk is not
        assert _wait_for(lambda: "new/arrived.jpg" in _relpaths(sessions))
        (library / "old.jpg").unlink()
        assert _wait_for(lambda: _relpaths(sessions).get("old.jpg") is False)
        assert "@eaDir/thumb.jpg" not in _relpaths(sessions)
    finally:
        stop.set()
        thread.join(timeout=10)


def test_the_watcher_reclusters_faces_on_its_schedule_only_when_faces_came(
        tmp_path: Path, testdata: Path, models_dir: Path, settings_for, sessions: sessionmaker[Session]) -> None:  # type: ignore[no-untyped-def]
    import shutil

    from plugin.store.models import Person

    # GIVEN a watcher over a library with four photos of one man
    library = tmp_path / "photos"
    library.mkdir()
    source = testdata / "faces_face_recognition"
    for n, name in enumerate(["obama-720p.jpg", "obama-480p.jpg", "knn_train/obama/obama.jpg",
                              "knn_train/obama/obama2.jpg"]):
        shutil.copy(source / name, library / f"{n}.jpg")
    settings = settings_for(library)
    watcher = Watcher(Scanner(settings, sessions), [library], polling=True, poll_interval_s=1, settle_s=0,
                      rescan_interval_min=0, trash_dir_name=".piccl-trash")
    # WHEN its first scan runs, then the scheduled re-clustering job
    watcher.full_rescan()
    assert watcher.faces_dirty
    watcher.cluster_faces()
    # THEN his faces form a person, and the job has nothing left to do until new faces come
    with sessions() as session:
        assert [p.face_count for p in session.scalars(select(Person))] == [4]
    assert not watcher.faces_dirty
    # AND its schedule holds the job at the configured interval
    assert settings.faces.cluster_interval_min == 60


def test_the_watcher_regroups_duplicates_once_photos_came(  # type: ignore[no-untyped-def]
        tmp_path: Path, testdata: Path, settings_for, sessions: sessionmaker[Session],
        monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    from plugin import watch
    from plugin.store.models import PhotoGroup

    monkeypatch.setattr(watch, "GROUP_BACKOFF", 1e6)  # a regrouping that took a while: the next one waits

    # GIVEN a watcher over a library with one photo
    library = tmp_path / "photos"
    library.mkdir()
    photo = testdata / "exif_ianare/jpg/gps/DSCN0010.jpg"
    shutil.copy(photo, library / "a.jpg")
    watcher = Watcher(Scanner(settings_for(library), sessions), [library], polling=True, poll_interval_s=1,
                      settle_s=0, rescan_interval_min=0, trash_dir_name=".piccl-trash")
    watcher.full_rescan()
    watcher.group_photos()
    assert not watcher.groups_dirty
    # WHEN a copy arrives and is scanned, then the scheduled grouping job runs at once
    shutil.copy(photo, library / "copy of a.jpg")
    watcher.full_rescan()
    assert watcher.groups_dirty
    watcher.group_photos()
    # THEN it waits: it backs off by a multiple of how long the last regrouping took
    assert watcher.groups_dirty
    # WHEN the job runs once that time has passed
    watcher._groups_not_before = 0.0
    watcher.group_photos()
    # THEN the two are one duplicate group
    with sessions() as session:
        assert [(g.kind, g.size) for g in session.scalars(select(PhotoGroup))] == [("duplicate", 2)]


def test_trash_retention_deletes_for_good_only_what_was_trashed_long_enough_ago(
        tmp_path: Path, make_photo: PhotoFactory, settings_for, sessions: sessionmaker[Session]) -> None:  # type: ignore[no-untyped-def]
    from apscheduler.schedulers.background import BackgroundScheduler

    from plugin.store.models import TrashEntry
    from plugin.trash import TrashBin

    # GIVEN a watched library with two trashed photos, one trashed 40 days ago
    library = tmp_path / "photos"
    make_photo(library / "old.jpg", 320, 240)
    make_photo(library / "new.jpg", 320, 240, seed=3)
    settings = settings_for(library)
    watcher = Watcher(Scanner(settings, sessions), [library], polling=True, poll_interval_s=1, settle_s=0,
                      rescan_interval_min=0, trash_dir_name=".piccl-trash")
    watcher.full_rescan()
    with sessions() as session:
        ids = list(session.scalars(select(Photo.id).order_by(Photo.relpath)))
    TrashBin(sessions).trash(ids)
    with sessions() as session:
        entry = session.scalar(select(TrashEntry).where(TrashEntry.original_relpath == "old.jpg"))
        assert entry is not None
        entry.trashed_at -= timedelta(days=40)
        session.commit()
    # WHEN the daily retention job runs
    watcher.empty_trash()
    # THEN only the photo trashed over 30 days ago is deleted for good
    assert not (library / ".piccl-trash" / "old.jpg").exists()
    assert (library / ".piccl-trash" / "new.jpg").exists()
    # AND the job is scheduled only while trash_auto_empty is on
    jobs: dict[bool, set[str]] = {}
    for auto in (True, False):
        scheduler = BackgroundScheduler()
        auto_watcher = Watcher(Scanner(settings_for(library, trash_auto_empty=auto), sessions), [library],
                               polling=True, poll_interval_s=1, settle_s=0, rescan_interval_min=0,
                               trash_dir_name=".piccl-trash")
        auto_watcher.schedule(scheduler, lambda key, job: None)
        jobs[auto] = {job.id for job in scheduler.get_jobs()}
    assert "trash" in jobs[True] and "trash" not in jobs[False]


def test_a_watcher_asked_to_stop_starts_no_other_step(
        tmp_path: Path, make_photo: PhotoFactory, settings_for, sessions: sessionmaker[Session]) -> None:  # type: ignore[no-untyped-def]
    # GIVEN a watcher over a library with a photo not yet read, and piccl stopping
    library = tmp_path / "photos"
    make_photo(library / "a.jpg", 320, 240)
    scanner = Scanner(settings_for(library), sessions)
    watcher = Watcher(scanner, [library], polling=True, poll_interval_s=1, settle_s=0, rescan_interval_min=0,
                      trash_dir_name=".piccl-trash")
    scanner.request_stop()
    # WHEN its start job runs (scan, people, groups, write-back) THEN it returns without scanning
    watcher.start_work()
    assert _relpaths(sessions) == {}
