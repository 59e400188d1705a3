"""The Places and Events pages, and a photo's place and event on its page."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from plugin.places.service import compute_events
from plugin.store.models import Event, Photo
from tests.conftest import PhotoFactory
from tests.webui.conftest import UI, more_url, tile_ids, walk_grid

PARIS = {1: "N", 2: (48.0, 51.0, 24.0), 3: "E", 4: (2.0, 21.0, 7.0)}
LISBON = {1: "N", 2: (38.0, 42.0, 50.0), 3: "W", 4: (9.0, 8.0, 22.0)}
T0 = datetime(2023, 8, 12, 9, 0)


def dated(when: datetime) -> dict[int, str]:
    return {0x9003: when.strftime("%Y:%m:%d %H:%M:%S")}


@pytest.fixture
def library(tmp_path: Path, make_photo: PhotoFactory) -> Path:
    """A day in Paris (two photos), a week later one in Lisbon, and one photo without GPS or camera date."""
    lib = tmp_path / "lib"
    make_photo(lib / "paris1.jpg", 640, 480, gps=PARIS, exif_ifd=dated(T0))
    make_photo(lib / "paris2.jpg", 640, 480, seed=2, gps=PARIS, exif_ifd=dated(T0 + timedelta(hours=2)))
    make_photo(lib / "lisbon.jpg", 640, 480, seed=3, gps=LISBON, exif_ifd=dated(T0 + timedelta(days=7)))
    make_photo(lib / "plain.jpg", 640, 480, seed=4)
    return lib


@pytest.fixture
def places_ui(make_ui: Callable[..., UI], tmp_path: Path) -> UI:
    empty = tmp_path / "no-models"
    empty.mkdir()
    ui = make_ui(ui={"page_size": 10}, models_dir=empty, inference={"download": False})
    compute_events(ui.sessions, ui.settings.places)  # what `piccl scan` and the watcher do after a scan
    assert ui.login().status_code == 302
    return ui


def _links(page: str) -> dict[str, str]:
    """Card title -> its link."""
    cards = re.findall(r'<figure class="tile person-card place-card">(.*?)</figure>', page, re.S)
    return {html.unescape(re.search(r'<figcaption title="([^"]+)"', card).group(1)):  # type: ignore[union-attr]
            html.unescape(re.search(r'<a href="([^"]+)"', card).group(1)) for card in cards}  # type: ignore[union-attr]


def test_places_go_from_countries_to_cities_to_a_citys_photos(places_ui: UI) -> None:
    ui = places_ui
    # WHEN the Places page is opened
    page = ui.client.get("/places/")
    # THEN it lists the countries, the one with the most photos first, each with its count and a cover photo
    assert page.status_code == 200
    assert list(_links(page.text)) == ["France", "Portugal"]
    assert "2 photos" in page.text and "1 photo<" in page.text
    covers = re.findall(r'<figure class="tile person-card place-card">\s*<a href="[^"]+">\s*<img src=', page.text)
    assert len(covers) == 2
    # WHEN France is opened, then Paris
    france = ui.client.get(_links(page.text)["France"])
    assert france.status_code == 200 and list(_links(france.text)) == ["Paris, Île-de-France"]
    paris = ui.client.get(_links(france.text)["Paris, Île-de-France"])
    # THEN Paris shows its two photos, newest first
    assert paris.status_code == 200 and "Île-de-France" in paris.text
    assert tile_ids(paris.text) == [ui.photo_id("paris2.jpg"), ui.photo_id("paris1.jpg")]
    # AND places nobody has been to are not found
    assert ui.client.get("/places/XX/").status_code == 404
    assert ui.client.get("/places/FR/city?name=Lyon&region=Auvergne-Rh%C3%B4ne-Alpes").status_code == 404
    assert ui.client.get("/places/FRA/").status_code == 404


def test_a_citys_grid_pages_through_all_its_photos_newest_first(places_ui: UI) -> None:
    ui = places_ui
    # GIVEN 25 more photos in Lisbon (rows only: their thumbnails are placeholders)
    with ui.sessions() as session:
        extra = [Photo(library_id=1, relpath=f"more/p{i:02d}.jpg", size=1, mtime_ns=1, status="ok",
                       content_hash=f"{i:064x}", taken_at=datetime(2024, 1, 1) + timedelta(hours=i // 2),
                       taken_at_source="exif", place_country_code="PT", place_country="Portugal",
                       place_region="Lisbon", place_city="Lisbon") for i in range(25)]
        session.add_all(extra)
        session.commit()
        extra_ids = [p.id for p in extra]
    # WHEN its grid is walked page by page (10 a page)
    ids = walk_grid(ui, "/places/PT/city?name=Lisbon&region=Lisbon")
    # THEN every photo comes once, newest first (ties by id, newest first too)
    newest_first = sorted(extra_ids, key=lambda pid: (-(extra_ids.index(pid) // 2), -pid))
    assert ids == [*newest_first, ui.photo_id("lisbon.jpg")]


def test_events_are_listed_newest_first_and_each_shows_its_photos(places_ui: UI) -> None:
    ui = places_ui
    # WHEN the Events page is opened
    page = ui.client.get("/events/")
    # THEN the week in Lisbon comes before the day in Paris; the photo without a date is in no event
    assert page.status_code == 200
    links = _links(page.text)
    assert list(links) == ["19 Aug 2023, Lisbon", "12 Aug 2023, Paris"]
    # (each card in two short lines a phone shows whole: the place, then the dates)
    assert '<b>Paris</b></a><br><span class="muted">12 Aug 2023</span>' in page.text
    # AND an event's page shows its photos in the order they were taken
    paris = ui.client.get(links["12 Aug 2023, Paris"])
    assert paris.status_code == 200 and "12 Aug 2023, Paris" in paris.text
    assert tile_ids(paris.text) == [ui.photo_id("paris1.jpg"), ui.photo_id("paris2.jpg")]
    assert ui.client.get("/events/999999").status_code == 404


def test_the_event_list_pages_through_many_events(places_ui: UI) -> None:
    ui = places_ui
    # GIVEN 23 more days with a photo each
    with ui.sessions() as session:
        session.add_all([Photo(library_id=1, relpath=f"days/d{i:02d}.jpg", size=1, mtime_ns=1, status="ok",
                               content_hash=f"{i:064x}", taken_at=datetime(2022, 1, 1) + timedelta(days=i),
                               taken_at_source="exif") for i in range(23)])
        session.commit()
    compute_events(ui.sessions, ui.settings.places)
    # WHEN the list is scrolled to its end
    response = ui.client.get("/events/")
    titles, more = list(_links(response.text)), more_url(response.text)
    while more:
        response = ui.client.get(more)
        assert response.status_code == 200 and "<html" not in response.text
        titles, more = titles + list(_links(response.text)), more_url(response.text)
    # THEN every event comes once, newest first
    assert len(titles) == 25 and titles[:2] == ["19 Aug 2023, Lisbon", "12 Aug 2023, Paris"]
    assert titles[2] == "23 Jan 2022" and titles[-1] == "1 Jan 2022"
    # (an event without a place: its date, then its hour)
    assert '<b>1 Jan 2022</b></a><br><span class="muted">00:00</span>' in response.text


def test_a_photos_page_says_where_it_was_taken_and_its_event(places_ui: UI) -> None:
    ui = places_ui
    # WHEN a photo taken in Paris is opened
    page = ui.client.get(f"/photos/{ui.photo_id('paris1.jpg')}")
    # THEN it names its city, region and country, linking to the city, and its event, linking to the event
    assert page.status_code == 200
    where = re.search(r'<dt>Where</dt><dd><a href="([^"]+)">([^<]+)</a>', page.text)
    assert where is not None and html.unescape(where.group(2)) == "Paris, Île-de-France, France"
    assert ui.client.get(html.unescape(where.group(1))).status_code == 200
    event = re.search(r'<dt>Event</dt><dd><a href="(/events/\d+)">([^<]+)</a>', page.text)
    assert event is not None and event.group(2) == "12 Aug 2023, Paris"
    # AND a photo without GPS or camera date shows neither
    plain = ui.client.get(f"/photos/{ui.photo_id('plain.jpg')}")
    assert "<dt>Where</dt>" not in plain.text and "<dt>Event</dt>" not in plain.text


def test_places_and_events_need_the_login(make_ui: Callable[..., UI], tmp_path: Path) -> None:
    empty = tmp_path / "no-models"
    empty.mkdir()
    ui = make_ui(models_dir=empty, inference={"download": False})
    for url in ("/places/", "/places/FR/", "/events/"):
        response = ui.client.get(url)
        assert response.status_code == 302 and "/login" in response.headers["Location"], url


def test_an_event_card_leaves_out_a_trashed_photo_at_once(places_ui: UI) -> None:
    # GIVEN an event listed with its photos
    page = places_ui.client.get("/events/").text
    match = re.search(r'href="/events/(\d+)"', page)
    assert match
    event_id = int(match.group(1))
    with places_ui.sessions() as session:
        photos = session.scalars(select(Photo).where(Photo.event_id == event_id)).all()
        cover = session.get(Event, event_id).cover_photo_id
        before = len(photos)
    # WHEN its cover photo is trashed (events are recomputed only on the next schedule)
    assert places_ui.post_json("/api/decisions", {"photo_ids": [cover], "decision": "trash"}).status_code == 200
    page = places_ui.client.get("/events/").text
    # THEN the card counts one photo fewer and shows another cover
    assert f"/photos/{cover}/thumb" not in page or before == 1
    if before > 1:
        assert f"{before - 1} photo" in page
