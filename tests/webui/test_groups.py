"""Groups in the review: the Duplicates and Similar tabs one group at a time, keep all, trash the others, another
keeper, GIFs from a group and from a selection, the group line on the photo page.

The library holds real copies: ukbench09380 twice as JPEG and once as WebP ($PICCL_TESTDATA/neardup_imagededup),
ukbench00120 twice, and one synthetic photo in no group; piccl's grouping runs after the scan.
"""

from __future__ import annotations

import html
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select, update

from plugin.grouping.service import GroupError, group_of, group_photos, set_keeper
from plugin.store.models import Decision, Photo, PhotoGroup, PhotoGroupMember, Recommendation
from tests.conftest import PhotoFactory
from tests.webui.conftest import UI


@pytest.fixture
def library(tmp_path: Path, testdata: Path, make_photo: PhotoFactory) -> Path:
    """Two groups of real copies and one photo alone: the soy sauce photo three times (its camera date is in 2006),
    the toy photo twice (2005)."""
    source = testdata / "neardup_imagededup"
    base, formats = source / "base_images", source / "formats_images"
    if not (base / "ukbench09380.jpg").is_file() or not (formats / "ukbench09380.webp").is_file():
        pytest.skip(f"{source} lacks base_images/ukbench09380.jpg or formats_images/ukbench09380.webp")
    lib = tmp_path / "lib"
    (lib / "trip").mkdir(parents=True)
    (lib / "home").mkdir(parents=True)
    copies = {"trip/a.jpg": base / "ukbench09380.jpg", "trip/b.jpg": base / "ukbench09380.jpg",
              "trip/c.webp": formats / "ukbench09380.webp",
              "home/x.jpg": base / "ukbench00120.jpg", "home/y.jpg": base / "ukbench00120.jpg"}
    for relpath, src in copies.items():
        shutil.copyfile(src, lib / relpath)
    make_photo(lib / "alone.jpg", 800, 600, seed=7)
    return lib


@pytest.fixture
def groups_ui(make_ui: Callable[..., UI], tmp_path: Path) -> UI:
    """The library scanned (no models needed: copies are found by hashes), grouped, and logged in."""
    empty = tmp_path / "no-models"
    empty.mkdir()
    ui = make_ui(models_dir=empty, inference={"download": False})
    group_photos(ui.sessions, ui.settings.similar)
    assert ui.login().status_code == 302
    return ui


def _group(ui: UI, relpath: str) -> PhotoGroup:
    with ui.sessions() as session:
        group = group_of(session, ui.photo_id(relpath))
        assert group is not None, relpath
        session.expunge(group)
        return group


def _decisions(ui: UI) -> dict[int, str]:
    """Photo id -> the user's decision (a trashed photo's row points into the trash folder: ids stay)."""
    with ui.sessions() as session:
        return dict(session.execute(select(Decision.photo_id, Decision.decision)).all())


def _post(ui: UI, url: str, **data: str | list[str]) -> object:
    return ui.client.post(url, data={"csrf_token": ui.csrf(), **data})


def _keeper_of(page: str) -> int:
    match = re.search(r'<figure class="shot keeper[^"]*" data-id="(\d+)"', page)
    assert match, page[:2000]
    return int(match.group(1))


def test_the_duplicates_tab_shows_the_newest_group_with_its_keeper(groups_ui: UI) -> None:
    # GIVEN a library with three copies of one photo (taken 2006) and two of another (2005), grouped
    trip = _group(groups_ui, "trip/a.jpg")
    # WHEN the user opens the Duplicates tab
    page = groups_ui.client.get("/review/duplicate")
    # THEN it shows one group, the newer, its three photos side by side with the keeper first and marked
    assert page.status_code == 200
    text = html.unescape(page.text)
    assert 'id="strip"' in text and 'id="grid"' not in text
    assert len(re.findall(r'<figure class="shot', text)) == 3
    assert all(name in text for name in ("a.jpg", "b.jpg", "c.webp")) and "x.jpg" not in text
    assert _keeper_of(page.text) == trip.keeper_photo_id
    assert '<span class="badge keep">Keep</span>' in text and trip.keeper_reason in text
    assert "identical file" in text and "copy" in text
    assert text.count("Keep this one instead") == 2
    assert "2 groups to review" in text
    # AND the tab counts the photos to review (two per group of three, one per group of two)
    assert re.search(r'Duplicates <span class="count">3</span>', text)
    # AND Next leads to the older group, which leads back with Previous
    other = _group(groups_ui, "home/x.jpg")
    assert f'href="/groups/{other.id}?reason=duplicate"' in text
    older = groups_ui.client.get(f"/groups/{other.id}?reason=duplicate").text
    assert "x.jpg" in older and f'href="/groups/{trip.id}?reason=duplicate"' in older and "2 groups to review" in older


