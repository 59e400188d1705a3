"""The Nextcloud tag job: piccl's tags, scenes and people's names as collaborative tags on WebDAV photos.

Like the sidecar job it compares what each photo should carry with what was last written
(``nextcloud_tag_items``), so an unchanged library sends no requests beyond one tag list. A photo's
file id comes from the scan (``oc:fileid``); otherwise one PROPFIND per folder finds it. Only tags
piccl assigned (``owned``) are ever taken off. A failure is kept with its reason and retried after a
growing pause; a server that cannot be reached fails nothing and is tried again at the next run.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import PurePosixPath

import httpx
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from plugin.config import Settings
from plugin.sources.nextcloud import NextcloudLocation
from plugin.sources.webdav import http_timeout, tls_verification
from plugin.store.models import Library, NextcloudTagItem, Photo, readable_in_library, utcnow
from plugin.writeback.content import sidecar_content
from plugin.writeback.nextcloud_tags import NextcloudTagError, NextcloudTags, NextcloudUnavailable, UnknownFileId
from plugin.writeback.queue import WritebackReport, pages_with_items, retry_due


def nextcloud_place(url: str) -> NextcloudLocation | None:
    """Split a Nextcloud files URL (``https://host/remote.php/dav/files/anna/Photos``); None for other URLs."""
    return NextcloudLocation.of(url)


def wanted_tags(photo: Photo, mapping: str) -> set[str]:
    """The collaborative tags a photo should carry: PICCL tags, object classes, scene, named people."""
    return set(sidecar_content(photo, mapping).subjects)


def tags_digest(wanted: set[str], prefix: str) -> str:
    return hashlib.sha256(json.dumps({"tags": sorted(wanted), "prefix": prefix}).encode()).hexdigest()


class NextcloudTagJob:
    def __init__(self, sessions: sessionmaker[Session], settings: Settings) -> None:
        self.sessions, self.settings = sessions, settings

    def run(self, *, retry_failed: bool = False, dry_run: bool = False) -> WritebackReport:
        started = time.monotonic()
        report = WritebackReport()
        if not self.settings.webdav.nextcloud_tags:
            return report
        with self.sessions() as session:
            libraries = [(lib.id, lib.root) for lib in
                         session.scalars(select(Library).where(Library.kind == "webdav").order_by(Library.id))]
        for library_id, root in libraries:
            place = nextcloud_place(root)
            if place is None:
                report.counts["not a Nextcloud library"] += 1
                report.failures.append({"photo": root, "reason": "collaborative tags need a Nextcloud files URL "
                                        "(https://host/remote.php/dav/files/USER/folder)"})
                continue
            with self._client(place) as http:
                tags = NextcloudTags(http, user=place.user, dav_root=place.dav_root,
                                     prefix=self.settings.webdav.tag_prefix,
                                     create_missing=self.settings.webdav.create_tags,
                                     min_interval_s=1.0 / self.settings.webdav.requests_per_s)
                try:
                    self._library(library_id, place, tags, report, retry_failed, dry_run)
                except _Unreachable as exc:
                    report.counts["server unreachable"] += 1
                    report.failures.append({"photo": root, "reason": str(exc)})
                if tags.refused_reason:
                    report.failures.append({"photo": root, "reason": tags.refused_reason})
        report.seconds = time.monotonic() - started
        return report

    def _client(self, place: NextcloudLocation) -> httpx.Client:
        webdav = self.settings.webdav
        return httpx.Client(base_url=place.origin, auth=self.settings.webdav_credentials(),
                            verify=tls_verification(webdav),
                            timeout=http_timeout(webdav))

    def _library(self, library_id: int, place: NextcloudLocation, tags: NextcloudTags, report: WritebackReport,
                 retry_failed: bool, dry_run: bool) -> None:
        folder_ids: dict[str, dict[str, int]] = {}
        for session, photos, items in pages_with_items(self.sessions, library_id, NextcloudTagItem):
            try:
                for photo in photos:
                    self._one(session, place, tags, folder_ids, photo, items.get(photo.id), report,
                              retry_failed, dry_run)
            finally:
                if not dry_run:
                    session.commit()  # what was done before the server went away is kept

    def _one(self, session: Session, place: NextcloudLocation, tags: NextcloudTags,
             folder_ids: dict[str, dict[str, int]], photo: Photo, item: NextcloudTagItem | None,
             report: WritebackReport, retry_failed: bool, dry_run: bool) -> None:
        wanted = wanted_tags(photo, self.settings.tags.mapping)
        owned = set(item.owned or []) if item is not None else set()
        digest = tags_digest(wanted, tags.prefix)
        if item is not None and item.digest == digest:
            if item.state != "failed":
                report.counts["unchanged"] += 1
                return
            if not retry_failed and not retry_due(item.attempts, item.updated_at, utcnow()):
                report.counts["waiting"] += 1
                return
        if not wanted and not owned:
            if not dry_run:
                self._settle(session, photo.id, item, digest, "empty", [], None)
            report.counts["nothing to write"] += 1
            return
        if dry_run:
            report.counts["would write"] += 1
            return
        try:
            fileid = self._file_id(place, tags, folder_ids, photo)
            result = tags.sync_file(fileid, wanted, owned)
        except NextcloudUnavailable as exc:
            # Not this photo's fault: stop the library here (one failed login per photo would get piccl's
            # address blocked by Nextcloud's brute-force protection) and try again at the next run.
            raise _Unreachable(str(exc)) from None
        except NextcloudTagError as exc:
            if isinstance(exc, UnknownFileId):
                photo.remote_id = None  # moved or replaced since the scan: look it up again next time
            reason = str(exc)
            report.counts["failed"] += 1
            report.failures.append({"photo": photo.relpath, "reason": reason})
            item = self._settle(session, photo.id, item, digest, "failed", sorted(owned), reason)
            item.attempts += 1
            return
        missing = "; ".join(f"{name}: {tags.problems.get(name, 'not available')}"
                            for name in sorted(result.missing)) or None
        self._settle(session, photo.id, item, digest, "written", sorted(result.owned), missing)
        report.counts["written" if result.assigned or result.removed else "unchanged"] += 1
        if result.missing:
            report.counts["tags missing"] += 1

    @staticmethod
    def _file_id(place: NextcloudLocation, tags: NextcloudTags, folder_ids: dict[str, dict[str, int]],
                 photo: Photo) -> int:
        if photo.remote_id and photo.remote_id.isdigit():
            return int(photo.remote_id)
        rel = PurePosixPath(photo.relpath)
        folder = "/".join(p for p in (place.folder, "" if str(rel.parent) == "." else str(rel.parent)) if p)
        if folder not in folder_ids:
            folder_ids[folder] = tags.file_ids(folder)
        fileid = folder_ids[folder].get(rel.name)
        if fileid is None:
            raise UnknownFileId(f"{photo.relpath}: not found in Nextcloud (moved or deleted since the scan?)")
        photo.remote_id = str(fileid)
        return fileid

    @staticmethod
    def _settle(session: Session, photo_id: int, item: NextcloudTagItem | None, digest: str, state: str,
                owned: list[str], error: str | None) -> NextcloudTagItem:
        if item is None:
            item = NextcloudTagItem(photo_id=photo_id, attempts=0)
            session.add(item)
        item.digest, item.state, item.owned, item.last_error = digest, state, owned, error
        if state != "failed":
            item.attempts = 0
        item.updated_at = utcnow()
        return item


class _Unreachable(Exception):
    pass


@dataclass(frozen=True, slots=True)
class TagStatus:
    written: int
    failed: int
    pending: int  # photos of Nextcloud libraries not tagged yet
    recent_failures: list[tuple[str, str]]


def nextcloud_tag_status(session: Session, limit: int = 10) -> TagStatus:
    present = readable_in_library()
    webdav = Photo.library_id.in_(select(Library.id).where(Library.kind == "webdav"))
    by_state = dict(session.execute(
        select(NextcloudTagItem.state, func.count()).join(Photo, Photo.id == NextcloudTagItem.photo_id)
        .where(present).group_by(NextcloudTagItem.state)).all())
    photos = session.scalar(select(func.count()).select_from(Photo).where(present, webdav)) or 0
    failures = session.execute(
        select(Photo.relpath, NextcloudTagItem.last_error).join(Photo, Photo.id == NextcloudTagItem.photo_id)
        .where(NextcloudTagItem.state == "failed", present).order_by(NextcloudTagItem.updated_at.desc())
        .limit(limit)).all()
    done = sum(by_state.values())
    return TagStatus(int(by_state.get("written", 0)), int(by_state.get("failed", 0)), max(0, int(photos) - done),
                     [(p, e or "") for p, e in failures])
