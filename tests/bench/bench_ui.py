"""Benchmark: latency of the review UI's pages with a large library and many concurrent clients.

    .venv/bin/python tests/bench/bench_ui.py [--photos 100000] [--clients 20] [--requests 50]
    .venv/bin/python tests/bench/bench_ui.py --database-url postgresql+psycopg2://user:pw@host/emptydb

What it does:

1. Fills a fresh database (SQLite in a temporary data dir unless ``--database-url`` names an empty,
   throw-away database) with ``--photos`` generated photos in one library, spread over ~2,000 folders
   and ten years, ~20% flagged blurry, ~10% dark (both with realistic evidence), blur and exposure
   analyses for every photo, and a 'keep' decision on ~5%. Rows go in with SQLAlchemy Core bulk
   inserts; the time this takes is printed.
2. Puts a cached thumbnail (both sizes) in the data dir for every photo the clients will ask for,
   and a camera-sized JPEG with exposure EXIF at each of those photos' paths in the library (one file,
   hardlinked), so the thumbnail route serves from the cache and the photo page reads a real file.
3. Serves the real app (``webui.create_app``) with waitress on 127.0.0.1, login required, and logs in
   ``--clients`` clients (GET /login for the CSRF token, then POST /login).
4. Runs the clients from a separate process, so their own Python work does not compete with the
   server for the GIL: first one client alone (the uncontended baseline), then all of them at once,
   each making ``--requests`` requests in turn to the grid (/review/blurry), a grid page after a
   cursor (a random photo of the queue, so a random depth), a photo page (/photos/<id>?reason=blurry)
   and a small thumbnail.
5. Prints, per kind of request, the server-side latency (time inside the WSGI app, as waitress
   calls it: routing, login check, queries, template, session save; not the time a request waits
   for a free waitress thread, nor the socket writes), the CPU time the handling thread used (the
   rest of the server-side time is waiting: for the GIL, the database, the disk), and the latency
   the clients saw (which includes the wait for one of waitress's threads). The target is a
   server-side p95 under 100 ms for the grid and the photo page.

Not part of the test run: it prints numbers, it asserts nothing. It stops by itself: every client
makes a fixed number of requests, each with a timeout.
"""

from __future__ import annotations

import argparse
import http.client
import io
import logging
import os
import random
import re
import shutil
import sys
import tempfile
import threading
import time
import urllib.parse
from collections import defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from sqlalchemy import func, insert, select, text
from sqlalchemy.orm import Session, sessionmaker
from waitress import create_server

from plugin.config import Settings
from plugin.store.db import open_database
from plugin.store.models import Analysis, Decision, Library, Photo, Recommendation
from plugin.thumbnails import SIZES, ThumbnailCache
from webui import create_app
from webui.queries import version_of

PASSWORD = "bench-password-not-secret"
TARGET_MS = 100.0
KINDS = ("grid", "grid+cursor", "photo", "thumb")
TARGET_KINDS = ("grid", "grid+cursor", "photo")
PHASE_HEADER = "X-Bench-Phase"  # tells the server-side timer which phase a request belongs to
EVENTS = ("Home", "Holiday", "Birthday", "Garden", "Hike", "School", "Wedding", "City trip", "Beach", "Snow")
CHUNK = 10_000


# -- the database ---------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Dataset:
    photos: int
    folders: int
    blurry: int
    dark: int
    kept: int
    analyses: int
    insert_s: float
    # (photo id, thumbnail version, relpath, content hash) of the flagged, undecided photos the clients ask for.
    requested: list[tuple[int, str, str, str]]


def _blur_evidence(rng: random.Random, blurry: bool) -> tuple[float, dict[str, Any]]:
    edge = round(rng.uniform(1.25, 4.0) if blurry else rng.uniform(0.62, 1.2), 3)
    evidence = {"edge_width_px": edge, "threshold_px": 1.24,
                "kind": rng.choice(("motion", "defocus")) if blurry else "sharp",
                "method": "tiled", "tiles_with_detail": 30, "measured_at": [1024, 768]}
    return round(1 / edge, 4), evidence


