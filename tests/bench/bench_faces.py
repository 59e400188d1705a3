"""Benchmark: faces per second (detect + embed), one assignment against 100,000 faces, re-clustering 100,000 faces.

    PICCL_TESTDATA=../shared/data PICCL_MODELS_DIR=../shared/models \\
        .venv/bin/python tests/bench/bench_faces.py [--faces 100000] [--profile]

1. Detect + embed on this CPU, one thread (as each scan worker has: ONNX Runtime and OpenCV at one thread):
   the product's :class:`plugin.analyzers.faces.FacesAnalyzer` on every photo of ``faces_deepface/`` and
   ``faces_face_recognition/``, decoded by the product's reader at the analysis size *before* the clock runs.
   Reported: ms per photo for YuNet detection, ms per face for alignment and for the MobileFaceNet
   embedding, and faces per second of the whole analyzer (detection, crop sharpness, alignment, embedding).
2. One new face against ``--faces`` known faces (synthetic: ``--faces / 20`` identities x 20 faces, 128-d,
   each identity a random unit vector, each face that centre plus Gaussian noise scaled so that two faces
   of one identity have a cosine of about 0.6, normalised, stored as float16 as the product stores them).
   People's representative vectors are built as the product builds them (:func:`representative` of each
   person's faces, :class:`PeopleIndex`); the build time is reported, then p50/p95 of one
   :meth:`PeopleIndex.match` call over 1,000 new faces (target < 10 ms).
3. Re-clustering: :func:`plugin.people.clustering.average_linkage` over the same faces at the default cluster
   threshold (target < 2 minutes), its pairwise and BCubed precision/recall against the generated
   identities; then the product's :func:`plugin.people.service.cluster_faces` on a real SQLite database
   holding those faces (one photo per face, inserted in bulk), where the time goes (clustering, the people's
   refresh, the rest: ORM and SQL), a second run with nothing new, the scan's :class:`Assigner` joining 1,000
   new faces in batches of 50 (as a scan's commit batches), and a re-cluster after them.
   ``--profile`` adds a cProfile of the first ``cluster_faces`` (top functions by cumulative time).

``--faces 10000`` runs it all in well under a minute. ``--per-identity 2000`` makes a library of few people with
many faces each (a family's library is like that), which costs the clustering much more than 20 faces each.
Not part of the test run: it prints numbers, it asserts nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import os
import pstats
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from sqlalchemy import insert, select  # noqa: E402
from sqlalchemy.orm import Session, sessionmaker  # noqa: E402

import plugin.people.clustering as clustering  # noqa: E402
import plugin.people.service as service  # noqa: E402
from plugin.analysis import options_from_settings  # noqa: E402
from plugin.analyzers.base import AnalysisInput  # noqa: E402
from plugin.analyzers.faces import FacesAnalyzer  # noqa: E402
from plugin.config import FaceSettings, load_settings  # noqa: E402
from plugin.inference.faces import align_face  # noqa: E402
from plugin.people.clustering import average_linkage, bcubed, pairwise_scores  # noqa: E402
from plugin.people.matching import PeopleIndex, match_threshold, representative  # noqa: E402
from plugin.reading.decode import DecodedPhoto, read_photo  # noqa: E402
from plugin.store.db import open_database  # noqa: E402
from plugin.store.models import Face, Library, Person, Photo  # noqa: E402

TARGET_MATCH_MS = 10.0
TARGET_CLUSTER_S = 120.0
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png"}
PHOTO_SETS = ("faces_deepface", "faces_face_recognition")
DIM = 128
EMBED_MODEL = "mobilefacenet:synthetic"
CHUNK = 10_000


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q)) if values else float("nan")


# --- 1. detect + embed ---------------------------------------------------------------------------------------

def decode_photos(data: Path, options: Any) -> tuple[list[tuple[str, DecodedPhoto]], list[str]]:
    photos, failed = [], []
    for name in PHOTO_SETS:
        for path in sorted((data / name).rglob("*")):
            if not path.is_file() or path.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            decoded = read_photo(path.read_bytes(), options.read)
            rel = str(path.relative_to(data))
            if isinstance(decoded, DecodedPhoto):
                photos.append((rel, decoded))
            else:
                failed.append(f"{rel} ({decoded.reason})")
    return photos, failed


def bench_detect_embed(data: Path, models: Path, repeats: int) -> None:
    import cv2

    cv2.setNumThreads(1)  # as each scan worker process does (plugin/workers.py)
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(models_dir=models, data_dir=Path(tmp), workers={"count": 1},
                                 inference={"download": False, "threads": 1, "device": "cpu"})
        options = options_from_settings(settings)
    refs = options.face_models
    if refs.detector.path is None or refs.embedder.path is None:
        print(f"\n== 1. detect + embed: skipped (models not found in {models}: {refs.detector.problem}; "
              f"{refs.embedder.problem})")
        return
    photos, failed = decode_photos(data, options)
    if not photos:
        print(f"\n== 1. detect + embed: skipped (no photos in {', '.join(PHOTO_SETS)} under {data})")
        return
    analyzer = FacesAnalyzer(refs, options.runtime, options.faces)
    assert analyzer.detector is not None and analyzer.embedder is not None
    inputs = [AnalysisInput(d.grey, d.rgb, (d.width, d.height), d.exif.exposure) for _, d in photos]
    analyzer.analyze(inputs[0])  # loads the models (not timed)
    pixels = [d.rgb.shape[0] * d.rgb.shape[1] / 1e6 for _, d in photos]
    print(f"\n== 1. detect + embed, one thread on a {os.cpu_count()}-core CPU: {len(photos)} photos of "
          f"{' + '.join(PHOTO_SETS)} at the analysis size (long side <= {options.read.analysis_size} px; "
          f"{min(pixels):.2f}-{max(pixels):.2f} MP, median {statistics.median(pixels):.2f} MP), x{repeats}"
          + (f"; not decoded: {', '.join(failed)}" if failed else ""))
    print(f"  models: {Path(refs.detector.path).name} (min_score {options.faces.min_score}), "
          f"{Path(refs.embedder.path).name} ({refs.embedder_kind}); ORT threads {options.runtime.threads}, "
          f"OpenCV threads {cv2.getNumThreads()}")
    detect_ms: list[float] = []
    align_ms: list[float] = []
    embed_ms: list[float] = []
    faces_per_photo: list[int] = []
    for _ in range(repeats):
        for photo in inputs:
            t0 = time.perf_counter()
            found = analyzer.detector.detect(photo.rgb)
            t1 = time.perf_counter()
            aligned = [align_face(photo.rgb, f.landmarks) for f in found]
            t2 = time.perf_counter()
            analyzer.embedder.embed(aligned)
            t3 = time.perf_counter()
            detect_ms.append((t1 - t0) * 1000)
            if found:
                align_ms.append((t2 - t1) * 1000 / len(found))
                embed_ms.append((t3 - t2) * 1000 / len(found))
            faces_per_photo.append(len(found))
    total_s, kept = 0.0, 0
    for _ in range(repeats):
        for photo in inputs:
            t0 = time.perf_counter()
            result = analyzer.analyze(photo)
            total_s += time.perf_counter() - t0
            kept += int(result.evidence.get("count", 0))
    found_total = sum(faces_per_photo)
    runs = repeats * len(inputs)
    print(f"  detection (YuNet, all scores >= min_score): {statistics.mean(detect_ms):6.1f} ms/photo mean, "
          f"p50 {pct(detect_ms, 50):.1f}, p95 {pct(detect_ms, 95):.1f}, max {max(detect_ms):.1f}")
    print(f"  faces found: {found_total // repeats} in {len(inputs)} photos "
          f"({found_total / runs:.2f} per photo, most {max(faces_per_photo)})")
    print(f"  alignment:  {statistics.mean(align_ms):6.2f} ms/face mean (p95 {pct(align_ms, 95):.2f})")
    print(f"  embedding:  {statistics.mean(embed_ms):6.2f} ms/face mean (p95 {pct(embed_ms, 95):.2f}; batch of 1, "
          "the model file's fixed batch size)")
    print(f"  align + embed: {statistics.mean(align_ms) + statistics.mean(embed_ms):6.2f} ms/face")
    print(f"  the whole FacesAnalyzer.analyze (detect, sharpness, align, embed): {total_s * 1000 / runs:.1f} ms/photo, "
          f"{kept / total_s:.1f} faces/s, {runs / total_s:.1f} photos/s on one thread "
          f"(x{os.cpu_count()} cores with one scan worker per core: about {kept / total_s * (os.cpu_count() or 1):.0f}"
          " faces/s at best)")


# --- synthetic embeddings ------------------------------------------------------------------------------------

def synthetic_faces(identities: int, per: int, within: float, rng: np.random.Generator) -> tuple[np.ndarray,
                                                                                                 np.ndarray,
                                                                                                 np.ndarray]:
    """(faces n x DIM float32, identity of each face, identity centres) with a within-identity cosine ~ ``within``.

    Two faces c + e1, c + e2 (|c| = 1, e ~ N(0, s^2 I / DIM)) have cosine about 1 / (1 + s^2): s^2 = 1/within - 1.
    """
    centres = rng.standard_normal((identities, DIM)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    truth = np.repeat(np.arange(identities), per)
    return new_faces(centres, truth, within, rng), truth, centres


def new_faces(centres: np.ndarray, who: np.ndarray, within: float, rng: np.random.Generator) -> np.ndarray:
    sigma = np.sqrt((1 / within - 1) / DIM)
    faces = centres[who] + rng.standard_normal((len(who), DIM)).astype(np.float32) * sigma
    faces /= np.linalg.norm(faces, axis=1, keepdims=True)
    return faces.astype(np.float16).astype(np.float32)  # the product stores float16


def describe(faces: np.ndarray, truth: np.ndarray, rng: np.random.Generator) -> str:
    a, b = rng.integers(0, len(faces), 20_000), rng.integers(0, len(faces), 20_000)
    sims = np.einsum("ij,ij->i", faces[a], faces[b])
    same = truth[a] == truth[b]
    order = np.argsort(truth, kind="stable")
    # Same-identity pairs: neighbours in the sorted order.
    sa, sb = order[:-1], order[1:]
    keep = truth[sa] == truth[sb]
    within = np.einsum("ij,ij->i", faces[sa[keep]], faces[sb[keep]])
    return (f"cosine within an identity: mean {within.mean():.3f} (p5 {np.percentile(within, 5):.3f}); between: "
            f"mean {sims[~same].mean():.3f}, p99.9 {np.percentile(sims[~same], 99.9):.3f}")


def pair_scores(labels: np.ndarray, truth: np.ndarray) -> tuple[float, float, float, float, float]:
    """Pairwise precision, recall and BCubed precision, recall, F from the contingency table (no n x n matrix)."""
    _, lab = np.unique(labels, return_inverse=True)
    _, tru = np.unique(truth, return_inverse=True)
    _, cell_of, nij = np.unique(lab.astype(np.int64) * (int(tru.max()) + 1) + tru, return_inverse=True,
                                 return_counts=True)
    ni = np.bincount(lab).astype(np.float64)
    nj = np.bincount(tru).astype(np.float64)
    nij = nij.astype(np.float64)

    def pairs(x: np.ndarray) -> float:
        return float((x * (x - 1) / 2).sum())

    tp, predicted, actual = pairs(nij), pairs(ni), pairs(nj)
    precision = tp / predicted if predicted else 1.0
    recall = tp / actual if actual else 1.0
    n = len(labels)
    per_face = nij[cell_of]
    b_p = float((per_face / ni[lab]).sum() / n)
    b_r = float((per_face / nj[tru]).sum() / n)
    return precision, recall, b_p, b_r, (2 * b_p * b_r / (b_p + b_r) if b_p + b_r else 0.0)


def check_pair_scores(rng: np.random.Generator) -> str:
    labels = rng.integers(0, 300, 2000)
    truth = np.where(rng.random(2000) < 0.8, labels // 2, rng.integers(0, 150, 2000)).astype(str)
    mine = pair_scores(labels, truth)
    theirs = (*pairwise_scores(labels.tolist(), truth.tolist()), *bcubed(labels.tolist(), truth.tolist()))
    ok = np.allclose(mine, theirs)
    return "agrees with" if ok else f"DIFFERS from ({mine} vs {theirs})"


# --- 2. one face against the people of N faces ---------------------------------------------------------------

def bench_match(faces: np.ndarray, truth: np.ndarray, centres: np.ndarray, within: float, queries: int,
                rng: np.random.Generator) -> None:
    identities = len(centres)
    print(f"\n== 2. one new face against {len(faces):,} known faces ({identities:,} people x "
          f"{len(faces) // identities})")
    started = time.perf_counter()
    order = np.argsort(truth, kind="stable")
    bounds = np.flatnonzero(np.diff(truth[order])) + 1
    people = [(int(truth[group[0]]), representative(faces[group])) for group in np.split(order, bounds)]
    index = PeopleIndex.build(people, DIM)
    build_s = time.perf_counter() - started
    print(f"  building the index (representative vector of each person from its faces, then PeopleIndex.build): "
          f"{build_s * 1000:.0f} ms for {len(index):,} people")
    who = rng.integers(0, identities, queries)
    probes = new_faces(centres, who, within, rng)
    for rule in ("calibrated", "smart_album_72"):
        threshold = match_threshold(FaceSettings(match_rule=rule))
        margin = FaceSettings().match_margin
        index.match(probes[0], threshold, margin)  # warm
        times_ms = []
        outcomes: dict[str, int] = {"right": 0, "wrong": 0, "ambiguous": 0, "below_threshold": 0}
        for probe, truth_id in zip(probes, who.tolist(), strict=True):
            t0 = time.perf_counter_ns()
            match = index.match(probe, threshold, margin)
            times_ms.append((time.perf_counter_ns() - t0) / 1e6)
            if match.person_id is None:
                outcomes[match.reason] += 1
            else:
                outcomes["right" if match.person_id == truth_id else "wrong"] += 1
        p95 = pct(times_ms, 95)
        print(f"  match(), {rule:14s} (cosine >= {threshold:.2f}, margin {margin}): p50 {pct(times_ms, 50):.3f} ms, "
              f"p95 {p95:.3f} ms, max {max(times_ms):.3f} ms over {queries} faces -> "
              f"{'MET' if p95 < TARGET_MATCH_MS else 'NOT MET'} (< {TARGET_MATCH_MS:.0f} ms); joined the right "
              f"person {outcomes['right']}, a wrong one {outcomes['wrong']}, ambiguous {outcomes['ambiguous']}, "
              f"below threshold {outcomes['below_threshold']}")


# --- 3. re-clustering ----------------------------------------------------------------------------------------

class Timers:
    """Wraps module functions to add up the time spent in each (the product's own functions, unchanged)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.calls: dict[str, int] = {}

    @contextlib.contextmanager
    def wrap(self, module: Any, name: str, label: str | None = None) -> Iterator[None]:
        original: Callable[..., Any] = getattr(module, name)
        key = label or name

        def timed(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds[key] = self.seconds.get(key, 0.0) + time.perf_counter() - t0
                self.calls[key] = self.calls.get(key, 0) + 1

        setattr(module, name, timed)
        try:
            yield
        finally:
            setattr(module, name, original)

    def reset(self) -> None:
        self.seconds.clear()
        self.calls.clear()


def bench_average_linkage(faces: np.ndarray, truth: np.ndarray, settings: FaceSettings) -> None:
    print(f"\n== 3a. average_linkage over {len(faces):,} faces at cluster_threshold {settings.cluster_threshold} "
          f"(neighbour graph: 16 neighbours above {settings.cluster_threshold - 0.15:.2f})")
    timers = Timers()
    with timers.wrap(clustering, "neighbour_graph"):
        started = time.perf_counter()
        labels = average_linkage(faces, settings.cluster_threshold)
        elapsed = time.perf_counter() - started
    graph = timers.seconds.get("neighbour_graph", 0.0)
    p, r, bp, br, bf = pair_scores(labels, truth)
    sizes = np.bincount(np.unique(labels, return_inverse=True)[1])
    print(f"  {elapsed:.1f} s (neighbour graph {graph:.1f} s, merging {elapsed - graph:.1f} s) -> "
          f"{'MET' if elapsed < TARGET_CLUSTER_S else 'NOT MET'} (< {TARGET_CLUSTER_S:.0f} s)")
    print(f"  clusters: {len(sizes):,} ({int((sizes >= settings.min_faces).sum()):,} with >= {settings.min_faces} "
          f"faces, largest {int(sizes.max())}); identities {len(np.unique(truth)):,}")
    print(f"  pairwise precision {p:.4f}, recall {r:.4f}; BCubed precision {bp:.4f}, recall {br:.4f}, F {bf:.4f}")


def fill_database(sessions: sessionmaker[Session], faces: np.ndarray, first_id: int = 1) -> list[int]:
    """One photo (status 'ok') and one face per vector, inserted in bulk; returns the face ids."""
    now = datetime.now(UTC).replace(tzinfo=None)
    with sessions() as session:
        library = session.scalar(select(Library))
        if library is None:
            library = Library(root="/synthetic", kind="local")
            session.add(library)
            session.flush()
        ids = list(range(first_id, first_id + len(faces)))
        blobs = faces.astype(np.float16)
        for start in range(0, len(faces), CHUNK):
            stop = min(len(faces), start + CHUNK)
            session.execute(insert(Photo), [
                {"id": ids[i], "library_id": library.id, "relpath": f"{ids[i] // 1000:04d}/IMG_{ids[i]:07d}.jpg",
                 "folder": f"{ids[i] // 1000:04d}", "size": 2_000_000, "mtime_ns": 1_700_000_000_000_000_000 + i,
                 "content_hash": f"{ids[i]:064x}", "status": "ok", "format": "JPEG", "width": 4032,
                 "height": 3024, "first_seen_at": now, "analysed_at": now} for i in range(start, stop)])
            session.execute(insert(Face), [
                {"id": ids[i], "photo_id": ids[i], "idx": 0, "x": 1000.0, "y": 800.0, "w": 400.0, "h": 480.0,
                 "landmarks": [], "score": 0.9, "sharpness": 200.0, "quality": "ok", "embed_model": EMBED_MODEL,
                 "embedding": blobs[i].tobytes(), "confirmed": False, "not_a_face": False, "created_at": now}
                for i in range(start, stop)])
        session.commit()
    return ids


def db_scores(sessions: sessionmaker[Session], face_ids: list[int], truth: np.ndarray) -> tuple[float, ...]:
    with sessions() as session:
        person = dict(session.execute(select(Face.id, Face.person_id)).all())
    labels = np.array([person.get(fid) if person.get(fid) is not None else -fid for fid in face_ids], np.int64)
    return pair_scores(labels, truth)


def timed_cluster(sessions: sessionmaker[Session], settings: FaceSettings, timers: Timers,
                  profile: bool = False) -> tuple[Any, float, str]:
    timers.reset()
    profiler = cProfile.Profile() if profile else None
    with timers.wrap(service, "average_linkage"), timers.wrap(service, "refresh_people"), \
            timers.wrap(Session, "get", "Session.get"), timers.wrap(Session, "flush", "Session.flush"), \
            timers.wrap(Session, "commit", "Session.commit"):
        started = time.perf_counter()
        if profiler is not None:
            profiler.enable()
        report = service.cluster_faces(sessions, settings, EMBED_MODEL)
        if profiler is not None:
            profiler.disable()
        elapsed = time.perf_counter() - started
    text = ""
    if profiler is not None:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(25)
        text = out.getvalue()
    return report, elapsed, text


def breakdown(timers: Timers, elapsed: float) -> str:
    s, c = timers.seconds, timers.calls
    # refresh_people and Session.get / flush overlap (refresh_people flushes by autoflush); commit is separate.
    parts = [f"average_linkage {s.get('average_linkage', 0):.1f} s",
             f"refresh_people {s.get('refresh_people', 0):.1f} s ({c.get('refresh_people', 0)} calls)",
             f"Session.get {s.get('Session.get', 0):.1f} s ({c.get('Session.get', 0):,} calls)",
             f"Session.flush {s.get('Session.flush', 0):.1f} s ({c.get('Session.flush', 0):,} calls)",
             f"commit {s.get('Session.commit', 0):.1f} s"]
    return f"{elapsed:.1f} s: " + ", ".join(parts)


def bench_recluster(faces: np.ndarray, truth: np.ndarray, centres: np.ndarray, within: float,
                    settings: FaceSettings, args: argparse.Namespace, rng: np.random.Generator) -> None:
    print(f"\n== 3b. cluster_faces (plugin.people.service.recluster) on SQLite with {len(faces):,} faces "
          "(one photo each, none assigned yet)")
    timers = Timers()
    with tempfile.TemporaryDirectory(prefix="piccl-bench-faces-") as tmp:
        sessions = open_database(f"sqlite:///{Path(tmp) / 'piccl.sqlite3'}")
        try:
            started = time.perf_counter()
            face_ids = fill_database(sessions, faces)
            print(f"  bulk insert of {len(faces):,} photos + faces: {time.perf_counter() - started:.1f} s")

            report, elapsed, profile = timed_cluster(sessions, settings, timers, args.profile)
            print(f"  first re-clustering {breakdown(timers, elapsed)}")
            print(f"    report: {report.as_dict()}")
            p, r, bp, br, bf = db_scores(sessions, face_ids, truth)
            print(f"    people vs identities: pairwise precision {p:.4f}, recall {r:.4f}; BCubed precision "
                  f"{bp:.4f}, recall {br:.4f}, F {bf:.4f} (unassigned faces on their own)")
            if profile:
                print("    cProfile of that run (its overhead makes it slower), top 25 by cumulative time:")
                print("\n".join("      " + line for line in profile.strip().splitlines()))

            report, elapsed, _ = timed_cluster(sessions, settings, timers)
            print(f"  again, nothing new: {breakdown(timers, elapsed)}; {report.as_dict()}")

            # New faces, as a scan finds them: most of known people, some of people never seen.
            new_n = args.new_faces
            known = rng.integers(0, len(centres), new_n)
            strangers = rng.random(new_n) < 0.1
            extra = rng.standard_normal((int(strangers.sum()), DIM)).astype(np.float32)
            extra /= np.linalg.norm(extra, axis=1, keepdims=True)
            all_centres = np.vstack([centres, extra])
            who = known.copy()
            who[strangers] = len(centres) + np.arange(int(strangers.sum()))
            probes = new_faces(all_centres, who, within, rng)
            new_ids = fill_database(sessions, probes, first_id=face_ids[-1] + 1)
            assigner = service.Assigner(settings, EMBED_MODEL)
            batch_s: list[float] = []
            assigned = right = 0
            with sessions() as session:
                t0 = time.perf_counter()
                assigner._index = assigner._load(session)
                load_s = time.perf_counter() - t0
                people_ids = set(session.scalars(select(Person.id)))
                for start in range(0, new_n, args.batch):
                    chunk = new_ids[start:start + args.batch]
                    rows = list(session.scalars(select(Face).where(Face.id.in_(chunk))))
                    t0 = time.perf_counter()
                    assigned += assigner.assign(session, rows)
                    session.commit()
                    batch_s.append(time.perf_counter() - t0)
            with sessions() as session:
                person_of = dict(session.execute(select(Face.id, Face.person_id)).all())
            # A joined face is right when its person's faces are mostly its identity.
            owner: dict[int, int] = {}
            votes: dict[int, dict[int, int]] = {}
            for fid, ident in zip(face_ids, truth.tolist(), strict=True):
                pid = person_of.get(fid)
                if pid is not None:
                    votes.setdefault(pid, {}).setdefault(ident, 0)
                    votes[pid][ident] += 1
            owner = {pid: max(v, key=lambda k: v[k]) for pid, v in votes.items()}
            for fid, ident in zip(new_ids, who.tolist(), strict=True):
                pid = person_of.get(fid)
                right += pid is not None and owner.get(pid) == ident
            per_face = [s / args.batch * 1000 for s in batch_s]
            print(f"  Assigner: index of {len(people_ids):,} people loaded from the database in "
                  f"{load_s * 1000:.0f} ms; {new_n:,} new faces ({int(strangers.sum())} of people never seen) in "
                  f"batches of {args.batch} "
                  f"(assign + commit): p50 {pct(batch_s, 50) * 1000:.0f} ms, p95 {pct(batch_s, 95) * 1000:.0f} ms "
                  f"per batch = {pct(per_face, 50):.2f} ms per face; joined {assigned} ({right} to the right person)")

            report, elapsed, _ = timed_cluster(sessions, settings, timers)
            truth_all = np.concatenate([truth, who])
            p, r, bp, br, bf = db_scores(sessions, face_ids + new_ids, truth_all)
            print(f"  re-clustering after them: {breakdown(timers, elapsed)}; {report.as_dict()}")
            print(f"    people vs identities: pairwise precision {p:.4f}, recall {r:.4f}; BCubed precision "
                  f"{bp:.4f}, recall {br:.4f}, F {bf:.4f}")
        finally:
            sessions.kw["bind"].dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=os.environ.get("PICCL_TESTDATA"))
    parser.add_argument("--models", type=Path, default=os.environ.get("PICCL_MODELS_DIR"))
    parser.add_argument("--faces", type=int, default=100_000, help="known faces of the synthetic library")
    parser.add_argument("--per-identity", type=int, default=20, help="faces per synthetic identity")
    parser.add_argument("--within", type=float, default=0.6, help="cosine of two faces of one synthetic identity")
    parser.add_argument("--queries", type=int, default=1000, help="single-face match() calls timed")
    parser.add_argument("--new-faces", type=int, default=1000, help="new faces the Assigner joins in 3b")
    parser.add_argument("--batch", type=int, default=50, help="new faces per Assigner call (a scan's commit batch)")
    parser.add_argument("--repeats", type=int, default=3, help="passes over the photos in part 1")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--profile", action="store_true", help="cProfile the first cluster_faces of part 3b")
    parser.add_argument("--skip", choices=["detect", "match", "linkage", "recluster"], nargs="*", default=[],
                        help="leave parts out")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    started = time.perf_counter()
    print(f"cores: {os.cpu_count()}, load average now {os.getloadavg()[0]:.2f} (other work on the machine slows "
          "every number below)")
    if "detect" not in args.skip:
        if not args.data or not Path(args.data).is_dir():
            print("\n== 1. detect + embed: skipped (set PICCL_TESTDATA or --data to the shared data folder)")
        elif not args.models or not Path(args.models).is_dir():
            print("\n== 1. detect + embed: skipped (set PICCL_MODELS_DIR or --models to the model files)")
        else:
            bench_detect_embed(Path(args.data), Path(args.models).resolve(), args.repeats)

    rng = np.random.default_rng(args.seed)
    identities = max(1, args.faces // args.per_identity)
    faces, truth, centres = synthetic_faces(identities, args.per_identity, args.within, rng)
    settings = FaceSettings()
    print(f"\nsynthetic library: {len(faces):,} faces = {identities:,} identities x {args.per_identity}, {DIM}-d; "
          f"{describe(faces, truth, rng)}; scoring {check_pair_scores(rng)} plugin.people.clustering's "
          "pairwise_scores/bcubed on 2,000 faces")
    if "match" not in args.skip:
        bench_match(faces, truth, centres, args.within, args.queries, rng)
    if "linkage" not in args.skip:
        bench_average_linkage(faces, truth, settings)
    if "recluster" not in args.skip:
        bench_recluster(faces, truth, centres, args.within, settings, args, rng)
    print(f"\ntotal {time.perf_counter() - started:.0f} s; load average at the end {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
