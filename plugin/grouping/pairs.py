"""Candidate pairs of photos, found without comparing every pair (pure numpy, no database).

Each finder takes arrays with one row per photo and returns a :class:`Pairs` (row indices and a
relation per pair):

* :func:`identical_pairs`: equal content hashes (sorting: one pass).
* :func:`hash_pairs`: perceptual hashes within a Hamming distance, by multi-index hashing. The
  64-bit hash is cut into four 16-bit quarters; two hashes within 3 bits share at least one quarter
  exactly (pigeonhole), so sorting by each quarter and comparing neighbours in that order finds them
  all; pairs further apart are found when a quarter still matches (most real edits). The mirrored
  hash is indexed with the others, so a flipped copy is found the same way.
* :func:`window_pairs`: photos close in time, by sorting on time and comparing each photo with the
  next ones until the time gap is exceeded (at most ``neighbours`` of them).
* :func:`piccl2021_pairs`: the PICCL paper's Figure 4 (same date, same tag, time and GPS within
  alpha / beta / gamma), with absolute differences.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

# Relations between two photos, strongest first (a member's relation is its strongest edge). A member's
# relation to its keeper may also be 'colour': the colour original of a black-and-white keeper.
RELATIONS: tuple[str, ...] = ("identical", "copy", "mirrored", "mono", "edited", "similar")
RELATION_RANK = {name: rank for rank, name in enumerate(RELATIONS)}
# Relations that make a photo a copy or an edit of another (its recommendation says 'duplicate').
DUPLICATE_RELATIONS = frozenset({"identical", "copy", "mirrored", "mono", "colour", "edited"})

QUARTERS = 4
QUARTER_BITS = 64 // QUARTERS
EARTH_RADIUS_M = 6_371_000.0


@dataclass(slots=True)
class Pairs:
    """Pairs of photo rows (``a`` < ``b``) with the relation of each."""

    a: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    b: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    relation: np.ndarray = field(default_factory=lambda: np.empty(0, np.int8))  # index into RELATIONS

    def __len__(self) -> int:
        return len(self.a)

    @classmethod
    def of(cls, a: np.ndarray, b: np.ndarray, relation: np.ndarray | int) -> Pairs:
        a, b = np.asarray(a, np.int64), np.asarray(b, np.int64)
        lo, hi = np.minimum(a, b), np.maximum(a, b)
        rel = np.broadcast_to(np.asarray(relation, np.int8), lo.shape).copy()
        keep = lo != hi
        return cls(lo[keep], hi[keep], rel[keep])

    @classmethod
    def concat(cls, parts: list[Pairs]) -> Pairs:
        parts = [p for p in parts if len(p)]
        if not parts:
            return cls()
        return cls(np.concatenate([p.a for p in parts]), np.concatenate([p.b for p in parts]),
                   np.concatenate([p.relation for p in parts]))


def _offset_pairs(order: np.ndarray, max_offset: int,
                  mask_at: Callable[[int], np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (order[i], order[i + k]) for k = 1..max_offset where ``mask_at(k)[i]`` holds; stops at the first
    offset where it holds nowhere (the masks only shrink as k grows)."""
    firsts, seconds = [], []
    for k in range(1, min(max_offset, len(order) - 1) + 1):
        mask = mask_at(k)
        if not mask.any():
            break
        idx = np.flatnonzero(mask)
        firsts.append(order[idx])
        seconds.append(order[idx + k])
    if not firsts:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    return np.concatenate(firsts), np.concatenate(seconds)


def _neighbour_pairs(order: np.ndarray, same: np.ndarray, max_offset: int) -> tuple[np.ndarray, np.ndarray]:
    """Pairs of rows k = 1..max_offset apart in ``order`` within one run (``same[i]``: sorted rows i and i + 1
    belong to one run); a pair at offset k needs the whole stretch between them in one run, which the
    running product tracks."""
    run = same

    def in_one_run(k: int) -> np.ndarray:
        nonlocal run
        if k > 1:
            run = run[:-1] & same[k - 1:]
        return run

    return _offset_pairs(order, max_offset, in_one_run)


def identical_pairs(content: np.ndarray) -> Pairs:
    """Rows with the same content code (factorised content hash; negative = unknown): one chain per value."""
    order = np.argsort(content, kind="stable")
    ordered = content[order]
    same = (ordered[1:] == ordered[:-1]) & (ordered[1:] >= 0)
    idx = np.flatnonzero(same)
    return Pairs.of(order[idx], order[idx + 1], RELATION_RANK["identical"])


