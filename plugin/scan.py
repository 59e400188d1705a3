"""Scan a library: list it, work out what changed, analyse that, store it.

The plan is made from a listing and the database alone (no decode): an
unchanged file (same size and mtime, analyzers up to date) costs nothing.
A file at a new path may be a photo piccl already knows, moved or renamed:
one with the same size, mtime and name is relinked at once, otherwise the
file is hashed and relinked when the hash matches. A relinked photo keeps its
row, its analyses, its recommendation and the user's decision. A row is
never deleted: when a different photo takes over a known path, the old row is
set aside (a "tombstone" path under ``.piccl-gone/``) with its history, so a
decision never passes from one photo to another.

Results are committed every ``commit_every`` photos. A scan killed at any
point (even ``kill -9``) loses at most the uncommitted batch; the next scan
sees those files as new again and finishes the job, each photo exactly once
(the unique key is library + relative path).
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, selectinload, sessionmaker

from models.fetch import sha256_of
from plugin.analysis import (
    ANALYZER_NAMES,
    AnalysisOptions,
    PhotoOutcome,
    PhotoTask,
    analyser_versions,
    options_from_settings,
)
from plugin.config import Settings, is_url
from plugin.grouping.animation import is_animation
from plugin.people.service import Assigner, FaceChanges, refresh_people
from plugin.places.service import refresh_places
from plugin.reading.decode import ReadFailure
from plugin.sources.local import FileEntry, Listing, iter_paths_in_library, list_library
from plugin.sources.webdav import FetchFailed, SourceUnavailable, WebDavLibrary, open_webdav
from plugin.store.db import chunks
from plugin.store.lock import library_lock
from plugin.store.models import Analysis, Library, Photo, ScanRun, utcnow
from plugin.store.writer import TRANSIENT_REASONS, store_outcome
from plugin.workers import STOP_CHECK_S, make_runner

log = logging.getLogger(__name__)

ProgressCallback = Callable[[int, int, str], None]  # done, total, relpath

# Rows superseded at their path move here; a hidden folder, so no listing ever produces such a path.
TOMBSTONE_DIR = ".piccl-gone"
# PostgreSQL's btree index entries top out near 2,700 bytes; the relpath is in a unique index.
_MAX_RELPATH_BYTES = 2000
_RELINK_COMMIT_EVERY = 200
# Downloads in a row that fail with the server unreachable (each after its retries) before a scan of a
# WebDAV library stops reading: the rest is left for the next scan instead of failing one by one.
_UNREACHABLE_STOP = 3
_STOPPING = frozenset({"server_unreachable", "server_error", "no_space", "local_io"})


@dataclass(slots=True)
class ScanSummary:
    library: str
    photos: int = 0  # candidate files seen in the library
    new: int = 0
    changed: int = 0
    retried: int = 0  # unchanged files that failed before and are read again
    unchanged: int = 0
    moved: int = 0
    reanalysed: int = 0  # unchanged files whose analyzers were out of date
    gone: int = 0
    ok: int = 0
    errors: Counter[str] = field(default_factory=Counter)  # reason -> count (status error)
    skipped: Counter[str] = field(default_factory=Counter)  # reason -> count (status skipped)
    flagged: Counter[str] = field(default_factory=Counter)  # recommendation reason -> count
    ignored: dict[str, int] = field(default_factory=dict)
    unreadable_dirs: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    still_changing: list[Path] = field(default_factory=list)  # left for the watcher to read once settled
    not_read: Counter[str] = field(default_factory=Counter)  # WebDAV: reason -> photos left for the next scan
    new_faces: int = 0
    faces_assigned: int = 0  # new faces that joined a known person at once
    people: dict[str, Any] = field(default_factory=dict)  # the re-clustering after the scan, if one ran
    groups: dict[str, Any] = field(default_factory=dict)  # the grouping after the scan, if one ran
    seconds: float = 0.0
    unavailable: str | None = None  # the library could not be reached (set by callers that go on)
    interrupted: bool = False  # stopped (piccl was asked to stop): what was read is stored, the rest waits

    @property
    def processed(self) -> int:
        return self.new + self.changed + self.retried + self.reanalysed

    def ignore(self, kind: str, count: int = 1) -> None:
        self.ignored[kind] = self.ignored.get(kind, 0) + count

    def as_dict(self) -> dict[str, Any]:
        return {
            "library": self.library, "photos": self.photos, "new": self.new, "changed": self.changed,
            "retried": self.retried, "unchanged": self.unchanged, "moved": self.moved,
            "reanalysed": self.reanalysed, "gone": self.gone, "ok": self.ok, "errors": dict(self.errors),
            "skipped": dict(self.skipped), "flagged": dict(self.flagged), "ignored": self.ignored,
            "unreadable_dirs": self.unreadable_dirs, "warnings": self.warnings, "not_read": dict(self.not_read),
            "new_faces": self.new_faces,
            "faces_assigned": self.faces_assigned, "people": self.people, "groups": self.groups,
            "seconds": round(self.seconds, 2), "unavailable": self.unavailable, "interrupted": self.interrupted,
        }


@dataclass(slots=True)
class _Known:
    id: int
    relpath: str
    size: int
    mtime_ns: int
    status: str
    reason: str | None
    gone: bool
    content_hash: str | None
    etag: str | None = None
    remote_id: str | None = None
    params: dict[str, str] = field(default_factory=dict)  # analyzer -> "version|params"


class Scanner:
    def __init__(self, settings: Settings, sessions: sessionmaker[Session],
                 progress: ProgressCallback | None = None) -> None:
        self.settings = settings
        self.sessions = sessions
        self.progress = progress
        self.options: AnalysisOptions = options_from_settings(settings)
        self.wanted = analyser_versions(self.options)
        self.assigner = Assigner(settings.faces, self.options.face_models.embed_model)
        self._remote: WebDavLibrary | None = None  # the WebDAV library being scanned, if it is one
        # Set by request_stop(): the scan in progress stores what it has read and returns.
        self.stop_requested = threading.Event()
        # What the scan in progress has done: (done, total), for /healthz and the logs.
        self.progress_now: tuple[int, int] = (0, 0)

    def request_stop(self) -> None:
        """Stop the scan under way (from another thread): photos in hand get
        ``workers.stop_grace_s`` to finish and are stored; the rest are read by the next scan."""
        self.stop_requested.set()

    def scan(self, root: Path | str, only: list[Path] | None = None, retry_errors: bool = False,
             settle_s: float = 0.0) -> ScanSummary:
        """Scan the whole library at ``root`` (a folder or a WebDAV URL), or only the files in ``only``.

        ``only`` comes from the watcher of a local library. ``settle_s`` leaves out files modified that
        recently (still being copied in); the watcher reads them once they settle. A WebDAV library that
        cannot be reached raises :class:`SourceUnavailable` before anything is changed.
        """
        if is_url(root):
            remote = open_webdav(self.settings, str(root))
            try:
                return self._scan(remote.key, remote, None, retry_errors, 0.0)
            finally:
                remote.close()
        return self._scan(Path(root).resolve(), None, only, retry_errors, settle_s)

    def _scan(self, root: Path | str, remote: WebDavLibrary | None, only: list[Path] | None, retry_errors: bool,
              settle_s: float) -> ScanSummary:
        started = time.perf_counter()
        summary = ScanSummary(str(root))
        self.assigner.forget()  # people may have changed since the last scan (the UI, re-clustering)
        self._remote = remote
        with library_lock(self.settings.data_dir, root):
            listing = self._list(root, only, settle_s, summary)
            with self.sessions() as session:
                library = self._library(session, str(root), "local" if remote is None else remote.kind)
                run = ScanRun(library_id=library.id)
                session.add(run)
                session.commit()
                library_id, run_id = library.id, run.id
                known = self._known(session, library_id, None if only is None else listing.files)
            state = "failed"
            try:
                self._scan_listing(library_id, listing, known, summary, retry_errors, full=only is None)
                state = "interrupted" if summary.interrupted else "done"
            finally:
                self._remote = None
                if remote is not None:
                    shutil.rmtree(self._fetch_dir, ignore_errors=True)
                summary.seconds = time.perf_counter() - started
                with self.sessions() as session:
                    run = session.get(ScanRun, run_id)
                    if run is not None:
                        run.state, run.finished_at, run.counts = state, utcnow(), summary.as_dict()
                    session.commit()
        # GPS to geocode: new photos, and every photo after an upgrade or a change of the place data or rules
        # (one query when there is nothing to do; never fails the scan). Events follow on the grouping's
        # schedule: recomputing them costs about a second at 100,000 photos, too much for each arrival.
        if not summary.interrupted:
            refresh_places(self.sessions, self.settings)
        return summary

    # -- listing and planning -------------------------------------------------------------------

    @property
    def _fetch_dir(self) -> Path:
        # One per process: two piccl processes scanning never clean up each other's downloads.
        return self.settings.data_dir / "tmp" / f"webdav-{os.getpid()}"

    def _list(self, root: Path | str, only: list[Path] | None, settle_s: float, summary: ScanSummary) -> Listing:
        # piccl's data folder may sit inside the library (the default ./piccl-data when run from it).
        exclude = (self.settings.data_dir,)
        trash = self.settings.trash_dir_name
        if self._remote is not None:
            listing = self._remote.list(trash)
        elif only is None:
            assert isinstance(root, Path)
            listing = list_library(root, trash, exclude)
        else:
            listing = Listing(files=list(iter_paths_in_library(root, only, trash, exclude)))
        summary.ignored, summary.unreadable_dirs = dict(listing.ignored), listing.unreadable_dirs
        keep: list[FileEntry] = []
        newest_ok = time.time_ns() - int(settle_s * 1e9)
        for entry in listing.files:
            problem = _unstorable(entry.relpath)
            if problem is not None:
                summary.skipped["unstorable_name"] += 1
                if len(summary.warnings) < 20:
                    summary.warnings.append(f"{entry.relpath.encode('utf-8', 'backslashreplace').decode()}: {problem}")
            elif is_animation(entry.relpath, self.settings.gif.folder):
                summary.ignore("piccl_animation")  # piccl's own output from bursts, not a photo to sieve
            elif settle_s and entry.mtime_ns > newest_ok:
                summary.ignore("still_changing")
                summary.still_changing.append(Path(entry.abspath))
            else:
                keep.append(entry)
        listing.files = keep
        summary.photos = len(keep)
        return listing

    def _scan_listing(self, library_id: int, listing: Listing, known: dict[str, _Known], summary: ScanSummary,
                      retry_errors: bool, full: bool) -> None:
        seen = {entry.relpath for entry in listing.files}
        vanished: dict[str, _Known] = {}
        if full:
            present = sum(1 for k in known.values() if not k.gone)
            if not listing.files and present:
                # An unmounted NAS share is an empty folder: never take that for "everything deleted".
                summary.warnings.append(f"the library is empty (an unmounted share?): {present} known photos were "
                                        "not marked gone")
            else:
                vanished = {rel: k for rel, k in known.items()
                            if rel not in seen and not k.gone and listing.covers(rel)}

        tasks: list[PhotoTask] = []
        direct: list[PhotoOutcome] = []  # outcomes known without reading the file (camera raw files)
        new_entries: list[FileEntry] = []
        for entry in listing.files:
            k = known.get(entry.relpath)
            if k is None or k.gone:
                new_entries.append(entry)
            elif (k.size, k.mtime_ns) != (entry.size, entry.mtime_ns) or (
                    entry.etag is not None and k.etag is not None and entry.etag != k.etag):
                summary.changed += 1
                self._queue(entry, tasks, direct)
            elif k.status != "ok":
                if retry_errors or self._worth_retrying(k, entry):
                    summary.retried += 1
                    self._queue(entry, tasks, direct)
                else:
                    summary.unchanged += 1
            else:
                stale = tuple(name for name in ANALYZER_NAMES if k.params.get(name) != self.wanted[name])
                if stale:
                    summary.reanalysed += 1
                    self._queue(entry, tasks, direct, stale)
                else:
                    summary.unchanged += 1

        relinked_ids, handled, reread = self._relink(new_entries, known, vanished)
        summary.moved = len(handled)
        for entry in reread:
            summary.changed += 1
            self._queue(entry, tasks, direct)
        for entry in new_entries:
            if entry.relpath not in handled:
                summary.new += 1
                self._queue(entry, tasks, direct)

        if direct:
            self._store(library_id, direct, summary)
        if self._remote is not None:
            self._process(library_id, self._fetched(tasks, summary), summary, total=len(tasks))
        else:
            self._process(library_id, tasks, summary)

        gone_ids = [k.id for k in vanished.values() if k.id not in relinked_ids]
        if gone_ids:
            now = utcnow()
            with self.sessions() as session:
                for chunk in chunks(gone_ids):
                    # A photo trashed from the UI since the listing is not "gone": its row follows the file.
                    query = select(Photo).where(Photo.id.in_(chunk), Photo.trashed_at.is_(None))
                    for photo in session.scalars(query):
                        photo.gone_at = now
                session.commit()
        summary.gone = len(gone_ids)

    def _worth_retrying(self, k: _Known, entry: FileEntry) -> bool:
        if k.reason in TRANSIENT_REASONS:
            return True
        # The user raised the size limit since.
        return k.reason == "too_large" and entry.size <= self.settings.max_file_bytes

    def _queue(self, entry: FileEntry, tasks: list[PhotoTask], direct: list[PhotoOutcome],
               analyzers: tuple[str, ...] = ANALYZER_NAMES) -> None:
        if entry.is_raw:
            # Pillow reads only the small preview inside a raw file: judging a raw original by it
            # would recommend deleting originals on thin evidence.
            task = PhotoTask(entry.relpath, entry.abspath, entry.size, entry.mtime_ns, (), entry.etag,
                             entry.remote_id)
            direct.append(PhotoOutcome(task, size=entry.size, mtime_ns=entry.mtime_ns, failure=ReadFailure(
                "skipped", "raw_format", "camera raw files are not analysed yet")))
        elif self._remote is not None and entry.size > self.settings.max_file_bytes:
            # Not worth a download: recorded as a local scan would record it.
            task = PhotoTask(entry.relpath, "", entry.size, entry.mtime_ns, (), entry.etag, entry.remote_id)
            direct.append(PhotoOutcome(task, size=entry.size, mtime_ns=entry.mtime_ns, failure=ReadFailure(
                "skipped", "too_large", f"{entry.size} bytes is over max_file_bytes ({self.settings.max_file_bytes})")))
        else:
            tasks.append(PhotoTask(entry.relpath, entry.abspath, entry.size, entry.mtime_ns, analyzers, entry.etag,
                                   entry.remote_id))

    def _library(self, session: Session, root: str, kind: str) -> Library:
        library = session.scalar(select(Library).where(Library.root == root))
        if library is None:
            library = Library(root=root, kind=kind)
            session.add(library)
            session.flush()
        return library

    def _known(self, session: Session, library_id: int, entries: list[FileEntry] | None) -> dict[str, _Known]:
        """What the database knows of the library; for a targeted scan, only what ``entries`` can touch."""
        columns = (Photo.id, Photo.relpath, Photo.size, Photo.mtime_ns, Photo.status, Photo.error_reason,
                   Photo.gone_at, Photo.content_hash, Photo.etag, Photo.remote_id)
        queries = []
        if entries is None:
            queries.append(select(*columns).where(Photo.library_id == library_id, Photo.trashed_at.is_(None)))
        else:
            # The entries' own rows, and gone rows they could be (same size), for relinking.
            paths = [e.relpath for e in entries]
            sizes = sorted({e.size for e in entries})
            for chunk in chunks(paths):
                queries.append(select(*columns).where(Photo.library_id == library_id, Photo.relpath.in_(chunk)))
            for chunk in chunks(sizes):
                queries.append(select(*columns).where(Photo.library_id == library_id, Photo.gone_at.is_not(None),
                                                      Photo.size.in_(chunk)))
        known: dict[str, _Known] = {}
        by_id: dict[int, _Known] = {}
        for query in queries:
            for pid, rel, size, mtime_ns, status, reason, gone_at, content_hash, etag, rid in session.execute(query):
                by_id[pid] = known[rel] = _Known(pid, rel, size, mtime_ns, status, reason, gone_at is not None,
                                                 content_hash, etag, rid)
        for chunk in chunks(list(by_id)):
            rows = session.execute(select(Analysis.photo_id, Analysis.analyzer, Analysis.version, Analysis.params)
                                   .where(Analysis.photo_id.in_(chunk)))
            for pid, analyzer, version, params in rows:
                if pid in by_id:
                    by_id[pid].params[analyzer] = f"{version}|{params}"
        return known

    # -- moves ----------------------------------------------------------------------------------

    def _relink(self, new_entries: list[FileEntry], known: dict[str, _Known],
                vanished: dict[str, _Known]) -> tuple[set[int], set[str], list[FileEntry]]:
        """Recognise photos piccl knew at another path (or that were gone).

        Returns the relinked row ids, their new relpaths, and the entries among them whose content may
        have changed too (a Nextcloud file renamed and edited keeps its id): those are read again.
        """
        candidates: dict[int, list[_Known]] = {}
        by_remote_id: dict[str, _Known] = {}
        for k in known.values():
            # Only rows whose file is not at its path any more: gone before, or missing from this
            # listing. A photo still in place is not "moved" by a copy of it appearing elsewhere.
            if k.content_hash and (k.gone or k.relpath in vanished):
                candidates.setdefault(k.size, []).append(k)
                if k.remote_id:
                    by_remote_id[k.remote_id] = k
        relinked: set[int] = set()
        handled: set[str] = set()
        reread: list[FileEntry] = []
        if not new_entries:
            return relinked, handled, reread
        with self.sessions() as session:
            writes = 0
            # 1. A gone photo back at its own path (restored from a backup, a share remounted).
            for entry in new_entries:
                k = known.get(entry.relpath)
                if k is None or not k.gone:
                    continue
                if (k.size, k.mtime_ns) == (entry.size, entry.mtime_ns) or (
                        k.size == entry.size and k.content_hash and self._hash(entry, session) == k.content_hash):
                    self._move_row(session, k, entry, known, candidates)
                    relinked.add(k.id)
                    handled.add(entry.relpath)
                else:
                    # Another photo now has this name (a camera's counter wrapped): the old row keeps its
                    # history, and the new photo gets a row of its own.
                    self._tombstone(session, k, known)
                writes += 1
            # 2. Moved or renamed.
            for entry in new_entries:
                if entry.relpath in handled:
                    continue
                match = by_remote_id.get(entry.remote_id) if entry.remote_id else None
                if match is not None and match.id not in relinked:
                    # Nextcloud keeps a file's id through renames and moves: no download needed to know it.
                    changed = (match.size, match.mtime_ns, match.etag) != (entry.size, entry.mtime_ns, entry.etag)
                    if changed:
                        reread.append(entry)
                else:
                    changed = False
                    match = self._match(entry, [k for k in candidates.get(entry.size, []) if k.id not in relinked],
                                        session)
                if match is None:
                    continue
                occupant = known.get(entry.relpath)
                if occupant is not None and occupant.id != match.id:
                    self._tombstone(session, occupant, known)
                self._move_row(session, match, entry, known, candidates, content_known=not changed)
                relinked.add(match.id)
                handled.add(entry.relpath)
                writes += 1
                if writes % _RELINK_COMMIT_EVERY == 0:
                    session.commit()  # keep write transactions short: the UI writes decisions meanwhile
            session.commit()
        return relinked, handled, reread

    def _match(self, entry: FileEntry, options: list[_Known], session: Session) -> _Known | None:
        if not options:
            return None
        name = os.path.basename(entry.relpath)
        # A rename or a move within one file system keeps size and mtime: no need to read the file.
        quick = [k for k in options if k.mtime_ns == entry.mtime_ns and os.path.basename(k.relpath) == name]
        if len(quick) == 1:
            return quick[0]
        digest = self._hash(entry, session)
        same = [k for k in options if k.content_hash == digest] if digest else []
        return next((k for k in same if os.path.basename(k.relpath) == name), same[0] if same else None)

    @staticmethod
    def _move_row(session: Session, k: _Known, entry: FileEntry, known: dict[str, _Known],
                  candidates: dict[int, list[_Known]], content_known: bool = True) -> None:
        """Give ``k``'s row the entry's path. ``content_known=False``: the file may differ too, so the row keeps
        its old size, date and ETag until it is read (a read that fails is then tried again next scan)."""
        photo = session.get(Photo, k.id)
        assert photo is not None
        photo.relpath, photo.gone_at = entry.relpath, None
        if content_known:
            photo.size, photo.mtime_ns = entry.size, entry.mtime_ns
            if entry.etag is not None:
                photo.etag = entry.etag
        if entry.remote_id is not None:
            photo.remote_id = entry.remote_id
        session.flush()
        if k in candidates.get(k.size, []):
            candidates[k.size].remove(k)
        _rekey(known, k, entry.relpath)
        k.size, k.mtime_ns, k.gone = entry.size, entry.mtime_ns, False

    @staticmethod
    def _tombstone(session: Session, k: _Known, known: dict[str, _Known]) -> None:
        photo = session.get(Photo, k.id)
        assert photo is not None
        photo.relpath = f"{TOMBSTONE_DIR}/{k.id}/{k.relpath}"[:2048]
        photo.gone_at = photo.gone_at or utcnow()
        session.flush()  # frees the path for the photo that now has it
        _rekey(known, k, photo.relpath)
        k.gone = True

    # -- processing -----------------------------------------------------------------------------

    def _hash(self, entry: FileEntry, session: Session) -> str | None:
        if self._remote is not None:
            session.commit()  # a download takes a while: never hold the database's write lock through it
            return self._remote.content_hash(entry, self._fetch_dir)
        return _hash(entry)

    def _fetched(self, tasks: list[PhotoTask], summary: ScanSummary) -> Iterator[PhotoTask]:
        """The tasks of a WebDAV library, each with its photo downloaded into a temporary file.

        Downloads run ``webdav.parallel`` at a time, a few ahead of the workers. A photo that cannot be
        downloaded is left for the next scan (its row, if any, is untouched, so nothing is lost); when the
        server stops answering, the rest are left too, rather than each failing after its retries.
        """
        remote = self._remote
        assert remote is not None
        ahead = self.settings.webdav.parallel * 2
        failures_in_a_row = 0
        pending: deque[tuple[PhotoTask, Future[Path]]] = deque()
        source = iter(tasks)
        pool = ThreadPoolExecutor(self.settings.webdav.parallel, thread_name_prefix="piccl-dav-get")

        def drop_pending() -> None:
            for _, other in pending:
                other.cancel()
                if other.done() and not other.cancelled() and other.exception() is None:
                    other.result().unlink(missing_ok=True)
            pending.clear()

        try:
            def fill() -> None:
                while len(pending) < ahead and (task := next(source, None)) is not None:
                    entry = FileEntry(task.relpath, "", task.size, task.mtime_ns, task.etag, task.remote_id)
                    pending.append((task, pool.submit(remote.fetch, entry, self._fetch_dir)))

            fill()
            while pending:
                task, future = pending.popleft()
                fill()  # keep the downloads ahead whatever became of this one
                # A download can take its timeout and retries: a stop is heard while waiting for it.
                while not wait([future], timeout=STOP_CHECK_S).done and not self.stop_requested.is_set():
                    pass
                if self.stop_requested.is_set():
                    pending.append((task, future))
                    drop_pending()
                    return
                try:
                    path = future.result()
                except (FetchFailed, SourceUnavailable) as exc:
                    reason = exc.reason if isinstance(exc, FetchFailed) else "server_unreachable"
                    if reason == "vanished":
                        summary.ignore("vanished_during_scan")
                        continue
                    summary.not_read[reason] += 1
                    # A file the server refuses is that file's problem; a server (or disk) that fails is everyone's.
                    failures_in_a_row = failures_in_a_row + 1 if reason in _STOPPING else 0
                    if failures_in_a_row >= _UNREACHABLE_STOP:
                        left = len(pending) + sum(1 for _ in source)
                        drop_pending()
                        summary.not_read[reason] += left
                        summary.warnings.append(f"{remote.key}: stopped reading ({exc})")
                        break
                    continue
                failures_in_a_row = 0
                yield replace(task, abspath=str(path))
        finally:
            # On a stop, downloads under way are not waited for (their files go with the fetch folder).
            stopping = self.stop_requested.is_set()
            pool.shutdown(wait=not stopping, cancel_futures=stopping)
        if summary.not_read:
            summary.warnings.append(f"{summary.not_read.total()} photos could not be downloaded "
                                    f"({', '.join(sorted(summary.not_read))}); the next scan reads them")

    def _process(self, library_id: int, tasks: Iterable[PhotoTask], summary: ScanSummary,
                 total: int | None = None) -> None:
        total = len(tasks) if total is None and isinstance(tasks, list) else (total or 0)
        if self.progress:
            self.progress(0, total, "")
        if not total:
            return
        workers = max(1, min(self.settings.worker_count, total))
        runner = make_runner(self.settings.workers.kind, workers, self.options,
                             self.settings.workers.per_file_timeout_s, self.settings.workers.max_tasks_per_worker,
                             str(_decoder_log(self.settings.data_dir)), self.settings.workers.stop_grace_s)
        batch: list[PhotoOutcome] = []
        self.progress_now = (0, total)
        done = 0
        for done, outcome in enumerate(runner.run(tasks, self.stop_requested), start=1):
            self.progress_now = (done, total)
            if self._remote is not None:
                Path(outcome.task.abspath).unlink(missing_ok=True)  # a temporary download, read now
            batch.append(outcome)
            if len(batch) >= self.settings.workers.commit_every:
                self._store(library_id, batch, summary)
                batch = []
            if self.progress:
                self.progress(done, total, outcome.task.relpath)
        if batch:
            self._store(library_id, batch, summary)
        self.progress_now = (0, 0)
        # Asked to stop with photos left: they are unknown or unchanged in the database, so the next scan reads them.
        summary.interrupted = summary.interrupted or (self.stop_requested.is_set() and done < total)

    def _store(self, library_id: int, outcomes: list[PhotoOutcome], summary: ScanSummary) -> None:
        outcomes = [o for o in outcomes if not _vanished(o, summary)]
        try:
            self._store_batch(library_id, outcomes, summary)
        except (SQLAlchemyError, UnicodeError, ValueError):
            # One row the database refuses must not cost the batch, nor stop every future scan.
            log.warning("storing a batch failed; storing its photos one by one", exc_info=True)
            for outcome in outcomes:
                try:
                    self._store_batch(library_id, [outcome], summary)
                except (SQLAlchemyError, UnicodeError, ValueError) as exc:
                    summary.errors["store_failed"] += 1
                    log.error("could not store %s: %s", outcome.task.relpath, exc)

    def _store_batch(self, library_id: int, outcomes: list[PhotoOutcome], summary: ScanSummary) -> None:
        tally = ScanSummary(summary.library)
        with self.sessions() as session:
            existing = {
                p.relpath: p for p in session.scalars(
                    select(Photo)
                    .where(Photo.library_id == library_id, Photo.relpath.in_([o.task.relpath for o in outcomes]))
                    .options(selectinload(Photo.analyses), selectinload(Photo.recommendations),
                             selectinload(Photo.tags), selectinload(Photo.feature), selectinload(Photo.faces),
                             selectinload(Photo.hashes)))
            }
            faces = FaceChanges()
            for outcome in outcomes:
                photo = existing.get(outcome.task.relpath)
                if photo is None:
                    photo = Photo(library_id=library_id, relpath=outcome.task.relpath)
                    session.add(photo)
                faces += store_outcome(photo, outcome, self.wanted)
                if outcome.task.etag is not None or outcome.task.remote_id is not None:
                    photo.etag, photo.remote_id = outcome.task.etag, outcome.task.remote_id
                if photo.status == "ok":
                    tally.ok += 1
                elif photo.status == "error":
                    tally.errors[photo.error_reason or "unknown"] += 1
                else:
                    tally.skipped[photo.error_reason or "unknown"] += 1
                tally.flagged.update(r.reason for r in photo.recommendations)
            if faces.new:
                tally.new_faces += len(faces.new)
                tally.faces_assigned += self.assigner.assign(session, faces.new)
            if faces.people:
                session.flush()
                refresh_people(session, faces.people)
            session.commit()
        # Counted only once the batch is in the database.
        summary.ok += tally.ok
        summary.errors.update(tally.errors)
        summary.skipped.update(tally.skipped)
        summary.flagged.update(tally.flagged)
        summary.new_faces += tally.new_faces
        summary.faces_assigned += tally.faces_assigned


def clean_stale_downloads(data_dir: Path) -> int:
    """Remove WebDAV downloads left by piccl processes that are gone (killed mid-scan), at start; how many."""
    removed = 0
    for folder in (data_dir / "tmp").glob("webdav-*"):
        try:
            pid = int(folder.name.removeprefix("webdav-"))
        except ValueError:
            continue
        # Also this process's own: in a container piccl often gets the same process id at every start, and
        # this runs before any scan of this process.
        if pid == os.getpid() or not _running(pid):
            shutil.rmtree(folder, ignore_errors=True)
            removed += 1
    return removed


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: it exists
        return True
    return True


def _decoder_log(data_dir: Path, keep_bytes: int = 5_000_000) -> Path:
    """Where worker processes' stderr goes; the previous log is kept once as decoders.log.1."""
    log_dir = data_dir / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    path = log_dir / "decoders.log"
    if path.exists() and path.stat().st_size > keep_bytes:
        path.replace(path.with_suffix(".log.1"))
    return path


def _vanished(outcome: PhotoOutcome, summary: ScanSummary) -> bool:
    # Deleted or moved between listing and reading: the next scan sees where it went.
    if outcome.failure is not None and outcome.failure.reason == "vanished":
        summary.ignore("vanished_during_scan")
        return True
    return False


def _rekey(known: dict[str, _Known], k: _Known, relpath: str) -> None:
    if known.get(k.relpath) is k:
        del known[k.relpath]
    k.relpath = relpath
    known[relpath] = k


def _hash(entry: FileEntry) -> str | None:
    try:
        return sha256_of(Path(entry.abspath))
    except OSError:
        return None


def _unstorable(relpath: str) -> str | None:
    try:
        encoded = relpath.encode("utf-8")
    except UnicodeEncodeError:
        return "the file name is not valid UTF-8 (rename it to have it analysed)"
    if len(encoded) > _MAX_RELPATH_BYTES:
        return f"the path is longer than {_MAX_RELPATH_BYTES} bytes"
    return None

