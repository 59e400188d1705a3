"""piccl's trash: the only code that moves or deletes a user's photo, and only when the user asked.

Trashing moves the photo and its own sidecars into ``<library>/<trash_dir_name>/`` under the same
relative path, so the trash is an ordinary folder the user can inspect from their NAS. Nothing is ever
overwritten: a name already taken in the trash, or at the original place on restore, gets a free
variant instead (``IMG_1 (2).jpg`` / ``IMG_1 (restored).jpg``). Moves are recorded before they happen
(``state='moving'``) and settled after, so :meth:`TrashBin.reconcile` can finish or undo a move a
crash interrupted. Only :meth:`TrashBin.empty` deletes, and only what is in the trash folder.
"""

from __future__ import annotations

import errno
import logging
import os
import stat
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path, PurePosixPath

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from plugin.store.models import Photo, TrashEntry, utcnow

log = logging.getLogger(__name__)

# Sidecar kinds that belong to one photo and travel with it (XMP, Apple edits, Google Takeout JSON,
# RawTherapee, DxO, ON1, camera thumbnails).
SIDECAR_SUFFIXES = frozenset({".xmp", ".aae", ".json", ".pp3", ".dop", ".on1", ".thm"})


@dataclass(frozen=True, slots=True)
class TrashOutcome:
    photo_id: int
    ok: bool
    entry_id: int | None = None
    trash_relpath: str | None = None
    reason: str | None = None  # why not: not_found | already_trashed | file_missing | unsafe_path | io_error


@dataclass(frozen=True, slots=True)
class RestoreOutcome:
    entry_id: int
    ok: bool
    photo_id: int | None = None
    restored_relpath: str | None = None
    renamed: bool = False  # the original place was taken: restored beside it under a free name
    reason: str | None = None  # not_found | not_in_trash | file_missing | unsafe_path | io_error


@dataclass(slots=True)
class EmptySummary:
    purged: int = 0
    bytes: int = 0
    kept_recent: int = 0  # younger than the retention period
    failed: list[tuple[int, str]] = field(default_factory=list)


class UnsafePath(Exception):
    """A path that would leave the library (a symlink pointing out, a crafted name)."""


def inside_library(root: Path, relpath: str) -> Path:
    """``root/relpath``, provided that it stays inside ``root`` after resolving symlinks."""
    rel = PurePosixPath(relpath)
    if rel.is_absolute() or ".." in rel.parts or not rel.parts:
        raise UnsafePath(relpath)
    real_root = root.resolve()
    path = real_root.joinpath(*rel.parts)
    if not path.parent.resolve().is_relative_to(real_root):
        raise UnsafePath(relpath)
    return path


