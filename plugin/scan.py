"""Scan a library: list it, work out what changed, analyse that, store it.

The plan is made from a listing and the database alone (no decode): an
unchanged file (same size and mtime, analyzers up to date) costs nothing; a
new file whose size matches a vanished photo is hashed first, and if the hash
matches, the photo is relinked (moved or renamed) with its analysis, its
recommendation and the user's decision. Everything else goes to the workers.

Results are committed every ``commit_every`` photos. A scan killed at any
point (even ``kill -9``) loses at most the uncommitted batch; the next scan
sees those files as new again and finishes the job, each photo exactly once
(the unique key is library + relative path).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, selectinload, sessionmaker

from plugin.analysis import (
    ANALYZER_NAMES,
    AnalysisOptions,
    PhotoOutcome,
    PhotoTask,
    analyser_versions,
    hash_file,
    options_from_settings,
)
from plugin.config import Settings
from plugin.recommend import Verdict, advise
from plugin.sources.local import FileEntry, Listing, iter_paths_in_library, list_library
from plugin.store.models import Analysis, Library, Photo, Recommendation, ScanRun, utcnow
from plugin.workers import make_runner

ProgressCallback = Callable[[int, int, str], None]  # done, total, relpath


@dataclass(slots=True)
class ScanSummary:
    library: str
    photos: int = 0  # candidate files seen in the library
    new: int = 0
    changed: int = 0
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
    seconds: float = 0.0

    @property
    def processed(self) -> int:
        return self.new + self.changed + self.reanalysed

    def as_dict(self) -> dict[str, Any]:
        return {
            "library": self.library, "photos": self.photos, "new": self.new, "changed": self.changed,
            "unchanged": self.unchanged, "moved": self.moved, "reanalysed": self.reanalysed,
            "gone": self.gone, "ok": self.ok, "errors": dict(self.errors), "skipped": dict(self.skipped),
            "flagged": dict(self.flagged), "ignored": self.ignored, "unreadable_dirs": self.unreadable_dirs,
            "seconds": round(self.seconds, 2),
        }


@dataclass(slots=True)
class _Known:
    id: int
    size: int
    mtime_ns: int
    status: str
    gone: bool
    content_hash: str | None
    params: dict[str, str] = field(default_factory=dict)  # analyzer -> "version|params"


class Scanner:
    def __init__(self, settings: Settings, sessions: sessionmaker[Session],
                 progress: ProgressCallback | None = None) -> None:
        self.settings = settings
        self.sessions = sessions
        self.progress = progress
        self.options: AnalysisOptions = options_from_settings(settings)
        self.wanted = analyser_versions(self.options)

    # -- planning -------------------------------------------------------------------------------

    def scan(self, root: Path, only: list[Path] | None = None, retry_errors: bool = False) -> ScanSummary:
        """Scan the whole library at ``root``, or only the files in ``only`` (from the watcher)."""
        started = time.perf_counter()
        root = root.resolve()
        summary = ScanSummary(str(root))
        # piccl's data folder may sit inside the library (the default ./piccl-data when run from it).
        exclude = (self.settings.data_dir,)
        if only is None:
            listing = list_library(root, self.settings.trash_dir_name, exclude)
        else:
            listing = Listing(files=list(iter_paths_in_library(root, only, self.settings.trash_dir_name, exclude)))
        summary.ignored, summary.unreadable_dirs = listing.ignored, listing.unreadable_dirs
        summary.photos = len(listing.files)

        with self.sessions() as session:
            library = self._library(session, root)
            run = ScanRun(library_id=library.id)
            session.add(run)
            session.commit()
            known = self._known(session, library.id)
            library_id, run_id = library.id, run.id

        seen = {entry.relpath for entry in listing.files}
        vanished = {} if only is not None else {
            rel: k for rel, k in known.items() if rel not in seen and not k.gone and listing.covers(rel)}
        tasks: list[PhotoTask] = []
        new_entries: list[FileEntry] = []
        for entry in listing.files:
            k = known.get(entry.relpath)
            if k is None or k.gone:
                new_entries.append(entry)
                continue
            if k.size != entry.size or k.mtime_ns != entry.mtime_ns:
                summary.changed += 1
                tasks.append(self._task(entry))
            elif k.status != "ok":
                if retry_errors:
                    summary.changed += 1
                    tasks.append(self._task(entry))
                else:
                    summary.unchanged += 1
            else:
                stale = tuple(name for name in ANALYZER_NAMES if k.params.get(name) != self.wanted[name])
                if stale:
                    summary.reanalysed += 1
                    tasks.append(self._task(entry, stale))
                else:
                    summary.unchanged += 1

        moved = self._relink_moves(library_id, new_entries, known, vanished)
        summary.moved = len(moved)
        for entry in new_entries:
            if entry.relpath not in moved:
                summary.new += 1
                tasks.append(self._task(entry))

        self._process(library_id, tasks, summary)

        with self.sessions() as session:
            if vanished:
                still_gone = [k.id for rel, k in vanished.items() if rel not in moved.values()]
                now = utcnow()
                for chunk_start in range(0, len(still_gone), 500):
                    for photo in session.scalars(
                            select(Photo).where(Photo.id.in_(still_gone[chunk_start:chunk_start + 500]))):
                        photo.gone_at = now
                summary.gone = len(still_gone)
            summary.seconds = time.perf_counter() - started
            run = session.get(ScanRun, run_id)
            if run is not None:
                run.state, run.finished_at, run.counts = "done", utcnow(), summary.as_dict()
            session.commit()
        return summary

    def _task(self, entry: FileEntry, analyzers: tuple[str, ...] = ANALYZER_NAMES) -> PhotoTask:
        return PhotoTask(entry.relpath, entry.abspath, entry.size, entry.mtime_ns, analyzers)

    def _library(self, session: Session, root: Path) -> Library:
        library = session.scalar(select(Library).where(Library.root == str(root)))
        if library is None:
            library = Library(root=str(root), kind="local")
            session.add(library)
            session.flush()
        return library

    def _known(self, session: Session, library_id: int) -> dict[str, _Known]:
        known: dict[str, _Known] = {}
        by_id: dict[int, _Known] = {}
        rows = session.execute(select(Photo.id, Photo.relpath, Photo.size, Photo.mtime_ns, Photo.status,
                                      Photo.gone_at, Photo.content_hash).where(Photo.library_id == library_id))
        for pid, rel, size, mtime_ns, status, gone_at, content_hash in rows:
            by_id[pid] = known[rel] = _Known(pid, size, mtime_ns, status, gone_at is not None, content_hash)
        versions = session.execute(
            select(Analysis.photo_id, Analysis.analyzer, Analysis.version, Analysis.params)
            .join(Photo).where(Photo.library_id == library_id))
        for pid, analyzer, version, params in versions:
            by_id[pid].params[analyzer] = f"{version}|{params}"
        return known

    def _relink_moves(self, library_id: int, new_entries: list[FileEntry], known: dict[str, _Known],
                      vanished: dict[str, _Known]) -> dict[str, str]:
        """Recognise moved/renamed photos by content hash; returns new relpath -> old relpath."""
        candidates: dict[int, list[tuple[str, _Known]]] = {}
        for rel, k in known.items():
            if (k.gone or rel in vanished) and k.content_hash:
                candidates.setdefault(k.size, []).append((rel, k))
        moved: dict[str, str] = {}
        if not candidates:
            return moved
        with self.sessions() as session:
            for entry in new_entries:
                options = candidates.get(entry.size)
                if not options:
                    continue
                try:
                    digest = hash_file(entry.abspath)
                except OSError:
                    continue
                match = next(((rel, k) for rel, k in options if k.content_hash == digest), None)
                if match is None:
                    continue
                old_rel, k = match
                options.remove(match)
                photo = session.get(Photo, k.id)
                if photo is None:
                    continue
                # A file that reappears at a path that also has a stale (gone) row: drop that row.
                stale = known.get(entry.relpath)
                if stale is not None and stale.id != k.id:
                    session.execute(delete(Photo).where(Photo.id == stale.id))
                    session.flush()
                photo.relpath, photo.size, photo.mtime_ns, photo.gone_at = (
                    entry.relpath, entry.size, entry.mtime_ns, None)
                moved[entry.relpath] = old_rel
            session.commit()
        return moved

    # -- processing -----------------------------------------------------------------------------

    def _process(self, library_id: int, tasks: list[PhotoTask], summary: ScanSummary) -> None:
        total = len(tasks)
        if self.progress:
            self.progress(0, total, "")
        if not tasks:
            return
        workers = min(self.settings.worker_count, total)
        log_dir = self.settings.data_dir / "logs"
        log_dir.mkdir(parents=True, exist_ok=True)
        runner = make_runner(self.settings.workers.kind, workers, self.options,
                             self.settings.workers.per_file_timeout_s, self.settings.workers.max_tasks_per_worker,
                             str(log_dir / "decoders.log"))
        batch: list[PhotoOutcome] = []
        for done, outcome in enumerate(runner.run(_in_path_order(tasks)), start=1):
            batch.append(outcome)
            if len(batch) >= self.settings.workers.commit_every:
                self._store(library_id, batch, summary)
                batch = []
            if self.progress:
                self.progress(done, total, outcome.task.relpath)
        if batch:
            self._store(library_id, batch, summary)

    def _store(self, library_id: int, outcomes: list[PhotoOutcome], summary: ScanSummary) -> None:
        with self.sessions() as session:
            existing = {
                p.relpath: p for p in session.scalars(
                    select(Photo)
                    .where(Photo.library_id == library_id, Photo.relpath.in_([o.task.relpath for o in outcomes]))
                    .options(selectinload(Photo.analyses), selectinload(Photo.recommendation)))
            }
            for outcome in outcomes:
                photo = existing.get(outcome.task.relpath)
                if photo is None:
                    photo = Photo(library_id=library_id, relpath=outcome.task.relpath)
                    session.add(photo)
                store_outcome(photo, outcome, self.wanted)
                if photo.status == "ok":
                    summary.ok += 1
                elif photo.status == "error":
                    summary.errors[photo.error_reason or "unknown"] += 1
                else:
                    summary.skipped[photo.error_reason or "unknown"] += 1
                if photo.recommendation is not None:
                    summary.flagged.update(photo.recommendation.reasons)
            session.commit()


def _in_path_order(tasks: list[PhotoTask]) -> Iterator[PhotoTask]:
    # Path order keeps a folder's photos together in the database and in the progress bar.
    yield from sorted(tasks, key=lambda t: t.relpath)


def store_outcome(photo: Photo, outcome: PhotoOutcome, wanted: dict[str, str]) -> None:
    """Write one outcome onto its photo row (and its analyses and recommendation)."""
    photo.size, photo.mtime_ns = outcome.size, outcome.mtime_ns
    photo.content_hash = outcome.content_hash
    photo.gone_at = None
    photo.analysed_at = utcnow()
    if outcome.failure is not None:
        photo.status = outcome.failure.status
        photo.error_reason = outcome.failure.reason
        photo.error_detail = outcome.failure.detail[:2000]
        # Analyses of what the file used to contain say nothing about what it is now.
        photo.analyses.clear()
        photo.recommendation = None
        return
    facts = outcome.facts
    assert facts is not None
    photo.status, photo.error_reason, photo.error_detail = "ok", None, None
    photo.format, photo.width, photo.height, photo.frames = facts.format, facts.width, facts.height, facts.frames
    photo.decoded_from = facts.decoded_from
    exif = facts.exif
    photo.orientation = exif.orientation
    photo.camera_make, photo.camera_model = exif.make, exif.model
    photo.gps_lat, photo.gps_lon, photo.gps_alt = exif.gps_lat, exif.gps_lon, exif.gps_alt
    photo.exif_warnings = exif.warnings or None
    if exif.taken_at is not None:
        photo.taken_at, photo.taken_at_offset_min, photo.taken_at_source = (
            exif.taken_at, exif.taken_at_offset_min, "exif")
    else:
        photo.taken_at, photo.taken_at_offset_min, photo.taken_at_source = file_time(outcome.mtime_ns)

    current = {a.analyzer: a for a in photo.analyses}
    for result in outcome.results:
        version_params = wanted.get(result.analyzer, f"{result.version}|")
        params = version_params.split("|", 1)[1]
        row = current.get(result.analyzer)
        if row is None:
            row = Analysis(analyzer=result.analyzer)
            photo.analyses.append(row)
            current[result.analyzer] = row
        row.version, row.params, row.score, row.flagged = result.version, params, result.score, result.flagged
        row.evidence = result.evidence
        row.created_at = utcnow()

    advice = advise([Verdict(a.analyzer, a.flagged, a.score, a.evidence) for a in current.values()])
    if advice is None:
        photo.recommendation = None
    elif photo.recommendation is None:
        photo.recommendation = Recommendation(reasons=advice.reasons, evidence=advice.evidence)
    else:
        photo.recommendation.reasons, photo.recommendation.evidence = advice.reasons, advice.evidence


def file_time(mtime_ns: int) -> tuple[datetime, int | None, str]:
    """The file's modification time as local wall-clock time with its offset (the fallback date)."""
    local = datetime.fromtimestamp(mtime_ns / 1e9).astimezone()
    offset = local.utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset is not None else None
    return local.replace(tzinfo=None, microsecond=0), minutes, "file_mtime"