def _dark_evidence(rng: random.Random, dark: bool) -> tuple[float, dict[str, Any]]:
    score = round(rng.uniform(0.5, 0.95) if dark else rng.uniform(0.02, 0.45), 3)
    p99 = max(5, round(255 * (1 - score) * 0.9))
    evidence = {"threshold": 0.5, "median_luma": max(1, p99 // 3), "p99_luma": p99,
                "highlight_stops_below_white": round(float(np.log2(255 / p99)), 2)}
    return score, evidence


def populate(sessions: sessionmaker[Session], root: Path, n: int, seed: int) -> Dataset:
    """Bulk-insert ``n`` photos with their analyses, recommendations and decisions; one transaction."""
    rng = random.Random(seed)
    folders = max(1, min(2000, n // 20))
    start = datetime(2015, 1, 1)
    span_s = 10 * 365 * 86400
    now = datetime(2025, 6, 1)
    counts = {"blurry": 0, "dark": 0, "keep": 0, "analyses": 0}
    queue: list[tuple[int, str, str, str]] = []
    began = time.perf_counter()
    with sessions() as session:
        if session.scalar(select(func.count()).select_from(Photo)):
            sys.exit("the database already holds photos: give an empty, throw-away database")
        library = Library(root=str(root))
        session.add(library)
        session.flush()
        for first in range(0, n, CHUNK):
            photos: list[dict[str, Any]] = []
            analyses: list[dict[str, Any]] = []
            recommendations: list[dict[str, Any]] = []
            decisions: list[dict[str, Any]] = []
            for i in range(first, min(n, first + CHUNK)):
                photo_id = i + 1  # explicit ids: the dependent rows need them without a RETURNING round trip
                f = i * folders // n
                day = start + timedelta(seconds=f * span_s // folders)
                folder = f"{day:%Y}/{day:%Y-%m-%d} {EVENTS[f % len(EVENTS)]}"
                relpath = f"{folder}/IMG_{i:06d}.JPG"
                content_hash = rng.randbytes(32).hex()
                taken = start + timedelta(seconds=i * span_s / n + rng.uniform(0, span_s / n))
                photos.append({
                    "id": photo_id, "library_id": library.id, "relpath": relpath,
                    # Core inserts skip the ORM's attribute event that fills 'folder' from 'relpath'.
                    "folder": folder, "size": rng.randint(1_500_000, 6_000_000),
                    "mtime_ns": int(taken.timestamp() * 1e9), "content_hash": content_hash, "status": "ok",
                    "format": "JPEG", "width": 4032, "height": 3024, "orientation": 1, "decoded_from": "full",
                    "taken_at": taken, "taken_at_offset_min": 60, "taken_at_source": "exif",
                    "camera_make": "Apple", "camera_model": "iPhone 12", "first_seen_at": now, "analysed_at": now,
                })
                is_blurry, is_dark = rng.random() < 0.2, rng.random() < 0.1
                kept = rng.random() < 0.05
                blur_score, blur_ev = _blur_evidence(rng, is_blurry)
                dark_score, dark_ev = _dark_evidence(rng, is_dark)
                analyses.append({"photo_id": photo_id, "analyzer": "blur", "version": 2, "params": '{"method":"tiled"}',
                                 "score": blur_score, "flagged": is_blurry, "evidence": blur_ev, "created_at": now})
                analyses.append({"photo_id": photo_id, "analyzer": "exposure", "version": 1,
                                 "params": '{"method":"luminance"}', "score": dark_score, "flagged": is_dark,
                                 "evidence": dark_ev, "created_at": now})
                if is_blurry:
                    recommendations.append({
                        "photo_id": photo_id, "reason": "blurry", "updated_at": now,
                        "severity": round(blur_ev["edge_width_px"] / blur_ev["threshold_px"], 4),
                        "evidence": {"score": blur_score, **blur_ev}})
                    if not kept:
                        queue.append((photo_id, version_of(content_hash), relpath, content_hash))
                if is_dark:
                    recommendations.append({"photo_id": photo_id, "reason": "dark", "updated_at": now,
                                            "severity": round(dark_score / 0.5, 4),
                                            "evidence": {"score": dark_score, **dark_ev}})
                if kept:
                    decisions.append({"photo_id": photo_id, "decision": "keep", "decided_at": now})
                counts["blurry"] += is_blurry
                counts["dark"] += is_dark
                counts["keep"] += kept
            session.execute(insert(Photo), photos)
            session.execute(insert(Analysis), analyses)
            if recommendations:
                session.execute(insert(Recommendation), recommendations)
            if decisions:
                session.execute(insert(Decision), decisions)
            counts["analyses"] += len(analyses)
        if session.get_bind().dialect.name == "postgresql":
            # The explicit ids left the sequence behind; a later insert would collide.
            session.execute(text("SELECT setval(pg_get_serial_sequence('photos', 'id'), (SELECT max(id) FROM photos))"))
        session.commit()
    insert_s = time.perf_counter() - began
    requested = rng.sample(queue, min(len(queue), 2000))
    return Dataset(n, folders, counts["blurry"], counts["dark"], counts["keep"], counts["analyses"], insert_s,
                   requested)


# -- files: cached thumbnails, originals ----------------------------------------------------------

def _jpeg(width: int, height: int, seed: int, exif: Image.Exif | None = None, quality: int = 85) -> bytes:
    """A photo-like JPEG: smooth colour plus grain, so it compresses like a photo (not like a flat image)."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (height // 64 + 1, width // 64 + 1, 3), dtype=np.uint8)
    image = Image.fromarray(small).resize((width, height), Image.Resampling.BICUBIC)
    grain = rng.normal(0, 12, (height, width, 3))
    pixels = np.clip(np.asarray(image, dtype=np.float32) + grain, 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    kwargs: dict[str, Any] = {"exif": exif.tobytes()} if exif is not None else {}
    Image.fromarray(pixels).save(buffer, "JPEG", quality=quality, **kwargs)
    return buffer.getvalue()


def _camera_exif() -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F], exif[0x0110], exif[0x0112] = "Apple", "iPhone 12", 1
    sub = exif.get_ifd(0x8769)
    sub[0x829A], sub[0x829D], sub[0x8827] = 1 / 15, 1.6, 2500  # exposure time, f-number, ISO
    sub[0x9003] = "2021:07:14 21:03:55"
    return exif


def _link(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
    except OSError:  # a filesystem without hardlinks: a copy costs disk but measures the same
        shutil.copyfile(source, target)


def place_files(settings: Settings, root: Path, dataset: Dataset) -> tuple[int, int]:
    """Cache both thumbnail sizes of every requested photo and put an original at its path.

    The thumbnail route serves a cached thumbnail only while the original is still in the library
    (it checks the file first), so "thumbnails cached" needs the originals too. Returns the sizes in
    bytes of the original and of the small thumbnail.
    """
    staging = settings.data_dir / "bench"
    staging.mkdir(parents=True, exist_ok=True)
    original = staging / "original.jpg"
    original.write_bytes(_jpeg(4032, 3024, 1, _camera_exif(), quality=92))
    thumbs = {}
    for size, side in SIZES.items():
        thumbs[size] = staging / f"thumb-{size}.jpg"
        thumbs[size].write_bytes(_jpeg(side, side * 3 // 4, 2, quality=82))
    cache = ThumbnailCache(settings.data_dir / "thumbnails", settings.max_image_pixels, settings.max_file_bytes)
    for _photo_id, _version, relpath, content_hash in dataset.requested:
        _link(original, root / relpath)
        for size in SIZES:
            _link(thumbs[size], cache.cached_path(content_hash, size))
    return original.stat().st_size, thumbs["sm"].stat().st_size


# -- the server, with its timer -------------------------------------------------------------------

def kind_of(path: str) -> str:
    route, _, query = path.partition("?")
    if route.startswith("/review/"):
        return "grid+cursor" if "cursor=" in query else "grid"
    if route.startswith("/photos/"):
        return "thumb" if "/thumb/" in route else "photo"
    if route.startswith("/login"):
        return "login"
    return "other"


@dataclass(frozen=True, slots=True)
class Sample:
    phase: str
    kind: str
    ms: float
    cpu_ms: float  # server only: CPU time of the handling thread
    ok: bool


class ServerTimer:
    """WSGI middleware: the time waitress's thread spends inside the Flask app, per request.

    Timed up to the app's return, which for pages includes rendering (the body is a list of bytes by
    then) and the request teardown; a thumbnail's file is streamed by waitress afterwards.
    """

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app
        self.samples: list[Sample] = []
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        status: list[str] = []

        def capture(code: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            status.append(code)
            return start_response(code, headers, exc_info)

        wall, cpu = time.perf_counter(), time.thread_time()
        try:
            return self.app(environ, capture)
        finally:
            wall_ms, cpu_ms = 1000 * (time.perf_counter() - wall), 1000 * (time.thread_time() - cpu)
            query = environ.get("QUERY_STRING", "")
            path = environ.get("PATH_INFO", "") + (f"?{query}" if query else "")
            ok = bool(status) and status[0][:3] in ("200", "302")
            sample = Sample(environ.get("HTTP_X_BENCH_PHASE", "setup"), kind_of(path), wall_ms, cpu_ms, ok)
            with self._lock:
                self.samples.append(sample)


class QueueDepth(logging.Handler):
    """Keeps the deepest backlog waitress reports ("Task queue depth is N") instead of printing every one."""

    def __init__(self) -> None:
        super().__init__()
        self.deepest = 0

    def emit(self, record: logging.LogRecord) -> None:
        if isinstance(record.args, tuple) and record.args and isinstance(record.args[0], int):
            self.deepest = max(self.deepest, record.args[0])


# -- the clients (in their own process) -----------------------------------------------------------

@dataclass(frozen=True, slots=True)
class LoadPlan:
    port: int
    clients: int
    requests: int
    serial_per_kind: int
    seed: int
    username: str
    requested: list[tuple[int, str]]  # (photo id, thumbnail version)


@dataclass(slots=True)
class LoadResult:
    samples: list[Sample] = field(default_factory=list)
    load_wall_s: float = 0.0
    errors: list[str] = field(default_factory=list)


class Client:
    """One browser: a keep-alive connection and the session cookie."""

    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.cookie = ""

    def get(self, path: str, phase: str) -> tuple[int, str, bytes]:
        return self._send("GET", path, phase, None)

    def _send(self, method: str, path: str, phase: str, form: dict[str, str] | None) -> tuple[int, str, bytes]:
        headers = {"Accept": "text/html,*/*", PHASE_HEADER: phase}
        if self.cookie:
            headers["Cookie"] = self.cookie
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        self.conn.request(method, path, body=body, headers=headers)
        response = self.conn.getresponse()
        data = response.read()
        # Flask re-sends a permanent session's cookie with every response.
        for header in response.headers.get_all("Set-Cookie") or []:
            if header.startswith("piccl_session="):
                self.cookie = header.split(";", 1)[0]
        return response.status, response.headers.get("Content-Type", ""), data

    def login(self, username: str) -> None:
        _status, _type, page = self.get("/login", "login")
        token = re.search(rb'name="csrf_token" value="([^"]+)"', page)
        if token is None:
            raise RuntimeError("no CSRF token on the login page")
        status, _type, _body = self._send("POST", "/login", "login", {
            "username": username, "password": PASSWORD, "csrf_token": token.group(1).decode()})
        if status != 302:
            raise RuntimeError(f"login answered {status}")

    def close(self) -> None:
        self.conn.close()


def _path(kind: str, rng: random.Random, requested: list[tuple[int, str]]) -> str:
    photo_id, version = rng.choice(requested)
    if kind == "grid":
        return "/review/blurry"
    if kind == "grid+cursor":
        return f"/review/blurry?cursor={photo_id}"
    if kind == "photo":
        return f"/photos/{photo_id}?reason=blurry"
    return f"/photos/{photo_id}/thumb/sm?v={version}"


def _timed(client: Client, kind: str, path: str, phase: str) -> tuple[Sample, str | None]:
    began = time.perf_counter()
    status, content_type, body = client.get(path, phase)
    ms = 1000 * (time.perf_counter() - began)
    problem = None
    if status != 200:
        problem = f"{path}: HTTP {status}"
    elif kind == "thumb" and content_type != "image/jpeg":  # the placeholder: the cache was not used
        problem = f"{path}: {content_type} instead of the cached JPEG"
    elif kind != "thumb" and b'class="brand"' not in body:
        problem = f"{path}: not an app page"
    return Sample(phase, kind, ms, 0.0, problem is None), problem


def run_clients(plan: LoadPlan) -> LoadResult:
    """Log every client in, warm up, time one client alone, then all clients at once."""
    result = LoadResult()
    clients = [Client(plan.port) for _ in range(plan.clients)]
    try:
        for client in clients:
            client.login(plan.username)
        rng = random.Random(plan.seed)
        for kind in KINDS:  # templates compile and caches fill on first use: keep that out of the numbers
            _timed(clients[0], kind, _path(kind, rng, plan.requested), "warmup")
        for _ in range(plan.serial_per_kind):
            for kind in KINDS:
                sample, problem = _timed(clients[0], kind, _path(kind, rng, plan.requested), "serial")
                result.samples.append(sample)
                if problem:
                    result.errors.append(problem)

        barrier = threading.Barrier(plan.clients + 1)
        lock = threading.Lock()

        def work(index: int, client: Client) -> None:
            own = random.Random(plan.seed * 1000 + index)
            samples, problems = [], []
            barrier.wait()
            for r in range(plan.requests):
                kind = KINDS[(r + index) % len(KINDS)]  # offset so that every kind is always in flight
                try:
                    sample, problem = _timed(client, kind, _path(kind, own, plan.requested), "load")
                except (OSError, http.client.HTTPException) as exc:
                    sample, problem = Sample("load", kind, 0.0, 0.0, False), f"{kind}: {exc!r}"
                samples.append(sample)
                if problem:
                    problems.append(problem)
            with lock:
                result.samples.extend(samples)
                result.errors.extend(problems)

        threads = [threading.Thread(target=work, args=(i, c), daemon=True) for i, c in enumerate(clients)]
        for thread in threads:
            thread.start()
        barrier.wait()
        began = time.perf_counter()
        for thread in threads:
            thread.join()
        result.load_wall_s = time.perf_counter() - began
    finally:
        for client in clients:
            client.close()
    return result


# -- the report -----------------------------------------------------------------------------------

def percentile(values: list[float], q: float) -> float:
    """Linear interpolation between the closest ranks (numpy's default)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _by_kind(samples: Iterable[Sample], phase: str) -> dict[str, list[Sample]]:
    grouped: dict[str, list[Sample]] = defaultdict(list)
    for sample in samples:
        if sample.phase == phase:
            grouped[sample.kind].append(sample)
            grouped["all"].append(sample)
    return grouped


def print_table(title: str, server: dict[str, list[Sample]], client: dict[str, list[Sample]]) -> None:
    print(f"\n{title}")
    print(f"  {'route':<12} {'count':>5} | {'server p50':>10} {'p95':>7} {'max':>7} "
          f"| {'cpu p50':>7} {'p95':>6} {'max':>6} | {'client p50':>10} {'p95':>7} {'max':>7} | {'errors':>6}")
    for kind in (*KINDS, "all"):
        s, c = server.get(kind, []), client.get(kind, [])
        if not s and not c:
            continue
        wall, cpu, seen = [x.ms for x in s], [x.cpu_ms for x in s], [x.ms for x in c if x.ok]
        errors = sum(not x.ok for x in c)
        print(f"  {kind:<12} {len(s):>5} | {_stats(wall, 10)} | {_stats(cpu, 7, 6)} | {_stats(seen, 10)} | {errors:>6}")


def _stats(values: list[float], first: int, rest: int = 7) -> str:
    """p50, p95 and max, right-aligned in columns of the given widths."""
    p50, p95, top = percentile(values, 0.5), percentile(values, 0.95), max(values, default=float("nan"))
    return f"{p50:>{first}.1f} {p95:>{rest}.1f} {top:>{rest}.1f}"


# -- main -----------------------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=int, default=100_000, help="photos in the database")
    parser.add_argument("--clients", type=int, default=20, help="concurrent clients, each logged in")
    parser.add_argument("--requests", type=int, default=50, help="requests per client under load")
    parser.add_argument("--serial", type=int, default=10, help="requests per route for the one-client baseline")
    parser.add_argument("--threads", type=int, default=0, help="waitress threads (0: the ui.threads default, one "
                        "per core)")
    parser.add_argument("--database-url", help="an EMPTY, throw-away database (its rows stay); default: temp SQLite")
    parser.add_argument("--analyze", action="store_true",
                        help="run ANALYZE after the insert (piccl itself never does; shows what statistics change)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    if args.photos < 100 or args.clients < 1 or args.requests < 1:
        parser.error("need --photos >= 100, --clients >= 1 and --requests >= 1")

    with tempfile.TemporaryDirectory(prefix="piccl-bench-ui-") as tmp:
        root, data_dir = Path(tmp) / "library", Path(tmp) / "data"
        root.mkdir()
        settings = Settings(library=[root], data_dir=data_dir, database_url=args.database_url, password=PASSWORD,
                            ui={"threads": args.threads, "login_required": True,
                                "login_attempts_per_minute": max(10, 2 * args.clients)})
        sessions = open_database(settings.resolved_database_url)
        dialect = sessions.kw["bind"].dialect.name
        dataset = populate(sessions, root, args.photos, args.seed)
        if args.analyze:
            with sessions() as session:
                session.execute(text("ANALYZE"))
                session.commit()
        original_bytes, thumb_bytes = place_files(settings, root, dataset)

        depth = QueueDepth()
        queue_logger = logging.getLogger("waitress.queue")
        queue_logger.addHandler(depth)
        queue_logger.propagate = False
        timer_app = create_app(settings, sessions)
        timer = ServerTimer(timer_app.wsgi_app)
        timer_app.wsgi_app = timer  # type: ignore[method-assign]
        args.threads = settings.ui_threads
        server: Any = create_server(timer_app, host="127.0.0.1", port=0, threads=args.threads)
        serving = threading.Thread(target=server.run, name="waitress", daemon=True)
        serving.start()

        cores = os.cpu_count() or 1
        print("piccl review UI benchmark")
        print(f"  database: {dialect}{' (ANALYZE run)' if args.analyze else ''}; {dataset.photos:,} photos in "
              f"{dataset.folders:,} folders over 10 years; recommendations: {dataset.blurry:,} blurry, "
              f"{dataset.dark:,} dark; {dataset.kept:,} 'keep' decisions; {dataset.analyses:,} analyses")
        rows = dataset.photos + dataset.analyses + dataset.blurry + dataset.dark + dataset.kept
        print(f"  insert: {dataset.insert_s:.1f} s for {rows:,} rows ({rows / dataset.insert_s:,.0f} rows/s, "
              f"{dataset.photos / dataset.insert_s:,.0f} photos/s with their other rows)")
        print(f"  files: {len(dataset.requested):,} requested photos with cached thumbnails "
              f"(sm {thumb_bytes / 1024:.0f} KB) and an original in the library "
              f"({original_bytes / 1e6:.1f} MB JPEG with EXIF, hardlinked)")
        print(f"  server: waitress, {args.threads} threads, 127.0.0.1:{server.effective_port}, login required; "
              f"cores: {cores}; clients: {args.clients} (own process), {args.requests} requests each")

        plan = LoadPlan(server.effective_port, args.clients, args.requests, args.serial, args.seed,
                        settings.ui.username, [(pid, version) for pid, version, _r, _h in dataset.requested])
        try:
            with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
                result = pool.submit(run_clients, plan).result(timeout=1800)
        finally:
            server.close()
            server.task_dispatcher.shutdown()
            serving.join(timeout=10)

        print_table("one client alone (uncontended), ms", _by_kind(timer.samples, "serial"),
                    _by_kind(result.samples, "serial"))
        print_table(f"{args.clients} clients at once, ms", _by_kind(timer.samples, "load"),
                    _by_kind(result.samples, "load"))
        done = sum(s.phase == "load" for s in result.samples)
        print(f"\n  throughput: {done / result.load_wall_s:.1f} requests/s ({done:,} requests in "
              f"{result.load_wall_s:.1f} s, {args.clients} clients, {args.threads} waitress threads, {cores} cores)")
        print(f"  waitress backlog: up to {depth.deepest} requests waited for a free thread")
        if result.errors:
            print(f"  errors: {len(result.errors)}, first: " + "; ".join(result.errors[:3]))

        load = _by_kind(timer.samples, "load")
        verdicts = []
        for kind in TARGET_KINDS:
            p95 = percentile([s.ms for s in load.get(kind, [])], 0.95)
            verdicts.append(f"{kind} {'PASS' if p95 < TARGET_MS else 'FAIL'} ({p95:.1f} ms)")
        print(f"  target: server-side p95 < {TARGET_MS:.0f} ms under load: " + ", ".join(verdicts))
        sessions.kw["bind"].dispose()


if __name__ == "__main__":
    main()
