"""The review UI over a WebDAV library: photos are fetched from the server when a page needs them."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from plugin.config import Settings
from plugin.scan import Scanner
from plugin.store.db import open_database
from tests.support.davserver import PASSWORD as DAV_PASSWORD
from tests.support.davserver import USER, DavServer, wsgidav_app
from tests.webui.conftest import PASSWORD, UI
from webui import create_app
from webui.extensions import limiter


@pytest.fixture
def dav_ui(tmp_path: Path, library: Path) -> Iterator[tuple[UI, DavServer]]:
    """GIVEN the UI over a library that lives on a WebDAV server (scanned through it)."""
    server = DavServer(wsgidav_app(library)).start()
    settings = Settings(library=[server.url], data_dir=tmp_path / "data", workers={"kind": "thread", "count": 2},
                        password=PASSWORD, webdav_user=USER, webdav_password=DAV_PASSWORD,
                        webdav={"backoff_s": 0.01, "retries": 1})
    sessions = open_database(settings.resolved_database_url)
    Scanner(settings, sessions).scan(server.url)
    app = create_app(settings, sessions, TESTING=True)
    limiter.reset()
    ui = UI(app, app.test_client(), library, sessions, settings)
    assert ui.login().status_code == 302
    try:
        yield ui, server
    finally:
        server.stop()


def test_large_thumbnails_and_originals_come_from_the_server(dav_ui: tuple[UI, DavServer], library: Path) -> None:
    ui, server = dav_ui
    pid = ui.photo_id("2024/sharp.jpg")
    # WHEN the photo page asks for a large view and the original
    large = ui.client.get(f"/photos/{pid}/thumb/lg")
    original = ui.client.get(f"/photos/{pid}/original?inline=1")
    # THEN both come from the WebDAV server, and the original is the file's own bytes
    assert large.status_code == 200 and large.mimetype == "image/jpeg"
    assert original.status_code == 200 and original.data == (library / "2024" / "sharp.jpg").read_bytes()
    gets = [p for m, p in server.faults.requests if m == "GET"]
    # AND a thumbnail made once is served from the cache afterwards
    assert ui.client.get(f"/photos/{pid}/thumb/lg").status_code == 200
    assert [p for m, p in server.faults.requests if m == "GET"] == gets
    assert not list((ui.settings.data_dir / "tmp").rglob("*.jpg"))


def test_a_server_that_is_down_shows_a_placeholder(dav_ui: tuple[UI, DavServer]) -> None:
    ui, server = dav_ui
    pid = ui.photo_id("2023/dark.jpg")
    server.stop()
    response = ui.client.get(f"/photos/{pid}/thumb/lg")
    assert response.status_code == 200 and response.mimetype == "image/svg+xml"
    assert ui.client.get(f"/photos/{pid}/original").status_code == 404
    assert ui.client.get(f"/photos/{pid}").status_code == 200  # the page itself still shows


def test_the_photo_page_reads_exif_from_the_start_of_the_file_only(dav_ui: tuple[UI, DavServer],
                                                                   testdata: Path, library: Path) -> None:
    ui, server = dav_ui
    shutil.copy2(testdata / "exif_ianare" / "jpg" / "Canon_40D.jpg", library / "canon.jpg")
    Scanner(ui.settings, ui.sessions).scan(server.url)
    page = ui.client.get(f"/photos/{ui.photo_id('canon.jpg')}")
    assert page.status_code == 200 and "1/160" in page.text  # the exposure time from its EXIF


def test_an_animation_of_webdav_photos_is_refused_with_a_reason(dav_ui: tuple[UI, DavServer]) -> None:
    ui, _server = dav_ui
    ids = [ui.photo_id("2024/sharp.jpg"), ui.photo_id("2024/shaky.jpg")]
    response = ui.post_json("/api/gif", {"photo_ids": ids})
    assert response.status_code in (400, 409, 422) and "WebDAV" in response.get_data(as_text=True)
