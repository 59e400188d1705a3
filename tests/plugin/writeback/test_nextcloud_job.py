"""A Nextcloud library end to end: scanned over WebDAV with oc:fileid, tagged with collaborative tags.

Against the Nextcloud stand-in (tests/support/nextcloud.py) on 127.0.0.1, serving copies of real photos.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from plugin.config import Settings, load_settings
from plugin.scan import Scanner
from plugin.store.db import open_database
from plugin.store.models import NextcloudTagItem, Photo
from plugin.writeback.nextcloud_job import NextcloudTagJob, nextcloud_place, nextcloud_tag_status
from plugin.writeback.run import write_back
from tests.plugin.writeback.test_queue import tag
from tests.support.davserver import PASSWORD, USER, DavServer
from tests.support.nextcloud import NextcloudApp, nextcloud_app

Cloud = tuple[DavServer, NextcloudApp, Path, str]


@pytest.fixture
def cloud(testdata: Path, tmp_path: Path) -> Iterator[Cloud]:
    """GIVEN Anna's Nextcloud with a Photos folder of real photos."""
    root = tmp_path / "files"
    (root / "Photos" / "Trip").mkdir(parents=True)
    source = testdata / "exif_ianare" / "jpg"
    shutil.copy2(source / "Canon_40D.jpg", root / "Photos" / "Canon_40D.jpg")
    shutil.copy2(source / "Nikon_D70.jpg", root / "Photos" / "Trip" / "Nikon_D70.jpg")
    app = nextcloud_app(root)
    server = DavServer(app).start()
    try:
        yield server, app, root, f"{server.url}/remote.php/dav/files/{USER}/Photos"
    finally:
        server.stop()


def _settings(tmp_path: Path, **webdav: Any) -> Settings:
    return load_settings(data_dir=tmp_path / "data", webdav_user=USER, webdav_password=PASSWORD,
                         workers={"count": 1, "kind": "thread"},
                         webdav={"backoff_s": 0.01, "retries": 1, "nextcloud_tags": True, **webdav})


def _scanned(settings: Settings, url: str) -> sessionmaker[Session]:
    sessions = open_database(settings.resolved_database_url)
    Scanner(settings, sessions).scan(url)
    return sessions


def test_nextcloud_urls_are_recognised() -> None:
    place = nextcloud_place("https://cloud.example/nextcloud/remote.php/dav/files/anna%20b/Photos/2024")
    assert place is not None
    assert (place.origin, place.dav_root, place.user, place.folder) == (
        "https://cloud.example/nextcloud", "/remote.php/dav", "anna b", "Photos/2024")
    assert nextcloud_place("https://nas.local/webdav/photos") is None


def test_a_rename_in_nextcloud_is_recognised_by_file_id_without_a_download(cloud: Cloud, tmp_path: Path) -> None:
    _server, app, _root, url = cloud
    settings = _settings(tmp_path)
    sessions = _scanned(settings, url)
    with sessions() as session:
        before = session.scalars(select(Photo).where(Photo.relpath == "Canon_40D.jpg")).one()
        assert before.remote_id == str(app.fileid("Photos/Canon_40D.jpg"))
    # WHEN the photo is renamed in Nextcloud
    moved = httpx.request("MOVE", f"{url}/Canon_40D.jpg", auth=(USER, PASSWORD),
                          headers={"Destination": f"{url}/Trip/Renamed.jpg"})
    assert moved.status_code in (201, 204)
    gets = app.count("GET")
    summary = Scanner(settings, sessions).scan(url)
    # THEN the scan relinks the row by its file id, reading nothing
    assert (summary.moved, summary.new, summary.gone) == (1, 0, 0)
    assert app.count("GET") == gets
    with sessions() as session:
        assert session.get(Photo, before.id).relpath == "Trip/Renamed.jpg"


def test_tags_are_assigned_and_only_piccls_are_taken_off(cloud: Cloud, tmp_path: Path) -> None:
    _server, app, _root, url = cloud
    settings = _settings(tmp_path, tag_prefix="piccl: ")
    sessions = _scanned(settings, url)
    tag(sessions, "Canon_40D.jpg", "animal", "food")
    tag(sessions, "Trip/Nikon_D70.jpg", "vehicle")
    job = NextcloudTagJob(sessions, settings)
    # WHEN the job runs
    report = job.run()
    # THEN each photo carries piccl's tags, made user-visible and user-assignable, with the prefix
    assert report.counts == {"written": 2}
    assert app.tag_names("Photos/Canon_40D.jpg") == {"piccl: animal", "piccl: food"}
    assert app.tag_names("Photos/Trip/Nikon_D70.jpg") == {"piccl: vehicle"}
    made = app.tag_by_name("piccl: animal")
    assert made is not None and made.user_visible and made.user_assignable
    # WHEN nothing changed THEN no tag requests are made
    puts = app.count("PUT")
    assert job.run().counts == {"unchanged": 2}
    assert app.count("PUT") == puts
    # WHEN the household adds its own tag, and piccl no longer sees food
    own = app.add_tag("Grandma's birthday")
    app.assign_tag(app.fileid("Photos/Canon_40D.jpg"), own)
    tag(sessions, "Canon_40D.jpg", "animal")
    assert job.run().counts == {"written": 1, "unchanged": 1}
    # THEN only piccl's tag is taken off
    assert app.tag_names("Photos/Canon_40D.jpg") == {"piccl: animal", "Grandma's birthday"}
    with sessions() as session:
        status = nextcloud_tag_status(session)
        assert (status.written, status.failed, status.pending) == (2, 0, 0)
        item = session.scalars(select(NextcloudTagItem).join(Photo).where(Photo.relpath == "Canon_40D.jpg")).one()
        assert item.owned == ["animal"]