def hamming(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.bitwise_count(np.bitwise_xor(x, y)).astype(np.int16)


def hash_pairs(phash: np.ndarray, mirror: np.ndarray, valid: np.ndarray, max_distance: int,
               band: int = 64) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Rows whose hashes (or one's hash and the other's mirror hash) are within ``max_distance`` bits.

    Returns (a, b, distance, mirrored). Within one run of equal quarters, rows are sorted by the whole
    hash and each is compared with the next ``band`` rows of the run, which bounds the work where many
    photos share a quarter (black frames, say).
    """
    rows = np.flatnonzero(valid)
    if len(rows) < 2:
        empty = np.empty(0, np.int64)
        return empty, empty, np.empty(0, np.int16), np.empty(0, bool)
    # Nodes: every photo's hash, then every photo's mirror hash.
    node_row = np.concatenate([rows, rows])
    node_hash = np.concatenate([phash[rows], mirror[rows]]).astype(np.uint64)
    node_mirror = np.concatenate([np.zeros(len(rows), bool), np.ones(len(rows), bool)])
    found_a, found_b, found_d, found_m = [], [], [], []
    for quarter in range(QUARTERS):
        shift = np.uint64(QUARTER_BITS * quarter)
        key = (node_hash >> shift) & np.uint64((1 << QUARTER_BITS) - 1)
        order = np.lexsort((node_hash, key))
        # In sort order, so the neighbour at offset k is a slice away (no gathers of candidate pairs).
        ordered_hash, ordered_row, ordered_mirror = node_hash[order], node_row[order], node_mirror[order]
        same = key[order][1:] == key[order][:-1]
        run = same
        for k in range(1, band + 1):
            if k > 1:
                run = run[:-1] & same[k - 1:]
            if not run.any():
                break
            # Only the close candidates are kept: memory follows the pairs found, not the pairs compared.
            first = np.flatnonzero(run)
            distance = hamming(ordered_hash[first], ordered_hash[first + k])
            close = distance <= max_distance
            first, distance = first[close], distance[close]
            second = first + k
            keep = ~(ordered_mirror[first] & ordered_mirror[second]) & (ordered_row[first] != ordered_row[second])
            first, second = first[keep], second[keep]
            found_a.append(ordered_row[first])
            found_b.append(ordered_row[second])
            found_d.append(distance[keep])
            found_m.append(ordered_mirror[first] ^ ordered_mirror[second])
    if not found_a:
        empty = np.empty(0, np.int64)
        return empty, empty, np.empty(0, np.int16), np.empty(0, bool)
    a, b = np.concatenate(found_a), np.concatenate(found_b)
    d, m = np.concatenate(found_d), np.concatenate(found_m)
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    # One entry per pair, the closest (an unmirrored match wins a tie).
    order = np.lexsort((m, d, hi, lo))
    lo, hi, d, m = lo[order], hi[order], d[order], m[order]
    first_of_pair = np.ones(len(lo), bool)
    first_of_pair[1:] = (lo[1:] != lo[:-1]) | (hi[1:] != hi[:-1])
    return lo[first_of_pair], hi[first_of_pair], d[first_of_pair], m[first_of_pair]


def ground_distance_m(lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray, lon2: np.ndarray) -> np.ndarray:
    """Haversine distance in metres (NaN where a coordinate is missing)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp, dl = p2 - p1, np.radians(lon2 - lon1)
    h = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(h, 0, 1)))


def window_pairs(times: np.ndarray, max_gap_s: float, neighbours: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows whose times (seconds; NaN = unknown) are at most ``max_gap_s`` apart, each row with at most
    ``neighbours`` following rows in time order."""
    known = np.flatnonzero(~np.isnan(times))
    if len(known) < 2:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    order = known[np.argsort(times[known], kind="stable")]
    ordered = times[order]
    return _offset_pairs(order, neighbours, lambda k: ordered[k:] - ordered[:-k] <= max_gap_s)


def piccl2021_pairs(times: np.ndarray, days: np.ndarray, tag_keys: np.ndarray, lat: np.ndarray, lon: np.ndarray,
                    alpha_s: float, beta_deg: float, gamma_deg: float, neighbours: int) -> Pairs:
    """The PICCL paper's Figure 4 for every photo at once.

    The paper compares signed differences (``time - aPhoto.time < alpha``), which admits every photo
    taken later that day; its intent, and what this does, is ``|time difference| < alpha`` and the same
    for longitude (beta) and latitude (gamma). Photos need the same date and the same tag (here: the
    same set of PICCL tags). The paper assumes GPS; two photos without it are taken as the same place,
    one with and one without are not.
    """
    known = np.flatnonzero(~np.isnan(times))
    if len(known) < 2:
        return Pairs()
    order = known[np.lexsort((times[known], tag_keys[known], days[known]))]
    same_bucket = (days[order][1:] == days[order][:-1]) & (tag_keys[order][1:] == tag_keys[order][:-1])
    first, second = _neighbour_pairs(order, same_bucket, neighbours)
    if not len(first):
        return Pairs()
    close = np.abs(times[first] - times[second]) < alpha_s
    both_gps = ~np.isnan(lat[first]) & ~np.isnan(lat[second])
    no_gps = np.isnan(lat[first]) & np.isnan(lat[second])
    with np.errstate(invalid="ignore"):
        near = (np.abs(lon[first] - lon[second]) < beta_deg) & (np.abs(lat[first] - lat[second]) < gamma_deg)
    keep = close & ((both_gps & near) | no_gps)
    return Pairs.of(first[keep], second[keep], RELATION_RANK["similar"])


def components(n: int, pairs: Pairs) -> np.ndarray:
    """Connected components: a label per row, the component's smallest row (rows in no pair keep their own)."""
    labels = np.arange(n, dtype=np.int64)
    a, b = pairs.a, pairs.b
    while True:
        la, lb = labels[a], labels[b]
        differ = la != lb
        if not differ.any():
            return labels
        a, b, la, lb = a[differ], b[differ], la[differ], lb[differ]
        # Hook each root onto the smallest root it meets (labels only decrease: no cycles).
        np.minimum.at(labels, np.maximum(la, lb), np.minimum(la, lb))
        while True:  # compress: every row straight to its root
            grand = labels[labels]
            if np.array_equal(grand, labels):
                break
            labels = grand
