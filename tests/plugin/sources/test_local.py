"""Listing a library: junk, sidecars, symlinks, unreadable folders."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from plugin.sources.local import Listing, list_library


def _touch(path: Path, data: bytes = b"x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_nas_and_os_junk_is_never_listed(tmp_path: Path) -> None:
    # GIVEN a share with photos and the junk Synology, QNAP, Windows and macOS leave in it
    for rel in ("2024/a.jpg", "2024/b.HEIC", "b.png"):
        _touch(tmp_path / rel)
    for rel in ("@eaDir/a.jpg/SYNOPHOTO_THUMB_XL.jpg", "#recycle/old.jpg", "#snapshot/x.jpg", "2024/.DS_Store",
                "2024/Thumbs.db", "2024/._a.jpg", ".hidden/c.jpg", ".piccl-trash/d.jpg", "2024/a.jpg.xmp",
                "2024/IMG_1.AAE", "2024/clip.MOV", "@Recycle/e.jpg"):
        _touch(tmp_path / rel)
    # WHEN it is listed
    listing = list_library(tmp_path)
    # THEN only the photos are
    assert [f.relpath for f in listing.files] == ["2024/a.jpg", "2024/b.HEIC", "b.png"]
    assert listing.ignored["video"] == 1
    assert listing.ignored["sidecar"] == 2


def test_symlinks_are_not_followed(tmp_path: Path) -> None:
    library, outside = tmp_path / "lib", tmp_path / "outside"
    _touch(library / "a.jpg")
    _touch(outside / "secret.jpg")
    (library / "escape").symlink_to(outside, target_is_directory=True)
    (library / "escape.jpg").symlink_to(outside / "secret.jpg")
    (library / "again.jpg").symlink_to(library / "a.jpg")
    listing = list_library(library)
    assert [f.relpath for f in listing.files] == ["a.jpg"]
    assert listing.ignored == {"symlink_outside_library": 2, "symlink": 1}


def test_unreadable_folder_is_reported_and_protects_its_photos(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a folder the scan may not read
    _touch(tmp_path / "ok" / "a.jpg")
    locked = tmp_path / "locked"
    _touch(locked / "b.jpg")
    locked.chmod(0)
    if os.geteuid() == 0:
        # root reads every folder, so refuse this one the way the kernel would for anyone else
        real_scandir = os.scandir

        def scandir(path: str) -> object:
            if Path(path) == locked:
                raise PermissionError(13, "Permission denied", str(path))
            return real_scandir(path)

        monkeypatch.setattr("plugin.sources.local.os.scandir", scandir)
    # WHEN the library is listed
    try:
        listing = list_library(tmp_path)
    finally:
        locked.chmod(0o755)
    # THEN the folder is reported, and its photos are not taken for deleted
    assert [f.relpath for f in listing.files] == ["ok/a.jpg"]
    assert "locked" in listing.unreadable_dirs
    assert not listing.covers("locked/b.jpg")
    assert listing.covers("ok/gone.jpg")


def test_listing_carries_size_and_mtime(tmp_path: Path) -> None:
    path = _touch(tmp_path / "a.jpg", b"12345")
    os.utime(path, ns=(1_700_000_000_000_000_000, 1_700_000_000_000_000_000))
    [entry] = list_library(tmp_path).files
    assert (entry.size, entry.mtime_ns) == (5, 1_700_000_000_000_000_000)


def test_piccl_data_folder_inside_the_library_is_not_listed(tmp_path: Path) -> None:
    # GIVEN piccl run from inside the library with its default ./piccl-data
    _touch(tmp_path / "a.jpg")
    _touch(tmp_path / "piccl-data" / "piccl.sqlite3")
    _touch(tmp_path / "piccl-data" / "logs" / "decoders.log")
    # THEN its own files are never listed as photos
    assert [f.relpath for f in list_library(tmp_path, exclude=(tmp_path / "piccl-data",)).files] == ["a.jpg"]


def test_a_file_that_could_not_be_read_is_not_taken_for_deleted() -> None:
    # GIVEN a walk where one file's stat failed (EIO on a flaky share) and one folder was unreadable
    listing = Listing(unreadable_dirs={"2024/a.jpg": "OSError: I/O error", "locked": "PermissionError"})
    # THEN neither that file nor anything under the folder counts as seen-missing
    assert not listing.covers("2024/a.jpg")
    assert not listing.covers("locked/deep/b.jpg")
    assert listing.covers("2024/b.jpg")
