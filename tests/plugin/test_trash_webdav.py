"""The trash of a WebDAV library: real servers on 127.0.0.1 (WsgiDAV, and the Nextcloud stand-in) serving
copies of real photos, scanned for real; the tests look at the server's folder on disk."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from plugin.config import Settings, load_settings
from plugin.scan import Scanner
from plugin.sources.nextcloud import NextcloudLocation
from plugin.store.db import open_database
from plugin.store.models import Photo, TrashEntry
from plugin.trash import TrashBin
from tests.support.davserver import PASSWORD, USER, DavServer, wsgidav_app
from tests.support.nextcloud import NextcloudApp, nextcloud_app

TRASH = ".piccl-trash"
XMP = "<x:xmpmeta xmlns:x='adobe:ns:meta/'/>"


def _settings(tmp_path: Path, **webdav: Any) -> Settings:
    options = {"backoff_s": 0.01, "retries": 1, "timeout_s": 5, **webdav}
    return load_settings(data_dir=tmp_path / "data", webdav_user=USER, webdav_password=PASSWORD,
                         workers={"count": 1, "kind": "thread"}, webdav=options)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _photo(sessions: sessionmaker[Session], relpath: str) -> Photo:
    with sessions() as session:
        photo = session.scalar(select(Photo).where(Photo.relpath == relpath))
        assert photo is not None, relpath
        return photo


def _files(root: Path) -> dict[str, str]:
    """Every file under ``root`` with its digest."""
    return {p.relative_to(root).as_posix(): _digest(p) for p in sorted(root.rglob("*")) if p.is_file()}


class Library:
    """A WebDAV library on a running server, with a store scanned from it and a trash bin for it."""

    def __init__(self, server: DavServer, url: str, root: Path, settings: Settings) -> None:
        self.server, self.url, self.root, self.settings = server, url, root, settings
        self.sessions = open_database(settings.resolved_database_url)
        self.bin = TrashBin.from_settings(self.sessions, settings)

    def scan(self) -> Any:
        return Scanner(self.settings, self.sessions).scan(self.url)

    def trash(self, relpath: str) -> Any:
        [outcome] = self.bin.trash([_photo(self.sessions, relpath).id])
        return outcome

    def restore(self, photo_id: int) -> Any:
        [restored] = self.bin.restore(self.bin.entries_for_photos([photo_id]))
        return restored


def _copy_photos(testdata: Path, root: Path, names: dict[str, str]) -> None:
    source = testdata / "exif_ianare" / "jpg"
    for relpath, name in names.items():
        (root / relpath).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source / name, root / relpath)


@pytest.fixture
def library(testdata: Path, tmp_path: Path) -> Iterator[Library]:
    """GIVEN a WsgiDAV server sharing three real photos, one with a darktable sidecar, scanned."""
    root = tmp_path / "share"
    _copy_photos(testdata, root, {"2024/IMG.jpg": "Canon_40D.jpg", "b.jpg": "Nikon_D70.jpg",
                                  "c.jpg": "Kodak_CX7530.jpg"})
    (root / "2024" / "IMG.jpg.xmp").write_text(XMP)
    server = DavServer(wsgidav_app(root)).start()
    try:
        lib = Library(server, server.url, root, _settings(tmp_path))
        assert lib.scan().new == 3
        yield lib
    finally:
        server.stop()


def test_trash_moves_photo_and_sidecar_into_the_trash_folder_and_restore_puts_them_back(library: Library) -> None:
    root = library.root
    before = _files(root)
    pid = _photo(library.sessions, "2024/IMG.jpg").id
    # WHEN the photo with a sidecar is trashed
    outcome = library.trash("2024/IMG.jpg")
    # THEN both sit in the trash folder on the server under the same relative path, and the row is trashed
    assert outcome.ok and outcome.trash_relpath == f"{TRASH}/2024/IMG.jpg"
    assert not (root / "2024" / "IMG.jpg").exists() and not (root / "2024" / "IMG.jpg.xmp").exists()
    assert _digest(root / TRASH / "2024" / "IMG.jpg") == before["2024/IMG.jpg"]
    assert (root / TRASH / "2024" / "IMG.jpg.xmp").read_text() == XMP
    with library.sessions() as session:
        photo = session.get(Photo, pid)
        assert photo is not None and photo.trashed_at is not None and photo.relpath == f"{TRASH}/2024/IMG.jpg"
    # AND a rescan neither marks it gone nor finds the trash folder
    summary = library.scan()
    assert (summary.gone, summary.new) == (0, 0)
    # WHEN it is restored
    restored = library.restore(pid)
    # THEN photo and sidecar are back with the same bytes, under the same row
    assert restored.ok and not restored.renamed and restored.restored_relpath == "2024/IMG.jpg"
    assert {k: v for k, v in _files(root).items() if not k.startswith(TRASH)} == before
    assert _photo(library.sessions, "2024/IMG.jpg").id == pid
    assert library.scan().unchanged == 3


def test_taken_names_get_free_variants_in_the_trash_and_on_restore(library: Library, testdata: Path) -> None:
    root = library.root
    first_digest = _digest(root / "b.jpg")
    first_id = _photo(library.sessions, "b.jpg").id
    # GIVEN a photo trashed, then a different photo at the same path, scanned and trashed too
    assert library.trash("b.jpg").trash_relpath == f"{TRASH}/b.jpg"
    _copy_photos(testdata, root, {"b.jpg": "Fujifilm_FinePix_E500.jpg"})
    second_digest = _digest(root / "b.jpg")
    library.scan()
    second = library.trash("b.jpg")
    # THEN the second gets a free name in the trash and neither file is lost
    assert second.ok and second.trash_relpath == f"{TRASH}/b (2).jpg"
    assert _digest(root / TRASH / "b.jpg") == first_digest and _digest(root / TRASH / "b (2).jpg") == second_digest
    # GIVEN a newcomer at the original place
    _copy_photos(testdata, root, {"b.jpg": "Pentax_K10D.jpg"})
    newcomer = _digest(root / "b.jpg")
    # WHEN the first is restored
    restored = library.restore(first_id)
    # THEN it comes back beside the newcomer as "(restored)"; both files are intact
    assert restored.ok and restored.renamed and restored.restored_relpath == "b (restored).jpg"
    assert _digest(root / "b (restored).jpg") == first_digest and _digest(root / "b.jpg") == newcomer


def test_empty_deletes_only_inside_the_trash_folder(library: Library) -> None:
    root = library.root
    library.trash("c.jpg")
    outside = {k: v for k, v in _files(root).items() if not k.startswith(TRASH)}
    # GIVEN an entry whose recorded place lies outside the trash folder (a tampered row)
    with library.sessions() as session:
        session.add(TrashEntry(library_id=1, photo_id=None, original_relpath="b.jpg", trash_relpath="b.jpg",
                               sidecars=[], size=1, state="trashed"))
        session.commit()
    # WHEN the whole trash is emptied
    summary = library.bin.empty(everything=True)
    # THEN the trashed photo is deleted for good, its row too, and nothing outside the trash is touched
    assert summary.purged == 1 and [why for _, why in summary.failed] == ["not_in_trash"]
    assert not (root / TRASH / "c.jpg").exists()
    assert {k: v for k, v in _files(root).items() if not k.startswith(TRASH)} == outside
    with library.sessions() as session:
        assert session.scalar(select(Photo.id).where(Photo.relpath.like("%c.jpg"))) is None


def test_a_stopped_server_is_an_outcome_and_changes_nothing(library: Library) -> None:
    root = library.root
    trashed = library.trash("c.jpg")
    files = _files(root)
    pid = _photo(library.sessions, "b.jpg").id
    # GIVEN the server is stopped
    library.server.stop()
    # WHEN a photo is trashed, another restored, and the trash emptied
    [outcome] = library.bin.trash([pid])
    [restored] = library.bin.restore([trashed.entry_id])
    summary = library.bin.empty(everything=True)
    # THEN each says the server is unreachable; nothing moved and the store is as it was
    assert (outcome.ok, outcome.reason) == (False, "server_unreachable")
    assert (restored.ok, restored.reason) == (False, "server_unreachable")
    assert (summary.purged, summary.failed) == (0, [(trashed.entry_id, "server_unreachable")])
    assert _files(root) == files
    with library.sessions() as session:
        assert [e.state for e in session.scalars(select(TrashEntry))] == ["trashed"]
        photo = session.get(Photo, pid)
        assert photo is not None and photo.trashed_at is None and photo.relpath == "b.jpg"
    # WHEN the server is back THEN trashing works
    library.server.start()
    assert library.bin.trash([pid])[0].ok


def test_a_move_the_server_failed_is_settled_by_the_next_call(library: Library) -> None:
    root = library.root
    pid = _photo(library.sessions, "b.jpg").id
    # GIVEN the server fails every try of the MOVE (a proxy in trouble)
    library.server.faults.fail_status, library.server.faults.fail_next = 503, 2
    library.server.faults.fail_when = lambda environ: environ["REQUEST_METHOD"] == "MOVE"
    # WHEN the photo is trashed
    outcome = library.trash("b.jpg")
    # THEN it is reported, the file stays, and the entry waits to be settled
    assert (outcome.ok, outcome.reason) == (False, "server_unreachable")
    assert (root / "b.jpg").exists()
    with library.sessions() as session:
        assert [e.state for e in session.scalars(select(TrashEntry))] == ["moving"]
    # WHEN the next call comes THEN the half-done entry is settled first (the file never left) and it works
    assert library.bin.trash([pid])[0].ok
    with library.sessions() as session:
        assert [(e.state, e.trash_relpath) for e in session.scalars(select(TrashEntry))] == [
            ("trashed", f"{TRASH}/b.jpg")]


# -- Nextcloud's own trash bin ---------------------------------------------------------------------------


@pytest.fixture
def nextcloud(testdata: Path, tmp_path: Path) -> Iterator[tuple[Library, NextcloudApp]]:
    """GIVEN a Nextcloud stand-in whose user keeps photos in Photos/, one with a sidecar, scanned with
    webdav.trash = "nextcloud"."""
    files = tmp_path / "files"
    root = files / "Photos"
    _copy_photos(testdata, root, {"2024/IMG.jpg": "Canon_40D.jpg", "b.jpg": "Nikon_D70.jpg"})
    (root / "2024" / "IMG.jpg.xmp").write_text(XMP)
    app = nextcloud_app(files)
    server = DavServer(app).start()
    try:
        url = f"{server.url}/remote.php/dav/files/{USER}/Photos"
        lib = Library(server, url, root, _settings(tmp_path, trash="nextcloud"))
        assert lib.scan().new == 2
        yield lib, app
    finally:
        server.stop()


def test_nextcloud_mode_trashes_into_nextclouds_bin_and_restores_from_it(
        nextcloud: tuple[Library, NextcloudApp], testdata: Path) -> None:
    library, app = nextcloud
    root = library.root
    before = _files(root)
    pid = _photo(library.sessions, "2024/IMG.jpg").id
    # WHEN the photo with a sidecar is trashed
    outcome = library.trash("2024/IMG.jpg")
    # THEN both are in Nextcloud's trash bin (no trash folder in the library), and the entry names the item
    assert outcome.ok and outcome.trash_relpath.startswith("nextcloud-trash:IMG.jpg.d")
    assert sorted(e.original_location for e in app.trash.values()) == ["Photos/2024/IMG.jpg",
                                                                       "Photos/2024/IMG.jpg.xmp"]
    assert not (root / "2024" / "IMG.jpg").exists() and not (root / TRASH).exists()
    # AND a rescan does not mark it gone
    assert library.scan().gone == 0
    # GIVEN a newcomer at its place
    _copy_photos(testdata, root, {"2024/IMG.jpg": "Pentax_K10D.jpg"})
    newcomer = _digest(root / "2024" / "IMG.jpg")
    # WHEN it is restored
    restored = library.restore(pid)
    # THEN it comes back from the bin beside the newcomer, its sidecar renamed with it, the bin empty
    assert restored.ok and restored.renamed and restored.restored_relpath == "2024/IMG (restored).jpg"
    assert _digest(root / "2024" / "IMG (restored).jpg") == before["2024/IMG.jpg"]
    assert (root / "2024" / "IMG (restored).jpg.xmp").read_text() == XMP
    assert _digest(root / "2024" / "IMG.jpg") == newcomer and not (root / "2024" / "IMG.jpg.xmp").exists()
    assert app.trash == {}
    assert _photo(library.sessions, "2024/IMG (restored).jpg").id == pid


def test_nextcloud_mode_empty_leaves_the_bin_to_nextcloud(nextcloud: tuple[Library, NextcloudApp]) -> None:
    library, app = nextcloud
    # GIVEN a photo restored to its place and trashed again
    pid = _photo(library.sessions, "b.jpg").id
    assert library.trash("b.jpg").ok
    assert library.restore(pid).restored_relpath == "b.jpg" and (library.root / "b.jpg").exists()
    assert library.trash("b.jpg").ok
    # WHEN piccl's trash is emptied THEN the item stays in Nextcloud's bin, and the entry stays open
    summary = library.bin.empty(everything=True)
    assert (summary.purged, summary.in_nextcloud_bin, summary.failed) == (0, 1, [])
    assert len(app.trash) == 1
    # WHEN Nextcloud has emptied its bin THEN the next emptying closes the entry and forgets the photo
    with app.lock:
        for key in list(app.trash):
            app._purge(key)
    assert library.bin.empty(everything=True).purged == 1
    with library.sessions() as session:
        assert session.get(Photo, pid) is None


def test_nextcloud_mode_refuses_when_the_trash_bin_is_off(nextcloud: tuple[Library, NextcloudApp]) -> None:
    library, app = nextcloud
    # GIVEN the trash bin app is off (a DELETE would delete for good)
    app.trashbin = False
    # WHEN a photo is trashed THEN nothing is deleted and nothing recorded
    outcome = library.trash("b.jpg")
    assert (outcome.ok, outcome.reason) == (False, "no_nextcloud_trash")
    assert (library.root / "b.jpg").exists()
    with library.sessions() as session:
        assert session.scalar(select(TrashEntry.id)) is None


def test_the_trash_bin_of_a_library_follows_from_its_url() -> None:
    # GIVEN library URLs of Nextcloud (below a web root, a user's whole files) and of another server
    location = NextcloudLocation.of("https://cloud.example/nc/remote.php/dav/files/anna%20b/My%20Photos/2024")
    whole = NextcloudLocation.of("https://cloud.example/remote.php/dav/files/anna")
    # THEN the bin is the user's, and original locations are relative to the user's files
    assert location is not None and whole is not None
    assert location.trashbin_url == "https://cloud.example/nc/remote.php/dav/trashbin/anna%20b"
    assert location.original_location("a.jpg") == "My Photos/2024/a.jpg"
    assert whole.original_location("a.jpg") == "a.jpg"
    assert NextcloudLocation.of("http://127.0.0.1:5000/photos") is None
