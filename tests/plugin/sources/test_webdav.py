"""Scanning a WebDAV library: a real WsgiDAV server on 127.0.0.1 serving copies of real photos.

Faults are injected at the server (stopped mid-scan, 5xx answers, slow answers, a wrong password): the
scan reports them, loses nothing, and completes when the server is back.
"""

from __future__ import annotations

import hashlib
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from plugin.config import ConfigError, Settings, load_settings, split_libraries
from plugin.scan import Scanner
from plugin.sources.webdav import SourceUnavailable, WebDavLibrary, library_key
from plugin.store.db import open_database
from plugin.store.models import Library, Photo
from plugin.watch import Watcher
from tests.support.davserver import PASSWORD, USER, DavServer, self_signed_certificate, wsgidav_app

PHOTOS = ["Canon_40D.jpg", "Nikon_D70.jpg", "Fujifilm_FinePix_E500.jpg", "Kodak_CX7530.jpg",
          "Canon_PowerShot_S40.jpg", "Nikon_COOLPIX_P1.jpg"]


@pytest.fixture
def served(testdata: Path, tmp_path: Path) -> Iterator[tuple[DavServer, Path]]:
    """GIVEN a WebDAV server sharing a folder of real photos (some in a subfolder, a sidecar, NAS junk)."""
    root = tmp_path / "share"
    (root / "2019 Trip").mkdir(parents=True)
    (root / "@eaDir").mkdir()
    source = testdata / "exif_ianare" / "jpg"
    for i, name in enumerate(PHOTOS):
        shutil.copy2(source / name, root / ("2019 Trip" if i % 2 else "") / name)
    (root / "Canon_40D.jpg.xmp").write_text("<x:xmpmeta xmlns:x='adobe:ns:meta/'/>")
    (root / "@eaDir" / "thumb.jpg").write_bytes(b"junk")
    server = DavServer(wsgidav_app(root)).start()
    try:
        yield server, root
    finally:
        server.stop()


def _settings(tmp_path: Path, password: str = PASSWORD, **webdav: Any) -> Settings:
    options = {"backoff_s": 0.01, "retries": 2, "timeout_s": 5.0, **webdav}
    return load_settings(data_dir=tmp_path / "data", webdav_user=USER, webdav_password=password,
                         workers={"count": 2, "kind": "thread"}, webdav=options)


def _sessions(settings: Settings) -> sessionmaker[Session]:
    return open_database(settings.resolved_database_url)


def _photos(sessions: sessionmaker[Session]) -> dict[str, Photo]:
    with sessions() as session:
        return {p.relpath: p for p in session.scalars(select(Photo))}


def _gets(server: DavServer) -> list[str]:
    return [path for method, path in server.faults.requests if method == "GET"]


def test_scan_reads_every_photo_once_and_records_what_decides_a_change(served: tuple[DavServer, Path],
                                                                        tmp_path: Path) -> None:
    server, root = served
    settings = _settings(tmp_path)
    sessions = _sessions(settings)
    # WHEN the library is scanned by its URL
    summary = Scanner(settings, sessions).scan(server.url + "/")
    # THEN every photo is read, junk and sidecars are not, and each row carries the server's ETag
    assert (summary.new, summary.ok, summary.errors) == (6, 6, {})
    assert summary.ignored == {"sidecar": 1}
    photos = _photos(sessions)
    assert set(photos) == {("2019 Trip/" if i % 2 else "") + n for i, n in enumerate(PHOTOS)}
    for relpath, photo in photos.items():
        assert photo.content_hash == hashlib.sha256((root / relpath).read_bytes()).hexdigest()
        assert photo.etag and photo.width
    with sessions() as session:
        library = session.scalars(select(Library)).one()
        assert (library.root, library.kind) == (library_key(server.url), "webdav")
    # AND the downloads were temporary
    assert not any((tmp_path / "data" / "tmp").rglob("*.jpg"))


