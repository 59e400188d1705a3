"""Watch libraries and analyse new photos as they arrive.

Like paperless-ngx's consumer: file events only put a path on a waiting list;
a file is read once its size and mtime have stopped changing for
``watch_settle_s`` (a phone upload or an SMB copy writes for a while).
Deletions and moves trigger a full rescan of that library, which is cheap (a
listing, no decode) and is where moves are recognised by hash. inotify sees
nothing on SMB/NFS mounts, so a polling observer is offered, and a periodic
full rescan (APScheduler) is the safety net for anything an observer missed.

The watcher's jobs run in :mod:`plugin.service`'s work loop, one at a time; the scheduler only hands
them over (see :meth:`Watcher.schedule`).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from apscheduler.schedulers.base import BaseScheduler
from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver
from watchdog.observers.polling import PollingObserver

from plugin.config import is_url
from plugin.grouping.service import group_photos
from plugin.people.service import cluster_faces
from plugin.places.service import events_needed, refresh_events
from plugin.scan import Scanner, ScanSummary
from plugin.sources.local import library_relpath
from plugin.sources.webdav import SourceUnavailable
from plugin.trash import TrashBin
from plugin.writeback.run import write_back

log = logging.getLogger(__name__)

SETTLE_CHECK_INTERVAL_S = 1.0
# Regroup duplicates and bursts at most this often while watching (only when photos changed).
GROUP_INTERVAL_S = 30.0
GROUP_BACKOFF = 10.0
# Trash retention: once a day, the first time a while after start (not in the middle of the first scan).
TRASH_INTERVAL_H = 24.0
TRASH_FIRST_AFTER_MIN = 15.0

Submit = Callable[[str, Callable[[], None]], None]


@dataclass(slots=True)
class _Pending:
    size: int
    mtime_ns: int
    stable_since: float


@dataclass(slots=True)
class ChangeTracker:
    """Paths seen changing, and which of them have settled. Thread-safe."""

    settle_s: float
    clock: Callable[[], float] = time.monotonic
    _pending: dict[Path, _Pending] = field(default_factory=dict)
    _rescan: set[Path] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def touched(self, path: Path) -> None:
        with self._lock:
            self._pending.setdefault(path, _Pending(-1, -1, self.clock()))

    def needs_rescan(self, root: Path) -> None:
        with self._lock:
            self._rescan.add(root)

    def take_rescans(self) -> set[Path]:
        with self._lock:
            roots, self._rescan = self._rescan, set()
        return roots

    def take_settled(self) -> list[Path]:
        """Paths whose size and mtime have not changed for ``settle_s``; vanished ones are dropped."""
        now = self.clock()
        ready: list[Path] = []
        with self._lock:
            for path, pending in list(self._pending.items()):
                try:
                    st = path.stat()
                except OSError:
                    del self._pending[path]
                    continue
                if (st.st_size, st.st_mtime_ns) != (pending.size, pending.mtime_ns):
                    pending.size, pending.mtime_ns, pending.stable_since = st.st_size, st.st_mtime_ns, now
                elif now - pending.stable_since >= self.settle_s:
                    ready.append(path)
                    del self._pending[path]
        return ready


class _Handler(FileSystemEventHandler):
    def __init__(self, root: Path, tracker: ChangeTracker, trash_dir_name: str, data_dir: Path) -> None:
        self.root, self.tracker, self.trash_dir_name = root, tracker, trash_dir_name
        self.data_dir = data_dir.resolve()

    def _interesting(self, path_text: str | bytes) -> Path | None:
        path = Path(os.fsdecode(path_text))
        # The data folder is excluded: our own database writes, when data_dir is in the library.
        rel = library_relpath(self.root, path, self.trash_dir_name, (self.data_dir,))
        return None if rel is None else path

    def on_created(self, event: FileSystemEvent) -> None:
        if not event.is_directory and (path := self._interesting(event.src_path)):
            self.tracker.touched(path)

    def on_modified(self, event: FileSystemEvent) -> None:
        self.on_created(event)

    def on_closed(self, event: FileSystemEvent) -> None:
        self.on_created(event)

    def on_moved(self, event: FileSystemEvent) -> None:
        if event.is_directory:
            self.tracker.needs_rescan(self.root)
            return
        source, target = self._interesting(event.src_path), self._interesting(event.dest_path)
        if source is not None:
            # The full rescan relinks the photo, keeping its analysis and decision.
            self.tracker.needs_rescan(self.root)
        elif target is not None:
            # A temporary file renamed into place (rsync, editors, phone uploads): a new photo.
            self.tracker.touched(target)

    def on_deleted(self, event: FileSystemEvent) -> None:
        if event.is_directory or self._interesting(event.src_path) is not None:
            self.tracker.needs_rescan(self.root)


class Watcher:
    """Runs until stopped: observers, the settle check and the periodic rescan."""

    def __init__(self, scanner: Scanner, roots: list[Path | str], *, polling: bool, poll_interval_s: float,
                 settle_s: float, rescan_interval_min: float, trash_dir_name: str,
                 on_scan: Callable[[ScanSummary], None] | None = None) -> None:
        self.scanner = scanner
        self.roots = [Path(root).resolve() for root in roots if not is_url(root)]
        # WebDAV libraries send no events: they are scanned on a schedule (a listing; only changes are read).
        self.urls = [str(root) for root in roots if is_url(root)]
        self.polling, self.poll_interval_s = polling, poll_interval_s
        self.rescan_interval_min = rescan_interval_min
        self.trash_dir_name = trash_dir_name
        self.tracker = ChangeTracker(settle_s)
        self.on_scan = on_scan
        self._scan_lock = threading.Lock()  # one scan at a time: they share one database writer
        self._observers: list[BaseObserver] = []
        # New faces since the last re-clustering: the scheduled job only works when there are some.
        self.faces_dirty = False
        # Photos came, changed or went since the last grouping (duplicates, bursts).
        self.groups_dirty = False
        self._groups_not_before = 0.0

    def _observer(self) -> BaseObserver:
        if self.polling:
            return PollingObserver(timeout=self.poll_interval_s)
        return Observer()

    def start_observers(self) -> None:
        self.stop_observers(1.0)
        for root in self.roots:
            observer = self._observer()
            handler = _Handler(root, self.tracker, self.trash_dir_name, self.scanner.settings.data_dir)
            observer.schedule(handler, str(root), recursive=True)
            observer.daemon = True
            observer.start()
            self._observers.append(observer)
            log.info("watching %s (%s)", root, "polling" if self.polling else "inotify")

    def observers_alive(self) -> bool:
        return len(self._observers) == len(self.roots) and all(o.is_alive() for o in self._observers)

    def stop_observers(self, timeout_s: float = 5.0) -> None:
        observers, self._observers = self._observers, []
        for observer in observers:
            observer.stop()
        deadline = time.monotonic() + timeout_s
        for observer in observers:
            observer.join(timeout=max(0.0, deadline - time.monotonic()))

    def describe(self) -> str:
        parts = [f"{len(self.roots)} folder{'s' if len(self.roots) != 1 else ''} "
                 f"({'polling' if self.polling else 'inotify'})"] if self.roots else []
        if self.urls:
            parts.append(f"{len(self.urls)} WebDAV folder{'s' if len(self.urls) != 1 else ''} polled every "
                         f"{self.scanner.settings.webdav.poll_interval_min:g} min")
        return "; ".join(parts)

    @property
    def stopping(self) -> bool:
        """piccl is stopping: a job in progress returns at its next step instead of starting another."""
        return self.scanner.stop_requested.is_set()

    def full_rescan(self) -> None:
        for root in self.roots:
            self._scan(root, None)
        self.poll_remote()

    def poll_remote(self) -> None:
        for url in self.urls:
            self._scan(url, None)

    def process_pending(self) -> None:
        if self.stopping:
            return
        for root in self.tracker.take_rescans():
            self._scan(root, None)
        settled = self.tracker.take_settled()
        for root in self.roots:
            mine = [p for p in settled if p.is_relative_to(root)]
            if mine and not self._scan(root, mine):
                for path in mine:  # try again at the next check instead of waiting for the rescan
                    self.tracker.touched(path)

    def _scan(self, root: Path | str, only: list[Path] | None) -> bool:
        if self.stopping:
            return False
        with self._scan_lock:
            try:
                # Files still being written are left to their own events (they settle first).
                summary = self.scanner.scan(root, only=only, settle_s=0 if only else self.tracker.settle_s)
            except SourceUnavailable as exc:  # a server that is down or refuses the password: tried at the next poll
                log.warning("%s; trying again at the next poll", exc)
                return False
            except Exception:  # the watcher outlives any one failed scan; the next rescan retries
                log.exception("scan of %s failed", root)
                return False
        for path in summary.still_changing:
            self.tracker.touched(path)
        if summary.new_faces or summary.gone:
            self.faces_dirty = True
        if summary.processed or summary.moved or summary.gone:
            self.groups_dirty = True
        if self.on_scan and (summary.processed or summary.moved or summary.gone):
            self.on_scan(summary)
        return True

    def cluster_faces(self) -> None:
        """The scheduled re-clustering of faces into people (only when faces came or went since the last)."""
        if not self.faces_dirty or self.stopping:
            return
        settings = self.scanner.settings
        with self._scan_lock:
            self.faces_dirty = False
            try:
                cluster_faces(self.scanner.sessions, settings.faces, self.scanner.options.face_models.embed_model)
            except Exception:  # tried again at the next interval
                self.faces_dirty = True
                log.exception("re-clustering faces failed")
        self.scanner.assigner.forget()  # new people: the next scan loads their representative vectors

    def group_photos(self) -> None:
        """The scheduled regrouping of duplicates and bursts (only when photos came, changed or went).

        Regrouping a large library takes a while and holds up scans: after a run that took T seconds the
        next waits at least GROUP_BACKOFF x T, so photos arriving one by one keep the scans ahead.
        """
        if not self.groups_dirty or time.monotonic() < self._groups_not_before or self.stopping:
            return
        with self._scan_lock:
            self.groups_dirty = False
            started = time.monotonic()
            try:
                group_photos(self.scanner.sessions, self.scanner.settings.similar)
                refresh_events(self.scanner.sessions, self.scanner.settings)
            except Exception:  # tried again at the next interval
                self.groups_dirty = True
                log.exception("grouping photos failed")
            finished = time.monotonic()
            self._groups_not_before = finished + GROUP_BACKOFF * (finished - started)

    def write_back(self) -> None:
        """The scheduled write-back: sidecars and Nextcloud tags whose content changed (failures wait their turn)."""
        if self.stopping:
            return
        try:
            reports = write_back(self.scanner.sessions, self.scanner.settings, scheduled=True)
        except Exception:  # tried again at the next interval
            log.exception("writing back failed")
            return
        for target, report in reports.items():
            if report.counts.get("written") or report.counts.get("failed") or report.counts.get("server unreachable"):
                log.info("%s: %s", target.replace("_", " "),
                         ", ".join(f"{n} {k}" for k, n in sorted(report.counts.items())))

    def empty_trash(self) -> None:
        """Trash retention: delete for good what was trashed more than ``trash_retention_days`` ago."""
        settings = self.scanner.settings
        if self.stopping:
            return
        try:
            summary = TrashBin.from_settings(self.scanner.sessions, settings).empty()
        except Exception:  # tried again tomorrow
            log.exception("emptying the trash failed")
            return
        if summary.purged or summary.failed:
            log.info("trash: %d photos trashed over %g days ago deleted for good (%d bytes); %d could not be",
                     summary.purged, settings.trash_retention_days, summary.bytes, len(summary.failed))

    def start_work(self) -> None:
        """What a start does first: a full scan, then people, groups and write-back brought up to date."""
        self.full_rescan()
        self.cluster_faces()
        if events_needed(self.scanner.sessions):  # a library from before events, unchanged since
            self.groups_dirty = True
        self.group_photos()
        self.write_back()

    def schedule(self, scheduler: BaseScheduler, submit: Submit) -> None:
        """Add the watcher's jobs to ``scheduler``; each run hands its job to ``submit`` (the work loop)."""
        settings = self.scanner.settings

        def every(job_id: str, job: Callable[[], None], **trigger: float) -> None:
            scheduler.add_job(submit, "interval", args=(job_id, job), id=job_id, **trigger)  # type: ignore[arg-type]

        every("settle", self.process_pending, seconds=SETTLE_CHECK_INTERVAL_S)
        # A burst arrives photo by photo: group once it has settled, not after each file.
        every("groups", self.group_photos, seconds=GROUP_INTERVAL_S)
        if settings.faces.cluster_interval_min > 0:
            every("faces", self.cluster_faces, minutes=settings.faces.cluster_interval_min)
        if settings.xmp.enabled or settings.webdav.nextcloud_tags:
            every("writeback", self.write_back, minutes=settings.xmp.interval_min)
        if self.urls:
            every("webdav", self.poll_remote, minutes=settings.webdav.poll_interval_min)
        if self.rescan_interval_min > 0:
            every("rescan", self.full_rescan, minutes=self.rescan_interval_min)
        if settings.trash_auto_empty:
            scheduler.add_job(submit, "interval", args=("trash", self.empty_trash), id="trash",
                              hours=TRASH_INTERVAL_H,
                              next_run_time=_utc_in(minutes=TRASH_FIRST_AFTER_MIN))


def _utc_in(minutes: float) -> datetime:
    return datetime.now(UTC) + timedelta(minutes=minutes)
