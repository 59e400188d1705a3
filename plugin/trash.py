"""piccl's trash: the only code that moves or deletes a user's photo, and only when the user asked.

Trashing moves the photo and its own sidecars into ``<library>/<trash_dir_name>/`` under the same
relative path, so the trash is an ordinary folder the user can inspect from their NAS. Nothing is ever
overwritten: a name already taken in the trash, or at the original place on restore, gets a free
variant instead (``IMG_1 (2).jpg`` / ``IMG_1 (restored).jpg``). Moves are recorded before they happen
(``state='moving'``) and settled after, so :meth:`TrashBin.reconcile` can finish or undo a move a
crash interrupted. Only :meth:`TrashBin.empty` deletes, and only what is in the trash folder.

A WebDAV library works the same way through :class:`plugin.trash_files.WebDavFiles` (MOVE requests
into the trash folder on the server). With ``webdav.trash = "nextcloud"`` piccl instead DELETEs the
photo, which Nextcloud keeps in the user's own trash bin; the entry's ``trash_relpath`` is then
``nextcloud-trash:<name in the bin>`` (``IMG_1.jpg.d1718000000``), restoring MOVEs that item to the
bin's ``restore/`` folder, and :meth:`TrashBin.empty` leaves the bin to Nextcloud (its retention, or
the user emptying it there): it only closes the entries whose item is no longer in the bin.

A server that cannot be reached is an outcome (``reason='server_unreachable'``), never an exception.
When it failed half-way through a move (the request may or may not have happened), the entry stays
'moving'/'restoring' and is settled by the next call, or by :meth:`TrashBin.reconcile`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from plugin.sources.webdav import WebDavLibrary, open_webdav
from plugin.store.models import Library, Photo, TrashEntry, utcnow
from plugin.trash_files import (
    NEXTCLOUD_TRASH,
    SIDECAR_SUFFIXES,
    BinItem,
    LibraryFiles,
    LocalFiles,
    NextcloudBin,
    NextcloudLocation,
    NoTrashBin,
    ServerUnreachable,
    UnsafePath,
    WebDavFiles,
    inside_library,
    move_no_replace,
    sidecars_of,
)

if TYPE_CHECKING:
    from plugin.config import Settings

__all__ = ["SIDECAR_SUFFIXES", "EmptySummary", "RemoteOpener", "RestoreOutcome", "ServerUnreachable", "TrashBin",
           "TrashOutcome", "UnsafePath", "inside_library", "move_no_replace", "sidecars_of"]

log = logging.getLogger(__name__)

_PROCESS_LOCK = threading.Lock()

# Opens the WebDAV library at a URL (with the settings' credentials and timeouts); the caller closes it.
RemoteOpener = Callable[[str], WebDavLibrary]


@dataclass(frozen=True, slots=True)
class TrashOutcome:
    photo_id: int
    ok: bool
    entry_id: int | None = None
    trash_relpath: str | None = None
    # why not: not_found | already_trashed | file_missing | unsafe_path | io_error | server_unreachable
    # | no_nextcloud_trash (the trash bin app is off) | not_nextcloud (the URL is no Nextcloud files URL)
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class RestoreOutcome:
    entry_id: int
    ok: bool
    photo_id: int | None = None
    restored_relpath: str | None = None
    renamed: bool = False  # the original place was taken: restored beside it under a free name
    # not_found | not_in_trash | file_missing | unsafe_path | io_error | server_unreachable | not_nextcloud
    reason: str | None = None


@dataclass(slots=True)
class EmptySummary:
    purged: int = 0
    bytes: int = 0
    kept_recent: int = 0  # younger than the retention period
    failed: list[tuple[int, str]] = field(default_factory=list)
    in_nextcloud_bin: int = 0  # trashed into Nextcloud's bin, which Nextcloud empties itself


class NotNextcloud(Exception):
    """``webdav.trash = "nextcloud"`` for a library whose URL is no ``.../remote.php/dav/files/<user>/...``."""


def _renamed_sidecar(sidecar: str, old_name: str, new_name: str) -> str:
    """The sidecar's name for a photo renamed from ``old_name`` to ``new_name``."""
    if sidecar.lower().startswith(old_name.lower() + "."):
        return new_name + sidecar[len(old_name):]
    return PurePosixPath(new_name).stem + sidecar[len(PurePosixPath(old_name).stem):]


