"""The write-back job: every photo whose sidecar content changed gets its sidecar written; failures wait and retry.

Each run goes through the library's photos a page at a time, builds what each sidecar should say, and
compares its digest with what was last written (``writeback_items``). Only a change writes: a new tag, a
person named, renamed or merged, a face moved. A failure (a read-only share, a sidecar that is not XMP) is
recorded with its reason and retried after a growing pause, or at once when the content changes or when the
user runs ``piccl writeback``. The watcher runs the job on a schedule; nothing here runs at import.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from webdav4.client import HTTPError

from plugin.config import Settings
from plugin.sources.webdav import SourceUnavailable, describe_failure, open_webdav
from plugin.store.models import Library, NextcloudTagItem, Photo, WritebackItem, readable_in_library, utcnow
from plugin.trash import UnsafePath
from plugin.writeback.content import photos_to_write, sidecar_content
from plugin.writeback.targets import LocalSidecars, RemoteSidecars, SidecarTarget
from plugin.writeback.xmp import SidecarContent, SidecarError

# A failed sidecar waits 2^attempts minutes (at most a day) before the scheduled job tries it again.
MAX_RETRY_PAUSE = timedelta(days=1)
STATES = ("written", "empty", "failed")


@dataclass(slots=True)
class WritebackReport:
    counts: Counter[str] = field(default_factory=Counter)  # written, unchanged, failed, waiting, empty, ...
    failures: list[dict[str, str]] = field(default_factory=list)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"counts": dict(self.counts), "failures": self.failures, "seconds": round(self.seconds, 2)}


# Part of every digest: a release that writes sidecars differently bumps it, and every sidecar is rewritten.
SIDECAR_FORMAT = 1


def content_digest(content: SidecarContent, naming: str, relpath: str) -> str:
    """What a photo's sidecar should be: its content, where it is (a moved photo needs its sidecar again)."""
    payload = json.dumps({"content": asdict(content), "naming": naming, "relpath": relpath,
                          "format": SIDECAR_FORMAT}, sort_keys=True, default=list)
    return hashlib.sha256(payload.encode()).hexdigest()


Item = TypeVar("Item", WritebackItem, NextcloudTagItem)


def pages_with_items(sessions: sessionmaker[Session], library_id: int,
                     model: type[Item]) -> Iterator[tuple[Session, list[Photo], dict[int, Item]]]:
    """The library's photos to write back, a page at a time, each with its ``model`` row (what was written
    last, keyed by photo id) and the open session of that page (the caller commits)."""
    after = 0
    while True:
        with sessions() as session:
            photos = photos_to_write(session, library_id, after)
            if not photos:
                return
            after = photos[-1].id
            items = {i.photo_id: i for i in session.scalars(
                select(model).where(model.photo_id.in_([p.id for p in photos])))}
            yield session, photos, items


def retry_due(attempts: int, failed_at: datetime, now: datetime) -> bool:
    """Whether a failed write may be tried again: it waits 2^attempts minutes, at most a day."""
    pause = min(timedelta(minutes=2 ** min(attempts, 20)), MAX_RETRY_PAUSE)
    return failed_at + pause <= now