def move_no_replace(src: Path, dst: Path) -> None:
    """Move ``src`` to ``dst`` without ever replacing an existing ``dst``; the bytes and mtime stay."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        # link() fails if dst exists, which rename() would silently replace.
        os.link(src, dst, follow_symlinks=False)
    except FileExistsError:
        raise
    except OSError as exc:
        # SMB/FUSE shares often refuse hard links: check, then rename (a narrow race with other writers).
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK, errno.EACCES):
            raise
        if os.path.lexists(dst):
            raise FileExistsError(errno.EEXIST, "destination exists", str(dst)) from None
        os.rename(src, dst)
        return
    os.unlink(src)


def sidecars_of(photo_path: Path) -> list[str]:
    """Names of the sidecars beside ``photo_path`` that belong to it alone.

    ``IMG_1.jpg.xmp`` (darktable, digiKam, Takeout's ``IMG_1.jpg.json``) always does. ``IMG_1.xmp``
    (Lightroom, Apple's ``IMG_1.AAE``) does only when no other photo shares the stem: in a RAW+JPEG
    pair it describes the raw file too, and must stay with it.
    """
    name = photo_path.name
    stem = photo_path.stem.lower()
    try:
        with os.scandir(photo_path.parent) as entries:
            siblings = [e.name for e in entries if e.name != name and e.is_file(follow_symlinks=False)]
    except OSError:
        return []
    own = [s for s in siblings if s.lower().startswith(name.lower() + ".")
           and PurePosixPath(s).suffix.lower() in SIDECAR_SUFFIXES]
    shared_stem = [s for s in siblings if PurePosixPath(s).stem.lower() == stem
                   and PurePosixPath(s).suffix.lower() in SIDECAR_SUFFIXES]
    other_photos = [s for s in siblings if PurePosixPath(s).stem.lower() == stem
                    and PurePosixPath(s).suffix.lower() not in SIDECAR_SUFFIXES]
    return sorted(own + ([] if other_photos else shared_stem))


def _renamed_sidecar(sidecar: str, old_name: str, new_name: str) -> str:
    """The sidecar's name for a photo renamed from ``old_name`` to ``new_name``."""
    if sidecar.lower().startswith(old_name.lower() + "."):
        return new_name + sidecar[len(old_name):]
    return PurePosixPath(new_name).stem + sidecar[len(PurePosixPath(old_name).stem):]


def _variants(relpath: str, label: str) -> Iterable[str]:
    """``relpath``, then ``stem (label).ext``, ``stem (label 2).ext``, ..."""
    rel = PurePosixPath(relpath)
    yield relpath
    for n in range(1, 10_000):
        tag = label if n == 1 else f"{label} {n}"
        yield str(rel.with_name(f"{rel.stem} ({tag}){rel.suffix}"))
    raise RuntimeError(f"no free name for {relpath}")


class TrashBin:
    """Trash, restore and empty, for the photos of the libraries in one database."""

    def __init__(self, sessions: sessionmaker[Session], trash_dir_name: str = ".piccl-trash",
                 retention_days: float = 30.0) -> None:
        self.sessions, self.trash_dir_name, self.retention_days = sessions, trash_dir_name, retention_days
        # File moves and their records go one at a time (the UI serves requests on several threads).
        self._lock = threading.Lock()

    # -- trash ----------------------------------------------------------------------------------

    def trash(self, photo_ids: Iterable[int]) -> list[TrashOutcome]:
        with self._lock:
            return [self._trash_one(pid) for pid in photo_ids]

    def _trash_one(self, photo_id: int) -> TrashOutcome:
        with self.sessions() as session:
            photo = session.get(Photo, photo_id)
            if photo is None:
                return TrashOutcome(photo_id, False, reason="not_found")
            if photo.trashed_at is not None:
                return TrashOutcome(photo_id, False, reason="already_trashed")
            if photo.gone_at is not None:
                return TrashOutcome(photo_id, False, reason="file_missing")
            root = Path(photo.library.root)
            try:
                src = inside_library(root, photo.relpath)
                inside_library(root, f"{self.trash_dir_name}/{photo.relpath}")  # the trash folder stays inside too
                info = src.lstat()
            except UnsafePath:
                return TrashOutcome(photo_id, False, reason="unsafe_path")
            except FileNotFoundError:
                return TrashOutcome(photo_id, False, reason="file_missing")
            if not stat.S_ISREG(info.st_mode):
                return TrashOutcome(photo_id, False, reason="unsafe_path")
            taken = self._taken(session, photo.library_id, root)
            trash_rel = next(v for v in _variants(f"{self.trash_dir_name}/{photo.relpath}", "2") if not taken(v))
            old_name, new_name = src.name, PurePosixPath(trash_rel).name
            sidecars = [[f"{photo.folder}/{s}".lstrip("/"),
                         str(PurePosixPath(trash_rel).with_name(_renamed_sidecar(s, old_name, new_name)))]
                        for s in sidecars_of(src)]
            entry = TrashEntry(library_id=photo.library_id, photo_id=photo.id, original_relpath=photo.relpath,
                               trash_relpath=trash_rel, sidecars=sidecars, size=info.st_size, state="moving")
            session.add(entry)
            session.commit()  # recorded before anything moves: a crash from here on is reconciled

            try:
                move_no_replace(src, inside_library(root, trash_rel))
            except (OSError, UnsafePath) as exc:
                log.warning("could not move %s to the trash: %s", photo.relpath, exc)
                session.delete(entry)
                session.commit()
                return TrashOutcome(photo_id, False, reason="io_error")
            entry.sidecars = self._move_sidecars(root, sidecars)
            self._settle_trashed(session, entry, photo)
            session.commit()
            return TrashOutcome(photo_id, True, entry.id, trash_rel)

    @staticmethod
    def _move_sidecars(root: Path, pairs: list[list[str]], back: bool = False) -> list[list[str]]:
        """Move each sidecar (the reverse way with ``back``); returns the pairs that moved."""
        moved = []
        for original, in_trash in pairs:
            src_rel, dst_rel = (in_trash, original) if back else (original, in_trash)
            try:
                move_no_replace(inside_library(root, src_rel), inside_library(root, dst_rel))
                moved.append([original, in_trash])
            except (OSError, UnsafePath) as exc:
                log.warning("sidecar %s stays where it is: %s", src_rel, exc)
        return moved

    @staticmethod
    def _settle_trashed(session: Session, entry: TrashEntry, photo: Photo) -> None:
        entry.state = "trashed"
        photo.relpath, photo.trashed_at = entry.trash_relpath, utcnow()
        photo.set_decision("trash")

    def _taken(self, session: Session, library_id: int, root: Path) -> Callable[[str], bool]:
        """Whether a relpath is in use: a file there, a photo row holding it, or a trash entry expecting it."""
        def taken(relpath: str) -> bool:
            try:
                if os.path.lexists(inside_library(root, relpath)):
                    return True
            except UnsafePath:
                return True
            if session.scalar(select(Photo.id).where(Photo.library_id == library_id, Photo.relpath == relpath)):
                return True
            return bool(session.scalar(select(TrashEntry.id).where(
                TrashEntry.library_id == library_id, TrashEntry.trash_relpath == relpath,
                TrashEntry.state.in_(("moving", "trashed", "restoring")))))
        return taken

    # -- restore --------------------------------------------------------------------------------

    def restore(self, entry_ids: Iterable[int], decision: str | None = "keep") -> list[RestoreOutcome]:
        """Put photos back where they were. ``decision``: what the user's decision becomes ('keep' when
        they restored from the trash, None to send the photo back to the review queue, as undo does)."""
        with self._lock:
            return [self._restore_one(eid, decision) for eid in entry_ids]

    def entries_for_photos(self, photo_ids: Iterable[int]) -> list[int]:
        ids = list(photo_ids)
        with self.sessions() as session:
            return list(session.scalars(select(TrashEntry.id).where(
                TrashEntry.photo_id.in_(ids), TrashEntry.state == "trashed")))

    def _restore_one(self, entry_id: int, decision: str | None) -> RestoreOutcome:
        with self.sessions() as session:
            entry = session.get(TrashEntry, entry_id)
            if entry is None:
                return RestoreOutcome(entry_id, False, reason="not_found")
            if entry.state != "trashed":
                return RestoreOutcome(entry_id, False, entry.photo_id, reason="not_in_trash")
            root = Path(entry.library.root)
            try:
                src = inside_library(root, entry.trash_relpath)
                src.lstat()
            except UnsafePath:
                return RestoreOutcome(entry_id, False, entry.photo_id, reason="unsafe_path")
            except FileNotFoundError:
                return RestoreOutcome(entry_id, False, entry.photo_id, reason="file_missing")
            taken = self._taken(session, entry.library_id, root)
            target = next(v for v in _variants(entry.original_relpath, "restored") if not taken(v))
            entry.state, entry.restored_relpath = "restoring", target
            session.commit()
            try:
                move_no_replace(src, inside_library(root, target))
            except (OSError, UnsafePath) as exc:
                log.warning("could not restore %s: %s", entry.trash_relpath, exc)
                entry.state, entry.restored_relpath = "trashed", None
                session.commit()
                return RestoreOutcome(entry_id, False, entry.photo_id, reason="io_error")
            self._restore_sidecars(root, entry, target, taken)
            self._settle_restored(session, entry, decision)
            session.commit()
            return RestoreOutcome(entry_id, True, entry.photo_id, target, target != entry.original_relpath)

    def _restore_sidecars(self, root: Path, entry: TrashEntry, target: str, taken: Callable[[str], bool]) -> None:
        old_name, new_name = PurePosixPath(entry.original_relpath).name, PurePosixPath(target).name
        pairs = []
        for original, in_trash in entry.sidecars:
            dest = str(PurePosixPath(target).with_name(
                _renamed_sidecar(PurePosixPath(original).name, old_name, new_name)))
            if not taken(dest):
                pairs.append([dest, in_trash])
            else:  # never overwrite: it waits in the trash, next to where the photo was
                log.warning("sidecar %s stays in the trash: %s is taken", in_trash, dest)
        self._move_sidecars(root, pairs, back=True)

    @staticmethod
    def _settle_restored(session: Session, entry: TrashEntry, decision: str | None) -> None:
        entry.state, entry.finished_at = "restored", utcnow()
        photo = session.get(Photo, entry.photo_id) if entry.photo_id else None
        if photo is None:
            return
        photo.relpath, photo.trashed_at = entry.restored_relpath or entry.original_relpath, None
        photo.set_decision(decision)

    # -- empty ----------------------------------------------------------------------------------

    def empty(self, everything: bool = False, now: datetime | None = None,
              entry_ids: Iterable[int] | None = None) -> EmptySummary:
        """Delete for good what has been in the trash for the retention period (all of it with
        ``everything``; only ``entry_ids`` when given). The caller has asked the user to confirm."""
        cutoff = (now or utcnow()) - timedelta(days=self.retention_days)
        summary = EmptySummary()
        with self._lock, self.sessions() as session:
            query = select(TrashEntry).where(TrashEntry.state == "trashed").order_by(TrashEntry.id)
            if entry_ids is not None:
                query = query.where(TrashEntry.id.in_(list(entry_ids)))
            for entry in session.scalars(query).all():
                if not everything and entry.trashed_at > cutoff:
                    summary.kept_recent += 1
                    continue
                problem = self._purge(entry)
                if problem:
                    summary.failed.append((entry.id, problem))
                    continue
                summary.purged += 1
                summary.bytes += entry.size
                entry.state, entry.finished_at = "purged", utcnow()
                if entry.photo_id is not None and (photo := session.get(Photo, entry.photo_id)) is not None:
                    session.delete(photo)
                session.commit()
        return summary

    def _purge(self, entry: TrashEntry) -> str | None:
        """Delete an entry's files, each only if it lies inside the trash folder; the problem, if any."""
        root = Path(entry.library.root)
        trash_root = (root.resolve() / self.trash_dir_name)
        for relpath in [entry.trash_relpath, *(pair[1] for pair in entry.sidecars)]:
            try:
                path = inside_library(root, relpath)
            except UnsafePath:
                return "unsafe_path"
            if not path.is_relative_to(trash_root):
                return "not_in_trash"  # the trash folder was renamed since: never delete elsewhere
            try:
                path.unlink()
            except FileNotFoundError:
                continue  # already deleted by hand: the goal is reached
            except OSError as exc:
                return f"io_error: {exc.strerror}"
        return None

    # -- crash recovery -------------------------------------------------------------------------

    def reconcile(self) -> int:
        """Settle moves a crash interrupted; returns how many. Safe to call at any start."""
        settled = 0
        with self._lock, self.sessions() as session:
            pending = session.scalars(select(TrashEntry).where(TrashEntry.state.in_(("moving", "restoring")))).all()
            for entry in pending:
                root = Path(entry.library.root)
                photo = session.get(Photo, entry.photo_id) if entry.photo_id else None
                try:
                    in_trash = inside_library(root, entry.trash_relpath).exists()
                    back = inside_library(root, entry.restored_relpath or entry.original_relpath).exists()
                except UnsafePath:
                    continue
                if entry.state == "moving":
                    if in_trash and photo is not None:
                        entry.sidecars = [p for p in entry.sidecars if inside_library(root, p[1]).exists()]
                        self._settle_trashed(session, entry, photo)
                    else:  # the photo never left: bring back any sidecar that did
                        self._move_sidecars(root, [p for p in entry.sidecars if inside_library(root, p[1]).exists()],
                                            back=True)
                        session.delete(entry)
                elif back and not in_trash:
                    self._settle_restored(session, entry, "keep")
                else:
                    entry.state, entry.restored_relpath = "trashed", None
                settled += 1
                session.commit()
        if settled:
            log.info("settled %d trash moves a crash had interrupted", settled)
        return settled