def test_rescan_downloads_only_what_changed(served: tuple[DavServer, Path], tmp_path: Path) -> None:
    server, root = served
    settings = _settings(tmp_path)
    sessions = _sessions(settings)
    Scanner(settings, sessions).scan(server.url)
    server.faults.requests.clear()
    # WHEN nothing changed THEN a rescan lists and downloads nothing
    summary = Scanner(settings, sessions).scan(server.url)
    assert (summary.unchanged, summary.processed, _gets(server)) == (6, 0, [])
    # WHEN a photo is uploaded THEN only it is downloaded
    new = (root / "Canon_40D.jpg").read_bytes()
    response = httpx.put(f"{server.url}/2019%20Trip/upload.jpg", content=new, auth=(USER, PASSWORD))
    assert response.status_code in (201, 204)
    summary = Scanner(settings, sessions).scan(server.url)
    assert (summary.new, summary.unchanged, _gets(server)) == (1, 6, ["/2019 Trip/upload.jpg"])


def test_deleted_and_renamed_files(served: tuple[DavServer, Path], tmp_path: Path) -> None:
    server, _ = served
    settings = _settings(tmp_path)
    sessions = _sessions(settings)
    Scanner(settings, sessions).scan(server.url)
    before = _photos(sessions)
    auth = (USER, PASSWORD)
    # WHEN one photo is deleted and another renamed into another folder on the server
    assert httpx.request("DELETE", f"{server.url}/Canon_PowerShot_S40.jpg", auth=auth).status_code == 204
    moved = httpx.request("MOVE", f"{server.url}/Fujifilm_FinePix_E500.jpg", auth=auth,
                          headers={"Destination": f"{server.url}/2019%20Trip/Lisbon%20sunset.jpg"})
    assert moved.status_code in (201, 204)
    summary = Scanner(settings, sessions).scan(server.url)
    # THEN the deleted photo is gone, the renamed one keeps its row (and so its analyses and decisions)
    assert (summary.gone, summary.moved, summary.new) == (1, 1, 0)
    after = _photos(sessions)
    assert after["2019 Trip/Lisbon sunset.jpg"].id == before["Fujifilm_FinePix_E500.jpg"].id
    assert after["Canon_PowerShot_S40.jpg"].gone_at is not None


def test_wrong_password_is_a_clear_error_and_changes_nothing(served: tuple[DavServer, Path], tmp_path: Path) -> None:
    server, _ = served
    settings = _settings(tmp_path)
    sessions = _sessions(settings)
    Scanner(settings, sessions).scan(server.url)
    # WHEN the password is wrong
    wrong = _settings(tmp_path, password="not-the-password")
    with pytest.raises(SourceUnavailable) as error:
        Scanner(wrong, sessions).scan(server.url)
    # THEN the message says so, without the password, and every photo is still known
    assert "refused the user name or password" in str(error.value)
    assert "not-the-password" not in str(error.value) and "not-the-password" not in repr(WebDavLibrary(
        server.url, wrong.webdav, wrong.webdav_credentials()))
    assert all(p.gone_at is None for p in _photos(sessions).values())


def test_server_down_is_a_clear_error(served: tuple[DavServer, Path], tmp_path: Path) -> None:
    server, _ = served
    settings = _settings(tmp_path)
    sessions = _sessions(settings)
    Scanner(settings, sessions).scan(server.url)
    server.stop()
    # WHEN the server is down THEN the scan says it cannot connect, and nothing is marked gone
    with pytest.raises(SourceUnavailable, match="cannot connect"):
        Scanner(settings, sessions).scan(server.url)
    assert all(p.gone_at is None for p in _photos(sessions).values())


def test_server_stopped_mid_scan_loses_nothing_and_the_next_scan_completes(served: tuple[DavServer, Path],
                                                                           tmp_path: Path) -> None:
    server, _ = served
    # One download at a time: on a busy machine, parallel downloads could all finish before the server stops.
    settings = _settings(tmp_path, parallel=1)
    sessions = _sessions(settings)
    stopped = threading.Event()

    def stop_at_second_download(environ: dict[str, Any]) -> bool:
        gets = _gets(server)
        if environ["REQUEST_METHOD"] == "GET" and len(gets) == 2 and not stopped.is_set():
            stopped.set()
            threading.Thread(target=server.stop).start()  # not from the server's own thread
            time.sleep(0.3)  # the listening socket closes while this answer is held
        return False

    server.faults.fail_next, server.faults.fail_when = 1, stop_at_second_download
    # WHEN the server goes away after the first downloads
    first = Scanner(settings, sessions).scan(server.url)
    # THEN the scan finishes with what it could read and says what is left for the next scan
    assert stopped.is_set()
    assert first.not_read["server_unreachable"] >= 1 and first.ok + first.not_read.total() == 6
    assert any("the next scan reads them" in w for w in first.warnings)
    read_first = {rel for rel, p in _photos(sessions).items() if p.status == "ok"}
    # WHEN the server is back THEN the next scan reads the rest, and what was read stays
    server.start()
    second = Scanner(settings, sessions).scan(server.url)
    assert (second.new, second.ok, second.not_read) == (6 - len(read_first), 6 - len(read_first), {})
    photos = _photos(sessions)
    assert len(photos) == 6 and all(p.status == "ok" and p.gone_at is None for p in photos.values())