def test_an_undated_group_comes_after_the_dated_ones(groups_ui: UI) -> None:
    # GIVEN the two duplicate groups, the older one without a date
    trip, home = _group(groups_ui, "trip/a.jpg"), _group(groups_ui, "home/x.jpg")
    with groups_ui.sessions() as session:
        session.execute(update(PhotoGroup).where(PhotoGroup.id == home.id).values(taken_at=None))
        session.commit()
    # WHEN the user opens the Duplicates tab
    page = groups_ui.client.get("/review/duplicate").text
    # THEN the dated group is shown first, on every database (PostgreSQL sorts NULLs first in a descending order)
    assert _keeper_of(page) == trip.keeper_photo_id and "2 groups to review" in page
    # WHEN it is reviewed THEN the undated one is shown
    response = _post(groups_ui, f"/groups/{trip.id}/keep", reason="duplicate")
    page = groups_ui.client.get(response.headers["Location"], follow_redirects=True).text  # type: ignore[attr-defined]
    assert _keeper_of(page) == home.keeper_photo_id and "1 group to review" in page


def test_keep_all_decides_every_photo_of_the_group_and_undo_takes_it_back(groups_ui: UI) -> None:
    # GIVEN the newest duplicate group
    trip = _group(groups_ui, "trip/a.jpg")
    other = _group(groups_ui, "home/x.jpg")
    # WHEN the user taps Keep all
    response = _post(groups_ui, f"/groups/{trip.id}/keep", reason="duplicate")
    # THEN all three are kept, no file moves, and the next group opens with an Undo
    assert response.status_code == 302 and response.headers["Location"] == f"/groups/{other.id}?reason=duplicate"
    assert _decisions(groups_ui) == {groups_ui.photo_id(p): "keep" for p in ("trip/a.jpg", "trip/b.jpg", "trip/c.webp")}
    assert all((groups_ui.library / "trip" / n).exists() for n in ("a.jpg", "b.jpg", "c.webp"))
    page = groups_ui.client.get(response.headers["Location"]).text
    assert "Kept all 3 photos." in page and f'action="/groups/{trip.id}/undo"' in page
    assert "1 group to review" in page
    # WHEN the user taps Undo
    undo_form = page.split(f'action="/groups/{trip.id}/undo"')[1].split("</form>")[0]
    ids = re.findall(r'name="photo_id" value="(\d+)"', undo_form)
    assert len(ids) == 3
    undone = groups_ui.client.post(f"/groups/{trip.id}/undo", data={"csrf_token": groups_ui.csrf(), "photo_id": ids})
    # THEN the decisions are gone and the group is back in the queue
    assert undone.status_code == 302
    assert _decisions(groups_ui) == {}
    assert "2 groups to review" in groups_ui.client.get("/review/duplicate").text


