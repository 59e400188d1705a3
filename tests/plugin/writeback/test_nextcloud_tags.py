"""Nextcloud collaborative tags: file ids by folder, tags made once, piccl's tags kept apart from the user's.

Against the Nextcloud stand-in (tests/support/nextcloud.py) on 127.0.0.1: real HTTP, no mocks.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from plugin.writeback.nextcloud_tags import (
    NextcloudTagError,
    NextcloudTags,
    TagCreationRefused,
    TagSync,
    UnknownFileId,
)
from tests.support.davserver import PASSWORD, USER, DavServer
from tests.support.nextcloud import NextcloudApp, nextcloud_app

SPACE, UNICODE = "a photo.jpg", "Ünïcødé #1 50%.jpg"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "files"
    for relpath in (f"Photos 2024/{SPACE}", f"Photos 2024/{UNICODE}", "Photos 2024/Trip/c.jpg", "top.jpg"):
        (root / relpath).parent.mkdir(parents=True, exist_ok=True)
        (root / relpath).write_bytes(relpath.encode())
    return root


@pytest.fixture
def app(root: Path) -> NextcloudApp:
    return nextcloud_app(root)


@pytest.fixture
def server(app: NextcloudApp) -> Iterator[DavServer]:
    with DavServer(app) as server:
        yield server


@pytest.fixture
def http(server: DavServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, auth=(USER, PASSWORD), timeout=5) as client:
        yield client


def tags_client(http: httpx.Client, **options: object) -> NextcloudTags:
    return NextcloudTags(http, user=USER, prefix="piccl: ", **options)  # type: ignore[arg-type]


def test_file_ids_come_one_listing_per_folder_and_survive_a_rename(http: httpx.Client, app: NextcloudApp) -> None:
    tags = tags_client(http)
    # WHEN the ids of a folder's files are asked for
    ids = tags.file_ids("Photos 2024")
    # THEN one PROPFIND gives every file's id by its plain name, spaces and unicode and all; no folders
    assert ids == {SPACE: app.fileid(f"Photos 2024/{SPACE}"), UNICODE: app.fileid(f"Photos 2024/{UNICODE}")}
    assert app.count("PROPFIND") == 1
    # AND the root and a sub-folder work the same way
    assert tags.file_ids("") == {"top.jpg": app.fileid("top.jpg")}
    assert tags.file_ids("Photos 2024/Trip/") == {"c.jpg": app.fileid("Photos 2024/Trip/c.jpg")}
    # WHEN the user renames a photo in Nextcloud
    source = "/remote.php/dav/files/anna/Photos%202024/" + quote(UNICODE)
    destination = f"{str(http.base_url).rstrip('/')}/remote.php/dav/files/anna/Photos%202024/renamed.jpg"
    moved = http.request("MOVE", source, headers={"Destination": destination})
    assert moved.status_code == 201
    # THEN the same id comes under the new name
    assert tags.file_ids("Photos 2024")["renamed.jpg"] == ids[UNICODE]
    # AND a folder that is not there says so
    with pytest.raises(NextcloudTagError, match="'Nope' is not in anna's Nextcloud files"):
        tags.file_ids("Nope")


def test_a_missing_tag_is_created_visible_and_assignable_and_listed_once(http: httpx.Client,
                                                                         app: NextcloudApp) -> None:
    tags = tags_client(http)
    # WHEN the tag "dog" is needed twice
    first, second = tags.ensure_tag("dog"), tags.ensure_tag("dog")
    # THEN it is created once, with the prefix, as a tag everyone sees and may assign
    assert first is not None and first == second
    made = app.tag_by_name("piccl: dog")
    assert made is not None and (made.id, made.user_visible, made.user_assignable) == (first.id, True, True)
    assert (app.count("POST"), app.count("PROPFIND", "/remote.php/dav/systemtags/")) == (1, 1)
    # AND a tag that exists already is used as it is, matched without regard to case as Nextcloud does
    cat = app.add_tag("Piccl: Cat")
    tags.tags(refresh=True)
    existing = tags.ensure_tag("cat")
    assert existing is not None and (existing.id, existing.name) == (cat, "Piccl: Cat")
    assert app.count("POST") == 1


def test_a_tag_someone_made_meanwhile_is_used_after_the_409(http: httpx.Client, app: NextcloudApp) -> None:
    tags = tags_client(http)
    assert tags.tags() == {}
    # GIVEN someone creates "piccl: dog" after piccl fetched the list
    theirs = app.add_tag("piccl: dog")
    # WHEN piccl needs it
    tag = tags.ensure_tag("dog")
    # THEN the POST's 409 makes it read the list again and use theirs
    assert tag is not None and tag.id == theirs
    assert app.count("POST") == 1 and len(app.tags) == 1
    # AND a name taken by a tag this user cannot see is missing, with the reason
    app.add_tag("piccl: secret", user_visible=False)
    assert tags.ensure_tag("secret") is None
    assert "cannot see it" in tags.problems["secret"]


def test_assigning_twice_is_fine_and_unassigning_twice_too(http: httpx.Client, app: NextcloudApp) -> None:
    tags = tags_client(http)
    fileid, dog = app.fileid("top.jpg"), app.add_tag("piccl: dog")
    # WHEN a tag is put on twice and taken off twice
    assert (tags.assign(fileid, dog), tags.assign(fileid, dog)) == (True, False)
    assert tags.tags_of(fileid) == {dog}
    assert (tags.unassign(fileid, dog), tags.unassign(fileid, dog)) == (True, False)
    # THEN no error, and the file has no tag
    assert tags.tags_of(fileid) == set()
    # AND a file Nextcloud does not know is named as such
    with pytest.raises(UnknownFileId, match="file id 999999999"):
        tags.tags_of(999999999)


def test_sync_adds_what_is_wanted_and_removes_only_what_piccl_put_there(http: httpx.Client,
                                                                        app: NextcloudApp) -> None:
    tags = tags_client(http)
    relpath = f"Photos 2024/{SPACE}"
    fileid = app.fileid(relpath)
    # GIVEN the user tagged the photo "holiday", and "piccl: cat" by hand
    app.assign_tag(fileid, app.add_tag("holiday"))
    app.assign_tag(fileid, app.add_tag("piccl: cat"))
    # WHEN piccl wants cat and dog on it
    first = tags.sync_file(fileid, {"cat", "dog"}, owned=set())
    # THEN dog is added and owned; cat was the user's and stays theirs
    assert first == TagSync(assigned={"dog"}, removed=set(), owned={"dog"}, missing=set())
    assert app.tag_names(relpath) == {"holiday", "piccl: cat", "piccl: dog"}
    # WHEN piccl no longer wants either
    second = tags.sync_file(fileid, set(), owned=first.owned)
    # THEN only its own dog comes off; the user's tags stay
    assert second == TagSync(assigned=set(), removed={"dog"}, owned=set(), missing=set())
    assert app.tag_names(relpath) == {"holiday", "piccl: cat"}
    # AND nothing to do is no change
    assert tags.sync_file(fileid, {"cat"}, owned=set()) == TagSync(set(), set(), set(), set())


def test_a_server_that_refuses_tag_creation_is_told_once_and_clearly(root: Path) -> None:
    app = nextcloud_app(root, restrict_tag_creation=True)
    dog = app.add_tag("piccl: dog")  # an admin made this one
    with DavServer(app) as server, httpx.Client(base_url=server.url, auth=(USER, PASSWORD), timeout=5) as http:
        tags = tags_client(http)
        # WHEN piccl tries to create a tag on a server that keeps tag creation to admins
        with pytest.raises(TagCreationRefused) as refused:
            tags.create_tag("cat")
        # THEN the message says what to do
        message = str(refused.value)
        assert "creating tags needs an admin" in message and "create 'piccl: cat' in Nextcloud" in message
        assert "webdav.create_tags" in message
        # WHEN files are synced anyway
        fileid = app.fileid("top.jpg")
        result = tags.sync_file(fileid, {"dog", "cat", "bird"}, owned=set())
        other = tags.sync_file(app.fileid(f"Photos 2024/{SPACE}"), {"bird"}, owned=set())
        # THEN the existing tag is assigned, the rest reported missing, and only one more POST was tried
        assert (result.assigned, result.missing, other.missing) == ({"dog"}, {"cat", "bird"}, {"bird"})
        assert app.tag_names("top.jpg") == {"piccl: dog"} and dog in app.relations[fileid]
        assert app.count("POST") == 2
        assert tags.refused_reason is not None and "needs an admin" in tags.refused_reason


def test_with_creation_off_only_existing_assignable_tags_are_used(http: httpx.Client, app: NextcloudApp) -> None:
    app.add_tag("piccl: dog")
    app.add_tag("piccl: person", user_assignable=False)  # restricted by an admin
    tags = tags_client(http, create_missing=False)
    # WHEN piccl wants three tags, one existing, one restricted, one absent
    result = tags.sync_file(app.fileid("top.jpg"), {"dog", "person", "cat"}, owned=set())
    # THEN only the existing one is assigned; nothing is created; the others are missing with a reason
    assert (result.assigned, result.missing) == ({"dog"}, {"person", "cat"})
    assert app.count("POST") == 0
    assert "restricted" in tags.problems["person"] and "creating tags is off" in tags.problems["cat"]


def test_requests_are_spaced_by_the_minimum_interval(http: httpx.Client, app: NextcloudApp) -> None:
    tags = tags_client(http, min_interval_s=0.05)
    fileid = app.fileid("top.jpg")
    # WHEN five requests are made back to back
    started = time.monotonic()
    for _ in range(5):
        tags.tags_of(fileid)
    # THEN they took at least four intervals
    assert time.monotonic() - started >= 0.15


def test_a_wrong_password_is_named_without_showing_it(server: DavServer) -> None:
    # GIVEN a wrong app password, given as auth or inside the address
    for client in (httpx.Client(base_url=server.url, auth=(USER, "s3cret-wrong"), timeout=5),
                   httpx.Client(base_url=server.url.replace("://", f"://{USER}:s3cret-wrong@"), timeout=5)):
        with client, pytest.raises(NextcloudTagError) as error:
            tags_client(client).tags()
        # THEN the message says so, without the password
        assert "refused the user name or app password" in str(error.value)
        assert "s3cret-wrong" not in str(error.value)


def test_a_server_that_is_down_is_named(server: DavServer) -> None:
    # WHEN Nextcloud cannot be reached
    server.stop()
    with (httpx.Client(base_url=server.url, auth=(USER, PASSWORD), timeout=2) as http,
          pytest.raises(NextcloudTagError, match=r"could not reach Nextcloud at http://127\.0\.0\.1")):
        tags_client(http).file_ids("")


def test_a_slow_or_unavailable_server_is_named(server: DavServer) -> None:
    with httpx.Client(base_url=server.url, auth=(USER, PASSWORD), timeout=0.2) as http:
        tags = tags_client(http)
        # WHEN Nextcloud answers too late
        server.faults.delay_s = 0.5
        with pytest.raises(NextcloudTagError, match="did not answer in time"):
            tags.tags()
        # WHEN it is in maintenance mode, or answers with some other error
        server.faults.delay_s, server.faults.fail_next, server.faults.fail_status = 0.0, 1, 503
        with pytest.raises(NextcloudTagError, match=r"unavailable \(503\), maybe in maintenance mode"):
            tags.tags()
        server.faults.fail_next, server.faults.fail_status = 1, 500
        with pytest.raises(NextcloudTagError, match=r"answered 500 \w+ to PROPFIND /remote\.php/dav/systemtags/"):
            tags.tags()


def test_a_server_below_a_web_root(root: Path) -> None:
    app = nextcloud_app(root, web_root="/nextcloud")
    with DavServer(app) as server, httpx.Client(base_url=f"{server.url}/nextcloud", auth=(USER, PASSWORD),
                                                timeout=5) as http:
        tags = tags_client(http)
        # WHEN Nextcloud lives at https://host/nextcloud
        fileid = tags.file_ids("")["top.jpg"]
        result = tags.sync_file(fileid, {"dog"}, owned=set())
        # THEN ids, tag creation and assignment all work
        assert fileid == app.fileid("top.jpg") and result.assigned == {"dog"}
        assert app.tag_names("top.jpg") == {"piccl: dog"}
