"""Benchmark: the search box and the timeline at 100,000 photos (p50/p95 of the whole request, in process).

    .venv/bin/python tests/bench/bench_search.py [--photos 100000] [--runs 30]

Fills a fresh SQLite database with generated photos: ten years of dates, ~200 cities in ~30 countries,
~3 tags each out of 80, 50 named people on a fifth of the photos; then asks the real app (Flask's test
client, logged in) for search pages (one term, three combined terms, a file name, a rare combination),
the timeline and a month. The target is under 200 ms. Not part of the test run: it prints numbers.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import insert

from plugin.config import Settings
from plugin.store.db import open_database
from plugin.store.models import Face, Library, Person, Photo, PhotoTag
from webui import create_app
from webui.extensions import limiter

PASSWORD = "bench-password-not-secret"
TAGS = [f"class{i}" for i in range(70)] + ["dog", "cat", "beach", "car", "person", "animal", "food", "book",
                                             "bag", "sports"]
CHUNK = 10_000


def fill(url: str, photos: int) -> None:
    sessions = open_database(url)
    rng = random.Random(1)
    countries = [f"Country{i}" for i in range(30)]
    cities = [(f"City{i}", countries[i % 30]) for i in range(199)] + [("Lisbon", "Portugal")]
    start = datetime(2015, 1, 1)
    with sessions() as session:
        library = Library(root="/photos", kind="local")
        session.add(library)
        people = [Person(name=f"Person {i}", origin="user") for i in range(49)] + [Person(name="Anna", origin="user")]
        session.add_all(people)
        session.flush()
        person_ids = [p.id for p in people]
        for base in range(0, photos, CHUNK):
            rows = []
            for i in range(base, min(photos, base + CHUNK)):
                city, country = rng.choice(cities) if rng.random() < 0.6 else (None, None)
                rows.append({"id": i + 1, "library_id": library.id, "relpath": f"{2015 + i % 10}/IMG_{i:06d}.jpg",
                             "folder": str(2015 + i % 10), "size": 1000, "mtime_ns": 0, "status": "ok",
                             "content_hash": f"{i:064x}",
                             "taken_at": start + timedelta(minutes=rng.randrange(5_256_000)),
                             "place_city": city, "place_country": country, "first_seen_at": start})
            session.execute(insert(Photo), rows)
            tags = [{"photo_id": r["id"], "kind": "object", "tag": t, "score": 0.9}
                    for r in rows for t in set(rng.sample(TAGS, 3))]
            session.execute(insert(PhotoTag), tags)
            faces = [{"photo_id": r["id"], "idx": 0, "x": 1, "y": 1, "w": 9, "h": 9, "score": 0.9, "landmarks": [],
                      "person_id": rng.choice(person_ids), "created_at": start} for r in rows if rng.random() < 0.2]
            session.execute(insert(Face), faces)
        session.commit()


def timed(client, path: str, runs: int) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        response = client.get(path)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (path, response.status_code)
    times.sort()
    return statistics.median(times), times[max(0, int(len(times) * 0.95) - 1)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--photos", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), password=PASSWORD)
        started = time.perf_counter()
        fill(settings.resolved_database_url, args.photos)
        print(f"{args.photos} photos filled in {time.perf_counter() - started:.1f} s (SQLite)")
        app = create_app(settings, open_database(settings.resolved_database_url), TESTING=True)
        limiter.reset()
        client = app.test_client()
        token = client.get("/login").text.split('name="csrf-token" content="')[1].split('"')[0]
        client.post("/login", data={"username": "piccl", "password": PASSWORD, "csrf_token": token})
        print(f"{'request':<38} {'p50 ms':>8} {'p95 ms':>8}")
        for label, path in (("search: dog", "/search?q=dog"),
                            ("search: dog 2019 Lisbon", "/search?q=dog+2019+Lisbon"),
                            ("search: Anna aug 2021", "/search?q=Anna+aug+2021"),
                            ("search: file name IMG_0123", "/search?q=IMG_0123"),
                            ("search: cat dog beach 2016-2017", "/search?q=cat+dog+beach+2016-2017"),
                            ("search: jpg (every file name)", "/search?q=jpg"),
                            ("search: 2015-2024 (everything)", "/search?q=2015-2024"),
                            ("search: Lisbon Country1 City2 City3", "/search?q=Lisbon+Country1+City2+City3"),
                            ("timeline", "/timeline"), ("timeline month", "/timeline/2019/8")):
            p50, p95 = timed(client, path, args.runs)
            print(f"{label:<38} {p50:8.1f} {p95:8.1f}")


if __name__ == "__main__":
    sys.exit(main())
