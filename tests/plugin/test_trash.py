"""The trash bin: moves that never overwrite, sidecars that follow, restores that give back the same bytes."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from plugin.scan import Scanner
from plugin.store.models import Photo, TrashEntry
from plugin.trash import TrashBin, sidecars_of
from tests.conftest import PhotoFactory


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _photo_id(sessions: sessionmaker[Session], relpath: str) -> int:
    with sessions() as session:
        pid = session.scalar(select(Photo.id).where(Photo.relpath == relpath))
        assert pid is not None
        return pid


def test_trash_then_restore_gives_back_the_same_file_with_its_sidecar(
        tmp_path: Path, make_photo: PhotoFactory, settings_for, sessions) -> None:
    # GIVEN a scanned photo with a darktable sidecar
    lib = tmp_path / "lib"
    photo = make_photo(lib / "2024" / "a.jpg", 640, 480)
    (lib / "2024" / "a.jpg.xmp").write_text("<x:xmpmeta/>")
    before, mtime = _digest(photo), photo.stat().st_mtime_ns
    Scanner(settings_for(lib), sessions).scan(lib)
    pid = _photo_id(sessions, "2024/a.jpg")
    bin_ = TrashBin(sessions)
    # WHEN it is trashed
    [outcome] = bin_.trash([pid])
    # THEN photo and sidecar sit in the trash under the same relative path, and nothing is left behind
    assert outcome.ok and outcome.trash_relpath == ".piccl-trash/2024/a.jpg"
    assert not photo.exists() and not (lib / "2024" / "a.jpg.xmp").exists()
    assert (lib / ".piccl-trash" / "2024" / "a.jpg.xmp").exists()
    # AND a rescan neither marks it gone nor finds the trash folder
    summary = Scanner(settings_for(lib), sessions).scan(lib)
    assert (summary.gone, summary.new) == (0, 0)
    # WHEN it is restored
    [entry_id] = bin_.entries_for_photos([pid])
    [restored] = bin_.restore([entry_id])
    # THEN the same bytes (and mtime) are back at the original path, with the sidecar, under the same id
    assert restored.ok and not restored.renamed and restored.restored_relpath == "2024/a.jpg"
    assert _digest(photo) == before and photo.stat().st_mtime_ns == mtime
    assert (lib / "2024" / "a.jpg.xmp").read_text() == "<x:xmpmeta/>"
    assert _photo_id(sessions, "2024/a.jpg") == pid
    assert Scanner(settings_for(lib), sessions).scan(lib).unchanged == 1


def test_trash_collision_keeps_both_files(tmp_path: Path, make_photo: PhotoFactory, settings_for, sessions) -> None:
    # GIVEN a photo trashed, then a different photo at the same path, trashed too
    lib = tmp_path / "lib"
    make_photo(lib / "a.jpg", 640, 480, seed=1)
    Scanner(settings_for(lib), sessions).scan(lib)
    bin_ = TrashBin(sessions)
    first = bin_.trash([_photo_id(sessions, "a.jpg")])[0]
    second_photo = make_photo(lib / "a.jpg", 640, 480, seed=2)
    second_digest = _digest(second_photo)
    Scanner(settings_for(lib), sessions).scan(lib)
    second = bin_.trash([_photo_id(sessions, "a.jpg")])[0]
    # THEN the second gets a free name in the trash and neither file is lost
    assert first.trash_relpath == ".piccl-trash/a.jpg"
    assert second.trash_relpath == ".piccl-trash/a (2).jpg"
    assert _digest(lib / ".piccl-trash" / "a (2).jpg") == second_digest
    assert (lib / ".piccl-trash" / "a.jpg").exists()


def test_restore_collision_never_overwrites(tmp_path: Path, make_photo: PhotoFactory, settings_for, sessions) -> None:
    # GIVEN a trashed photo whose place was taken by a new file since
    lib = tmp_path / "lib"
    original = make_photo(lib / "a.jpg", 640, 480, seed=1)
    old_digest = _digest(original)
    Scanner(settings_for(lib), sessions).scan(lib)
    bin_ = TrashBin(sessions)
    pid = _photo_id(sessions, "a.jpg")
    bin_.trash([pid])
    newcomer = make_photo(lib / "a.jpg", 640, 480, seed=2)
    new_digest = _digest(newcomer)
    # WHEN the trashed one is restored
    [restored] = bin_.restore(bin_.entries_for_photos([pid]))
    # THEN it comes back beside the newcomer under a free name; both files are intact
    assert restored.ok and restored.renamed and restored.restored_relpath == "a (restored).jpg"
    assert _digest(lib / "a (restored).jpg") == old_digest
    assert _digest(lib / "a.jpg") == new_digest


def test_a_sidecar_shared_with_a_raw_file_stays(tmp_path: Path, make_photo: PhotoFactory) -> None:
    # GIVEN a RAW+JPEG pair sharing IMG_1.xmp, and the JPEG's own IMG_1.JPG.xmp
    photo = make_photo(tmp_path / "IMG_1.JPG", 64, 64)
    for name in ("IMG_1.CR2", "IMG_1.xmp", "IMG_1.JPG.xmp", "IMG_10.xmp"):
        (tmp_path / name).write_bytes(b"x")
    # THEN only the JPEG's own sidecar goes with it
    assert sidecars_of(photo) == ["IMG_1.JPG.xmp"]
    # AND without the raw file the stem sidecar goes too (Lightroom, Apple's .AAE)
    (tmp_path / "IMG_1.CR2").unlink()
    assert sidecars_of(photo) == ["IMG_1.JPG.xmp", "IMG_1.xmp"]


def test_empty_deletes_only_what_is_old_enough_and_only_in_the_trash(
        tmp_path: Path, make_photo: PhotoFactory, settings_for, sessions) -> None:
    # GIVEN two trashed photos, one trashed 40 days ago
    lib = tmp_path / "lib"
    make_photo(lib / "old.jpg", 320, 240)
    make_photo(lib / "new.jpg", 320, 240)
    Scanner(settings_for(lib), sessions).scan(lib)
    bin_ = TrashBin(sessions, retention_days=30)
    bin_.trash([_photo_id(sessions, "old.jpg"), _photo_id(sessions, "new.jpg")])
    with sessions() as session:
        entry = session.scalar(select(TrashEntry).where(TrashEntry.original_relpath == "old.jpg"))
        assert entry is not None
        entry.trashed_at = entry.trashed_at.replace(year=entry.trashed_at.year - 1)
        session.commit()
    # WHEN the trash is emptied with the default retention
    summary = bin_.empty()
    # THEN only the old one is deleted for good, and its row with it
    assert (summary.purged, summary.kept_recent) == (1, 1)
    assert not (lib / ".piccl-trash" / "old.jpg").exists() and (lib / ".piccl-trash" / "new.jpg").exists()
    with sessions() as session:
        assert session.scalar(select(Photo.id).where(Photo.relpath.like("%old.jpg"))) is None
    # WHEN everything is asked for THEN the rest goes too
    assert bin_.empty(everything=True).purged == 1


def test_a_move_interrupted_by_a_crash_is_settled(tmp_path: Path, make_photo: PhotoFactory, settings_for,
                                                  sessions) -> None:
    # GIVEN a trash entry recorded as 'moving' whose file did reach the trash before the crash
    lib = tmp_path / "lib"
    make_photo(lib / "a.jpg", 320, 240)
    Scanner(settings_for(lib), sessions).scan(lib)
    pid = _photo_id(sessions, "a.jpg")
    with sessions() as session:
        session.add(TrashEntry(library_id=1, photo_id=pid, original_relpath="a.jpg",
                               trash_relpath=".piccl-trash/a.jpg", sidecars=[], size=1, state="moving"))
        session.commit()
    (lib / ".piccl-trash").mkdir()
    os.rename(lib / "a.jpg", lib / ".piccl-trash" / "a.jpg")
    # WHEN piccl starts again
    assert TrashBin(sessions).reconcile() == 1
    # THEN the photo is recorded as trashed, and can be restored
    with sessions() as session:
        photo = session.get(Photo, pid)
        assert photo is not None and photo.trashed_at is not None and photo.relpath == ".piccl-trash/a.jpg"
    [restored] = TrashBin(sessions).restore(TrashBin(sessions).entries_for_photos([pid]))
    assert restored.ok and (lib / "a.jpg").exists()


def test_trash_refuses_a_photo_that_became_a_symlink(tmp_path: Path, make_photo: PhotoFactory, settings_for,
                                                     sessions) -> None:
    # GIVEN a scanned photo replaced by a symlink to a file outside the library
    lib, outside = tmp_path / "lib", tmp_path / "outside.jpg"
    make_photo(lib / "a.jpg", 320, 240)
    make_photo(outside, 320, 240)
    Scanner(settings_for(lib), sessions).scan(lib)
    (lib / "a.jpg").unlink()
    (lib / "a.jpg").symlink_to(outside)
    # WHEN it is trashed THEN nothing moves
    [outcome] = TrashBin(sessions).trash([_photo_id(sessions, "a.jpg")])
    assert not outcome.ok and outcome.reason == "unsafe_path"
    assert outside.exists() and (lib / "a.jpg").is_symlink()