def test_trash_the_others_trashes_all_but_the_keeper(groups_ui: UI) -> None:
    # GIVEN the only group left (the newer one kept already)
    trip = _group(groups_ui, "trip/a.jpg")
    groups_ui.app.extensions["piccl"].reviewer.decide([groups_ui.photo_id(p) for p in ("trip/a.jpg", "trip/b.jpg",
                                                                                         "trip/c.webp")], "keep")
    home = _group(groups_ui, "home/x.jpg")
    with groups_ui.sessions() as session:
        keeper = session.get(Photo, home.keeper_photo_id)
        assert keeper is not None
        keeper_path, other_path = keeper.relpath, ({"home/x.jpg", "home/y.jpg"} - {keeper.relpath}).pop()
    keeper_id, other_id = groups_ui.photo_id(keeper_path), groups_ui.photo_id(other_path)
    # WHEN the user taps Trash the others
    response = _post(groups_ui, f"/groups/{home.id}/trash-others", reason="duplicate")
    # THEN the other copy moves to the trash folder, the keeper stays and is kept, and the tab is empty
    assert response.headers["Location"] == "/review/duplicate"
    assert not (groups_ui.library / other_path).exists()
    assert (groups_ui.library / ".piccl-trash" / other_path).exists()
    assert (groups_ui.library / keeper_path).exists()
    assert _decisions(groups_ui)[keeper_id] == "keep" and _decisions(groups_ui)[other_id] == "trash"
    page = groups_ui.client.get("/review/duplicate").text
    assert "No duplicates to review." in page and "trashed 1 other" in page
    assert trip.id != home.id


def test_trash_the_others_refuses_when_the_keeper_is_gone(groups_ui: UI) -> None:
    # GIVEN a group whose keeper was trashed from its photo page
    home = _group(groups_ui, "home/x.jpg")
    assert home.keeper_photo_id is not None
    groups_ui.app.extensions["piccl"].reviewer.decide([home.keeper_photo_id], "trash")
    # WHEN the user taps Trash the others
    response = _post(groups_ui, f"/groups/{home.id}/trash-others", reason="duplicate")
    # THEN nothing more is trashed and a message says to choose another keeper (no error page)
    assert response.status_code == 302
    page = groups_ui.client.get(response.headers["Location"]).text
    assert "Not done: the photo to keep is no longer in the library" in html.unescape(page)
    assert list(_decisions(groups_ui).values()) == ["trash"]


def test_choosing_another_keeper_persists_across_regrouping(groups_ui: UI) -> None:
    # GIVEN the trip group, whose keeper piccl chose
    trip = _group(groups_ui, "trip/a.jpg")
    webp = groups_ui.photo_id("trip/c.webp")
    assert trip.keeper_photo_id != webp and trip.keeper_by == "auto"
    # WHEN the user taps "Keep this one instead" under the WebP
    response = _post(groups_ui, f"/groups/{trip.id}/keeper", photo_id=str(webp), reason="duplicate")
    # THEN the group page marks it as the keeper, by the user's choice
    assert response.headers["Location"] == f"/groups/{trip.id}?reason=duplicate"
    page = html.unescape(groups_ui.client.get(response.headers["Location"]).text)
    assert _keeper_of(page) == webp and "your choice" in page and "You keep c.webp now" in page
    # AND the other two are recommended for deletion in favour of it
    with groups_ui.sessions() as session:
        keep_ids = set(session.scalars(select(Recommendation.keep_photo_id).where(
            Recommendation.photo_id.in_([groups_ui.photo_id("trip/a.jpg"), groups_ui.photo_id("trip/b.jpg")]))))
    assert keep_ids == {webp}
    # WHEN piccl groups the library again
    group_photos(groups_ui.sessions, groups_ui.settings.similar)
    # THEN the user's keeper stays
    again = _group(groups_ui, "trip/a.jpg")
    assert again.id == trip.id and again.keeper_photo_id == webp and again.keeper_by == "user"
    # WHEN the user gives the choice back to piccl
    _post(groups_ui, f"/groups/{trip.id}/keeper", photo_id="", reason="duplicate")
    # THEN piccl's keeper is back
    back = _group(groups_ui, "trip/a.jpg")
    assert back.keeper_by == "auto" and back.keeper_photo_id == trip.keeper_photo_id


def test_a_keeper_from_outside_the_group_is_refused_with_a_message(groups_ui: UI) -> None:
    # GIVEN the trip group and a photo of another group
    trip = _group(groups_ui, "trip/a.jpg")
    # WHEN a form asks to keep the other group's photo in this one
    response = _post(groups_ui, f"/groups/{trip.id}/keeper", photo_id=str(groups_ui.photo_id("home/x.jpg")))
    # THEN it is refused with a message, not an error page, and the keeper is unchanged
    assert response.status_code == 302
    assert "Not done:" in groups_ui.client.get(response.headers["Location"]).text
    assert _group(groups_ui, "trip/a.jpg").keeper_photo_id == trip.keeper_photo_id
    with pytest.raises(GroupError):
        set_keeper(groups_ui.sessions, trip.id, groups_ui.photo_id("home/x.jpg"))
    # AND a group that is not there is a 404
    assert groups_ui.client.get("/groups/999").status_code == 404