def _variants(relpath: str, label: str) -> Iterable[str]:
    """``relpath``, then ``stem (label).ext``, ``stem (label 2).ext``, ...

    With label 'restored' these are also the names Nextcloud gives a restore whose place is taken.
    """
    rel = PurePosixPath(relpath)
    yield relpath
    for n in range(1, 10_000):
        tag = label if n == 1 else f"{label} {n}"
        yield str(rel.with_name(f"{rel.stem} ({tag}){rel.suffix}"))
    raise RuntimeError(f"no free name for {relpath}")


def _bin_key(trash_relpath: str) -> str | None:
    """The Nextcloud trash bin item an entry's ``trash_relpath`` names; None for a trash folder path."""
    return trash_relpath[len(NEXTCLOUD_TRASH):] if trash_relpath.startswith(NEXTCLOUD_TRASH) else None


def _free(taken: Callable[[str], bool], relpath: str) -> bool:
    """Whether ``relpath`` is free; False when that cannot be known now."""
    try:
        return not taken(relpath)
    except OSError as exc:
        log.warning("cannot tell whether %s is free: %s", relpath, exc)
        return False


class _Batch:
    """What one call of TrashBin has open: one client per library (and per Nextcloud trash bin), the
    libraries found unreachable (not tried again in this call), and bin listings for ``empty``."""

    def __init__(self, remote: RemoteOpener | None, webdav_trash: str) -> None:
        self.remote, self.webdav_trash = remote, webdav_trash
        self.unreachable: set[int] = set()
        self._files: dict[int, LibraryFiles] = {}
        self._bins: dict[int, NextcloudBin] = {}
        self._bin_items: dict[int, frozenset[str]] = {}
        self._bin_checked: set[int] = set()

    def _open(self, url: str) -> WebDavLibrary:
        if self.remote is None:
            raise ServerUnreachable(f"{url}: piccl was started without WebDAV settings")
        try:
            return self.remote(url)
        except Exception as exc:  # an unreadable password file, a malformed URL: nothing was sent
            raise ServerUnreachable(f"{url}: {exc}") from None

    def files(self, library: Library) -> LibraryFiles:
        if library.id not in self._files:
            if library.kind == "local":
                self._files[library.id] = LocalFiles(Path(library.root))
            elif library.kind == "webdav":
                self._files[library.id] = WebDavFiles(self._open(library.root))
            else:
                raise UnsafePath(f"{library.root}: a library of unknown kind {library.kind!r}")
        return self._files[library.id]

    def uses_nextcloud_bin(self, library: Library) -> bool:
        """Whether trashing a photo of ``library`` now goes to Nextcloud's trash bin."""
        return library.kind == "webdav" and self.webdav_trash == "nextcloud"

    def nextcloud_bin(self, library: Library) -> NextcloudBin:
        if library.id not in self._bins:
            location = NextcloudLocation.of(library.root)
            if location is None:
                raise NotNextcloud(library.root)
            self._bins[library.id] = NextcloudBin(location, self._open(location.trashbin_url))
        return self._bins[library.id]

    def check_bin(self, library: Library) -> None:
        """Raise NoTrashBin unless the library's Nextcloud user has a trash bin; asked once per call."""
        if library.id not in self._bin_checked:
            self.nextcloud_bin(library).check()
            self._bin_checked.add(library.id)

    def bin_keys(self, library: Library) -> frozenset[str]:
        """The keys in the library's Nextcloud trash bin, listed once per call."""
        if library.id not in self._bin_items:
            self._bin_items[library.id] = frozenset(self.nextcloud_bin(library).items())
        return self._bin_items[library.id]

    def close(self) -> None:
        for opened in [*self._files.values(), *self._bins.values()]:
            try:
                opened.close()
            except Exception as exc:  # closing must not hide the outcome of the call
                log.debug("closing a connection failed: %s", exc)


