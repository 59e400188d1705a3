"""Places and events in the store: the scan's geocoding, recomputed events that keep their ids, the CLI, export
and the XMP sidecar's place.

The event tests run on SQLite and, where PICCL_TEST_POSTGRES_URL is set (.ci/run sets it), on PostgreSQL: the
writes are ORM bulk updates by primary key and a unique key that rows may swap.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, selectinload, sessionmaker

from plugin.cli import cli
from plugin.config import PlaceSettings, Settings
from plugin.places.service import assign_places, compute_events, events_needed
from plugin.scan import Scanner
from plugin.store.db import open_database
from plugin.store.models import Event, Face, Library, Photo, Recommendation
from plugin.writeback.content import sidecar_content
from tests.conftest import PhotoFactory, store_on

PARIS = {1: "N", 2: (48.0, 51.0, 24.0), 3: "E", 4: (2.0, 21.0, 7.0)}
LISBON = {1: "N", 2: (38.0, 42.0, 50.0), 3: "W", 4: (9.0, 8.0, 22.0)}
T0 = datetime(2023, 8, 12, 9, 0)


def dated(when: datetime) -> dict[int, str]:
    return {0x9003: when.strftime("%Y:%m:%d %H:%M:%S")}


def settings_of(tmp_path: Path, library: Path) -> Settings:
    empty = tmp_path / "no-models"
    empty.mkdir(exist_ok=True)
    return Settings(library=[library], data_dir=tmp_path / "data", workers={"kind": "thread", "count": 2},
                    models_dir=empty, inference={"download": False})


def photo_rows(sessions: sessionmaker[Session]) -> dict[str, Photo]:
    with sessions() as session:
        return {p.relpath: p for p in session.scalars(select(Photo))}


def test_a_scan_places_its_photos_and_a_rescan_with_new_gps_places_them_again(
        tmp_path: Path, make_photo: PhotoFactory) -> None:
    # GIVEN a photo taken in Paris and one without GPS
    library = tmp_path / "lib"
    make_photo(library / "a.jpg", 640, 480, gps=PARIS, exif_ifd=dated(T0))
    make_photo(library / "b.jpg", 640, 480, seed=2, exif_ifd=dated(T0 + timedelta(hours=1)))
    settings = settings_of(tmp_path, library)
    sessions = open_database(settings.resolved_database_url)
    # WHEN the library is scanned
    Scanner(settings, sessions).scan(library)
    rows = photo_rows(sessions)
    # THEN the Paris photo is in Paris, the other has no place (but is not looked at again)
    a, b = rows["a.jpg"], rows["b.jpg"]
    assert (a.place_country_code, a.place_country, a.place_region, a.place_city) == (
        "FR", "France", "Île-de-France", "Paris")
    assert b.place_country_code is None and b.place_city is None and b.place_version == a.place_version is not None
    assert assign_places(sessions, settings.places).checked == 0
    # WHEN the photo is replaced by one taken in Lisbon, and scanned again
    make_photo(library / "a.jpg", 640, 480, seed=3, gps=LISBON, exif_ifd=dated(T0))
    Scanner(settings, sessions).scan(library)
    # THEN its place follows its new GPS
    assert photo_rows(sessions)["a.jpg"].place_city == "Lisbon"
    # AND a different distance limit geocodes every photo again
    assert assign_places(sessions, PlaceSettings(max_distance_km=20)).checked == 2


def test_places_and_events_reach_the_cli_the_export_and_the_sidecar(
        tmp_path: Path, make_photo: PhotoFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a day in Paris (two photos) and, a week later, one in Lisbon, scanned from the command line
    library = tmp_path / "lib"
    make_photo(library / "p1.jpg", 640, 480, gps=PARIS, exif_ifd=dated(T0))
    make_photo(library / "p2.jpg", 640, 480, seed=2, gps=PARIS, exif_ifd=dated(T0 + timedelta(hours=3)))
    make_photo(library / "l1.jpg", 640, 480, seed=3, gps=LISBON, exif_ifd=dated(T0 + timedelta(days=7)))
    monkeypatch.setenv("PICCL_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("PICCL_WORKERS__KIND", "thread")
    monkeypatch.setenv("PICCL_MODELS_DIR", str(tmp_path / "no-models"))
    (tmp_path / "no-models").mkdir()
    runner = CliRunner()
    assert runner.invoke(cli, ["scan", str(library)]).exit_code == 0
    # WHEN the places and the events are asked for
    places = runner.invoke(cli, ["places", "--json"])
    events = runner.invoke(cli, ["events", "--json"])
    # THEN they list the countries, cities and events, the newest event first
    assert places.exit_code == 0 and events.exit_code == 0, places.output + events.output
    countries = json.loads(places.output)["countries"]
    assert [(c["country_code"], c["photos"], [(x["city"], x["photos"]) for x in c["cities"]]) for c in countries] == [
        ("FR", 2, [("Paris", 2)]), ("PT", 1, [("Lisbon", 1)])]
    listed = json.loads(events.output)["events"]
    assert [(e["name"], e["photos"]) for e in listed] == [("19 Aug 2023, Lisbon", 1), ("12 Aug 2023, Paris", 2)]
    text = runner.invoke(cli, ["places"])
    assert text.exit_code == 0 and "France (FR): 2 photos" in text.output and "Paris, Île-de-France: 2" in text.output
    # AND each export record carries its place and event
    out = tmp_path / "export.jsonl"
    assert runner.invoke(cli, ["export", "--format", "jsonl", "--output", str(out)]).exit_code == 0
    records = {Path(r["path"]).name: r for r in map(json.loads, out.read_text().splitlines())}
    assert records["p1.jpg"]["place"] == {"country": "France", "country_code": "FR", "region": "Île-de-France",
                                          "city": "Paris"}
    assert records["p1.jpg"]["event"] == {"id": listed[1]["id"], "name": "12 Aug 2023, Paris"}
    assert records["l1.jpg"]["event"]["name"] == "19 Aug 2023, Lisbon"
    # AND the XMP sidecar is to say where the photo was taken
    sessions = open_database(Settings(data_dir=tmp_path / "data").resolved_database_url)
    with sessions() as session:
        photo = session.scalars(select(Photo).where(Photo.relpath == "p1.jpg").options(
            selectinload(Photo.tags), selectinload(Photo.faces).joinedload(Face.person))).one()
        content = sidecar_content(photo)
    assert content.place is not None and (content.place.city, content.place.state, content.place.country) == (
        "Paris", "Île-de-France", "France")
    assert "Places|France|Paris" in content.hierarchical
    # AND the sidecar written says it in the fields photo apps read
    assert runner.invoke(cli, ["writeback"]).exit_code == 0
    if shutil.which("exiftool") is None:
        pytest.skip("exiftool is not installed (apt-get install libimage-exiftool-perl)")
    out = subprocess.run(["exiftool", "-json", "-City", "-State", "-Country", "-HierarchicalSubject",
                          str(library / "p1.jpg.xmp")], capture_output=True, text=True, check=True).stdout
    xmp = json.loads(out)[0]
    assert (xmp["City"], xmp["State"], xmp["Country"]) == ("Paris", "Île-de-France", "France")
    assert "Places|France|Paris" in xmp["HierarchicalSubject"]


# -- events on the store ----------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def sessions(request: pytest.FixtureRequest, tmp_path: Path) -> sessionmaker[Session]:
    return store_on(request.param, tmp_path)


def add(sessions: sessionmaker[Session], *photos: dict[str, Any]) -> list[int]:
    """Photo rows (no files) with the given fields: a camera date by default."""
    with sessions() as session:
        library = session.scalar(select(Library)) or Library(root="/photos")
        session.add(library)
        session.flush()
        rows = []
        for fields in photos:
            n = session.query(Photo).count() + len(rows)
            rows.append(Photo(library_id=library.id, relpath=f"p{n}.jpg", size=1, mtime_ns=0, status="ok",
                              content_hash=f"{n:064x}", **{"taken_at_source": "exif", **fields}))
        session.add_all(rows)
        session.commit()
        return [p.id for p in rows]


def events_of(sessions: sessionmaker[Session]) -> dict[int, tuple[str, int, int | None, list[int]]]:
    """event id -> (name, size, cover, its photos)."""
    with sessions() as session:
        members: dict[int, list[int]] = {}
        for pid, eid in session.execute(select(Photo.id, Photo.event_id).where(Photo.event_id.is_not(None))
                                        .order_by(Photo.id)):
            members.setdefault(eid, []).append(pid)
        return {e.id: (e.name, e.size, e.cover_photo_id, members.get(e.id, []))
                for e in session.scalars(select(Event))}


def test_events_split_at_the_gap_are_named_and_keep_their_ids(sessions: sessionmaker[Session]) -> None:
    # GIVEN two days in Lisbon (a night between), a day at home in May, and a photo dated by its file only
    lisbon = {"place_city": "Lisbon", "place_region": "Lisbon", "place_country": "Portugal",
              "place_country_code": "PT"}
    day1 = add(sessions, *({"taken_at": T0 + timedelta(hours=h), **lisbon} for h in (0, 2, 5)))
    day2 = add(sessions, *({"taken_at": T0 + timedelta(days=1, hours=h), **lisbon} for h in (1, 3)))
    may = add(sessions, {"taken_at": datetime(2024, 5, 3, 11)}, {"taken_at": datetime(2024, 5, 3, 15)})
    copied = add(sessions, {"taken_at": datetime(2024, 5, 3, 12), "taken_at_source": "file_mtime"})
    # WHEN the events are computed
    report = compute_events(sessions, PlaceSettings())
    found = events_of(sessions)
    # THEN each day is an event, named by date and place; the file-dated photo is in none
    assert report.events == 3 and report.created == 3 and report.photos == 7
    assert sorted((name, members) for name, _, _, members in found.values()) == [
        ("12 Aug 2023, Lisbon", day1), ("13 Aug 2023, Lisbon", day2), ("3 May 2024", may)]
    assert all(copied[0] not in members for *_, members in found.values())
    # WHEN they are computed again with nothing changed
    again = compute_events(sessions, PlaceSettings())
    # THEN nothing is written and every event keeps its id
    assert (again.created, again.updated, again.removed, again.photos_moved) == (0, 0, 0, 0)
    assert events_of(sessions) == found
    # WHEN a longer gap joins the two Lisbon days
    compute_events(sessions, PlaceSettings(event_gap_h=30))
    joined = events_of(sessions)
    # THEN the trip is one event, named for its days, and it is the first day's event that carries on
    trip = {eid: v for eid, v in joined.items() if v[3] == day1 + day2}
    assert [v[0] for v in trip.values()] == ["12-13 Aug 2023, Lisbon"]
    assert set(trip) <= set(found) and len(joined) == 2


def test_an_event_keeps_its_id_when_a_photo_joins_it_before_its_first(sessions: sessionmaker[Session]) -> None:
    # GIVEN an event of three photos
    ids = add(sessions, *({"taken_at": T0 + timedelta(hours=h)} for h in (1, 2, 3)))
    compute_events(sessions, PlaceSettings())
    [(event_id, _)] = events_of(sessions).items()
    # WHEN an earlier photo of the same day arrives (the event's key changes: a new first photo and start)
    early = add(sessions, {"taken_at": T0})
    report = compute_events(sessions, PlaceSettings())
    # THEN it is still the same event (most of its photos were in it), now of four photos
    assert events_of(sessions) == {event_id: ("12 Aug 2023", 4, ids[1], sorted(early + ids))}
    assert report.updated == 1 and report.created == 0 and report.photos_moved == 1


def test_the_cover_is_not_a_flagged_photo_and_a_trashed_photo_leaves_its_event(
        sessions: sessionmaker[Session]) -> None:
    # GIVEN an event of three photos, the middle one blurry
    ids = add(sessions, *({"taken_at": T0 + timedelta(hours=h)} for h in (1, 2, 3)))
    with sessions() as session:
        session.add(Recommendation(photo_id=ids[1], reason="blurry", severity=1.0))
        session.commit()
    # WHEN the events are computed
    compute_events(sessions, PlaceSettings())
    [(event_id, (_, size, cover, _))] = events_of(sessions).items()
    # THEN the cover is the middle of the sharp ones
    assert size == 3 and cover == ids[2]
    # WHEN the last photo goes to the trash and the events are computed again
    with sessions() as session:
        session.execute(update(Photo).where(Photo.id == ids[2]).values(trashed_at=datetime(2024, 1, 1)))
        session.commit()
    compute_events(sessions, PlaceSettings())
    # THEN it has left the event, which keeps its id and takes another cover
    assert events_of(sessions) == {event_id: ("12 Aug 2023", 2, ids[0], ids[:2])}
    # AND when no photo has a date any more, no event is left
    with sessions() as session:
        session.execute(update(Photo).values(taken_at=None))
        session.commit()
    report = compute_events(sessions, PlaceSettings())
    assert events_of(sessions) == {} and report.removed == 1


def test_a_library_scanned_before_places_and_events_gets_them_at_the_next_scan(
        tmp_path: Path, make_photo: PhotoFactory) -> None:
    # GIVEN a library scanned by a version without places or events (nothing on disk changes afterwards)
    library = tmp_path / "lib"
    make_photo(library / "a.jpg", 640, 480, gps=PARIS, exif_ifd=dated(T0))
    settings = settings_of(tmp_path, library)
    sessions = open_database(settings.resolved_database_url)
    Scanner(settings, sessions).scan(library)
    with sessions() as session:
        session.execute(update(Photo).values(place_version=None, place_city=None, place_country=None,
                                             place_country_code=None, place_region=None, event_id=None))
        session.execute(delete(Event))
        session.commit()
    assert events_needed(sessions)
    # WHEN it is scanned again (nothing new to read)
    from plugin.cli import run_scans

    [summary] = run_scans(settings, show_progress=False)
    # THEN the photo gets its place and its event all the same
    assert summary.processed == 0
    a = photo_rows(sessions)["a.jpg"]
    assert a.place_city == "Paris" and a.event_id is not None and not events_needed(sessions)