def test_make_gif_saves_a_gif_and_a_webp_in_the_library_and_never_overwrites(groups_ui: UI) -> None:
    # GIVEN the trip group
    trip = _group(groups_ui, "trip/a.jpg")
    folder = groups_ui.library / "piccl-gifs"
    # WHEN the user taps Make GIF twice
    first = _post(groups_ui, f"/groups/{trip.id}/gif", reason="duplicate")
    page = html.unescape(groups_ui.client.get(first.headers["Location"]).text)
    _post(groups_ui, f"/groups/{trip.id}/gif", reason="duplicate")
    # THEN a GIF and a WebP of three frames are saved each time, under new names, and the page says where
    gifs, webps = sorted(folder.glob("*.gif")), sorted(folder.glob("*.webp"))
    assert len(gifs) == 2 and len(webps) == 2
    assert re.search(r"Saved piccl-gifs/\S+\.gif and piccl-gifs/\S+\.webp \(3 frames\)\.", page)
    assert gifs[0].read_bytes()[:6] in (b"GIF87a", b"GIF89a") and webps[0].read_bytes()[8:12] == b"WEBP"
    # AND the photos themselves are untouched and still to review
    assert _decisions(groups_ui) == {}


def test_a_gif_that_cannot_be_made_is_a_message(groups_ui: UI) -> None:
    # GIVEN a group of two whose second file has become unreadable
    home = _group(groups_ui, "home/x.jpg")
    (groups_ui.library / "home" / "y.jpg").write_bytes(b"not a jpeg")
    # WHEN the user taps Make GIF
    response = _post(groups_ui, f"/groups/{home.id}/gif", reason="duplicate")
    # THEN the page says why, and no file is written
    assert response.status_code == 302
    assert "Not done: an animation needs at least two readable photos" in groups_ui.client.get(
        response.headers["Location"]).text
    assert not list((groups_ui.library / "piccl-gifs").glob("*.gif"))


def test_a_gif_from_a_selection_through_the_api(groups_ui: UI) -> None:
    # GIVEN any photos the user selected in a grid
    ids = [groups_ui.photo_id("alone.jpg"), groups_ui.photo_id("home/x.jpg")]
    # WHEN the grid's GIF button posts them
    made = groups_ui.post_json("/api/gif", {"photo_ids": ids})
    # THEN a GIF and a WebP are saved in the library and the answer says where
    assert made.status_code == 200, made.text
    assert made.json["frames"] == 2 and all((groups_ui.library / p).is_file() for p in made.json["paths"])
    assert made.json["message"].startswith("Saved piccl-gifs/")
    # AND one photo is not an animation: the answer says so
    one = groups_ui.post_json("/api/gif", {"photo_ids": ids[:1]})
    assert one.status_code == 400 and "at least two" in one.json["message"]


def test_state_changes_need_the_csrf_token_and_pages_the_login(groups_ui: UI) -> None:
    trip = _group(groups_ui, "trip/a.jpg")
    # WHEN a form comes without the token THEN it is refused and nothing happens
    for action in ("keep", "trash-others", "keeper", "gif"):
        response = groups_ui.client.post(f"/groups/{trip.id}/{action}", data={"photo_id": "1"})
        assert response.status_code == 400, action
    assert groups_ui.client.post("/api/gif", json={"photo_ids": [1, 2]}).status_code == 400
    assert _decisions(groups_ui) == {} and not (groups_ui.library / "piccl-gifs").exists()
    # WHEN someone not logged in opens a group THEN they are sent to the login
    stranger = groups_ui.app.test_client()
    for url in (f"/groups/{trip.id}", "/review/duplicate", "/review/similar"):
        response = stranger.get(url)
        assert response.status_code == 302 and "/login" in response.headers["Location"], url


