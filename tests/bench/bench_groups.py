"""Benchmark: seconds and memory to group 10,000 to 1,000,000 photos, and how the time grows with the library.

    .venv/bin/python tests/bench/bench_groups.py [--sizes 10k,100k,300k,1M] [--quick] [--profile]

For each size a synthetic library is generated (seeded, so every run sees the same photos) and
:func:`plugin.grouping.groups.find_groups` runs over it twice, with the default method and with
``method="piccl2021"``, each in a fresh ``spawn`` child process. The library spans ten years:

* events (a day out, a party; 25 % are a single isolated scene) of scenes minutes apart, each scene one
  shot or a burst of 2-8 shots seconds apart; 70 % of events have GPS (scenes within tens of metres of
  the event's place), 85 % have the camera's time (the others the file's, half of them imported days later);
* 64-bit perceptual hashes random per scene, a burst's shots its base hash with 0-6 bits flipped; the mirror
  hash is another random value per scene, flipped alike; 3 % of scenes black and white; common camera sizes;
* 2 % exact duplicates (same content code, same everything), 2 % edited copies (1-6 hash bits flipped; a
  quarter mirrored: hash = the original's mirror hash and back, a fifth made black and white; resized or
  cropped; half lost their EXIF: file time, no GPS, some saved years later);
* the pathological slice: 1 % all-black photos (flat: no hash, as the analyzer gives them) taken near other
  photos, and one folder of min(5,000, n / 20) photos without EXIF sharing one file time (copied at once);
* a PICCL tag-set code per photo (one per scene, 10 % of photos another) for piccl2021.

The similarity callback computes real 1280-d float32 dot products for every pair it is asked about. It
builds each photo's vector on demand from a seeded pool (event + scene + shot + edit noise: shots of one
burst have cosines of 0.8-0.97, scenes of one event about 0.45, others about 0), a few thousand pairs at a
time, so the 1M x 1280 matrix never exists; 4 % of photos have no vector (NaN). That stands for the store's
cost (load the vectors of the rows asked about, one dot product per pair).

Memory: the parent saves the generated table to a temporary .npz; each child imports, loads it and sets
up the callback (the baseline: the peak resident set so far, Linux's VmHWM), runs ``find_groups`` and reads
the peak again: "peak" is the child's whole peak RSS, "+grouping" the peak minus the baseline. The stages
(identical_pairs, hash_pairs, window_pairs, piccl2021_pairs, the similarity callback, components) are timed
by wrapping the functions in ``plugin.grouping.groups``; "rest" is the remainder (filters, the groups'
bookkeeping). "hash cand." counts the hash pairs compared (neighbours in a quarter's sort order), "feature"
the pairs given to the similarity callback. ``--profile`` adds a cProfile of the default method at the largest size.

Targets (the issue): 1,000,000 photos in under 60 s and 2 GB. Not part of the test run: it prints numbers,
it asserts nothing.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import itertools
import math
import os
import pstats
import resource
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import plugin.grouping.groups as groups  # noqa: E402
import plugin.grouping.pairs as pairs  # noqa: E402
from plugin.config import SimilarSettings  # noqa: E402
from plugin.grouping.groups import KINDS, PhotoTable, find_groups  # noqa: E402

TARGET_S = 60.0
TARGET_GB = 2.0
DEFAULT_SIZES = (10_000, 100_000, 300_000, 1_000_000)
QUICK_SIZES = (10_000, 100_000)
METHODS = ("default", "piccl2021")

DIM = 1280
POOL = 8191  # prime: rows of the seeded vector pool (42 MB float32)
PAIR_CHUNK = 4096  # pairs per batch of the similarity callback (their vectors: 2 x 4096 x 1280 float32, 42 MB)
BLOCK = 256  # rows per step inside a batch (1.3 MB: stays in the CPU's cache)
YEARS = 10
EPOCH = 1_388_534_400.0  # 2014-01-01
BLACK_ID = 1 << 23  # the event / scene id all black photos share (their vectors are alike)
SIZES_PX = ((4032, 3024), (4000, 3000), (6000, 4000), (4608, 3456), (3264, 2448), (1920, 1080))
TABLE_COLUMNS = ("ids", "content", "phash", "mirror", "has_hash", "mono", "width", "height", "times",
                 "camera_time", "lat", "lon", "tag_keys")
VECTOR_COLUMNS = ("vec_event", "vec_scene", "vec_look", "vec_weights", "has_vector", "time_rank")


# --- the synthetic library -----------------------------------------------------------------------------------

def _flips(rng: np.random.Generator, n: int, low: int, high: int) -> np.ndarray:
    """A uint64 mask per row with ``low``..``high`` random bits set (a repeated bit counts once)."""
    count = rng.integers(low, high + 1, n)
    mask = np.zeros(n, np.uint64)
    for j in range(high):
        bit = np.uint64(1) << rng.integers(0, 64, n).astype(np.uint64)
        mask |= np.where(j < count, bit, np.uint64(0))
    return mask


def _random64(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.integers(0, 1 << 64, n, dtype=np.uint64)


def _offsets_within(groups_of: np.ndarray, gaps: np.ndarray) -> np.ndarray:
    """Running sum of ``gaps`` restarted at each group (items sorted by group; the first item's gap is ignored)."""
    first = np.ones(len(groups_of), bool)
    first[1:] = groups_of[1:] != groups_of[:-1]
    gaps = np.where(first, 0.0, gaps)
    total = np.cumsum(gaps)
    start = np.maximum.accumulate(np.where(first, np.arange(len(gaps)), 0))
    return total - total[start]


def _repeat_to(sizes: np.ndarray, total: int) -> np.ndarray:
    """Group index per item for groups of ``sizes`` (enough of them), cut at ``total`` items."""
    return np.repeat(np.arange(len(sizes)), sizes)[:total]


@dataclass(slots=True)
class Library:
    table: dict[str, np.ndarray]
    vectors: dict[str, np.ndarray]
    slices: dict[str, int] = field(default_factory=dict)


def make_library(n: int, seed: int) -> Library:
    rng = np.random.default_rng(seed)
    n_black, n_folder = n // 100, min(5000, n // 20)
    n_exact, n_near = round(0.02 * n), round(0.02 * n)
    n_orig = n - n_black - n_folder - n_exact - n_near

    # Originals: scenes (one shot or a burst), grouped into events.
    burst = rng.choice(np.arange(1, 9), size=n_orig, p=[0.55, 0.12, 0.10, 0.08, 0.05, 0.04, 0.03, 0.03])
    scene = _repeat_to(burst, n_orig)
    n_scenes = int(scene[-1]) + 1
    event_size = np.where(rng.random(n_scenes) < 0.25, 1, 1 + rng.geometric(1 / 8, n_scenes))
    event_of_scene = _repeat_to(event_size, n_scenes)
    n_events = int(event_of_scene[-1]) + 1
    event = event_of_scene[scene]

    event_start = EPOCH + rng.integers(0, YEARS * 365, n_events) * 86400.0 + rng.uniform(8, 20, n_events) * 3600
    scene_offset = _offsets_within(event_of_scene, rng.exponential(600.0, n_scenes))
    shot_offset = _offsets_within(scene, rng.uniform(0.3, 4.0, n_orig))
    true_time = event_start[event] + scene_offset[scene] + shot_offset
    event_camera = rng.random(n_events) < 0.85
    import_delay = np.where(rng.random(n_events) < 0.5, 0.0, rng.uniform(1, 90, n_events) * 86400)
    camera_time = event_camera[event]
    times = np.where(camera_time, true_time, true_time + import_delay[event])

    bases = np.column_stack([rng.uniform(-40, 60, 12), rng.uniform(-120, 140, 12)])
    home = bases[rng.integers(0, len(bases), n_events)] + rng.normal(0, 0.05, (n_events, 2))
    world = np.column_stack([rng.uniform(-50, 65, n_events), rng.uniform(-170, 170, n_events)])
    place = np.where((rng.random(n_events) < 0.8)[:, None], home, world)
    place[rng.random(n_events) >= 0.7] = np.nan  # 30 % of events without GPS
    metre = 1 / 111_000
    scene_place = place[event_of_scene] + rng.normal(0, 60 * metre, (n_scenes, 2))
    where = scene_place[scene] + rng.normal(0, 3 * metre, (n_orig, 2))

    scene_hash, scene_mirror = _random64(rng, n_scenes), _random64(rng, n_scenes)
    first_shot = np.r_[True, scene[1:] != scene[:-1]]
    phash = scene_hash[scene] ^ np.where(first_shot, np.uint64(0), _flips(rng, n_orig, 0, 6))
    mirror = scene_mirror[scene] ^ np.where(first_shot, np.uint64(0), _flips(rng, n_orig, 0, 6))
    mono = (rng.random(n_scenes) < 0.03)[scene]
    camera = rng.integers(0, len(SIZES_PX), n_events)[event]
    portrait = (rng.random(n_scenes) < 0.3)[scene]
    w, h = np.array(SIZES_PX)[camera].T
    width, height = np.where(portrait, h, w), np.where(portrait, w, h)
    tag_weights = 1 / np.arange(1, 41)
    tags = rng.choice(40, n_scenes, p=tag_weights / tag_weights.sum())[scene]
    tags = np.where(rng.random(n_orig) < 0.1, rng.integers(0, 40, n_orig), tags)
    look_share = rng.uniform(0.03, 0.2, n_scenes)[scene]
    weights = np.column_stack([np.full(n_orig, 0.45), 0.55 - look_share, look_share, np.zeros(n_orig)])
    cols: dict[str, np.ndarray] = {
        "content": np.arange(n_orig), "phash": phash, "mirror": mirror, "mono": mono, "width": width,
        "height": height, "times": times, "camera_time": camera_time, "lat": where[:, 0], "lon": where[:, 1],
        "tag_keys": tags, "vec_event": event, "vec_scene": scene, "vec_look": np.arange(n_orig),
        "vec_weights": weights,
    }

    def copy_of(src: np.ndarray) -> dict[str, np.ndarray]:
        return {k: v[src].copy() for k, v in cols.items()}

    # Exact duplicates: the same file again.
    exact = copy_of(rng.integers(0, n_orig, n_exact))
    # Edited copies: hash a few bits off, some mirrored or black and white, resized or cropped, EXIF kept or lost.
    src = rng.integers(0, n_orig, n_near)
    near = copy_of(src)
    near["content"] = n_orig + np.arange(n_near)
    mirrored = rng.random(n_near) < 0.25
    near["phash"] = np.where(mirrored, cols["mirror"][src], cols["phash"][src]) ^ _flips(rng, n_near, 1, 6)
    near["mirror"] = np.where(mirrored, cols["phash"][src], cols["mirror"][src]) ^ _flips(rng, n_near, 1, 6)
    near["mono"] = near["mono"] | (rng.random(n_near) < 0.2)
    edit = rng.random(n_near)
    near["width"] = np.where(edit < 0.5, near["width"] // 2, near["width"])
    near["height"] = np.where(edit < 0.5, near["height"] // 2, np.where(edit < 0.8, near["height"] * 4 // 5,
                                                                          near["height"]))
    lost = rng.random(n_near) < 0.5
    near["camera_time"] = near["camera_time"] & ~lost
    later = np.where(rng.random(n_near) < 0.5, 0.0, rng.uniform(1, 3 * 365, n_near) * 86400)
    near["times"] = near["times"] + np.where(lost, later, 0.0)
    near["lat"] = np.where(lost, np.nan, near["lat"])
    near["lon"] = np.where(lost, np.nan, near["lon"])
    near["vec_weights"] = near["vec_weights"] * 0.94 + np.array([0, 0, 0, 0.06])

    # All-black frames (hash 0), each taken a few minutes after some photo of an event.
    near_of = rng.integers(0, n_orig, n_black)
    black = copy_of(near_of)
    black.update(content=n_orig + n_near + np.arange(n_black), phash=np.zeros(n_black, np.uint64),
                 mirror=np.zeros(n_black, np.uint64), mono=np.ones(n_black, bool),
                 times=cols["times"][near_of] + rng.uniform(5, 300, n_black),
                 vec_event=np.full(n_black, BLACK_ID), vec_scene=np.full(n_black, BLACK_ID),
                 vec_look=n_orig + np.arange(n_black),
                 vec_weights=np.tile([0.5, 0.45, 0.05, 0.0], (n_black, 1)))

    # One folder copied at once: no EXIF, one file time, no GPS, unrelated pictures.
    folder = copy_of(rng.integers(0, n_orig, n_folder))
    fresh = n_orig + n_black + np.arange(n_folder)
    folder.update(content=n_orig + n_near + n_black + np.arange(n_folder),
                  phash=_random64(rng, n_folder), mirror=_random64(rng, n_folder),
                  mono=np.zeros(n_folder, bool), times=np.full(n_folder, EPOCH + 6.5 * 365 * 86400),
                  camera_time=np.zeros(n_folder, bool), lat=np.full(n_folder, np.nan),
                  lon=np.full(n_folder, np.nan), vec_event=(1 << 22) + fresh, vec_scene=(1 << 22) + fresh,
                  vec_look=fresh, vec_weights=np.tile([0.4, 0.4, 0.2, 0.0], (n_folder, 1)))

    parts = [cols, exact, near, black, folder]
    merged = {k: np.concatenate([p[k] for p in parts]) for k in cols}
    order = rng.permutation(n)  # rows in no particular order, as a store's ids are
    merged = {k: v[order] for k, v in merged.items()}
    table = {
        "ids": np.arange(1, n + 1, dtype=np.int64), "content": merged["content"].astype(np.int64),
        "phash": merged["phash"].astype(np.uint64), "mirror": merged["mirror"].astype(np.uint64),
        "has_hash": merged["phash"] != 0,  # black (flat) frames get no hash, as in plugin.analyzers.hashes
        "mono": merged["mono"].astype(bool),
        "width": merged["width"].astype(np.int64), "height": merged["height"].astype(np.int64),
        "times": merged["times"].astype(np.float64), "camera_time": merged["camera_time"].astype(bool),
        "lat": merged["lat"].astype(np.float64), "lon": merged["lon"].astype(np.float64),
        "tag_keys": merged["tag_keys"].astype(np.int64),
    }
    time_rank = np.empty(n, np.int64)
    time_rank[np.argsort(table["times"], kind="stable")] = np.arange(n)
    vectors = {
        "vec_event": merged["vec_event"].astype(np.int64), "vec_scene": merged["vec_scene"].astype(np.int64),
        "vec_look": merged["vec_look"].astype(np.int64),
        "vec_weights": np.sqrt(merged["vec_weights"]).astype(np.float32),
        "has_vector": rng.random(n) >= 0.04, "time_rank": time_rank,
    }
    slices = {"originals": n_orig, "scenes": n_scenes, "events": n_events, "exact": n_exact, "edited": n_near,
              "black": n_black, "folder": n_folder}
    return Library(table, vectors, slices)


# --- the similarity callback ---------------------------------------------------------------------------------

class GeneratedSimilarity:
    """Cosine of generated 1280-d vectors, built on demand for the rows asked about (a batch at a time).

    The working buffers are allocated and touched once, here (a fresh 10 MB+ array costs its page faults
    on every use, which would time the kernel rather than the dot products), and used a cache-sized block
    at a time.
    """

    def __init__(self, vectors: dict[str, np.ndarray], seed: int) -> None:
        self.pool = np.random.default_rng(seed + 1).standard_normal((POOL, DIM), dtype=np.float32)
        self.pool /= np.linalg.norm(self.pool, axis=1, keepdims=True)
        n = len(vectors["vec_look"])
        self.ids = np.column_stack([vectors["vec_event"], vectors["vec_scene"] + (1 << 24),
                                    vectors["vec_look"] + (2 << 24), np.arange(n) + (3 << 24)])
        self.weights = vectors["vec_weights"]
        self.has_vector = vectors["has_vector"]
        self.time_rank = vectors["time_rank"]
        self.rows_buf = np.ones((2 * PAIR_CHUNK, DIM), np.float32)
        self.part_buf = np.ones((BLOCK, DIM), np.float32)
        self.a_buf = np.ones((BLOCK, DIM), np.float32)
        self.b_buf = np.ones((BLOCK, DIM), np.float32)
        self.pairs = 0
        self.built = 0

    def vectors(self, rows: np.ndarray) -> np.ndarray:
        """Unit vectors of ``rows`` (at most 2 x PAIR_CHUNK) in the rows buffer: a weighted sum of pool rows."""
        out = self.rows_buf[:len(rows)]
        slots = (self.ids[rows] * 2_654_435_761) % POOL
        weights = self.weights[rows]
        for start in range(0, len(rows), BLOCK):  # blocks that stay in the CPU's cache
            block, w, s = out[start:start + BLOCK], weights[start:start + BLOCK], slots[start:start + BLOCK]
            part = self.part_buf[:len(block)]
            np.take(self.pool, s[:, 0], axis=0, out=block, mode="clip")
            block *= w[:, 0, None]
            for k in range(1, s.shape[1]):
                if w[:, k].any():
                    np.take(self.pool, s[:, k], axis=0, out=part, mode="clip")
                    part *= w[:, k, None]
                    block += part
        out /= np.linalg.norm(out, axis=1, keepdims=True)
        return out

    def __call__(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        self.pairs += len(a)
        out = np.full(len(a), np.nan)
        # Pairs in time order share their photos, so each batch builds few vectors.
        order = np.argsort(self.time_rank[np.minimum(a, b)], kind="stable")
        for start in range(0, len(order), PAIR_CHUNK):
            batch = order[start:start + PAIR_CHUNK]
            rows, inverse = np.unique(np.concatenate([a[batch], b[batch]]), return_inverse=True)
            self.built += len(rows)
            v = self.vectors(rows)
            ia, ib = inverse[:len(batch)], inverse[len(batch):]
            for k in range(0, len(batch), BLOCK):
                va, vb = self.a_buf[:len(ia[k:k + BLOCK])], self.b_buf[:len(ia[k:k + BLOCK])]
                np.take(v, ia[k:k + BLOCK], axis=0, out=va, mode="clip")
                np.take(v, ib[k:k + BLOCK], axis=0, out=vb, mode="clip")
                out[batch[k:k + BLOCK]] = np.einsum("ij,ij->i", va, vb)
        out[~(self.has_vector[a] & self.has_vector[b])] = np.nan
        return out


# --- one run in a fresh process ------------------------------------------------------------------------------

def _peak_rss_mb() -> float:
    """This process's peak resident set so far, in MiB.

    Linux's VmHWM, not ``getrusage().ru_maxrss``: a spawned child starts as a fork of the parent, and
    ru_maxrss keeps the parent's resident set at that fork across the exec (with a 1M library in the parent
    that read 580 MB before the child had loaded anything).
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


class StageClock:
    """Wraps the finders in plugin.grouping.groups' namespace to time them and count what they return."""

    NAMES = ("identical_pairs", "hash_pairs", "window_pairs", "piccl2021_pairs", "components")

    def __init__(self) -> None:
        self.seconds: Counter[str] = Counter()
        self.counts: Counter[str] = Counter()
        self.stage = ""
        self._saved: dict[tuple[Any, str], Any] = {}

    def _wrap(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            self.stage, started = name, time.perf_counter()
            result = fn(*args, **kwargs)
            self.seconds[name] += time.perf_counter() - started
            self.counts[name] += len(result[0]) if isinstance(result, tuple) else len(result)
            self.stage = ""
            return result
        return timed

    def _count_candidates(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        def counted(*args: Any, **kwargs: Any) -> Any:
            result = fn(*args, **kwargs)
            self.counts[f"{self.stage}:candidates"] += len(result[0])
            return result
        return counted

    def install(self) -> None:
        for name in self.NAMES:
            self._saved[(groups, name)] = getattr(groups, name)
            setattr(groups, name, self._wrap(name, getattr(groups, name)))
        self._saved[(pairs, "_neighbour_pairs")] = pairs._neighbour_pairs
        pairs._neighbour_pairs = self._count_candidates(pairs._neighbour_pairs)

    def uninstall(self) -> None:
        for (module, name), fn in self._saved.items():
            setattr(module, name, fn)


def run_one(path: str, method: str, seed: int, profile: bool) -> dict[str, Any]:
    """In a fresh child: load the library, group it once, report time, stages, groups and memory."""
    with np.load(path) as data:
        table = PhotoTable(**{k: data[k] for k in TABLE_COLUMNS})
        vectors = {k: data[k] for k in VECTOR_COLUMNS}
    similarity = GeneratedSimilarity(vectors, seed)
    settings = SimilarSettings()
    clock = StageClock()
    clock.install()
    sim_seconds = [0.0]

    def timed_similarity(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        started = time.perf_counter()
        out = similarity(a, b)
        sim_seconds[0] += time.perf_counter() - started
        return out

    baseline = _peak_rss_mb()
    profiler = cProfile.Profile() if profile else None
    started = time.perf_counter()
    if profiler:
        profiler.enable()
    found = find_groups(table, settings, timed_similarity, None if method == "default" else method)
    if profiler:
        profiler.disable()
    seconds = time.perf_counter() - started
    peak = _peak_rss_mb()
    clock.uninstall()
    profile_text = ""
    if profiler:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(25)
        profile_text = out.getvalue()
    kinds = Counter(g.kind for g in found)
    return {
        "seconds": seconds, "baseline_mb": baseline, "peak_mb": peak, "stages": dict(clock.seconds),
        "similarity_s": sim_seconds[0], "counts": dict(clock.counts), "feature_pairs": similarity.pairs,
        "built": similarity.built,
        "groups": {k: kinds.get(k, 0) for k in KINDS}, "grouped": sum(len(g.rows) for g in found),
        "largest": max((len(g.rows) for g in found), default=0), "profile": profile_text,
    }


def in_child(path: str, method: str, seed: int, profile: bool) -> dict[str, Any]:
    with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
        return pool.submit(run_one, path, method, seed, profile).result()


# --- the report ----------------------------------------------------------------------------------------------

def parse_size(text: str) -> int:
    text = text.strip().lower().replace("_", "").replace(",", "")
    scale = {"k": 1_000, "m": 1_000_000}.get(text[-1:], 1)
    return int(float(text.rstrip("km")) * scale)


def growth(sizes: list[int], seconds: list[float]) -> str:
    """Time ratio per 10x photos between consecutive sizes, then over the whole range."""
    steps = []
    for (n1, t1), (n2, t2) in itertools.pairwise(zip(sizes, seconds, strict=True)):
        steps.append(f"{n1 // 1000}k->{n2 // 1000}k x{(t2 / t1) ** (1 / math.log10(n2 / n1)):.1f}")
    if len(sizes) > 2:
        whole = (seconds[-1] / seconds[0]) ** (1 / math.log10(sizes[-1] / sizes[0]))
        steps.append(f"{sizes[0] // 1000}k->{sizes[-1] // 1000}k x{whole:.1f}")
    return ", ".join(steps) + " per 10x photos (10 = linear, 100 = quadratic)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=",".join(str(s) for s in DEFAULT_SIZES),
                        help="library sizes, comma-separated (10k, 1M, 250000)")
    parser.add_argument("--quick", action="store_true", help=f"only {', '.join(f'{s:,}' for s in QUICK_SIZES)}")
    parser.add_argument("--methods", default=",".join(METHODS), help="default, piccl2021 or both")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--profile", action="store_true", help="cProfile the default method at the largest size")
    args = parser.parse_args()
    sizes = sorted(QUICK_SIZES if args.quick else {parse_size(s) for s in args.sizes.split(",") if s.strip()})
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    print(f"cores: {os.cpu_count()}, load average now {os.getloadavg()[0]:.2f}; targets at 1M: "
          f"< {TARGET_S:.0f} s, < {TARGET_GB:.0f} GB; settings: {SimilarSettings().model_dump()}")
    results: dict[tuple[int, str], dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            started = time.perf_counter()
            library = make_library(n, args.seed)
            path = os.path.join(tmp, f"library_{n}.npz")
            np.savez(path, **library.table, **library.vectors)
            s = library.slices
            print(f"\n{n:,} photos (generated in {time.perf_counter() - started:.1f} s): {s['originals']:,} "
                  f"originals in {s['scenes']:,} scenes of {s['events']:,} events, {s['exact']:,} exact "
                  f"duplicates, {s['edited']:,} edited copies, {s['black']:,} black, folder of {s['folder']:,}")
            del library
            for method in methods:
                profile = args.profile and method == "default" and n == sizes[-1]
                r = results[(n, method)] = in_child(path, method, args.seed, profile)
                st, c = r["stages"], r["counts"]
                print(f"  {method:9}  {r['seconds']:7.2f} s  peak {r['peak_mb']:6.0f} MB "
                      f"(+{r['peak_mb'] - r['baseline_mb']:.0f} grouping)  groups: "
                      + ", ".join(f"{k} {v:,}" for k, v in r["groups"].items())
                      + f"; {r['grouped']:,} photos grouped, largest group {r['largest']:,}")
                stages = [("identical", st.get("identical_pairs", 0.0)), ("hash", st.get("hash_pairs", 0.0)),
                          ("window", st.get("window_pairs", 0.0)), ("piccl2021", st.get("piccl2021_pairs", 0.0)),
                          ("similarity", r["similarity_s"]), ("components", st.get("components", 0.0))]
                stages = [(k, v) for k, v in stages if v]
                rest = r["seconds"] - sum(v for _, v in stages)
                print("             stages: " + ", ".join(f"{k} {v:.2f}" for k, v in stages)
                      + f", rest {rest:.2f} s; pairs: "
                      + ", ".join(f"{label} {c.get(key, 0):,}" for label, key in (
                          ("hash cand.", "hash_pairs:candidates"), ("hash", "hash_pairs"),
                          ("window", "window_pairs"), ("piccl2021 cand.", "piccl2021_pairs:candidates"),
                          ("piccl2021", "piccl2021_pairs"), ("identical", "identical_pairs"))
                          if key in c)
                      + (f", feature {r['feature_pairs']:,} ({r['built']:,} vectors built)"
                         if method == "default" else ""))
                if r["profile"]:
                    print(r["profile"])

    print(f"\n{'photos':>10} | " + " | ".join(f"{m + ' s':>14} {'peak MB':>8} {'+grp MB':>8}" for m in methods)
          + " | groups (default: duplicate / near_duplicate / similar)")
    for n in sizes:
        cells = []
        for m in methods:
            r = results[(n, m)]
            cells.append(f"{r['seconds']:14.2f} {r['peak_mb']:8.0f} {r['peak_mb'] - r['baseline_mb']:8.0f}")
        g = results[(n, methods[0])]["groups"]
        print(f"{n:>10,} | " + " | ".join(cells) + " | " + " / ".join(f"{g[k]:,}" for k in KINDS))
    if len(sizes) > 1:
        for m in methods:
            print(f"growth, {m}: " + growth(sizes, [results[(n, m)]["seconds"] for n in sizes]))
    if 1_000_000 in sizes:
        for m in methods:
            r = results[(1_000_000, m)]
            ok = r["seconds"] < TARGET_S and r["peak_mb"] / 1024 < TARGET_GB
            print(f"1M, {m}: {r['seconds']:.1f} s, peak {r['peak_mb'] / 1024:.2f} GB -> "
                  f"{'meets' if ok else 'MISSES'} < {TARGET_S:.0f} s and < {TARGET_GB:.0f} GB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
