"""Albums and favourites in the UI: the Albums page, making, filling (from a photo's page and from any grid's
selection), renaming, emptying and deleting an album; the heart; double taps; CSRF."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from plugin.store.models import Album, AlbumPhoto, Favorite, Photo
from tests.webui.conftest import UI, tile_ids, walk_grid


def _flashes(page: str) -> list[str]:
    return [html.unescape(m) for m in re.findall(r'<p class="flash[^"]*">([^<]*)</p>', page)]


def _form(ui: UI, url: str, **data: Any) -> Any:
    return ui.client.post(url, data={"csrf_token": ui.csrf(), **data}, follow_redirects=True)


def _album_id(ui: UI, name: str) -> int:
    with ui.sessions() as session:
        found = session.scalar(select(Album.id).where(Album.name == name))
        assert found is not None, name
        return found


def _members(ui: UI, album_id: int) -> set[int]:
    with ui.sessions() as session:
        return set(session.scalars(select(AlbumPhoto.photo_id).where(AlbumPhoto.album_id == album_id)))


def _count(ui: UI, model: Any) -> int:
    with ui.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_the_albums_page_starts_with_favourites_and_makes_an_album_once(logged_in: UI) -> None:
    ui = logged_in
    # GIVEN no albums yet
    page = ui.client.get("/albums/")
    # THEN the Albums page shows Favourites first, a field for a new album, and how to fill one
    assert page.status_code == 200
    assert re.search(r'data-album="favourites".*?Favourites', page.text, re.S)
    assert 'aria-label="New album name"' in page.text and "No albums yet" in page.text
    # WHEN the user makes an album through the form
    page = _form(ui, "/albums/", name="  Summer  2024 ")
    # THEN its page opens, tidied name and all, saying how to add photos
    album_id = _album_id(ui, "Summer 2024")
    assert page.request.path == f"/albums/{album_id}"
    assert any("Made the album Summer 2024" in f for f in _flashes(page.text))
    assert "No photos in Summer 2024 yet" in page.text
    # WHEN the form is sent again, in other capitals (a double tap, or a name used already)
    page = _form(ui, "/albums/", name="summer 2024")
    # THEN no second album is made: the one of that name opens
    assert page.request.path == f"/albums/{album_id}" and _count(ui, Album) == 1
    assert any("already" in f for f in _flashes(page.text))
    # WHEN the name is empty or the hearts' own
    for bad in ("   ", "Favourites"):
        page = _form(ui, "/albums/", name=bad)
        # THEN nothing is made and the page says why
        assert page.request.path == "/albums/" and any(f.startswith("No album made") for f in _flashes(page.text))
    assert _count(ui, Album) == 1
    # AND the Albums page lists it after Favourites, with its count
    page = ui.client.get("/albums/").text
    assert page.index('data-album="favourites"') < page.index(f'data-album="{album_id}"')
    assert re.search(rf'data-album="{album_id}".*?0 photos.*?Summer 2024', page, re.S)


def test_a_photo_page_adds_to_a_new_or_an_existing_album_and_hearts_it(logged_in: UI) -> None:
    ui = logged_in
    sharp, dark = ui.photo_id("2024/sharp.jpg"), ui.photo_id("2023/dark.jpg")
    # GIVEN a photo's page (opened from the Blurry queue)
    page = ui.client.get(f"/photos/{sharp}?reason=blurry")
    # THEN it has the heart (off) and "Add to album" with a field for a new album (no album to choose yet)
    assert 'aria-pressed="false"' in page.text and "Add to album" in page.text
    assert 'name="album_id"' not in page.text
    # WHEN the user names a new album there, twice (a double tap)
    first = _form(ui, f"/albums/photo/{sharp}/add", name="Garden", reason="blurry")
    second = _form(ui, f"/albums/photo/{sharp}/add", name="garden", reason="blurry")
    # THEN one album is made with the photo in it, and the photo's page (in its queue) comes back
    garden = _album_id(ui, "Garden")
    assert _members(ui, garden) == {sharp} and _count(ui, Album) == 1
    assert first.request.path == f"/photos/{sharp}" and first.request.args.get("reason") == "blurry"
    assert "Made the album Garden with this photo." in _flashes(first.text)
    assert "Already in Garden." in _flashes(second.text)
    # AND the page names the album the photo is in
    assert re.search(rf'class="album-line">In:.*?href="/albums/{garden}">Garden<', second.text, re.S)
    # WHEN another photo is added to the existing album by choosing it
    page = ui.client.get(f"/photos/{dark}")
    assert re.search(rf'<option value="{garden}">Garden</option>', page.text)
    page = _form(ui, f"/albums/photo/{dark}/add", album_id=str(garden))
    # THEN it is in the album too
    assert "Added to Garden." in _flashes(page.text) and _members(ui, garden) == {sharp, dark}

    # WHEN the user taps the heart, twice (the form says "heart it", not "toggle")
    for _ in range(2):
        page = _form(ui, f"/albums/photo/{sharp}/favorite", favorite="1", reason="blurry")
    # THEN the photo is hearted once, its page shows the heart on, and Favourites shows it
    assert _count(ui, Favorite) == 1 and 'aria-pressed="true"' in page.text
    assert 'href="/albums/favourites">♥ Favourites</a>' in page.text
    assert walk_grid(ui, "/albums/favourites") == [sharp]
    assert re.search(r'data-album="favourites".*?1 photo<', ui.client.get("/albums/").text, re.S)
    # WHEN the heart is taken off
    _form(ui, f"/albums/photo/{sharp}/favorite", favorite="0")
    # THEN Favourites is empty again
    assert _count(ui, Favorite) == 0 and "No favourites yet" in ui.client.get("/albums/favourites").text
    # AND a form that says neither is refused
    assert _form(ui, f"/albums/photo/{sharp}/favorite", favorite="toggle").status_code == 400


def test_the_grids_selection_adds_to_an_album_through_json(logged_in: UI) -> None:
    ui = logged_in
    ids = [ui.photo_id(p) for p in ("2024/sharp.jpg", "2024/blurry.jpg", "2024/shaky.jpg")]
    # GIVEN any grid of photos: its tiles can be selected (the review grid's and the library's alike)
    for url in ("/review/blurry", "/library/1/folders?folder=2024"):
        page = ui.client.get(url, follow_redirects=True)
        assert page.status_code == 200 and page.text.count('class="pick"') >= 2, url
    # WHEN two selected photos go to a new album by name (as the selection bar's chooser sends it), twice
    made = ui.post_json("/api/albums", {"name": "Picks", "photo_ids": ids[:2]})
    again = ui.post_json("/api/albums", {"name": "picks", "photo_ids": ids[:2]})
    # THEN one album holds them, and the answers say what happened
    assert made.status_code == 200 and again.status_code == 200
    album = made.json["album"]
    assert made.json["created"] is True and made.json["added"] == ids[:2]
    assert made.json["message"] == "Added 2 photos to Picks."
    assert again.json["created"] is False and again.json["album"]["id"] == album["id"]
    assert again.json["added"] == [] and again.json["already"] == ids[:2]
    assert _members(ui, album["id"]) == set(ids[:2])
    # WHEN a third is added to it from another grid's selection, with a photo that is not there
    added = ui.post_json(f"/api/albums/{album['id']}/add", {"photo_ids": [ids[2], ids[0], 9999]})
    assert added.json["added"] == [ids[2]] and added.json["already"] == [ids[0]]
    assert added.json["skipped"] == {"9999": "not_found"}
    assert "(1 already there, 1 not in the library)" in added.json["message"]
    # THEN the chooser's list has the album on top with its count, and the album's grid shows all three
    listed = ui.client.get("/api/albums").json
    assert listed["albums"][0] == {**album, "count": 3} and listed["favorites"]["count"] == 0
    assert sorted(walk_grid(ui, album["url"])) == sorted(ids)
    # AND bad requests are refused with a reason
    assert ui.post_json("/api/albums", {"name": "", "photo_ids": ids}).json["error"] == "name_empty"
    assert ui.post_json("/api/albums/999/add", {"photo_ids": ids}).status_code == 404
    assert ui.post_json(f"/api/albums/{album['id']}/add", {"photo_ids": []}).status_code == 400
    assert ui.post_json("/api/favorites", {"photo_ids": ids, "favorite": "yes"}).status_code == 400
    # AND hearts come from the selection too
    hearted = ui.post_json("/api/favorites", {"photo_ids": ids[:2], "favorite": True}).json
    assert hearted["changed"] == ids[:2] and hearted["message"] == "Added 2 photos to Favourites."


def test_an_album_is_renamed_emptied_and_deleted_without_touching_a_photo(make_ui: Callable[..., UI]) -> None:
    ui = make_ui(ui={"page_size": 10})
    assert ui.login().status_code == 302
    ids = [ui.photo_id(p) for p in ("2024/sharp.jpg", "2024/blurry.jpg", "2024/shaky.jpg", "2023/dark.jpg")]
    with ui.sessions() as session:  # and ten more photo rows (no files: their thumbnails are placeholders)
        extra = [Photo(library_id=1, relpath=f"more/p{i}.jpg", size=1, mtime_ns=1, status="ok",
                       content_hash=f"{i:064x}", taken_at=datetime(2001, 1, 1) + timedelta(days=i) if i % 3 else None)
                 for i in range(10)]
        session.add_all(extra)
        session.commit()
        ids += [p.id for p in extra]
        taken = {pid: t for pid, t in session.execute(select(Photo.id, Photo.taken_at).where(Photo.id.in_(ids)))}
    # GIVEN an album of fourteen photos
    album = ui.post_json("/api/albums", {"name": "Trip", "photo_ids": ids}).json["album"]
    ui.post_json("/api/albums", {"name": "Kids"})
    # THEN its page pages through all of them, newest taken first (undated last), ten at a time
    page = ui.client.get(album["url"])
    assert 'id="album-count">14<' in page.text and len(tile_ids(page.text)) == 10
    newest_first = sorted(ids, key=lambda pid: (taken[pid] is not None, taken[pid] or datetime.min, pid), reverse=True)
    assert walk_grid(ui, album["url"]) == newest_first
    # AND its selection bar takes photos out of this album
    assert f'data-album-id="{album["id"]}"' in page.text and 'data-bulk="remove"' in page.text

    # WHEN it is renamed to a name another album has (in lower case): refused
    page = _form(ui, f"/albums/{album['id']}/rename", name="kids")
    assert any("Not renamed: there is already an album called" in f for f in _flashes(page.text))
    # WHEN it is renamed properly, twice
    page = _form(ui, f"/albums/{album['id']}/rename", name="Lisbon 2024")
    assert "Renamed Trip to Lisbon 2024." in _flashes(page.text)
    page = _form(ui, f"/albums/{album['id']}/rename", name="Lisbon 2024")
    assert page.status_code == 200 and _album_id(ui, "Lisbon 2024") == album["id"]

    # WHEN two selected photos are taken out (as the selection bar sends it), twice
    removed = ui.post_json(f"/api/albums/{album['id']}/remove", {"photo_ids": ids[:2]})
    again = ui.post_json(f"/api/albums/{album['id']}/remove", {"photo_ids": ids[:2]})
    # THEN they leave the album only
    assert removed.json["removed"] == ids[:2] and again.json["removed"] == [] and again.json["not_in"] == ids[:2]
    assert removed.json["message"] == "Took 2 photos out of Lisbon 2024."
    assert _members(ui, album["id"]) == set(ids[2:]) and _count(ui, Photo) == 14

    # WHEN the user asks to delete the album
    page = ui.client.get(f"/albums/{album['id']}/delete")
    # THEN a confirmation says the photos stay
    assert "Delete the album Lisbon 2024?" in page.text and "12 photos stay in the library" in page.text
    # WHEN the deletion comes without the confirmation: nothing is deleted
    page = _form(ui, f"/albums/{album['id']}/delete")
    assert any("not confirmed" in f for f in _flashes(page.text)) and _count(ui, Album) == 2
    # WHEN it is confirmed, twice (a double tap)
    page = _form(ui, f"/albums/{album['id']}/delete", confirm="delete")
    again_page = _form(ui, f"/albums/{album['id']}/delete", confirm="delete")
    # THEN the album is gone, both land on the Albums page, and every photo and file is still there
    assert "Deleted the album Lisbon 2024. Its photos are still in the library." in _flashes(page.text)
    assert again_page.status_code == 200 and again_page.request.path == "/albums/"
    assert _count(ui, Album) == 1 and _count(ui, AlbumPhoto) == 0 and _count(ui, Photo) == 14
    assert all((ui.library / p).is_file() for p in ("2024/sharp.jpg", "2024/blurry.jpg", "2024/shaky.jpg"))
    assert ui.client.get(album["url"]).status_code == 404


def test_an_album_shows_only_photos_in_the_library_and_a_trashed_photo_page_offers_no_album(logged_in: UI) -> None:
    ui = logged_in
    sharp, dark = ui.photo_id("2024/sharp.jpg"), ui.photo_id("2023/dark.jpg")
    album = ui.post_json("/api/albums", {"name": "Mixed", "photo_ids": [sharp, dark]}).json["album"]
    # WHEN one of its photos is trashed from the review
    assert ui.post_json("/api/decisions", {"photo_ids": [dark], "decision": "trash"}).json["done"] == [dark]
    # THEN the album shows the other only, but keeps the trashed one for when it is restored
    assert walk_grid(ui, album["url"]) == [sharp] and _members(ui, album["id"]) == {sharp, dark}
    assert re.search(rf'data-album="{album["id"]}".*?1 photo<', ui.client.get("/albums/").text, re.S)
    # AND the trashed photo's page offers no heart nor album, but still says where it belongs
    page = ui.client.get(f"/photos/{dark}").text
    assert 'id="album-bar"' not in page and f'href="/albums/{album["id"]}">Mixed<' in page
    # AND it cannot be added to an album or hearted while in the trash
    assert ui.post_json("/api/favorites", {"photo_ids": [dark]}).json["skipped"] == {str(dark): "not_in_library"}
    # WHEN it is restored (Undo)
    ui.post_json("/api/undo", {"photo_ids": [dark]})
    assert sorted(walk_grid(ui, album["url"])) == sorted([sharp, dark])


@pytest.mark.parametrize(("url", "body"), [
    ("/api/albums", {"name": "X", "photo_ids": [1]}), ("/api/albums/1/add", {"photo_ids": [1]}),
    ("/api/albums/1/remove", {"photo_ids": [1]}), ("/api/favorites", {"photo_ids": [1], "favorite": True}),
])
def test_json_changes_need_the_csrf_header(logged_in: UI, url: str, body: dict[str, Any]) -> None:
    with logged_in.sessions() as session:
        session.add(Album(name="Existing"))
        session.commit()
    response = logged_in.client.post(url, json=body)
    assert response.status_code == 400 and response.json["error"] == "csrf"
    assert _count(logged_in, AlbumPhoto) == 0 and _count(logged_in, Favorite) == 0 and _count(logged_in, Album) == 1


def test_forms_need_the_csrf_token(logged_in: UI) -> None:
    ui = logged_in
    pid = ui.photo_id("2024/sharp.jpg")
    album = ui.post_json("/api/albums", {"name": "Keep me", "photo_ids": [pid]}).json["album"]
    for url, data in (("/albums/", {"name": "New"}), (f"/albums/{album['id']}/rename", {"name": "Other"}),
                      (f"/albums/{album['id']}/delete", {"confirm": "delete"}),
                      (f"/albums/photo/{pid}/favorite", {"favorite": "1"}),
                      (f"/albums/photo/{pid}/add", {"name": "Another"})):
        assert ui.client.post(url, data=data).status_code == 400, url
    with ui.sessions() as session:
        assert session.scalars(select(Album.name)).all() == ["Keep me"]
        assert session.get(Photo, pid) is not None and session.scalar(select(func.count(Favorite.photo_id))) == 0