class WritebackJob:
    def __init__(self, sessions: sessionmaker[Session], settings: Settings) -> None:
        self.sessions, self.settings = sessions, settings

    def run(self, *, retry_failed: bool = False, dry_run: bool = False) -> WritebackReport:
        """Write what changed. ``retry_failed``: try failed sidecars now (the user asked); ``dry_run``: count only."""
        started = time.monotonic()
        report = WritebackReport()
        with self.sessions() as session:
            libraries = [(lib.id, lib.root, lib.kind) for lib in session.scalars(select(Library).order_by(Library.id))]
        for library_id, root, kind in libraries:
            if kind == "local":
                self._library(library_id, LocalSidecars(Path(root)), report, retry_failed, dry_run)
                continue
            if not self.settings.webdav.sidecars:
                continue
            remote = open_webdav(self.settings, root)
            try:
                self._library(library_id, RemoteSidecars(remote), report, retry_failed, dry_run)
            except SourceUnavailable as exc:
                # Nothing is marked failed: every photo of the library is simply tried at the next run.
                report.counts["server unreachable"] += 1
                report.failures.append({"photo": root, "reason": str(exc)})
            finally:
                remote.close()
        report.seconds = time.monotonic() - started
        return report

    def _library(self, library_id: int, target: SidecarTarget, report: WritebackReport, retry_failed: bool,
                 dry_run: bool) -> None:
        for session, photos, items in pages_with_items(self.sessions, library_id, WritebackItem):
            for photo in photos:
                self._one(session, target, photo, items.get(photo.id), report, retry_failed, dry_run)
            if not dry_run:
                session.commit()

    def _one(self, session: Session, target: SidecarTarget, photo: Photo, item: WritebackItem | None,
             report: WritebackReport, retry_failed: bool, dry_run: bool) -> None:
        naming = self.settings.xmp.naming
        content = sidecar_content(photo, self.settings.tags.mapping)
        digest = content_digest(content, naming, photo.relpath)
        if item is not None and item.digest == digest:
            # A sidecar someone deleted since is written again (one stat: the cost of noticing).
            still_there = item.state != "written" or target.present(item.sidecar or "")
            if item.state != "failed" and still_there:
                report.counts["unchanged"] += 1
                return
            if item.state == "failed" and not retry_failed and not retry_due(item.attempts, item.updated_at, utcnow()):
                report.counts["waiting"] += 1  # failed before; its pause is not over
                return
        try:
            result = target.write(photo.relpath, content, naming, dry_run)
            if dry_run:
                report.counts["would write" if result.changed else
                              "unchanged" if result.sidecar else "nothing to write"] += 1
                return
        except SourceUnavailable:
            raise  # the whole library waits for the next run; this photo did nothing wrong
        except Exception as exc:  # a bad sidecar costs its photo, never the run (recorded, retried later)
            if isinstance(exc, SidecarError | UnsafePath):
                reason = str(exc)
            elif isinstance(exc, OSError):
                reason = f"{type(exc).__name__}: {exc.strerror or exc}"
            elif isinstance(exc, HTTPError | httpx.HTTPError):
                reason = f"WebDAV: {describe_failure(exc)}"
            else:
                reason = f"{type(exc).__name__}: {exc}"[:500]
            report.counts["failed"] += 1
            report.failures.append({"photo": photo.relpath, "reason": reason})
            if not dry_run:
                item = self._item(session, photo.id, item)
                item.digest, item.state, item.last_error = digest, "failed", reason[:2000]
                item.attempts += 1
                item.updated_at = utcnow()
            return
        item = self._item(session, photo.id, item)
        item.digest, item.attempts, item.last_error = digest, 0, None
        if result.sidecar is not None:
            item.state, item.sidecar = "written", result.sidecar
            report.counts["written" if result.changed else "unchanged"] += 1
        else:
            item.state = "empty"  # nothing to say, and no sidecar: none is made
            report.counts["nothing to write"] += 1

    @staticmethod
    def _item(session: Session, photo_id: int, item: WritebackItem | None) -> WritebackItem:
        if item is None:
            item = WritebackItem(photo_id=photo_id, target="xmp", state="failed", attempts=0)
            session.add(item)
        return item


@dataclass(frozen=True, slots=True)
class WritebackStatus:
    written: int
    failed: int
    not_yet: int  # photos read but never written back (new since the last run)
    recent_failures: list[tuple[str, str]]  # (photo path, reason), newest first


def writeback_status(session: Session, limit: int = 10) -> WritebackStatus:
    """Counts over the photos in the library now (a trashed or vanished photo's sidecar is not counted)."""
    present = readable_in_library()
    by_state = dict(session.execute(
        select(WritebackItem.state, func.count()).join(Photo, Photo.id == WritebackItem.photo_id)
        .where(present).group_by(WritebackItem.state)).all())
    photos = session.scalar(select(func.count()).select_from(Photo).where(present)) or 0
    failures = session.execute(
        select(Photo.relpath, WritebackItem.last_error).join(Photo, Photo.id == WritebackItem.photo_id)
        .where(WritebackItem.state == "failed", present).order_by(WritebackItem.updated_at.desc())
        .limit(limit)).all()
    done = sum(by_state.values())
    return WritebackStatus(int(by_state.get("written", 0)), int(by_state.get("failed", 0)),
                           max(0, int(photos) - done), [(p, e or "") for p, e in failures])