def test_5xx_answers_are_retried(served: tuple[DavServer, Path], tmp_path: Path) -> None:
    server, _ = served
    settings = _settings(tmp_path, retries=3)
    sessions = _sessions(settings)
    # WHEN the server answers 500, 502 and 503 a few times (a proxy in trouble)
    server.faults.fail_next, server.faults.fail_status = 3, 503
    summary = Scanner(settings, sessions).scan(server.url)
    # THEN the scan retries and completes
    assert (summary.ok, summary.not_read, summary.unreadable_dirs) == (6, {}, {})
    assert server.faults.fail_next == 0


def test_a_subfolder_that_keeps_failing_is_reported_and_nothing_under_it_is_gone(
        served: tuple[DavServer, Path], tmp_path: Path) -> None:
    server, _ = served
    settings = _settings(tmp_path, retries=1)
    sessions = _sessions(settings)
    Scanner(settings, sessions).scan(server.url)
    # WHEN listing the subfolder fails every time
    server.faults.fail_next, server.faults.fail_status = 100, 500
    server.faults.fail_when = lambda env: env["REQUEST_METHOD"] == "PROPFIND" and "Trip" in env["PATH_INFO"]
    summary = Scanner(settings, sessions).scan(server.url)
    # THEN it is reported and its photos are not taken for deleted
    assert list(summary.unreadable_dirs) == ["2019 Trip"] and "500" in summary.unreadable_dirs["2019 Trip"]
    assert summary.gone == 0
    assert all(p.gone_at is None for p in _photos(sessions).values())


def test_slow_answers(served: tuple[DavServer, Path], tmp_path: Path) -> None:
    server, _ = served
    sessions = _sessions(_settings(tmp_path))
    # WHEN the server answers more slowly than the timeout THEN the scan says so
    server.faults.delay_s = 1.0
    impatient = _settings(tmp_path, timeout_s=0.3, retries=0)
    with pytest.raises(SourceUnavailable, match="did not answer in time"):
        Scanner(impatient, sessions).scan(server.url)
    # WHEN it is slow but within the timeout THEN the scan completes
    server.faults.delay_s = 0.05
    summary = Scanner(_settings(tmp_path), sessions).scan(server.url)
    assert summary.ok == 6


def test_a_file_over_the_size_limit_is_not_downloaded(served: tuple[DavServer, Path], tmp_path: Path) -> None:
    server, root = served
    big = max(PHOTOS, key=lambda n: next(root.rglob(n)).stat().st_size)
    limit = next(root.rglob(big)).stat().st_size - 1
    settings = load_settings(data_dir=tmp_path / "data", webdav_user=USER, webdav_password=PASSWORD,
                             workers={"count": 1, "kind": "thread"}, max_file_bytes=limit)
    summary = Scanner(settings, _sessions(settings)).scan(server.url)
    assert summary.skipped == {"too_large": 1}
    assert not any(path.endswith(big) for path in _gets(server))


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")
def test_tls_certificates_are_checked(testdata: Path, tmp_path: Path) -> None:
    # GIVEN a WebDAV server over HTTPS with a self-signed certificate
    root = tmp_path / "share"
    root.mkdir()
    shutil.copy2(testdata / "exif_ianare" / "jpg" / "Canon_40D.jpg", root / "a.jpg")
    cert, key = self_signed_certificate(tmp_path)
    with DavServer(wsgidav_app(root), tls=(cert, key)) as server:
        sessions = _sessions(_settings(tmp_path))
        # WHEN piccl does not know the certificate THEN it refuses, and says what to do
        with pytest.raises(SourceUnavailable, match="certificate is not trusted"):
            Scanner(_settings(tmp_path), sessions).scan(server.url)
        # WHEN it is given the certificate's CA THEN the scan works
        summary = Scanner(_settings(tmp_path, ca_file=str(cert)), sessions).scan(server.url)
        assert summary.ok == 1


