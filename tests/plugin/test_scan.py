"""The scan pipeline: incremental, move-aware, resumable, read-only, and never stopped by a bad file."""

from __future__ import annotations

import csv
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from plugin.config import Settings
from plugin.scan import Scanner
from plugin.store.models import Analysis, Decision, Photo
from plugin.thumbnails import thumbnail_path
from tests.conftest import PhotoFactory

SettingsFor = Callable[..., Settings]


def _scan(settings: Settings, sessions: sessionmaker[Session], library: Path, **kwargs: object):
    return Scanner(settings, sessions).scan(library, **kwargs)  # type: ignore[arg-type]


def _photos(sessions: sessionmaker[Session]) -> dict[str, Photo]:
    with sessions() as session:
        return {p.relpath: p for p in session.scalars(select(Photo))}


@pytest.fixture
def library(tmp_path: Path, make_photo: PhotoFactory) -> Path:
    root = tmp_path / "library"
    make_photo(root / "2024" / "sharp.jpg", 1600, 1200, seed=1)
    make_photo(root / "2024" / "blurry.jpg", 1600, 1200, seed=2, blur=6)
    make_photo(root / "dark.jpg", 1600, 1200, seed=3, gain=0.04)
    (root / "notes").mkdir()
    (root / "notes" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    return root


def test_first_scan_records_every_photo_and_flags_the_bad_ones(
        library: Path, settings_for: SettingsFor, sessions: sessionmaker[Session]) -> None:
    # WHEN a library is scanned
    summary = _scan(settings_for(library), sessions, library)
    # THEN every file has a row with its status, and the flagged ones have a recommendation with evidence
    assert (summary.photos, summary.new, summary.ok) == (4, 4, 3)
    assert summary.errors == {"truncated": 1}
    photos = _photos(sessions)
    assert photos["notes/broken.jpg"].status == "error"
    assert photos["notes/broken.jpg"].error_reason == "truncated"
    with sessions() as session:
        sharp = session.scalars(select(Photo).where(Photo.relpath == "2024/sharp.jpg")).one()
        blurry = session.scalars(select(Photo).where(Photo.relpath == "2024/blurry.jpg")).one()
        dark = session.scalars(select(Photo).where(Photo.relpath == "dark.jpg")).one()
        assert sharp.recommendations == []
        assert "blurry" in {r.reason for r in blurry.recommendations}
        assert "dark" in {r.reason for r in dark.recommendations}
        blurry_rec = next(r for r in blurry.recommendations if r.reason == "blurry")
        assert "score" in blurry_rec.evidence and blurry_rec.severity > 1
        assert {a.analyzer for a in sharp.analyses} == {"blur", "exposure", "objects", "scene", "faces", "hash"}


def test_rescan_of_an_unchanged_library_decodes_nothing(
        library: Path, settings_for: SettingsFor, sessions: sessionmaker[Session]) -> None:
    settings = settings_for(library)
    _scan(settings, sessions, library)
    summary = _scan(settings, sessions, library)
    assert (summary.unchanged, summary.processed) == (4, 0)


def test_changed_file_is_analysed_again(library: Path, settings_for: SettingsFor, sessions: sessionmaker[Session],
                                        make_photo: PhotoFactory) -> None:
    settings = settings_for(library)
    _scan(settings, sessions, library)
    make_photo(library / "2024" / "blurry.jpg", 1600, 1200, seed=2)  # the user replaced it with a sharp one
    summary = _scan(settings, sessions, library)
    assert (summary.changed, summary.unchanged) == (1, 3)
    with sessions() as session:
        photo = session.scalars(select(Photo).where(Photo.relpath == "2024/blurry.jpg")).one()
        assert photo.recommendations == []


def test_moved_photo_keeps_its_analysis_and_decision_without_a_decode(
        library: Path, settings_for: SettingsFor, sessions: sessionmaker[Session]) -> None:
    # GIVEN a scanned library where the user decided to keep the blurry photo
    settings = settings_for(library)
    _scan(settings, sessions, library)
    before_id = _decide(sessions, "2024/blurry.jpg", "keep")
    with sessions() as session:
        before = session.get(Photo, before_id)
        assert before is not None
        analysis_ids = sorted(a.id for a in before.analyses)
    # WHEN the photo is moved and renamed
    (library / "best").mkdir()
    (library / "2024" / "blurry.jpg").rename(library / "best" / "renamed.jpg")
    summary = _scan(settings, sessions, library)
    # THEN it is recognised by its content: same row, same analyses, same decision, nothing decoded
    assert (summary.moved, summary.new, summary.gone, summary.processed) == (1, 0, 0, 0)
    with sessions() as session:
        after = session.scalars(select(Photo).where(Photo.relpath == "best/renamed.jpg")).one()
        assert after.id == before_id
        assert sorted(a.id for a in after.analyses) == analysis_ids
        assert after.decision is not None and after.decision.decision == "keep"
        assert session.scalar(select(func.count()).select_from(Photo)) == 4


def test_removed_photo_is_marked_gone_and_comes_back_with_its_history(
        library: Path, settings_for: SettingsFor, sessions: sessionmaker[Session]) -> None:
    settings = settings_for(library)
    _scan(settings, sessions, library)
    data = (library / "dark.jpg").read_bytes()
    (library / "dark.jpg").unlink()
    summary = _scan(settings, sessions, library)
    assert summary.gone == 1
    gone = _photos(sessions)["dark.jpg"]
    assert gone.gone_at is not None
    # WHEN it comes back elsewhere (restored from a backup)
    (library / "restored").mkdir()
    (library / "restored" / "dark.jpg").write_bytes(data)
    summary = _scan(settings, sessions, library)
    assert (summary.moved, summary.new) == (1, 0)
    back = _photos(sessions)["restored/dark.jpg"]
    assert back.id == gone.id and back.gone_at is None


def test_decision_survives_reanalysis(library: Path, settings_for: SettingsFor, sessions: sessionmaker[Session],
                                      make_photo: PhotoFactory) -> None:
    settings = settings_for(library)
    _scan(settings, sessions, library)
    _decide(sessions, "dark.jpg", "trash")
    make_photo(library / "dark.jpg", 1600, 1200, seed=9, gain=0.05)
    _scan(settings, sessions, library, retry_errors=True)
    with sessions() as session:
        photo = session.scalars(select(Photo).where(Photo.relpath == "dark.jpg")).one()
        assert photo.decision is not None and photo.decision.decision == "trash"


def test_changed_analyzer_settings_rerun_only_that_analyzer(
        library: Path, settings_for: SettingsFor, sessions: sessionmaker[Session]) -> None:
    _scan(settings_for(library), sessions, library)
    with sessions() as session:
        exposure_before = {a.photo_id: a.created_at for a in session.scalars(
            select(Analysis).where(Analysis.analyzer == "exposure"))}
    # WHEN the user switches to the seed paper's blur rule
    summary = _scan(settings_for(library, blur={"method": "piccl2021"}), sessions, library)
    # THEN every readable photo is re-analysed for blur only, with the new method recorded
    assert (summary.reanalysed, summary.new, summary.changed) == (3, 0, 0)
    with sessions() as session:
        blur = session.scalars(select(Analysis).where(Analysis.analyzer == "blur")).all()
        assert {a.evidence.get("method") for a in blur} == {"piccl2021"}
        exposure_after = {a.photo_id: a.created_at for a in session.scalars(
            select(Analysis).where(Analysis.analyzer == "exposure"))}
    assert exposure_after == exposure_before


def test_failed_files_are_not_retried_unless_asked(
        library: Path, settings_for: SettingsFor, sessions: sessionmaker[Session]) -> None:
    settings = settings_for(library)
    _scan(settings, sessions, library)
    assert _scan(settings, sessions, library).processed == 0
    assert _scan(settings, sessions, library, retry_errors=True).retried == 1


def _decide(sessions: sessionmaker[Session], relpath: str, decision: str) -> int:
    with sessions() as session:
        photo = session.scalars(select(Photo).where(Photo.relpath == relpath)).one()
        session.add(Decision(photo_id=photo.id, decision=decision))
        session.commit()
        return photo.id


def _decisions(sessions: sessionmaker[Session]) -> dict[int, str]:
    with sessions() as session:
        return {d.photo_id: d.decision for d in session.scalars(select(Decision))}


def test_identical_copies_keep_their_own_decisions_when_one_comes_back(
        tmp_path: Path, make_photo: PhotoFactory, settings_for: SettingsFor, sessions: sessionmaker[Session]) -> None:
    # GIVEN two identical copies with different decisions, both gone from the library
    library = tmp_path / "lib"
    make_photo(library / "bystander.jpg", 300, 200, seed=7)
    data = make_photo(library / "b.jpg", 600, 400).read_bytes()
    (library / "c.jpg").write_bytes(data)
    settings = settings_for(library)
    _scan(settings, sessions, library)
    b_id, c_id = _decide(sessions, "b.jpg", "keep"), _decide(sessions, "c.jpg", "trash")
    (library / "b.jpg").unlink()
    (library / "c.jpg").unlink()
    _scan(settings, sessions, library)
    # WHEN only c.jpg comes back
    (library / "c.jpg").write_bytes(data)
    summary = _scan(settings, sessions, library)
    # THEN it is c's own row again, and both decisions are where they were
    assert (summary.moved, summary.new) == (1, 0)
    assert _photos(sessions)["c.jpg"].id == c_id
    assert _decisions(sessions) == {b_id: "keep", c_id: "trash"}


def test_a_new_photo_at_a_gone_photos_path_does_not_inherit_its_decision(
        tmp_path: Path, make_photo: PhotoFactory, settings_for: SettingsFor, sessions: sessionmaker[Session]) -> None:
    # GIVEN IMG_0001.jpg trashed by the user and gone
    library = tmp_path / "lib"
    make_photo(library / "bystander.jpg", 300, 200, seed=7)
    make_photo(library / "IMG_0001.jpg", 600, 400, seed=1)
    settings = settings_for(library)
    _scan(settings, sessions, library)
    old_id = _decide(sessions, "IMG_0001.jpg", "trash")
    (library / "IMG_0001.jpg").unlink()
    _scan(settings, sessions, library)
    # WHEN the camera's counter wraps and a different IMG_0001.jpg arrives
    make_photo(library / "IMG_0001.jpg", 640, 480, seed=2)
    summary = _scan(settings, sessions, library)
    # THEN it is a new photo with no decision, and the old one keeps its history aside
    assert summary.new == 1
    photos = _photos(sessions)
    assert photos["IMG_0001.jpg"].id != old_id
    assert _decisions(sessions) == {old_id: "trash"}
    tombstone = next(p for p in photos.values() if p.id == old_id)
    assert tombstone.relpath.startswith(".piccl-gone/") and tombstone.gone_at is not None


def test_a_copy_of_a_photo_does_not_take_the_originals_row(
        tmp_path: Path, make_photo: PhotoFactory, settings_for: SettingsFor, sessions: sessionmaker[Session]) -> None:
    # GIVEN a photo the user decided to keep
    library = tmp_path / "lib"
    make_photo(library / "a.jpg", 600, 400)
    settings = settings_for(library)
    _scan(settings, sessions, library)
    a_id = _decide(sessions, "a.jpg", "keep")
    # WHEN an identical copy (same name, size and mtime) appears in another folder
    (library / "copy").mkdir()
    shutil.copy2(library / "a.jpg", library / "copy" / "a.jpg")
    summary = _scan(settings, sessions, library)
    # THEN the copy is a new photo and the original keeps its row and decision
    assert (summary.new, summary.moved) == (1, 0)
    photos = _photos(sessions)
    assert photos["a.jpg"].id == a_id and photos["a.jpg"].gone_at is None
    assert _decisions(sessions) == {a_id: "keep"}


def test_an_empty_library_is_not_taken_for_everything_deleted(
        library: Path, settings_for: SettingsFor, sessions: sessionmaker[Session]) -> None:
    settings = settings_for(library)
    _scan(settings, sessions, library)
    # WHEN the share is not mounted (its mount point is an empty folder)
    empty = library.parent / "unmounted"
    empty.mkdir()
    library.rename(library.parent / "elsewhere")
    empty.rename(library)
    summary = _scan(settings, sessions, library)
    # THEN nothing is marked gone, and the summary says why
    assert summary.gone == 0
    assert "unmounted" in summary.warnings[0]
    assert all(p.gone_at is None for p in _photos(sessions).values())


def test_raw_files_are_recorded_as_skipped_without_being_read(
        tmp_path: Path, make_photo: PhotoFactory, settings_for: SettingsFor, sessions: sessionmaker[Session]) -> None:
    # GIVEN a TIFF-based raw file (Pillow would read its small preview and judge the original by it)
    library = tmp_path / "lib"
    make_photo(library / "DSC_0001.NEF", 160, 120, fmt="TIFF", gain=0.05)
    summary = _scan(settings_for(library), sessions, library)
    photo = _photos(sessions)["DSC_0001.NEF"]
    assert (photo.status, photo.error_reason) == ("skipped", "raw_format")
    assert photo.content_hash is None
    assert summary.flagged == {}


def test_a_file_name_the_database_cannot_store_is_reported_and_the_scan_goes_on(
        tmp_path: Path, make_photo: PhotoFactory, settings_for: SettingsFor, sessions: sessionmaker[Session]) -> None:
    # GIVEN a Latin-1 file name from an old SMB share, beside a normal photo
    library = tmp_path / "lib"
    make_photo(library / "ok.jpg", 300, 200)
    latin1 = os.path.join(os.fsencode(library), b"caf\xe9.jpg")
    with open(latin1, "wb") as handle:
        handle.write((library / "ok.jpg").read_bytes())
    # WHEN it is scanned
    summary = _scan(settings_for(library), sessions, library)
    # THEN the normal photo is stored and the odd name is counted and named
    assert summary.ok == 1
    assert summary.skipped["unstorable_name"] == 1
    assert "UTF-8" in summary.warnings[0]


def test_changing_the_analysis_size_reruns_the_analyzers(
        library: Path, settings_for: SettingsFor, sessions: sessionmaker[Session]) -> None:
    _scan(settings_for(library), sessions, library)
    summary = _scan(settings_for(library, analysis_size=800), sessions, library)
    assert summary.reanalysed == 3


def test_scans_of_one_library_take_turns(library: Path, settings_for: SettingsFor,
                                         sessions: sessionmaker[Session]) -> None:
    import threading

    from plugin.store.lock import library_lock

    settings = settings_for(library)
    results: list[int] = []
    # GIVEN another process holding the library's scan lock
    with library_lock(settings.data_dir, library.resolve()):
        worker = threading.Thread(target=lambda: results.append(_scan(settings, sessions, library).new))
        worker.start()
        worker.join(timeout=1.0)
        # THEN the second scan waits
        assert worker.is_alive() and results == []
    worker.join(timeout=60)
    assert results == [4]


def _tree_fingerprint(root: Path) -> dict[str, tuple[str, int]]:
    return {
        str(p.relative_to(root)): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*")) if p.is_file()
    }


def test_the_library_is_read_only_to_a_scan(library: Path, settings_for: SettingsFor,
                                            sessions: sessionmaker[Session]) -> None:
    before = _tree_fingerprint(library)
    _scan(settings_for(library, workers={"kind": "process"}), sessions, library)
    assert _tree_fingerprint(library) == before


def test_per_file_time_limit_records_a_timeout(tmp_path: Path, make_photo: PhotoFactory, settings_for: SettingsFor,
                                               sessions: sessionmaker[Session]) -> None:
    # GIVEN a photo that takes far longer to decode than the limit (a big PNG has no reduced decode)
    library = tmp_path / "slow"
    make_photo(library / "huge.png", 4000, 3000, fmt="PNG")
    make_photo(library / "small.jpg", 400, 300)
    settings = settings_for(library, workers={"kind": "process", "per_file_timeout_s": 0.05, "count": 1})
    # WHEN it is scanned in worker processes
    summary = _scan(settings, sessions, library)
    # THEN it is recorded as a timeout and the scan went on
    assert summary.errors.get("timeout", 0) >= 1
    assert _photos(sessions)["huge.png"].error_reason == "timeout"


@pytest.mark.slow
def test_corrupt_and_edge_cases_scan_in_worker_processes(testdata: Path, settings_for: SettingsFor,
                                                         sessions: sessionmaker[Session]) -> None:
    # GIVEN Pillow's torture set (truncated, fuzzer crashers, bombs, odd formats)
    root = testdata / "corrupt_and_edge_cases"
    settings = settings_for(root, workers={"kind": "process", "per_file_timeout_s": 30})
    # WHEN it is scanned the way the product runs
    summary = _scan(settings, sessions, root)
    # THEN every file ends ok or recorded with a reason
    photos = _photos(sessions)
    expected = [row["file"] for row in csv.DictReader((root / "expectations.csv").open())]
    for rel in expected:
        assert rel in photos, rel
        photo = photos[rel]
        assert photo.status in ("ok", "error", "skipped")
        if photo.status != "ok":
            assert photo.error_reason and photo.error_detail, rel
    assert summary.ok >= 170
    assert "worker_crashed" not in summary.errors


@pytest.mark.slow
def test_scan_killed_with_sigkill_resumes_and_records_each_photo_once(
        tmp_path: Path, make_photo: PhotoFactory) -> None:
    # GIVEN a library of 60 photos and a scan that commits every 3
    library = tmp_path / "library"
    for i in range(60):
        make_photo(library / f"{i // 10}" / f"p{i:03}.jpg", 1600, 1200, seed=i)
    env = {**os.environ, "PICCL_DATA_DIR": str(tmp_path / "data"), "PICCL_WORKERS__COUNT": "1",
           "PICCL_WORKERS__COMMIT_EVERY": "3"}
    database = Settings(data_dir=tmp_path / "data").resolved_database_url  # SQLite, or the test's PostgreSQL
    command = [sys.executable, "-m", "plugin", "scan", str(library)]
    # WHEN the scan is killed with SIGKILL part-way
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    deadline = time.monotonic() + 60
    committed = 0
    while time.monotonic() < deadline and process.poll() is None:
        committed = _count(database)
        if committed >= 9:
            break
        time.sleep(0.02)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert 0 < _count(database) < 60, "the scan should have been killed part-way"
    # AND started again
    subprocess.run(command, env=env, check=True, capture_output=True)
    # THEN every photo is recorded exactly once, all analysed
    engine = create_engine(database)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT relpath, status FROM photos")).all()
    engine.dispose()
    assert len(rows) == 60 == len({r for r, _ in rows})
    assert {s for _, s in rows} == {"ok"}


def _count(url: str) -> int:
    """Photos committed so far (0 while there is no database or no table yet), read as another process."""
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        return 0
    engine = create_engine(url, connect_args={"timeout": 1} if url.startswith("sqlite") else {})
    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT count(*) FROM photos")).scalar_one()
    except SQLAlchemyError:
        return 0
    finally:
        engine.dispose()


def test_scan_makes_grid_thumbnails_from_the_pixels_it_decoded(tmp_path: Path, make_photo: PhotoFactory,
                                                               settings_for, sessions) -> None:
    # GIVEN a library with a photo
    lib = tmp_path / "lib"
    make_photo(lib / "a.jpg", 1600, 1200)
    settings = settings_for(lib)
    # WHEN it is scanned
    Scanner(settings, sessions).scan(lib)
    # THEN its grid thumbnail is already in the cache, so the review grid never decodes it again
    with sessions() as session:
        content_hash = session.scalar(select(Photo.content_hash))
    thumb = thumbnail_path(settings.data_dir / "thumbnails", content_hash, "sm")
    with Image.open(thumb) as image:
        assert image.format == "JPEG" and max(image.size) == 360
