"""Photos by id only: thumbnails with ETags, originals byte for byte, and never a file outside the library."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest
from PIL import Image

from plugin.store.models import Photo
from tests.conftest import PhotoFactory
from tests.webui.conftest import UI

SECRET = b"outside the library"


def test_thumbnails_are_jpeg_cached_and_revalidated(logged_in: UI) -> None:
    pid = logged_in.photo_id("2024/sharp.jpg")
    # WHEN the small thumbnail is asked for
    first = logged_in.client.get(f"/photos/{pid}/thumb/sm")
    # THEN it is a JPEG of at most 360 px, with an ETag, cached in the data dir
    assert first.status_code == 200 and first.mimetype == "image/jpeg"
    with Image.open(io.BytesIO(first.data)) as image:
        assert max(image.size) == 360
    etag = first.headers["ETag"]
    assert list((logged_in.settings.data_dir / "thumbnails").rglob("*.jpg"))
    # AND a browser that has it gets 304
    again = logged_in.client.get(f"/photos/{pid}/thumb/sm", headers={"If-None-Match": etag})
    assert again.status_code == 304
    # AND a versioned URL may be cached for good
    version = logged_in.client.get("/api/review/blurry").json["items"][0]["thumb"]
    assert "immutable" in logged_in.client.get(version).headers["Cache-Control"]


def test_heic_is_shown_as_jpeg(logged_in: UI, testdata: Path) -> None:
    heic = next((testdata / "heic").rglob("*.heic"), None) or next((testdata / "heic").rglob("*.HEIC"), None)
    if heic is None:
        pytest.skip("no HEIC sample in the test data")
    target = logged_in.library / "phone" / heic.name
    target.parent.mkdir()
    target.write_bytes(heic.read_bytes())
    from plugin.scan import Scanner

    Scanner(logged_in.settings, logged_in.sessions).scan(logged_in.library)
    response = logged_in.client.get(f"/photos/{logged_in.photo_id('phone/' + heic.name)}/thumb/lg")
    assert response.status_code == 200 and response.mimetype == "image/jpeg"


def test_original_is_the_same_bytes_as_a_download(logged_in: UI) -> None:
    path = logged_in.library / "2024" / "sharp.jpg"
    response = logged_in.client.get(f"/photos/{logged_in.photo_id('2024/sharp.jpg')}/original")
    assert response.status_code == 200
    assert hashlib.sha256(response.data).digest() == hashlib.sha256(path.read_bytes()).digest()
    assert response.headers["Content-Disposition"].startswith("attachment")
    assert "sandbox" in response.headers["Content-Security-Policy"]


@pytest.mark.parametrize("url", [
    "/photos/../../etc/passwd", "/photos/%2e%2e/%2e%2e/etc/passwd", "/photos/..%2f..%2fetc%2fpasswd",
    "/photos//etc/passwd", "/photos/1/../../../etc/passwd", "/photos/1/thumb/..%2f..%2fetc%2fpasswd",
    "/photos/-1/original", "/photos/99999/original", "/static/../../../etc/passwd", "/static/%2e%2e/plugin/cli.py",
    "/library/1/folders?folder=../../etc", "/library/1/folders?folder=/etc", "/library/1/folders?folder=%2e%2e",
])
def test_crafted_urls_never_reach_outside_files(logged_in: UI, url: str) -> None:
    response = logged_in.client.get(url)
    assert response.status_code in (302, 308, 404), url
    assert b"root:" not in response.data and b"import" not in response.data


def _row(ui: UI, relpath: str) -> int:
    with ui.sessions() as session:
        photo = Photo(library_id=1, relpath=relpath, size=1, mtime_ns=1, status="ok", content_hash="ab" * 32)
        session.add(photo)
        session.commit()
        return photo.id


def test_symlinks_and_crafted_rows_never_serve_outside_files(logged_in: UI, tmp_path: Path,
                                                             make_photo: PhotoFactory) -> None:
    # GIVEN files outside the library, reachable through symlinks planted in it after the scan,
    # and database rows whose paths would leave the library
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.jpg").write_bytes(SECRET)
    make_photo(outside / "real.jpg", 200, 200)
    (logged_in.library / "link.jpg").symlink_to(outside / "secret.jpg")
    (logged_in.library / "linkdir").symlink_to(outside)
    rows = [_row(logged_in, rel) for rel in ("link.jpg", "linkdir/real.jpg", "../outside/secret.jpg",
                                             "/etc/passwd", "2024/../../outside/secret.jpg")]
    for pid in rows:
        # WHEN their original, photo page or thumbnails are asked for
        original = logged_in.client.get(f"/photos/{pid}/original")
        thumb = logged_in.client.get(f"/photos/{pid}/thumb/lg")
        page = logged_in.client.get(f"/photos/{pid}")
        # THEN nothing from outside comes back
        assert original.status_code == 404
        assert thumb.mimetype == "image/svg+xml"
        assert SECRET not in original.data + thumb.data + page.data
    # AND trashing them moves nothing
    result = logged_in.post_json("/api/decisions", {"photo_ids": rows, "decision": "trash"}).json
    assert result["done"] == [] and set(result["failed"].values()) <= {"unsafe_path", "file_missing"}
    assert (outside / "secret.jpg").read_bytes() == SECRET


def test_photo_page_shows_the_evidence(logged_in: UI) -> None:
    pid = logged_in.photo_id("2024/blurry.jpg")
    page = logged_in.client.get(f"/photos/{pid}?reason=blurry")
    assert page.status_code == 200
    assert "Edge width" in page.text and "against a threshold of 1.24 px" in page.text
    dark = logged_in.client.get(f"/photos/{logged_in.photo_id('2023/dark.jpg')}?reason=dark")
    assert "Darkness" in dark.text and "against a threshold of 0.5" in dark.text
