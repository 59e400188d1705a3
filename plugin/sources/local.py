"""A photo library on a mounted folder (a NAS share, a local disk).

Listing is cheap (names and stat only) and separate from reading, so an
unchanged library costs no decode. NAS and OS junk is never listed; symlinks
are followed only when they stay inside the library; a folder that cannot be
read is reported, and nothing under it is treated as deleted.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

# Folders NAS systems and desktops put into shares (Synology, QNAP, Unraid, Windows, macOS).
JUNK_DIRS = frozenset({
    "@eaDir", "#recycle", "#snapshot", "@Recycle", "@Recently-Snapshot", ".@__thumb",
    "$RECYCLE.BIN", "System Volume Information", "lost+found",
})
JUNK_FILES = frozenset({".DS_Store", "Thumbs.db", "ehthumbs.db", "desktop.ini", "Icon\r"})

# Files that sit beside photos but are not photos: never listed, never recorded.
SIDECAR_SUFFIXES = frozenset({
    ".xmp", ".aae", ".thm", ".json", ".xml", ".txt", ".ini", ".db", ".lrv", ".pp3", ".dop",
    ".on1", ".nks", ".md5", ".sha1", ".sha256", ".pdf", ".zip", ".lnk", ".url", ".tmp", ".part",
})
# Videos are not analysed (yet): listed as ignored in the scan summary, not recorded per file.
VIDEO_SUFFIXES = frozenset({
    ".mp4", ".mov", ".m4v", ".avi", ".mkv", ".3gp", ".mts", ".m2ts", ".wmv", ".webm", ".mpg",
    ".mpeg", ".insv", ".lrf",
})
# Camera raw files: recorded as skipped with the reason, so a user sees what piccl did not read.
RAW_SUFFIXES = frozenset({
    ".cr2", ".cr3", ".crw", ".nef", ".nrw", ".arw", ".srf", ".sr2", ".raf", ".orf", ".rw2",
    ".pef", ".dng", ".srw", ".x3f", ".3fr", ".iiq", ".erf", ".kdc", ".mrw", ".raw", ".rwl",
})


@dataclass(frozen=True, slots=True)
class FileEntry:
    """A file found in a library, with what decides whether it changed."""

    relpath: str  # POSIX, relative to the library root
    abspath: str
    size: int
    mtime_ns: int
    etag: str | None = None  # WebDAV: the server's version tag
    remote_id: str | None = None  # Nextcloud: oc:fileid, which a rename or move keeps

    @property
    def is_raw(self) -> bool:
        return PurePosixPath(self.relpath).suffix.lower() in RAW_SUFFIXES


@dataclass(slots=True)
class Listing:
    """What one walk of a library found."""

    files: list[FileEntry] = field(default_factory=list)
    unreadable_dirs: dict[str, str] = field(default_factory=dict)  # relpath -> reason
    ignored: dict[str, int] = field(default_factory=dict)  # kind -> count

    def covers(self, relpath: str) -> bool:
        """True when this walk could see ``relpath`` (so its absence means deletion).

        Not when it, or a folder above it, could not be read (a file whose stat failed is reported
        under its own path).
        """
        if relpath in self.unreadable_dirs:
            return False
        return not any(str(parent) in self.unreadable_dirs for parent in PurePosixPath(relpath).parents)


def is_junk_dir(name: str, trash_dir_name: str) -> bool:
    return name in JUNK_DIRS or name.startswith(".") or name == trash_dir_name


def ignored_kind(name: str) -> str | None:
    """Why a file name is not a candidate photo, or None when it is one."""
    if name in JUNK_FILES or name.startswith("._") or name.startswith("."):
        return "junk"
    suffix = os.path.splitext(name)[1].lower()
    if suffix in SIDECAR_SUFFIXES:
        return "sidecar"
    if suffix in VIDEO_SUFFIXES:
        return "video"
    return None


def list_library(root: Path, trash_dir_name: str = ".piccl-trash", exclude: tuple[Path, ...] = ()) -> Listing:
    """Walk ``root`` recursively; never raises for a file or folder it cannot read.

    ``exclude`` names folders never to enter: piccl's own data folder when it lies inside the library.
    """
    listing = Listing()
    real_root = os.path.realpath(root)
    excluded = {os.path.realpath(path) for path in exclude}
    stack: list[tuple[str, str]] = [(real_root, "")]
    while stack:
        folder, rel_folder = stack.pop()
        try:
            with os.scandir(folder) as it:
                entries = list(it)
        except OSError as exc:
            listing.unreadable_dirs[rel_folder or "."] = f"{type(exc).__name__}: {exc.strerror or exc}"
            continue
        for entry in entries:
            rel = f"{rel_folder}/{entry.name}" if rel_folder else entry.name
            try:
                if entry.is_symlink():
                    # A link out of the library is not the user's library; a link inside it points
                    # at something the walk lists at its own path. Either way: not followed.
                    target = os.path.realpath(entry.path)
                    inside = os.path.commonpath([real_root, target]) == real_root
                    kind = "symlink" if inside else "symlink_outside_library"
                    listing.ignored[kind] = listing.ignored.get(kind, 0) + 1
                    continue
                if entry.is_dir(follow_symlinks=False):
                    if not is_junk_dir(entry.name, trash_dir_name) and entry.path not in excluded:
                        stack.append((entry.path, rel))
                    continue
                kind = ignored_kind(entry.name)
                if kind is not None:
                    listing.ignored[kind] = listing.ignored.get(kind, 0) + 1
                    continue
                st = entry.stat(follow_symlinks=False)
            except OSError as exc:
                listing.unreadable_dirs.setdefault(rel, f"{type(exc).__name__}: {exc.strerror or exc}")
                continue
            if not stat.S_ISREG(st.st_mode):
                continue
            listing.files.append(FileEntry(rel, entry.path, st.st_size, st.st_mtime_ns))
    listing.files.sort(key=lambda f: f.relpath)
    return listing


def library_relpath(root: Path, path: Path, trash_dir_name: str, exclude: tuple[Path, ...] = ()) -> Path | None:
    """``path`` relative to ``root`` when a full walk would list it by its name and folders, else None.

    Both paths must be spelled alike (both resolved, or both as the watcher reports them).
    """
    try:
        rel = path.relative_to(root)
    except ValueError:
        return None
    if any(path.is_relative_to(folder) for folder in exclude):
        return None
    if any(is_junk_dir(part, trash_dir_name) for part in rel.parts[:-1]) or ignored_kind(rel.name):
        return None
    return rel


def iter_paths_in_library(root: Path, paths: list[Path], trash_dir_name: str,
                          exclude: tuple[Path, ...] = ()) -> Iterator[FileEntry]:
    """Entries for specific files (from the watcher), keeping the same rules as a full walk."""
    real_root = Path(os.path.realpath(root))
    excluded = tuple(Path(os.path.realpath(path)) for path in exclude)
    for path in paths:
        real = Path(os.path.realpath(path))
        rel = library_relpath(real_root, real, trash_dir_name, excluded)
        if rel is None:
            continue
        try:
            st = real.stat()
        except OSError:
            continue
        if stat.S_ISREG(st.st_mode):
            yield FileEntry(rel.as_posix(), str(real), st.st_size, st.st_mtime_ns)