def test_photos_the_server_refuses_do_not_stop_the_scan(served: tuple[DavServer, Path], tmp_path: Path) -> None:
    server, _ = served
    settings = _settings(tmp_path)
    sessions = _sessions(settings)
    # GIVEN the server refuses three photos (403), whichever order they come in
    refused = {"/Canon_40D.jpg", "/Canon_PowerShot_S40.jpg", "/Fujifilm_FinePix_E500.jpg"}
    server.faults.fail_next, server.faults.fail_status = 1000, 403
    server.faults.fail_when = lambda env: env["REQUEST_METHOD"] == "GET" and env["PATH_INFO"] in refused
    # WHEN the library is scanned THEN the other photos are read, the refused ones are reported
    summary = Scanner(settings, sessions).scan(server.url)
    assert (summary.ok, summary.not_read) == (3, {"refused": 3})
    # AND once the server lets them through, the next scan reads them
    server.faults.fail_next = 0
    assert Scanner(settings, sessions).scan(server.url).ok == 3


def test_a_redirect_is_never_taken_for_the_photo(served: tuple[DavServer, Path], tmp_path: Path) -> None:
    server, root = served
    settings = _settings(tmp_path)
    sessions = _sessions(settings)
    Scanner(settings, sessions).scan(server.url)
    before = _photos(sessions)["Canon_40D.jpg"]
    # GIVEN the photo changed, and the server (a login proxy) answers downloads with a redirect
    (root / "Canon_40D.jpg").write_bytes((root / "Canon_40D.jpg").read_bytes() + b"\0")
    server.faults.fail_next, server.faults.fail_status = 1000, 302
    server.faults.fail_when = lambda env: env["REQUEST_METHOD"] == "GET"
    summary = Scanner(settings, sessions).scan(server.url)
    # THEN nothing is stored from the redirect: the photo keeps what was known, and is read next time
    assert summary.not_read == {"refused": 1}
    after = _photos(sessions)["Canon_40D.jpg"]
    assert (after.status, after.etag, after.content_hash) == ("ok", before.etag, before.content_hash)
    server.faults.fail_next = 0
    assert Scanner(settings, sessions).scan(server.url).changed == 1


def test_a_502_is_retried_and_then_reported(served: tuple[DavServer, Path], tmp_path: Path) -> None:
    server, _ = served
    settings = _settings(tmp_path, retries=1)
    sessions = _sessions(settings)
    server.faults.fail_next, server.faults.fail_status = 1, 502
    assert Scanner(settings, sessions).scan(server.url).ok == 6  # retried
    server.faults.fail_next = 1000
    server.faults.fail_when = lambda env: env["REQUEST_METHOD"] == "PROPFIND" and "Trip" in env["PATH_INFO"]
    summary = Scanner(settings, sessions).scan(server.url)
    assert list(summary.unreadable_dirs) == ["2019 Trip"] and summary.gone == 0


def test_a_percent_encoded_url_lists_its_photos(served: tuple[DavServer, Path], tmp_path: Path) -> None:
    server, _ = served
    settings = _settings(tmp_path)
    summary = Scanner(settings, _sessions(settings)).scan(f"{server.url}/2019%20Trip")
    assert summary.ok == 3


def test_entries_outside_the_library_are_ignored(tmp_path: Path) -> None:
    # GIVEN a (broken or hostile) server answer naming files above the library's folder
    remote = WebDavLibrary("http://127.0.0.1:1/dav/photos", _settings(tmp_path).webdav, None)
    body = b"""<?xml version="1.0"?><d:multistatus xmlns:d="DAV:">
      <d:response><d:href>/dav/photos/</d:href><d:propstat><d:prop><d:resourcetype><d:collection/></d:resourcetype>
        </d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>
      <d:response><d:href>/dav/photos/../secret.jpg</d:href><d:propstat><d:prop><d:resourcetype/>
        <d:getcontentlength>3</d:getcontentlength></d:prop><d:status>HTTP/1.1 200 OK</d:status>
        </d:propstat></d:response>
      <d:response><d:href>http://elsewhere/dav/other.jpg</d:href><d:propstat><d:prop><d:resourcetype/>
        </d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>
      <d:response><d:href>/dav/photos/ok%20one.jpg</d:href><d:propstat><d:prop><d:resourcetype/>
        <d:getcontentlength>3</d:getcontentlength></d:prop><d:status>HTTP/1.1 200 OK</d:status>
        </d:propstat></d:response>
    </d:multistatus>"""
    # THEN only the entries inside it are taken
    assert [i.relpath for i in remote._parse(body)] == ["", "ok one.jpg"]


