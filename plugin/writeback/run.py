"""Every write-back target in one call: XMP sidecars (local and WebDAV) and Nextcloud collaborative tags."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from plugin.config import Settings
from plugin.writeback.nextcloud_job import NextcloudTagJob
from plugin.writeback.queue import WritebackJob, WritebackReport


def write_back(sessions: sessionmaker[Session], settings: Settings, *, retry_failed: bool = False,
               dry_run: bool = False, scheduled: bool = False) -> dict[str, WritebackReport]:
    """Run the jobs that are turned on; ``scheduled`` (the watcher) honours ``xmp.enabled`` for sidecars.

    Returns a report per target: ``sidecars`` and ``nextcloud_tags``.
    """
    reports: dict[str, WritebackReport] = {}
    if settings.xmp.enabled or not scheduled:
        reports["sidecars"] = WritebackJob(sessions, settings).run(retry_failed=retry_failed, dry_run=dry_run)
    if settings.webdav.nextcloud_tags:
        reports["nextcloud_tags"] = NextcloudTagJob(sessions, settings).run(retry_failed=retry_failed,
                                                                            dry_run=dry_run)
    return reports
