"""Benchmark: reverse geocoding and events at library scale, in memory and through the store (SQLite).

    .venv/bin/python tests/bench/bench_places.py [--photos 100000] [--no-ui]

A generated library of ten years: outings at home (around Lisbon) and trips (a few days at a GeoNames place
drawn by population), photos minutes apart within an outing, 70% with GPS (a few km around the place), 15%
dated by their file only. It prints, each measured on its own:

* loading the gazetteer (once per process), and geocoding every coordinate in memory: the KD-tree lookup alone
  (photos/s) and with a Place object per photo;
* through the store: ``assign_places`` over a fresh database (read, look up, write, in batches), then again with
  nothing to do (what each scan's end costs);
* events: ``event_starts`` in memory, ``compute_events`` on the fresh database (every event new), with nothing
  changed, and after one photo arrives (what a watcher's scan of one file costs);
* with ``--ui`` (default): the Places, a country, a city, Events and an event pages (Flask's test client,
  server-side time, p50 of 20 requests after a warm-up).

It asserts nothing.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
from sqlalchemy import func, insert, select

from plugin.config import PlaceSettings, Settings
from plugin.places.events import event_starts
from plugin.places.geocode import gazetteer
from plugin.places.service import assign_places, compute_events, rules_from
from plugin.store.db import open_database
from plugin.store.models import Event, Library, Photo

EPOCH = datetime(1970, 1, 1)
START = datetime(2015, 1, 1)
HOME = (38.7223, -9.1393)  # Lisbon
BATCH = 5000


def generate(n: int, seed: int) -> dict[str, np.ndarray]:
    """taken_at (seconds since 1970), exif (bool), lat, lon (NaN: no GPS) for ``n`` photos."""
    rng = np.random.default_rng(seed)
    places = gazetteer()
    weights = places.population / places.population.sum()
    times, lats, lons = [], [], []
    clock = (START - EPOCH).total_seconds()
    made = 0
    trip_days, trip_at = 0, HOME
    while made < n:
        clock += rng.exponential(1.3 * 86400)  # about one outing every day or two
        if trip_days == 0 and rng.random() < 0.08:  # a trip of a few days somewhere
            where = int(rng.choice(len(weights), p=weights))
            trip_days, trip_at = int(rng.integers(2, 8)), (float(places.lat[where]), float(places.lon[where]))
        at = trip_at if trip_days else HOME
        trip_days = max(0, trip_days - 1)
        size = min(n - made, int(rng.geometric(1 / 20)))
        gaps = rng.exponential(480.0, size)
        gaps[rng.random(size) < 0.2] = rng.uniform(0.2, 2.0)  # bursts
        stamps = clock + np.cumsum(gaps)
        clock = float(stamps[-1])
        times.append(stamps)
        lats.append(at[0] + rng.normal(0, 0.02, size))
        lons.append(at[1] + rng.normal(0, 0.02, size))
        made += size
    taken, lat, lon = np.concatenate(times), np.concatenate(lats), np.concatenate(lons)
    no_gps = rng.random(n) >= 0.7
    lat[no_gps], lon[no_gps] = np.nan, np.nan
    exif = rng.random(n) >= 0.15
    taken[~exif] = (datetime(2024, 6, 1) - EPOCH).total_seconds() + rng.uniform(0, 86400 * 30, int((~exif).sum()))
    return {"taken": taken, "exif": exif, "lat": lat, "lon": lon}


def populate(url: str, library: dict[str, np.ndarray]) -> None:
    sessions = open_database(url)
    n = len(library["taken"])
    with sessions() as session:
        session.execute(insert(Library), [{"id": 1, "root": "/photos", "kind": "local", "created_at": EPOCH}])
        for start in range(0, n, BATCH):
            rows = []
            for r in range(start, min(n, start + BATCH)):
                lat, lon = library["lat"][r], library["lon"][r]
                rows.append({
                    "id": r + 1, "library_id": 1, "relpath": f"{r // 1000}/IMG_{r}.jpg", "folder": f"{r // 1000}",
                    "size": 3_000_000, "mtime_ns": 0, "content_hash": f"{r:064x}", "status": "ok",
                    "taken_at": EPOCH + timedelta(seconds=float(library["taken"][r])),
                    "taken_at_source": "exif" if library["exif"][r] else "file_mtime",
                    "gps_lat": None if np.isnan(lat) else float(lat), "gps_lon": None if np.isnan(lon) else float(lon),
                    "first_seen_at": EPOCH})
            session.execute(insert(Photo), rows)
        session.commit()


def timed(label: str, fn, *args):  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    result = fn(*args)
    print(f"  {label}: {time.perf_counter() - started:.2f} s")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-ui", dest="ui", action="store_false")
    args = parser.parse_args()
    n = args.photos
    settings = PlaceSettings()

    print("gazetteer")
    places = timed("load (once per process)", gazetteer)
    print(f"  {len(places):,} places")
    library = generate(n, args.seed)
    lat, lon = library["lat"], library["lon"]
    with_gps = int(np.isfinite(lat).sum())
    print(f"\nin memory: {n:,} photos, {with_gps:,} with GPS")
    for label, call in (("KD-tree lookup", lambda: places.locate(lat, lon, settings.max_distance_km)),
                        ("lookup with Place objects", lambda: places.lookup(lat, lon, settings.max_distance_km))):
        best = min(_seconds(call) for _ in range(3))
        print(f"  {label}: {best:.3f} s, {n / best:,.0f} photos/s ({with_gps / best:,.0f} with GPS/s)")
    exif = library["exif"]
    order = np.argsort(library["taken"][exif], kind="stable")
    secs = library["taken"][exif][order]
    best = min(_seconds(lambda: event_starts(secs, lat[exif][order], lon[exif][order], rules_from(settings)))
               for _ in range(3))
    starts = event_starts(secs, lat[exif][order], lon[exif][order], rules_from(settings))
    print(f"  event_starts over {len(secs):,} dated photos: {best * 1000:.1f} ms, {len(starts):,} events")

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.sqlite3'}"
        populate(url, library)
        sessions = open_database(url)
        print(f"\nthrough the store (SQLite, {n:,} photos)")
        report = timed("assign_places, every photo new", assign_places, sessions, settings)
        print(f"    {report.checked:,} looked up, {report.placed:,} placed, {report.no_gps:,} without GPS, "
              f"{report.too_far:,} too far: {report.checked / report.seconds:,.0f} photos/s")
        report = timed("assign_places, nothing to do", assign_places, sessions, settings)
        events = timed("compute_events, every event new", compute_events, sessions, settings)
        print(f"    {events.events:,} events of {events.photos:,} photos")
        again = timed("compute_events, nothing changed", compute_events, sessions, settings)
        print(f"    written: {again.created} new, {again.updated} changed, {again.photos_moved} photos moved")
        with sessions() as session:
            last = session.scalar(select(func.max(Photo.taken_at)))
            session.execute(insert(Photo), [{
                "id": n + 1, "library_id": 1, "relpath": "new/IMG_new.jpg", "folder": "new", "size": 1,
                "mtime_ns": 0, "content_hash": "f" * 64, "status": "ok", "taken_at": last + timedelta(minutes=5),
                "taken_at_source": "exif", "gps_lat": HOME[0], "gps_lon": HOME[1], "first_seen_at": EPOCH}])
            session.commit()
        timed("one photo arrives: assign_places", assign_places, sessions, settings)
        timed("one photo arrives: compute_events", compute_events, sessions, settings)
        if args.ui:
            ui_pages(url, Path(tmp))


def _seconds(call) -> float:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def ui_pages(url: str, data_dir: Path) -> None:
    from webui import create_app

    settings = Settings(data_dir=data_dir, database_url=url, ui={"login_required": False})
    app = create_app(settings, TESTING=True)
    client = app.test_client()
    sessions = open_database(url)
    with sessions() as session:
        code, city, region = session.execute(
            select(Photo.place_country_code, Photo.place_city, Photo.place_region, func.count())
            .where(Photo.place_city.is_not(None)).group_by(Photo.place_country_code, Photo.place_city,
                                                            Photo.place_region)
            .order_by(func.count().desc()).limit(1)).one()[:3]
        middle = session.scalar(select(Event.id).order_by(Event.size.desc()).limit(1))
        count = session.scalar(select(func.count()).where(Photo.place_city == city))
    pages = [("Places", "/places/"), (f"country {code}", f"/places/{code}/"),
             (f"city {city} ({count:,} photos)", f"/places/{code}/city?name={city}&region={region}"),
             ("Events", "/events/"), ("the largest event", f"/events/{middle}")]
    print("\nUI pages (server-side, p50 / max of 20 after a warm-up; the lists' counts cached for 30 s)")
    for label, page in pages:
        client.get(page)
        spent = []
        for _ in range(20):
            started = time.perf_counter()
            response = client.get(page)
            spent.append(time.perf_counter() - started)
            assert response.status_code == 200, (page, response.status_code)
        print(f"  {label}: {statistics.median(spent) * 1000:.1f} / {max(spent) * 1000:.1f} ms")
    # The lists' first, uncached computation (a new app, so an empty cache).
    for label, page in pages[:2]:
        client = create_app(settings, TESTING=True).test_client()
        started = time.perf_counter()
        client.get(page)
        print(f"  {label}, uncached: {(time.perf_counter() - started) * 1000:.1f} ms")


if __name__ == "__main__":
    main()