class TrashBin:
    """Trash, restore and empty, for the photos of the libraries in one database.

    ``remote`` opens a WebDAV library by URL (needed for libraries of kind 'webdav'); ``webdav_trash``
    is ``settings.webdav.trash``. :meth:`from_settings` builds both from the settings.
    """

    def __init__(self, sessions: sessionmaker[Session], trash_dir_name: str = ".piccl-trash",
                 retention_days: float = 30.0, remote: RemoteOpener | None = None,
                 webdav_trash: str = "folder") -> None:
        self.sessions, self.trash_dir_name, self.retention_days = sessions, trash_dir_name, retention_days
        self.remote, self.webdav_trash = remote, webdav_trash
        # File moves and their records go one at a time (the UI serves requests on several threads).
        # One lock for every bin of the process: the UI's bin and the watcher's daily emptying must not
        # purge an entry while the other restores it.
        self._lock = _PROCESS_LOCK
        # Entries a server outage left half-way ('moving'/'restoring'): each call tries to settle them.
        self._unsettled: set[int] = set()

    @classmethod
    def from_settings(cls, sessions: sessionmaker[Session], settings: Settings) -> TrashBin:
        def remote(url: str) -> WebDavLibrary:
            return open_webdav(settings, url, interactive=True)  # someone waits on the page

        return cls(sessions, settings.trash_dir_name, settings.trash_retention_days, remote=remote,
                   webdav_trash=settings.webdav.trash)

    @contextmanager
    def _batch(self, settle: bool = True) -> Iterator[_Batch]:
        batch = _Batch(self.remote, self.webdav_trash)
        try:
            if settle and self._unsettled:
                self._unsettled -= self._reconcile(batch, self._unsettled)
            yield batch
        finally:
            batch.close()

    def _unreachable(self, batch: _Batch, library_id: int, exc: ServerUnreachable) -> None:
        if library_id not in batch.unreachable:
            log.warning("the trash cannot reach a library: %s", exc)
        batch.unreachable.add(library_id)

    # -- trash ----------------------------------------------------------------------------------

    def trash(self, photo_ids: Iterable[int]) -> list[TrashOutcome]:
        with self._lock, self._batch() as batch:
            return [self._trash_one(batch, pid) for pid in photo_ids]

    def _trash_one(self, batch: _Batch, photo_id: int) -> TrashOutcome:
        with self.sessions() as session:
            photo = session.get(Photo, photo_id)
            if photo is None:
                return TrashOutcome(photo_id, False, reason="not_found")
            if photo.trashed_at is not None:
                return TrashOutcome(photo_id, False, reason="already_trashed")
            if photo.gone_at is not None:
                return TrashOutcome(photo_id, False, reason="file_missing")
            if photo.library_id in batch.unreachable:
                return TrashOutcome(photo_id, False, reason="server_unreachable")
            try:
                if batch.uses_nextcloud_bin(photo.library):
                    return self._trash_to_nextcloud(session, batch, photo)
                return self._trash_to_folder(session, batch.files(photo.library), photo)
            except ServerUnreachable as exc:
                self._unreachable(batch, photo.library_id, exc)
                return TrashOutcome(photo_id, False, reason="server_unreachable")
            except UnsafePath:
                return TrashOutcome(photo_id, False, reason="unsafe_path")
            except NotNextcloud:
                return TrashOutcome(photo_id, False, reason="not_nextcloud")
            except OSError as exc:  # refused before anything was recorded (a 403, an unreadable folder)
                log.warning("could not trash %s: %s", photo.relpath, exc)
                return TrashOutcome(photo_id, False, reason="io_error")

    def _trash_to_folder(self, session: Session, files: LibraryFiles, photo: Photo) -> TrashOutcome:
        photo_id = photo.id
        try:
            files.check_path(f"{self.trash_dir_name}/{photo.relpath}")  # the trash folder stays inside too
            size = files.size(photo.relpath)
        except FileNotFoundError:
            return TrashOutcome(photo_id, False, reason="file_missing")
        taken = self._taken(session, photo.library_id, files)
        trash_rel = next(v for v in _variants(f"{self.trash_dir_name}/{photo.relpath}", "2") if not taken(v))
        old_name, new_name = PurePosixPath(photo.relpath).name, PurePosixPath(trash_rel).name
        sidecars = [[f"{photo.folder}/{s}".lstrip("/"),
                     str(PurePosixPath(trash_rel).with_name(_renamed_sidecar(s, old_name, new_name)))]
                    for s in files.sidecars(photo.relpath)]
        entry = TrashEntry(library_id=photo.library_id, photo_id=photo.id, original_relpath=photo.relpath,
                           trash_relpath=trash_rel, sidecars=sidecars, size=size, state="moving")
        session.add(entry)
        session.commit()  # recorded before anything moves: a crash from here on is reconciled

        try:
            files.move(photo.relpath, trash_rel)
        except ServerUnreachable:
            self._unsettled.add(entry.id)  # the MOVE may have happened: where the file is decides
            raise
        except (OSError, UnsafePath) as exc:
            log.warning("could not move %s to the trash: %s", photo.relpath, exc)
            session.delete(entry)
            session.commit()
            return TrashOutcome(photo_id, False, reason="io_error")
        entry.sidecars = self._move_sidecars(files, sidecars)
        self._settle_trashed(session, entry, photo)
        session.commit()
        return TrashOutcome(photo_id, True, entry.id, trash_rel)

    @staticmethod
    def _move_sidecars(files: LibraryFiles, pairs: list[list[str]], back: bool = False) -> list[list[str]]:
        """Move each sidecar (the reverse way with ``back``); returns the pairs that moved (or may have)."""
        moved = []
        for original, in_trash in pairs:
            src_rel, dst_rel = (in_trash, original) if back else (original, in_trash)
            try:
                files.move(src_rel, dst_rel)
                moved.append([original, in_trash])
            except ServerUnreachable as exc:
                log.warning("sidecar %s may not have moved: %s", src_rel, exc)
                moved.append([original, in_trash])  # kept on record, so a restore still looks for it
            except (OSError, UnsafePath) as exc:
                log.warning("sidecar %s stays where it is: %s", src_rel, exc)
        return moved

    @staticmethod
    def _settle_trashed(session: Session, entry: TrashEntry, photo: Photo) -> None:
        entry.state = "trashed"
        photo.relpath, photo.trashed_at = entry.trash_relpath, utcnow()
        photo.set_decision("trash")

    def _taken(self, session: Session, library_id: int, files: LibraryFiles) -> Callable[[str], bool]:
        """Whether a relpath is in use: a file there, a photo row holding it, or a trash entry expecting it."""
        def taken(relpath: str) -> bool:
            try:
                if files.exists(relpath):
                    return True
            except UnsafePath:
                return True
            if session.scalar(select(Photo.id).where(Photo.library_id == library_id, Photo.relpath == relpath)):
                return True
            return bool(session.scalar(select(TrashEntry.id).where(
                TrashEntry.library_id == library_id, TrashEntry.trash_relpath == relpath,
                TrashEntry.state.in_(("moving", "trashed", "restoring")))))
        return taken

    # -- trash into Nextcloud's trash bin -------------------------------------------------------

    def _trash_to_nextcloud(self, session: Session, batch: _Batch, photo: Photo) -> TrashOutcome:
        photo_id, relpath = photo.id, photo.relpath
        files, nc_bin = batch.files(photo.library), batch.nextcloud_bin(photo.library)
        try:
            size = files.size(relpath)
            batch.check_bin(photo.library)  # with the trash bin app off, a DELETE would delete for good
        except NoTrashBin:
            return TrashOutcome(photo_id, False, reason="no_nextcloud_trash")
        except FileNotFoundError:
            return TrashOutcome(photo_id, False, reason="file_missing")
        # Nextcloud names the bin's item only once it is there: the entry waits 'moving' with no name.
        sidecars = [[f"{photo.folder}/{s}".lstrip("/"), NEXTCLOUD_TRASH] for s in files.sidecars(relpath)]
        entry = TrashEntry(library_id=photo.library_id, photo_id=photo_id, original_relpath=relpath,
                           trash_relpath=NEXTCLOUD_TRASH, sidecars=sidecars, size=size, state="moving")
        session.add(entry)
        session.commit()

        try:
            files.delete(relpath)
        except ServerUnreachable:
            self._unsettled.add(entry.id)
            raise
        except (OSError, UnsafePath) as exc:
            log.warning("could not delete %s into Nextcloud's trash bin: %s", relpath, exc)
            session.delete(entry)
            session.commit()
            return TrashOutcome(photo_id, False, reason="io_error")
        entry.sidecars = [pair for pair in sidecars if self._delete_sidecar(files, pair[0])]
        try:
            settled = self._settle_in_bin(session, nc_bin, entry, photo)
        except ServerUnreachable:
            self._unsettled.add(entry.id)
            raise
        except OSError as exc:
            log.warning("%s is in Nextcloud's trash bin, but the bin cannot be read: %s", relpath, exc)
            settled = False
        session.commit()
        if not settled:
            self._unsettled.add(entry.id)
            return TrashOutcome(photo_id, False, entry.id, reason="io_error")
        return TrashOutcome(photo_id, True, entry.id, entry.trash_relpath)

    @staticmethod
    def _delete_sidecar(files: LibraryFiles, relpath: str) -> bool:
        try:
            files.delete(relpath)
            return True
        except ServerUnreachable as exc:
            log.warning("sidecar %s may not have been deleted: %s", relpath, exc)
            return True
        except (OSError, UnsafePath) as exc:
            log.warning("sidecar %s stays where it is: %s", relpath, exc)
            return False

    def _settle_in_bin(self, session: Session, nc_bin: NextcloudBin, entry: TrashEntry, photo: Photo) -> bool:
        """Name the bin's items of a deleted photo and its sidecars, and record it trashed; False when the
        photo is not in the bin."""
        items = nc_bin.items()
        held = frozenset(k for k in (_bin_key(p) for p in session.scalars(select(TrashEntry.trash_relpath).where(
            TrashEntry.library_id == entry.library_id, TrashEntry.id != entry.id,
            TrashEntry.state.in_(("moving", "trashed", "restoring"))))) if k)
        found = nc_bin.find(items, entry.original_relpath, photo.remote_id, held)
        if found is None:
            log.warning("%s was deleted but is not in Nextcloud's trash bin", entry.original_relpath)
            return False
        held |= {found.key}
        pairs = []
        for original, _ in entry.sidecars:
            if (item := nc_bin.find(items, original, None, held)) is not None:
                pairs.append([original, NEXTCLOUD_TRASH + item.key])
                held |= {item.key}
        entry.trash_relpath, entry.sidecars = NEXTCLOUD_TRASH + found.key, pairs
        self._settle_trashed(session, entry, photo)
        return True

    # -- restore --------------------------------------------------------------------------------

    def restore(self, entry_ids: Iterable[int], decision: str | None = "keep") -> list[RestoreOutcome]:
        """Put photos back where they were. ``decision``: what the user's decision becomes ('keep' when
        they restored from the trash, None to send the photo back to the review queue, as undo does)."""
        with self._lock, self._batch() as batch:
            return [self._restore_one(batch, eid, decision) for eid in entry_ids]

    def entries_for_photos(self, photo_ids: Iterable[int]) -> list[int]:
        ids = list(photo_ids)
        with self.sessions() as session:
            return list(session.scalars(select(TrashEntry.id).where(
                TrashEntry.photo_id.in_(ids), TrashEntry.state == "trashed")))

    def _restore_one(self, batch: _Batch, entry_id: int, decision: str | None) -> RestoreOutcome:
        with self.sessions() as session:
            entry = session.get(TrashEntry, entry_id)
            if entry is None:
                return RestoreOutcome(entry_id, False, reason="not_found")
            if entry.state != "trashed":
                return RestoreOutcome(entry_id, False, entry.photo_id, reason="not_in_trash")
            if entry.library_id in batch.unreachable:
                return RestoreOutcome(entry_id, False, entry.photo_id, reason="server_unreachable")
            try:
                if _bin_key(entry.trash_relpath) is not None:
                    return self._restore_from_nextcloud(session, batch, entry, decision)
                return self._restore_from_folder(session, batch.files(entry.library), entry, decision)
            except ServerUnreachable as exc:
                self._unreachable(batch, entry.library_id, exc)
                return RestoreOutcome(entry_id, False, entry.photo_id, reason="server_unreachable")
            except UnsafePath:
                return RestoreOutcome(entry_id, False, entry.photo_id, reason="unsafe_path")
            except NotNextcloud:
                return RestoreOutcome(entry_id, False, entry.photo_id, reason="not_nextcloud")
            except OSError as exc:  # refused before anything was recorded
                log.warning("could not restore %s: %s", entry.original_relpath, exc)
                return RestoreOutcome(entry_id, False, entry.photo_id, reason="io_error")

    def _restore_from_folder(self, session: Session, files: LibraryFiles, entry: TrashEntry,
                             decision: str | None) -> RestoreOutcome:
        entry_id = entry.id
        try:
            files.size(entry.trash_relpath)
        except FileNotFoundError:
            return RestoreOutcome(entry_id, False, entry.photo_id, reason="file_missing")
        taken = self._taken(session, entry.library_id, files)
        target = next(v for v in _variants(entry.original_relpath, "restored") if not taken(v))
        entry.state, entry.restored_relpath = "restoring", target
        session.commit()
        try:
            files.move(entry.trash_relpath, target)
        except ServerUnreachable:
            self._unsettled.add(entry_id)
            raise
        except (OSError, UnsafePath) as exc:
            log.warning("could not restore %s: %s", entry.trash_relpath, exc)
            entry.state, entry.restored_relpath = "trashed", None
            session.commit()
            return RestoreOutcome(entry_id, False, entry.photo_id, reason="io_error")
        self._restore_sidecars(files, entry, target, taken)
        self._settle_restored(session, entry, decision)
        session.commit()
        return RestoreOutcome(entry_id, True, entry.photo_id, target, target != entry.original_relpath)

    def _restore_sidecars(self, files: LibraryFiles, entry: TrashEntry, target: str,
                          taken: Callable[[str], bool]) -> None:
        pairs = []
        for original, in_trash in entry.sidecars:
            dest = self._sidecar_dest(entry, original, target)
            if _free(taken, dest):
                pairs.append([dest, in_trash])
            else:  # never overwrite: it waits in the trash, next to where the photo was
                log.warning("sidecar %s stays in the trash: %s is taken", in_trash, dest)
        self._move_sidecars(files, pairs, back=True)

    @staticmethod
    def _sidecar_dest(entry: TrashEntry, original: str, target: str) -> str:
        """Where a sidecar goes back to when its photo goes back to ``target``."""
        old_name, new_name = PurePosixPath(entry.original_relpath).name, PurePosixPath(target).name
        return str(PurePosixPath(target).with_name(_renamed_sidecar(PurePosixPath(original).name, old_name, new_name)))

    @staticmethod
    def _settle_restored(session: Session, entry: TrashEntry, decision: str | None) -> None:
        entry.state, entry.finished_at = "restored", utcnow()
        photo = session.get(Photo, entry.photo_id) if entry.photo_id else None
        if photo is None:
            return
        photo.relpath, photo.trashed_at = entry.restored_relpath or entry.original_relpath, None
        photo.set_decision(decision)

    # -- restore from Nextcloud's trash bin -----------------------------------------------------

    def _restore_from_nextcloud(self, session: Session, batch: _Batch, entry: TrashEntry,
                                decision: str | None) -> RestoreOutcome:
        entry_id, key = entry.id, _bin_key(entry.trash_relpath) or ""
        files, nc_bin = batch.files(entry.library), batch.nextcloud_bin(entry.library)
        items = nc_bin.items()
        if key not in items:
            return RestoreOutcome(entry_id, False, entry.photo_id, reason="file_missing")
        taken = self._taken(session, entry.library_id, files)
        target = next(v for v in _variants(entry.original_relpath, "restored") if not taken(v))
        # Nextcloud picks the place itself: the original one, else the first free "(restored)" name.
        landing = next(v for v in _variants(entry.original_relpath, "restored") if not files.exists(v))
        folder = str(PurePosixPath(entry.original_relpath).parent)
        if folder != ".":
            files.makedirs(folder)  # a restore whose folder is gone would land in the user's root
        entry.state, entry.restored_relpath = "restoring", target
        session.commit()
        try:
            nc_bin.restore(key)
        except ServerUnreachable:
            self._unsettled.add(entry_id)
            raise
        except OSError as exc:
            log.warning("could not restore %s from Nextcloud's trash bin: %s", key, exc)
            entry.state, entry.restored_relpath = "trashed", None
            session.commit()
            return RestoreOutcome(entry_id, False, entry.photo_id, reason="io_error")
        self._place(files, landing, target)
        self._restore_sidecars_from_bin(files, nc_bin, items, entry, target, taken)
        self._settle_restored(session, entry, decision)
        session.commit()
        return RestoreOutcome(entry_id, True, entry.photo_id, target, target != entry.original_relpath)

    @staticmethod
    def _place(files: LibraryFiles, landing: str, target: str) -> None:
        """Move what Nextcloud restored at ``landing`` to where piccl wants it (a name no row holds)."""
        if landing == target:
            return
        try:
            files.move(landing, target)
        except (OSError, UnsafePath) as exc:
            log.warning("restored %s stays where Nextcloud put it (%s): %s", target, landing, exc)

    def _restore_sidecars_from_bin(self, files: LibraryFiles, nc_bin: NextcloudBin, items: dict[str, BinItem],
                                   entry: TrashEntry, target: str, taken: Callable[[str], bool]) -> None:
        for original, in_trash in entry.sidecars:
            key, dest = _bin_key(in_trash), self._sidecar_dest(entry, original, target)
            if key not in items or not _free(taken, dest):  # never overwrite: it waits in Nextcloud's bin
                log.warning("sidecar %s stays in Nextcloud's trash bin (%s is taken or it is gone)", in_trash, dest)
                continue
            try:
                landing = next(v for v in _variants(original, "restored") if not files.exists(v))
                nc_bin.restore(key or "")
            except (OSError, UnsafePath) as exc:
                log.warning("sidecar %s stays in Nextcloud's trash bin: %s", in_trash, exc)
                continue
            self._place(files, landing, dest)

    # -- empty ----------------------------------------------------------------------------------

    def empty(self, everything: bool = False, now: datetime | None = None,
              entry_ids: Iterable[int] | None = None) -> EmptySummary:
        """Delete for good what has been in the trash for the retention period (all of it with
        ``everything``; only ``entry_ids`` when given). The caller has asked the user to confirm.

        What went to Nextcloud's trash bin stays there for Nextcloud to delete (its own retention, or
        the user emptying it): such an entry is closed only once its item has left the bin.
        """
        cutoff = (now or utcnow()) - timedelta(days=self.retention_days)
        summary = EmptySummary()
        with self._lock, self._batch() as batch, self.sessions() as session:
            query = select(TrashEntry).where(TrashEntry.state == "trashed").order_by(TrashEntry.id)
            if entry_ids is not None:
                query = query.where(TrashEntry.id.in_(list(entry_ids)))
            for entry in session.scalars(query).all():
                session.refresh(entry)  # another process (a CLI restore) may have taken it out meanwhile
                if entry.state != "trashed":
                    continue
                if not everything and entry.trashed_at > cutoff:
                    summary.kept_recent += 1
                    continue
                problem = self._purge_or_reason(batch, entry)
                if problem == "in_nextcloud_bin":
                    summary.in_nextcloud_bin += 1
                    continue
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

    def _purge_or_reason(self, batch: _Batch, entry: TrashEntry) -> str | None:
        if entry.library_id in batch.unreachable:
            return "server_unreachable"
        try:
            key = _bin_key(entry.trash_relpath)
            if key is not None:
                return "in_nextcloud_bin" if key in batch.bin_keys(entry.library) else None
            return self._purge(batch.files(entry.library), entry)
        except ServerUnreachable as exc:
            self._unreachable(batch, entry.library_id, exc)
            return "server_unreachable"
        except (OSError, UnsafePath, NotNextcloud) as exc:
            return f"io_error: {exc}"

    def _purge(self, files: LibraryFiles, entry: TrashEntry) -> str | None:
        """Delete an entry's files, each only if it lies inside the trash folder; the problem, if any."""
        for relpath in [entry.trash_relpath, *(pair[1] for pair in entry.sidecars)]:
            try:
                files.check_path(relpath)
            except UnsafePath:
                return "unsafe_path"
            if not PurePosixPath(relpath).is_relative_to(self.trash_dir_name):
                return "not_in_trash"  # the trash folder was renamed since: never delete elsewhere
            try:
                files.delete(relpath)
            except FileNotFoundError:
                continue  # already deleted by hand: the goal is reached
            except ServerUnreachable:
                raise
            except OSError as exc:
                return f"io_error: {exc.strerror}"
            except UnsafePath:
                return "unsafe_path"
        return None

    # -- crash recovery -------------------------------------------------------------------------

    def reconcile(self) -> int:
        """Settle moves a crash interrupted; returns how many. Safe to call at any start."""
        with self._lock, self._batch(settle=False) as batch:
            settled = self._reconcile(batch)
        self._unsettled -= settled
        if settled:
            log.info("settled %d trash moves a crash had interrupted", len(settled))
        return len(settled)

    def _reconcile(self, batch: _Batch, only: Iterable[int] | None = None) -> set[int]:
        """Settle pending entries (only those of ``only`` when given); the ids settled."""
        settled = set()
        with self.sessions() as session:
            query = select(TrashEntry).where(TrashEntry.state.in_(("moving", "restoring")))
            if only is not None:
                query = query.where(TrashEntry.id.in_(list(only)))
            for entry in session.scalars(query).all():
                entry_id = entry.id
                if entry.library_id in batch.unreachable:
                    continue
                try:
                    if _bin_key(entry.trash_relpath) is not None:
                        self._reconcile_nextcloud(session, batch, entry)
                    else:
                        self._reconcile_folder(session, batch.files(entry.library), entry)
                except ServerUnreachable as exc:
                    self._unreachable(batch, entry.library_id, exc)
                    session.rollback()
                    continue
                except (UnsafePath, NotNextcloud, OSError) as exc:
                    log.warning("trash entry %d cannot be settled now: %s", entry_id, exc)
                    session.rollback()
                    continue
                settled.add(entry_id)
                session.commit()
        return settled

    def _reconcile_folder(self, session: Session, files: LibraryFiles, entry: TrashEntry) -> None:
        photo = session.get(Photo, entry.photo_id) if entry.photo_id else None
        in_trash = files.exists(entry.trash_relpath)
        back = files.exists(entry.restored_relpath or entry.original_relpath)
        if entry.state == "moving":
            if in_trash and photo is not None:
                entry.sidecars = [p for p in entry.sidecars if files.exists(p[1])]
                self._settle_trashed(session, entry, photo)
            else:  # the photo never left: bring back any sidecar that did
                self._move_sidecars(files, [p for p in entry.sidecars if files.exists(p[1])], back=True)
                session.delete(entry)
        elif back and not in_trash:
            self._settle_restored(session, entry, "keep")
        else:
            entry.state, entry.restored_relpath = "trashed", None

    def _reconcile_nextcloud(self, session: Session, batch: _Batch, entry: TrashEntry) -> None:
        files, nc_bin = batch.files(entry.library), batch.nextcloud_bin(entry.library)
        photo = session.get(Photo, entry.photo_id) if entry.photo_id else None
        if entry.state == "moving":
            if files.exists(entry.original_relpath) or photo is None:
                session.delete(entry)  # the DELETE never happened (sidecars go after the photo)
            elif not self._settle_in_bin(session, nc_bin, entry, photo):
                session.delete(entry)  # gone, but not into the bin: the next scan finds it gone
        elif _bin_key(entry.trash_relpath) in nc_bin.items():
            entry.state, entry.restored_relpath = "trashed", None
        else:
            self._settle_restored(session, entry, "keep")
