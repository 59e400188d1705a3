"""Sidecars of a WebDAV library: uploaded next to the photo on a real WsgiDAV server, read back by exiftool."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from plugin.config import Settings, load_settings
from plugin.scan import Scanner
from plugin.store.db import open_database
from plugin.writeback.queue import WritebackJob, writeback_status
from tests.plugin.writeback.test_queue import tag
from tests.support.davserver import PASSWORD, USER, DavServer, wsgidav_app

EXIFTOOL = shutil.which("exiftool")


@pytest.fixture
def library(testdata: Path, tmp_path: Path) -> Iterator[tuple[DavServer, Path, Settings, sessionmaker[Session]]]:
    """GIVEN a scanned WebDAV library of real photos, one with a sidecar another program wrote."""
    root = tmp_path / "share"
    (root / "trip").mkdir(parents=True)
    source = testdata / "exif_ianare" / "jpg"
    shutil.copy2(source / "Canon_40D.jpg", root / "Canon_40D.jpg")
    shutil.copy2(source / "Nikon_D70.jpg", root / "trip" / "Nikon_D70.jpg")
    (root / "trip" / "Nikon_D70.xmp").write_text(
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmlns:dc="http://purl.org/dc/'
        'elements/1.1/" xmp:Rating="4"><dc:subject><rdf:Bag><rdf:li>Holiday</rdf:li></rdf:Bag></dc:subject>'
        "</rdf:Description></rdf:RDF></x:xmpmeta>")
    server = DavServer(wsgidav_app(root)).start()
    settings = load_settings(data_dir=tmp_path / "data", webdav_user=USER, webdav_password=PASSWORD,
                             workers={"count": 1, "kind": "thread"}, webdav={"backoff_s": 0.01, "retries": 1})
    sessions = open_database(settings.resolved_database_url)
    Scanner(settings, sessions).scan(server.url)
    try:
        yield server, root, settings, sessions
    finally:
        server.stop()


def _exif(path: Path) -> dict[str, object]:
    assert EXIFTOOL is not None
    out = subprocess.run([EXIFTOOL, "-json", "-Subject", "-HierarchicalSubject", "-TagsList", "-Rating", str(path)],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)[0]


@pytest.mark.skipif(EXIFTOOL is None, reason="exiftool is not installed (apt-get install libimage-exiftool-perl)")
def test_sidecars_are_uploaded_beside_webdav_photos_and_merged(library: tuple) -> None:  # type: ignore[type-arg]
    server, root, settings, sessions = library
    tag(sessions, "Canon_40D.jpg", "animal")
    tag(sessions, "trip/Nikon_D70.jpg", "food")
    job = WritebackJob(sessions, settings)
    # WHEN the write-back runs
    assert job.run().counts == {"written": 2}
    # THEN a new sidecar sits next to the photo on the server, and exiftool reads piccl's keywords
    new = _exif(root / "Canon_40D.jpg.xmp")
    assert new["Subject"] == "animal" and new["HierarchicalSubject"] == "piccl|animal"
    # AND the other program's sidecar (the stem name) was updated in place, keeping its fields
    merged = _exif(root / "trip" / "Nikon_D70.xmp")
    assert merged["Rating"] == 4 and merged["Subject"] == ["Holiday", "food"]
    assert not (root / "trip" / "Nikon_D70.jpg.xmp").exists()
    # WHEN nothing changed THEN nothing is uploaded
    server.faults.requests.clear()
    assert job.run().counts == {"unchanged": 2}
    assert not [r for r in server.faults.requests if r[0] == "PUT"]
    # WHEN piccl no longer holds a tag THEN only piccl's keyword goes
    tag(sessions, "trip/Nikon_D70.jpg")
    assert job.run().counts == {"written": 1, "unchanged": 1}
    assert _exif(root / "trip" / "Nikon_D70.xmp")["Subject"] == "Holiday"
    with sessions() as session:
        status = writeback_status(session)
        assert (status.written, status.failed) == (2, 0)


def test_a_sidecar_changed_on_the_server_meanwhile_is_not_overwritten(library: tuple) -> None:  # type: ignore[type-arg]
    server, root, settings, sessions = library
    tag(sessions, "trip/Nikon_D70.jpg", "food")
    before = (root / "trip" / "Nikon_D70.xmp").read_bytes()

    # GIVEN someone rewrites the sidecar between piccl's read and piccl's write
    def edit_before_put(environ: dict[str, object]) -> bool:
        if environ["REQUEST_METHOD"] == "PUT" and environ["PATH_INFO"] == "/trip/Nikon_D70.xmp":
            # Another size too: WsgiDAV's ETag is inode, mtime in seconds and size.
            (root / "trip" / "Nikon_D70.xmp").write_bytes(before.replace(b'"4"', b'"5"') + b"\n")
        return False

    server.faults.fail_next, server.faults.fail_when = 1, edit_before_put
    # WHEN the write-back runs THEN the server refuses the stale write, and it is recorded to retry
    report = WritebackJob(sessions, settings).run()
    assert report.counts["failed"] == 1 and "changed on the server" in report.failures[0]["reason"]
    assert b'"5"' in (root / "trip" / "Nikon_D70.xmp").read_bytes()
    # AND a later run merges into the new version
    server.faults.fail_when = None
    assert WritebackJob(sessions, settings).run(retry_failed=True).counts["written"] == 1
    data = (root / "trip" / "Nikon_D70.xmp").read_bytes()
    assert b'"5"' in data and b"food" in data


def test_an_unreachable_server_marks_nothing_failed(library: tuple) -> None:  # type: ignore[type-arg]
    server, _root, settings, sessions = library
    tag(sessions, "Canon_40D.jpg", "animal")
    server.stop()
    report = WritebackJob(sessions, settings).run()
    assert report.counts == {"server unreachable": 1}
    assert "cannot connect" in report.failures[0]["reason"]
    with sessions() as session:
        assert writeback_status(session).failed == 0