def test_what_no_column_can_hold_is_never_taken_as_it_is(tmp_path: Path) -> None:
    # GIVEN a (broken or hostile) server answer with a NUL in a name, and ETags and file ids longer than the columns
    remote = WebDavLibrary("http://127.0.0.1:1/dav/photos", _settings(tmp_path).webdav, None)

    def entry(href: str, etag: str, fileid: str) -> str:
        return (f"<d:response><d:href>{href}</d:href><d:propstat><d:prop><d:resourcetype/><d:getetag>{etag}"
                f"</d:getetag><oc:fileid>{fileid}</oc:fileid></d:prop><d:status>HTTP/1.1 200 OK</d:status>"
                "</d:propstat></d:response>")

    long_etag, other_long_etag = "e" * 300, "e" * 299 + "f"
    body = ('<?xml version="1.0"?><d:multistatus xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns">'
            + entry("/dav/photos/a%00b.jpg", "1", "1") + entry("/dav/photos/long.jpg", f'"{long_etag}"', "7" * 65)
            + entry("/dav/photos/other.jpg", other_long_etag, "8") + entry("/dav/photos/short.jpg", '"abc"', "9")
            + "</d:multistatus>").encode()
    # WHEN it is read
    items = {i.relpath: i for i in remote._parse(body)}
    # THEN the name with a NUL is left out (PostgreSQL refuses a NUL, and no file name holds one)
    assert sorted(items) == ["long.jpg", "other.jpg", "short.jpg"]
    # AND an over-long ETag is kept as its digest, which fits and still tells two ETags apart
    etags = [items[name].etag or "" for name in ("long.jpg", "other.jpg")]
    assert all(len(e) <= 256 for e in etags) and etags[0] != etags[1]
    assert {i.relpath: i.etag for i in remote._parse(body)}["long.jpg"] == etags[0]  # read again: no change seen
    assert items["short.jpg"].etag == "abc"
    # AND a file id longer than any Nextcloud gives is not kept, a real one is
    assert (items["long.jpg"].fileid, items["short.jpg"].fileid) == (None, "9")


def test_credentials_in_the_url_are_refused_without_echoing_them() -> None:
    with pytest.raises(ConfigError) as error:
        load_settings(library="https://anna:S3cret@cloud.example/remote.php/dav/files/anna")
    assert "webdav_password" in str(error.value) and "S3cret" not in str(error.value)


def test_library_urls_keep_their_colons() -> None:
    assert split_libraries("/photos:https://nas:5006/dav/Photos:/more") == [
        "/photos", "https://nas:5006/dav/Photos", "/more"]
    assert load_settings(library="/a:http://h:8080/x").library == [Path("/a"), "http://h:8080/x"]


def test_the_watcher_polls_webdav_libraries_and_outlives_a_server_that_is_down(
        served: tuple[DavServer, Path], tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    server, root = served
    settings = _settings(tmp_path)
    sessions = _sessions(settings)
    watcher = Watcher(Scanner(settings, sessions), [server.url], polling=False, poll_interval_s=1, settle_s=0,
                      rescan_interval_min=0, trash_dir_name=settings.trash_dir_name)
    # WHEN the watcher polls THEN the WebDAV library is scanned (no file events from a server)
    watcher.poll_remote()
    assert len(_photos(sessions)) == 6 and watcher.groups_dirty
    # WHEN the server is down at the next poll THEN the watcher says so and goes on
    server.stop()
    watcher.poll_remote()
    assert "trying again at the next poll" in caplog.text
    server.start()
    shutil.copy2(root / "Canon_40D.jpg", root / "copy.jpg")
    watcher.poll_remote()
    assert len(_photos(sessions)) == 7