def test_restricted_tag_creation_uses_existing_tags_and_says_why(testdata: Path, tmp_path: Path) -> None:
    root = tmp_path / "files"
    (root / "Photos").mkdir(parents=True)
    shutil.copy2(testdata / "exif_ianare" / "jpg" / "Canon_40D.jpg", root / "Photos" / "a.jpg")
    app = nextcloud_app(root, restrict_tag_creation=True)
    app.add_tag("animal")  # made by the admin
    with DavServer(app) as server:
        url = f"{server.url}/remote.php/dav/files/{USER}/Photos"
        settings = _settings(tmp_path)
        sessions = _scanned(settings, url)
        tag(sessions, "a.jpg", "animal", "food")
        # WHEN only admins may create tags
        reports = write_back(sessions, settings, scheduled=True)
        # THEN the existing tag is assigned, the missing one is named with the reason
        report = reports["nextcloud_tags"]
        assert app.tag_names("Photos/a.jpg") == {"animal"}
        assert report.counts["tags missing"] == 1
        assert any("webdav.create_tags" in f["reason"] for f in report.failures)
        with sessions() as session:
            item = session.scalars(select(NextcloudTagItem)).one()
            assert item.state == "written" and item.last_error and "food" in item.last_error
        # AND with create_tags off, piccl does not even ask
        posts = app.count("POST")
        tag(sessions, "a.jpg", "animal", "food", "book")
        NextcloudTagJob(sessions, _settings(tmp_path, create_tags=False)).run()
        assert app.count("POST") == posts


def test_server_unreachable_fails_nothing(cloud: Cloud, tmp_path: Path) -> None:
    server, _app, _root, url = cloud
    settings = _settings(tmp_path)
    sessions = _scanned(settings, url)
    tag(sessions, "Canon_40D.jpg", "animal")
    server.stop()
    report = NextcloudTagJob(sessions, settings).run()
    assert report.counts == {"server unreachable": 1}
    with sessions() as session:
        assert nextcloud_tag_status(session).failed == 0


def test_a_photo_renamed_and_edited_in_nextcloud_is_read_again(cloud: Cloud, tmp_path: Path) -> None:
    _server, _app, root, url = cloud
    settings = _settings(tmp_path)
    sessions = _scanned(settings, url)
    with sessions() as session:
        before = session.scalars(select(Photo).where(Photo.relpath == "Canon_40D.jpg")).one()
    # WHEN the photo is renamed, then edited in place (Nextcloud keeps its file id through both)
    httpx.request("MOVE", f"{url}/Canon_40D.jpg", auth=(USER, PASSWORD), headers={"Destination": f"{url}/edited.jpg"})
    shutil.copy2(root / "Photos" / "Trip" / "Nikon_D70.jpg", root / "Photos" / "edited.jpg")
    summary = Scanner(settings, sessions).scan(url)
    # THEN the row follows it, and the new content is read
    assert (summary.moved, summary.changed, summary.ok) == (1, 1, 1)
    with sessions() as session:
        after = session.get(Photo, before.id)
        assert after.relpath == "edited.jpg" and after.content_hash != before.content_hash


def test_a_refused_password_stops_the_tag_job_at_once(cloud: Cloud, tmp_path: Path) -> None:
    _server, app, _root, url = cloud
    sessions = _scanned(_settings(tmp_path), url)
    tag(sessions, "Canon_40D.jpg", "animal")
    tag(sessions, "Trip/Nikon_D70.jpg", "food")
    wrong = load_settings(data_dir=tmp_path / "data", webdav_user=USER, webdav_password="wrong",
                          webdav={"nextcloud_tags": True})
    requests = len(app.requests)
    report = NextcloudTagJob(sessions, wrong).run()
    # THEN one refused request, not one per photo (Nextcloud throttles addresses that fail logins)
    assert report.counts == {"server unreachable": 1} and "refused" in report.failures[0]["reason"]
    assert len(app.requests) - requests == 1
    with sessions() as session:
        assert nextcloud_tag_status(session).failed == 0
