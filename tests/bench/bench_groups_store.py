"""Benchmark: grouping through the store (SQLite): read the photos, find the groups, write groups and advice.

    .venv/bin/python tests/bench/bench_groups_store.py [--sizes 10k,100k] [--no-ui]

The library of ``bench_groups.py`` (same generator and seed) is bulk-inserted into a fresh SQLite database:
photos, their hashes and, for every photo that the generator gives one, its 1280-d feature vector (float16,
as a scan stores it). Then :func:`plugin.grouping.service.group_photos` runs twice: first on a library with
no groups (every group and recommendation is new), then again with nothing changed (what the watcher's job
costs after each scan). Each stage is timed on its own: loading the table, finding the groups (the feature
vectors come from the database, a chunk of pairs at a time), and writing groups and recommendations.
Then the review UI's group pages are timed over that database (Flask's test client, server-side time,
one client): the Duplicates and Similar tabs (the newest group to review) and a group in the middle of
each queue. It prints numbers and asserts nothing.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from types import ModuleType

import numpy as np
from sqlalchemy import insert

from plugin.config import SimilarSettings
from plugin.grouping.groups import find_groups
from plugin.grouping.service import GroupReport, StoredSimilarity, load_table, persist_groups
from plugin.store.db import open_database
from plugin.store.models import Library, Photo, PhotoFeature, PhotoHash

EPOCH = datetime(1970, 1, 1)


def _generator() -> ModuleType:
    """bench_groups.py, this script's sibling (run as a file, the tests package is not importable)."""
    spec = importlib.util.spec_from_file_location("bench_groups", Path(__file__).with_name("bench_groups.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_groups"] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module
BATCH = 5000


def populate(url: str, n: int, seed: int) -> float:
    generator = _generator()
    library = generator.make_library(n, seed)
    table, vectors = library.table, library.vectors
    maker = generator.GeneratedSimilarity(vectors, seed)
    sessions = open_database(url)
    started = time.perf_counter()
    signed = table["phash"].view(np.int64), table["mirror"].view(np.int64)
    with sessions() as session:
        session.execute(insert(Library), [{"id": 1, "root": "/photos", "kind": "local", "created_at": EPOCH}])
        for start in range(0, n, BATCH):
            rows = np.arange(start, min(n, start + BATCH))
            photos, hashes, features = [], [], []
            for r in rows.tolist():
                when = table["times"][r]
                photos.append({
                    "id": r + 1, "library_id": 1, "relpath": f"{r // 1000}/IMG_{r}.jpg", "folder": f"{r // 1000}",
                    "size": 3_000_000 + r % 1000, "mtime_ns": 0, "content_hash": f"{table['content'][r]:064x}",
                    "status": "ok", "width": int(table["width"][r]), "height": int(table["height"][r]),
                    "taken_at": None if np.isnan(when) else EPOCH + timedelta(seconds=float(when)),
                    "taken_at_source": "exif" if table["camera_time"][r] else "file_mtime",
                    "gps_lat": None if np.isnan(table["lat"][r]) else float(table["lat"][r]),
                    "gps_lon": None if np.isnan(table["lon"][r]) else float(table["lon"][r]),
                    "first_seen_at": EPOCH})
                if table["has_hash"][r]:
                    hashes.append({"photo_id": r + 1, "phash": int(signed[0][r]), "phash_mirror": int(signed[1][r]),
                                   "mono": bool(table["mono"][r])})
            with_vector = rows[vectors["has_vector"][rows]]
            for r, vector in zip(with_vector.tolist(), maker.vectors(with_vector).astype(np.float16), strict=True):
                features.append({"photo_id": r + 1, "model": "efficientnet_lite0", "dim": len(vector),
                                 "vector": vector.tobytes()})
            session.execute(insert(Photo), photos)
            if hashes:
                session.execute(insert(PhotoHash), hashes)
            if features:
                session.execute(insert(PhotoFeature), features)
        session.commit()
    return time.perf_counter() - started


def regroup(url: str, settings: SimilarSettings) -> tuple[dict[str, float], GroupReport]:
    sessions = open_database(url)
    report = GroupReport("default")
    stages: dict[str, float] = {}
    with sessions() as session:
        started = time.perf_counter()
        table = load_table(session)
        stages["load"] = time.perf_counter() - started
        started = time.perf_counter()
        found = find_groups(table, settings, StoredSimilarity(session, table.ids))
        stages["find"] = time.perf_counter() - started
        started = time.perf_counter()
        persist_groups(session, table, found, "default", settings, report)
        session.commit()
        stages["write"] = time.perf_counter() - started
    report.photos = len(table)
    return stages, report


def time_pages(url: str, data_dir: Path, repeats: int = 30) -> list[tuple[str, float, float]]:
    from sqlalchemy import select

    from plugin.config import Settings
    from plugin.store.models import PhotoGroup
    from webui import create_app

    sessions = open_database(url)
    with sessions() as session:
        middle = {reason: session.scalars(select(PhotoGroup.id).where(PhotoGroup.reason == reason)
                                          .order_by(PhotoGroup.id)).all() for reason in ("duplicate", "similar")}
    app = create_app(Settings(data_dir=data_dir, database_url=url, ui={"login_required": False}), sessions)
    client = app.test_client()
    paths = ["/review/duplicate", "/review/similar"] + [
        f"/groups/{ids[len(ids) // 2]}?reason={reason}" for reason, ids in middle.items() if ids]
    results = []
    for path in paths:
        client.get(path)  # warm: the tab counts are cached for a few seconds
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            client.get(path)
            times.append((time.perf_counter() - started) * 1000)
        times.sort()
        results.append((path, times[len(times) // 2], times[int(len(times) * 0.95) - 1]))
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10k,100k", help="library sizes, comma-separated")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-ui", action="store_true", help="skip timing the review UI's group pages")
    args = parser.parse_args()
    settings = SimilarSettings()
    print(f"cores: {os.cpu_count()}; SQLite (WAL) in a temporary folder")
    print(f"{'photos':>9} | {'insert s':>8} | {'run':>6} | {'load s':>6} {'find s':>6} {'write s':>7} {'total s':>7}"
          " | groups (duplicate / near / similar), photos advised")
    for n in sorted(_generator().parse_size(s) for s in args.sizes.split(",") if s.strip()):
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite:///{Path(tmp) / 'piccl.sqlite3'}"
            inserted = populate(url, n, args.seed)
            for run in ("first", "again"):
                stages, report = regroup(url, settings)
                kinds: Counter[str] = report.groups
                print(f"{n:>9,} | {inserted:8.1f} | {run:>6} | {stages['load']:6.2f} {stages['find']:6.2f} "
                      f"{stages['write']:7.2f} {sum(stages.values()):7.2f} | {kinds['duplicate']:,} / "
                      f"{kinds['near_duplicate']:,} / {kinds['similar']:,}, {report.recommended:,}")
            if not args.no_ui:
                for path, p50, p95 in time_pages(url, Path(tmp)):
                    print(f"{'':>9}   page {path:<34} p50 {p50:6.1f} ms  p95 {p95:6.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