def test_the_photo_page_names_the_group_and_its_keeper(groups_ui: UI) -> None:
    # GIVEN a copy in the trip group
    trip = _group(groups_ui, "trip/a.jpg")
    with groups_ui.sessions() as session:
        keeper = session.get(Photo, trip.keeper_photo_id)
        assert keeper is not None
        keeper_name = keeper.relpath.rpartition("/")[2]
        copy = session.scalar(select(PhotoGroupMember.photo_id).where(
            PhotoGroupMember.group_id == trip.id, PhotoGroupMember.relation == "copy"))
    # WHEN the user opens its photo page
    page = html.unescape(groups_ui.client.get(f"/photos/{copy}").text)
    # THEN a line names the group and the photo piccl keeps, and leads to the group
    assert "In a group of 3 (duplicates):" in page
    assert f"keep {keeper_name} — {trip.keeper_reason}" in page
    assert f'href="/groups/{trip.id}?reason=duplicate"' in page
    # AND a photo in no group has no such line
    assert "In a group of" not in groups_ui.client.get(f"/photos/{groups_ui.photo_id('alone.jpg')}").text


def test_the_similar_tab_shows_similar_shots_or_says_there_are_none(groups_ui: UI) -> None:
    # GIVEN no similar shots (copies only)
    # WHEN the user opens the Similar tab THEN it says so, and the old placeholder is gone
    page = groups_ui.client.get("/review/similar").text
    assert "No similar photos to review." in page and "later release" not in page
    # GIVEN a burst of two (written as grouping writes one: piccl keeps one, recommends the other)
    keep, other = groups_ui.photo_id("alone.jpg"), groups_ui.photo_id("home/x.jpg")
    with groups_ui.sessions() as session:
        session.execute(Recommendation.__table__.delete().where(Recommendation.photo_id.in_([keep, other])))
        for member in session.scalars(select(PhotoGroupMember).where(PhotoGroupMember.photo_id == other)):
            session.delete(member)
        group = PhotoGroup(kind="similar", method="default", keeper_photo_id=keep, keeper_reason="sharpest",
                           keeper_by="auto", size=2)
        session.add(group)
        session.flush()
        session.add_all([PhotoGroupMember(group_id=group.id, photo_id=keep, relation="keeper"),
                         PhotoGroupMember(group_id=group.id, photo_id=other, relation="similar"),
                         Recommendation(photo_id=other, reason="similar", severity=1.0, keep_photo_id=keep,
                                        evidence={"group_id": group.id, "relation": "similar"})])
        session.commit()
    # WHEN the user opens the Similar tab
    page = html.unescape(groups_ui.client.get("/review/similar").text)
    # THEN the burst shows, the sharpest marked Keep, the other as a similar shot
    assert "2 similar shots" in page and "sharpest" in page and "similar shot" in page
    assert _keeper_of(page) == keep
    assert re.search(r'class="on[^"]*"\s+data-reason="similar"', page)


def test_a_decision_on_a_page_shown_before_the_group_changed_touches_nothing_unseen(groups_ui: UI) -> None:
    # GIVEN the page showed the group with its keeper, then piccl chose another keeper (regrouped meanwhile)
    home = _group(groups_ui, "home/x.jpg")
    other = next(m.photo_id for m in home.members if m.photo_id != home.keeper_photo_id)
    shown = {"keeper_id": str(home.keeper_photo_id), "shown": [str(m.photo_id) for m in home.members]}
    set_keeper(groups_ui.sessions, home.id, other)
    # WHEN the user taps Trash the others on that page
    response = _post(groups_ui, f"/groups/{home.id}/trash-others", reason="duplicate", **shown)
    # THEN nothing is trashed and the page says to look again
    assert response.status_code == 302
    page = groups_ui.client.get(response.headers["Location"]).text
    assert "this group changed since the page was shown" in html.unescape(page)
    assert _decisions(groups_ui) == {}
    # AND a photo that joined after the page was shown is not trashed with the others
    response = _post(groups_ui, f"/groups/{home.id}/trash-others", reason="duplicate", keeper_id=str(other),
                     shown=[str(other)])
    assert "Not done: no other photo of this group is left to trash" in html.unescape(
        groups_ui.client.get(response.headers["Location"]).text)
    assert _decisions(groups_ui) == {}
