"""The Nextcloud stand-in answers as the Nextcloud documentation and sources say (see tests/support/nextcloud.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from defusedxml import ElementTree as SafeET

from tests.support.davserver import PASSWORD, USER, DavServer
from tests.support.nextcloud import NC, OC, NextcloudApp, nextcloud_app

DAV = "/remote.php/dav"
FILES = f"{DAV}/files/{USER}"
TRASH = f"{DAV}/trashbin/{USER}/trash"
RESTORE = f"{DAV}/trashbin/{USER}/restore"
JSON = {"Content-Type": "application/json"}


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "files"
    (root / "Photos").mkdir(parents=True)
    (root / "Photos" / "a.jpg").write_bytes(b"a")
    (root / "Photos" / "b.jpg").write_bytes(b"b")
    return root


@pytest.fixture
def app(root: Path) -> NextcloudApp:
    return nextcloud_app(root)


@pytest.fixture
def http(app: NextcloudApp) -> Iterator[httpx.Client]:
    with DavServer(app) as server, httpx.Client(base_url=server.url, auth=(USER, PASSWORD), timeout=5) as client:
        yield client


def props(response: httpx.Response) -> dict[str, dict[str, str]]:
    """href -> {Clark name: text} of the properties answered 200."""
    out: dict[str, dict[str, str]] = {}
    for item in SafeET.fromstring(response.content).iter("{DAV:}response"):
        found: dict[str, str] = {}
        for propstat in item.iter("{DAV:}propstat"):
            if " 200 " in (propstat.findtext("{DAV:}status") or ""):
                found.update((p.tag, p.text or "") for p in propstat.find("{DAV:}prop") or [])
        out[item.findtext("{DAV:}href") or ""] = found
    return out


def propfind(http: httpx.Client, path: str, body: str = "", depth: str = "1") -> httpx.Response:
    return http.request("PROPFIND", path, headers={"Depth": depth}, content=body)


def test_every_request_needs_the_user_and_app_password(app: NextcloudApp, root: Path) -> None:
    with DavServer(app) as server:
        for auth in (None, (USER, "wrong"), ("bob", PASSWORD)):
            # WHEN a request comes without the right credentials, to files or to tags
            for path in (f"{FILES}/", f"{DAV}/systemtags/"):
                response = httpx.request("PROPFIND", server.url + path, auth=auth, timeout=5)
                # THEN Nextcloud's 401 with its Basic challenge
                assert response.status_code == 401
                assert response.headers["WWW-Authenticate"].startswith('Basic realm="Nextcloud"')


def test_files_carry_their_inode_as_oc_fileid_asked_for_or_in_allprop(http: httpx.Client, app: NextcloudApp) -> None:
    # GIVEN a folder with two photos
    expected = {f"{FILES}/Photos/a.jpg": str(app.fileid("Photos/a.jpg")),
                f"{FILES}/Photos/b.jpg": str(app.fileid("Photos/b.jpg"))}
    named = ('<d:propfind xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns"><d:prop><oc:fileid/></d:prop>'
             "</d:propfind>")
    # WHEN a client asks for oc:fileid, or for everything (an empty body is allprop)
    for body in (named, ""):
        listing = props(propfind(http, f"{FILES}/Photos/", body))
        # THEN each file and the folder carry their id
        assert {href: p[f"{{{OC}}}fileid"] for href, p in listing.items() if href in expected} == expected
        assert listing[f"{FILES}/Photos/"][f"{{{OC}}}fileid"] == str(app.fileid("Photos"))


def test_creating_a_tag_answers_201_with_its_place_and_409_for_a_name_taken(http: httpx.Client,
                                                                             app: NextcloudApp) -> None:
    # WHEN a tag is created
    response = http.post(f"{DAV}/systemtags/", headers=JSON, content=json.dumps({"name": "dog"}))
    # THEN 201, the new tag's URL in Content-Location, visible and assignable
    assert response.status_code == 201
    tag_id = int(response.headers["Content-Location"].rsplit("/", 1)[-1])
    assert response.headers["Content-Location"] == f"{DAV}/systemtags/{tag_id}"
    assert (app.tags[tag_id].name, app.tags[tag_id].user_visible, app.tags[tag_id].user_assignable) == (
        "dog", True, True)
    # AND the same name again, in any case, is a conflict
    again = http.post(f"{DAV}/systemtags/", headers=JSON, content=json.dumps({"name": "DOG"}))
    assert again.status_code == 409
    # AND a plain user may not make restricted tags; the body must be JSON
    restricted = http.post(f"{DAV}/systemtags/", headers=JSON, content=json.dumps({"name": "x", "userVisible": False}))
    assert restricted.status_code == 400
    assert http.post(f"{DAV}/systemtags/", content=b"name=x").status_code == 415
    # AND the listing shows the visible tags with Nextcloud's properties, not the invisible ones
    app.add_tag("hidden", user_visible=False)
    app.add_tag("locked", user_assignable=False)
    listing = props(propfind(http, f"{DAV}/systemtags/"))
    named = {p[f"{{{OC}}}display-name"]: p for p in listing.values() if f"{{{OC}}}id" in p}
    assert set(named) == {"dog", "locked"}
    assert named["dog"][f"{{{OC}}}can-assign"] == "true"
    assert (named["locked"][f"{{{OC}}}user-assignable"], named["locked"][f"{{{OC}}}can-assign"]) == ("false", "false")


def test_a_server_that_restricts_tag_creation_answers_403(root: Path) -> None:
    app = nextcloud_app(root, restrict_tag_creation=True)
    with DavServer(app) as server, httpx.Client(base_url=server.url, auth=(USER, PASSWORD), timeout=5) as http:
        # WHEN a plain user tries to create a tag
        response = http.post(f"{DAV}/systemtags/", headers=JSON, content=json.dumps({"name": "dog"}))
        # THEN Nextcloud 31's 403 with its Sabre message, and no tag
        assert response.status_code == 403
        assert "permissions to create tags" in response.text
        assert app.tags == {}


def test_assigning_and_unassigning_answer_as_nextcloud_does(http: httpx.Client, app: NextcloudApp) -> None:
    fileid, dog, locked = app.fileid("Photos/a.jpg"), app.add_tag("dog"), app.add_tag("locked", user_assignable=False)
    relation = f"{DAV}/systemtags-relations/files/{fileid}"
    # WHEN a tag is put on a file twice
    assert http.put(f"{relation}/{dog}").status_code == 201
    assert http.put(f"{relation}/{dog}").status_code == 409
    # THEN it is there once, and the file's tag listing shows it
    assert app.relations[fileid] == {dog}
    listed = props(propfind(http, relation))
    assert [p[f"{{{OC}}}display-name"] for p in listed.values() if f"{{{OC}}}id" in p] == ["dog"]
    # AND an unknown tag is 412, a restricted one 403, an unknown file 404
    assert http.put(f"{relation}/999").status_code == 412
    assert http.put(f"{relation}/{locked}").status_code == 403
    assert http.put(f"{DAV}/systemtags-relations/files/999999999/{dog}").status_code == 404
    assert propfind(http, f"{DAV}/systemtags-relations/files/999999999").status_code == 404
    # WHEN it is taken off twice: 204, then 404
    assert http.delete(f"{relation}/{dog}").status_code == 204
    assert http.delete(f"{relation}/{dog}").status_code == 404
    assert app.relations[fileid] == set()


def test_delete_goes_to_the_trash_bin_and_move_to_restore_brings_it_back(http: httpx.Client, app: NextcloudApp,
                                                                        root: Path) -> None:
    fileid = app.fileid("Photos/a.jpg")
    app.assign_tag(fileid, app.add_tag("dog"))
    # WHEN the photo is deleted
    assert http.delete(f"{FILES}/Photos/a.jpg").status_code == 204
    # THEN it is gone from the files but listed in the trash bin, with where it was and when
    assert not (root / "Photos" / "a.jpg").exists()
    entries = {href: p for href, p in props(propfind(http, f"{TRASH}/")).items() if href != f"{TRASH}/"}
    [(href, entry)] = entries.items()
    assert href.startswith(f"{TRASH}/a.jpg.d")
    assert entry[f"{{{NC}}}trashbin-filename"] == "a.jpg"
    assert entry[f"{{{NC}}}trashbin-original-location"] == "Photos/a.jpg"
    assert href.endswith(".d" + entry[f"{{{NC}}}trashbin-deletion-time"])
    assert entry[f"{{{OC}}}fileid"] == str(fileid)
    # WHEN it is moved to the restore folder
    response = http.request("MOVE", href, headers={"Destination": f"{http.base_url}{RESTORE}/a.jpg"})
    # THEN it is back where it was, the same file (id) with its tags, and the trash bin is empty
    assert response.status_code == 201
    assert (root / "Photos" / "a.jpg").read_bytes() == b"a"
    assert app.fileid("Photos/a.jpg") == fileid
    assert app.tag_names("Photos/a.jpg") == {"dog"}
    assert app.trash == {}


def test_a_restore_whose_place_is_taken_gets_restored_in_its_name(http: httpx.Client, app: NextcloudApp,
                                                                  root: Path) -> None:
    # GIVEN a.jpg deleted twice over, a new a.jpg in its place, and b.jpg deleted with its folder then gone
    http.delete(f"{FILES}/Photos/a.jpg")
    (root / "Photos" / "a.jpg").write_bytes(b"new")
    http.delete(f"{FILES}/Photos/a.jpg")
    (root / "Photos" / "a.jpg").write_bytes(b"newer")
    http.delete(f"{FILES}/Photos/b.jpg")
    http.delete(f"{FILES}/Photos")
    (root / "Photos").mkdir()
    (root / "Photos" / "a.jpg").write_bytes(b"newest")
    # WHEN they are restored
    for key in sorted(k for k in app.trash if k.startswith("a.jpg")):
        assert http.request("MOVE", f"{TRASH}/{key}", headers={"Destination": f"{RESTORE}/a.jpg"}).status_code == 201
    # THEN Nextcloud's names: "a (restored).jpg", then "a (restored 2).jpg"
    assert sorted(p.name for p in (root / "Photos").iterdir()) == ["a (restored 2).jpg", "a (restored).jpg", "a.jpg"]
    # AND a file whose folder is gone is restored... into its folder when that came back, else the root
    [b_key] = [k for k in app.trash if k.startswith("b.jpg")]
    (root / "Photos").rename(root / "Elsewhere")
    assert http.request("MOVE", f"{TRASH}/{b_key}", headers={"Destination": f"{RESTORE}/b.jpg"}).status_code == 201
    assert (root / "b.jpg").read_bytes() == b"b"
    # AND only the restore folder is a place to move to
    [photos_key] = list(app.trash)
    assert http.request("MOVE", f"{TRASH}/{photos_key}", headers={"Destination": f"{FILES}/x"}).status_code == 403


def test_without_a_trash_bin_delete_is_for_good(root: Path) -> None:
    app = nextcloud_app(root, trashbin=False)
    fileid = app.fileid("Photos/a.jpg")
    app.assign_tag(fileid, app.add_tag("dog"))
    with DavServer(app) as server, httpx.Client(base_url=server.url, auth=(USER, PASSWORD), timeout=5) as http:
        # WHEN a file is deleted on a server without the trash bin app
        assert http.delete(f"{FILES}/Photos/a.jpg").status_code == 204
        # THEN it is gone with its tags, and there is no trash bin to look in
        assert not (root / "Photos" / "a.jpg").exists()
        assert fileid not in app.relations
        assert propfind(http, f"{TRASH}/").status_code == 404


def test_a_web_root_prefixes_every_href(root: Path) -> None:
    app = nextcloud_app(root, web_root="/nextcloud")
    with DavServer(app) as server, httpx.Client(base_url=server.url, auth=(USER, PASSWORD), timeout=5) as http:
        # WHEN Nextcloud is installed below /nextcloud
        listing = props(propfind(http, f"/nextcloud{FILES}/Photos/"))
        created = http.post(f"/nextcloud{DAV}/systemtags/", headers=JSON, content=json.dumps({"name": "dog"}))
        # THEN its hrefs and Content-Location carry the web root, and paths outside it are not found
        assert f"/nextcloud{FILES}/Photos/a.jpg" in listing
        assert created.headers["Content-Location"].startswith(f"/nextcloud{DAV}/systemtags/")
        assert propfind(http, f"{FILES}/Photos/").status_code == 404
        # AND a rename within it works
        moved = http.request("MOVE", f"/nextcloud{FILES}/Photos/a.jpg",
                             headers={"Destination": f"{server.url}/nextcloud{FILES}/Photos/c.jpg"})
        assert moved.status_code == 201
        assert (root / "Photos" / "c.jpg").exists()
