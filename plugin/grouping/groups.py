"""From photo facts to groups: which photos are copies, edits or shots of one moment (no database).

:func:`find_groups` runs one method over a :class:`PhotoTable` (one row per photo, numpy columns)
and returns :class:`FoundGroup` s. The image-feature similarity comes from a callback, so that the
caller decides where vectors come from (the store, loading only the photos that need them; the
benchmark, generating them) and memory stays bounded by the candidate pairs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from plugin.config import SimilarSettings
from plugin.grouping.pairs import (
    RELATION_RANK,
    RELATIONS,
    Pairs,
    components,
    ground_distance_m,
    hamming,
    hash_pairs,
    identical_pairs,
    piccl2021_pairs,
    window_pairs,
)

# Rows a and b -> cosine similarity of their feature vectors (NaN where either has none).
Similarity = Callable[[np.ndarray, np.ndarray], np.ndarray]

KINDS: tuple[str, ...] = ("duplicate", "near_duplicate", "similar")
# Camera times further apart than this (s) are two captures: a copy keeps the camera's date to the fraction
# of a second (SubSecTimeOriginal), and burst shots differ by it. Cameras that write no fraction give one
# second's shots one time: those look like copies of one another (a limit of their EXIF).
SAME_CAPTURE_S = 0.001
# Without feature vectors (no classifier installed), shots close in time this close in hash are similar.
HASH_SIMILAR_EXTRA_BITS = 4
# Aspect ratios within this fraction are the same shape (a crop or a squeeze changes it).
SAME_ASPECT = 0.02


@dataclass(slots=True)
class PhotoTable:
    """What grouping needs of each photo, one row per photo (NaN / -1 / False where unknown)."""

    ids: np.ndarray  # int64 photo ids
    content: np.ndarray  # int64 code of the content hash (-1: unknown)
    phash: np.ndarray  # uint64
    mirror: np.ndarray  # uint64
    has_hash: np.ndarray  # bool
    mono: np.ndarray  # bool
    width: np.ndarray  # int64, upright (0: unknown)
    height: np.ndarray
    times: np.ndarray  # float64 seconds (wall-clock where taken); NaN: unknown
    camera_time: np.ndarray  # bool: the time is the camera's (EXIF), not the file's
    lat: np.ndarray  # float64 degrees, NaN: none
    lon: np.ndarray
    tag_keys: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))  # piccl2021: code of the tag set

    def __len__(self) -> int:
        return len(self.ids)


@dataclass(slots=True)
class FoundGroup:
    rows: list[int]
    links: list[str]  # per row: its strongest link to another member (see RELATIONS)
    kind: str  # duplicate | near_duplicate | similar


def find_groups(table: PhotoTable, settings: SimilarSettings, similarity: Similarity,
                method: str | None = None) -> list[FoundGroup]:
    method = method or settings.method
    if method == "piccl2021":
        days = np.floor(np.nan_to_num(table.times, nan=-1.0) / 86400.0)
        tag_keys = table.tag_keys if len(table.tag_keys) == len(table) else np.zeros(len(table), np.int64)
        pairs = piccl2021_pairs(table.times, days, tag_keys, table.lat, table.lon, settings.piccl2021_alpha_s,
                                settings.piccl2021_beta_deg, settings.piccl2021_gamma_deg,
                                settings.window_neighbours)
    else:
        known = Pairs.concat([identical_pairs(table.content), _hash_links(table, settings)])
        pairs = Pairs.concat([known, _time_links(table, settings, similarity, known)])
    return _groups(len(table), pairs, _labels(table, pairs, settings.max_span_s))


def relation_to(table: PhotoTable, row: int, keeper: int, link: str, settings: SimilarSettings) -> str:
    """How the photo in ``row`` relates to the group's keeper, for its recommendation's evidence.

    ``link`` is the photo's strongest link in the group (it may be to another member, not the keeper).
    """
    if table.content[row] >= 0 and table.content[row] == table.content[keeper]:
        return "identical"
    if (table.camera_time[row] and table.camera_time[keeper]
            and abs(table.times[row] - table.times[keeper]) > SAME_CAPTURE_S):
        return "similar"  # two captures, whatever links them in the group
    if not (table.has_hash[row] and table.has_hash[keeper]):
        return link if link not in ("identical", "copy") else "edited"
    if table.mono[row] != table.mono[keeper]:
        return "mono" if table.mono[row] else "colour"  # the keeper is the black-and-white one (the user's choice)
    direct = int(hamming(table.phash[row:row + 1], table.phash[keeper:keeper + 1])[0])
    flipped = int(hamming(table.phash[row:row + 1], table.mirror[keeper:keeper + 1])[0])
    if flipped < direct and flipped <= settings.near_distance:
        return "mirrored"
    if direct <= settings.same_distance and _same_shape(table, np.array([row]), np.array([keeper]))[0]:
        return "copy"
    if direct <= settings.near_distance or link == "edited":
        return "edited"  # close to the keeper's hash, or an edit the features found (rotated, recoloured)
    return "similar"  # another picture: a copy of another shot of the moment


def _same_shape(table: PhotoTable, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    aspect_a = table.width[a] / np.maximum(table.height[a], 1)
    aspect_b = table.width[b] / np.maximum(table.height[b], 1)
    return np.abs(aspect_a - aspect_b) <= SAME_ASPECT * np.maximum(aspect_a, aspect_b)


def _hash_links(table: PhotoTable, settings: SimilarSettings) -> Pairs:
    a, b, distance, mirrored = hash_pairs(table.phash, table.mirror, table.has_hash, settings.near_distance)
    if not len(a):
        return Pairs()
    relation = np.full(len(a), RELATION_RANK["edited"], np.int8)
    relation[(distance <= settings.same_distance) & _same_shape(table, a, b)] = RELATION_RANK["copy"]
    relation[table.mono[a] != table.mono[b]] = RELATION_RANK["mono"]
    relation[mirrored] = RELATION_RANK["mirrored"]
    # Two camera times that differ are two captures, never a copy: shots of one moment are similar,
    # and photos of another moment that merely hash alike (a white wall, the night sky) are nothing.
    both = table.camera_time[a] & table.camera_time[b]
    gap = np.abs(table.times[a] - table.times[b])
    relation[both & (gap > SAME_CAPTURE_S)] = RELATION_RANK["similar"]
    keep = ~(both & (gap > settings.window_gap_s))
    return Pairs.of(a[keep], b[keep], relation[keep])


def _time_links(table: PhotoTable, settings: SimilarSettings, similarity: Similarity, known: Pairs) -> Pairs:
    a, b = window_pairs(table.times, settings.window_gap_s, settings.window_neighbours)
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    # Pairs the content or hash already linked (a copy with the camera's date is close in time too).
    fresh = ~np.isin(lo * len(table) + hi, known.a * len(table) + known.b)
    a, b = lo[fresh], hi[fresh]
    if not len(a):
        return Pairs()
    with np.errstate(invalid="ignore"):
        far = ground_distance_m(table.lat[a], table.lon[a], table.lat[b], table.lon[b]) > settings.max_distance_m
    a, b = a[~far], b[~far]
    if not len(a):
        return Pairs()
    cosine = np.asarray(similarity(a, b), np.float64)
    both_camera = table.camera_time[a] & table.camera_time[b]
    with np.errstate(invalid="ignore"):
        similar = both_camera & (cosine >= settings.similar_feature)
        # A photo with no camera date near another in time and close in content is an edit of it
        # (rotated, cropped, recoloured: what the hash misses); two camera shots are two captures.
        edited = ~both_camera & (cosine >= settings.near_feature)
    # Close in time and in hash is one scene too, whatever the features say (a heavily blurred frame moves
    # its features more than its low frequencies); the hash index alone finds such pairs only when a quarter
    # of the hash is equal. Without feature vectors (no classifier) the hash decides, a little more loosely.
    hashed = table.has_hash[a] & table.has_hash[b]
    distance = hamming(table.phash[a], table.phash[b])
    limit = np.where(np.isnan(cosine), settings.near_distance + HASH_SIMILAR_EXTRA_BITS, settings.near_distance)
    close = hashed & (distance <= limit)
    similar |= both_camera & close
    edited |= ~both_camera & close
    relation = np.where(similar, RELATION_RANK["similar"], RELATION_RANK["edited"]).astype(np.int8)
    keep = similar | edited
    return Pairs.of(a[keep], b[keep], relation[keep])


def _labels(table: PhotoTable, pairs: Pairs, max_span_s: float) -> np.ndarray:
    """A group label per row: copies and edits join whatever their dates; shots of one moment join only while
    the group spans at most ``max_span_s`` (so a slow series does not chain into one endless group).

    First each picture with its copies and edits (connected components without the 'similar' pairs); each
    gets its moment (its camera times, else its file times). Then 'similar' pairs join those pictures,
    closest in time first, unless the joined group would span more than ``max_span_s``.
    """
    n = len(table)
    similar = pairs.relation == RELATION_RANK["similar"]
    base = components(n, Pairs(pairs.a[~similar], pairs.b[~similar], pairs.relation[~similar]))
    if not similar.any():
        return base
    camera = np.where(table.camera_time, table.times, np.nan)
    lo, hi = _extent(base, camera, n)
    lo_all, hi_all = _extent(base, table.times, n)
    no_camera = np.isinf(lo)
    lo, hi = np.where(no_camera, lo_all, lo), np.where(no_camera, hi_all, hi)
    ca, cb = base[pairs.a[similar]], base[pairs.b[similar]]
    order = np.argsort(np.abs(table.times[pairs.a[similar]] - table.times[pairs.b[similar]]), kind="stable")
    parent = list(range(n))
    low, high = lo.tolist(), hi.tolist()

    def root(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in zip(ca[order].tolist(), cb[order].tolist(), strict=True):
        ra, rb = root(a), root(b)
        if ra == rb:
            continue
        start, end = min(low[ra], low[rb]), max(high[ra], high[rb])
        if end - start <= max_span_s:
            keep, drop = min(ra, rb), max(ra, rb)
            parent[drop], low[keep], high[keep] = keep, start, end
    roots = np.asarray(parent, np.int64)
    while True:  # every label straight to its root
        grand = roots[roots]
        if np.array_equal(grand, roots):
            return roots[base]
        roots = grand


def _extent(labels: np.ndarray, times: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Per label, the earliest and latest of ``times`` (inf / -inf where a label has none)."""
    lo, hi = np.full(n, np.inf), np.full(n, -np.inf)
    known = ~np.isnan(times)
    np.minimum.at(lo, labels[known], times[known])
    np.maximum.at(hi, labels[known], times[known])
    return lo, hi


def _groups(n: int, pairs: Pairs, labels: np.ndarray | None = None) -> list[FoundGroup]:
    if not len(pairs):
        return []
    labels = components(n, pairs) if labels is None else labels
    # Pairs split apart by the span limit say nothing of the groups they no longer join.
    inside = labels[pairs.a] == labels[pairs.b]
    pairs = Pairs(pairs.a[inside], pairs.b[inside], pairs.relation[inside])
    # Each row's strongest link (lowest rank) over its pairs; an identical file says nothing of how the
    # picture relates to the others, so identical pairs count only where a row has no other link.
    strongest = np.full(n, len(RELATIONS), np.int8)
    other = pairs.relation != RELATION_RANK["identical"]
    np.minimum.at(strongest, pairs.a[other], pairs.relation[other])
    np.minimum.at(strongest, pairs.b[other], pairs.relation[other])
    only_identical = np.full(n, len(RELATIONS), np.int8)
    np.minimum.at(only_identical, pairs.a, pairs.relation)
    np.minimum.at(only_identical, pairs.b, pairs.relation)
    strongest = np.where(strongest < len(RELATIONS), strongest, only_identical)
    # The group's kind from its pairs: all identical/copy -> duplicate; any similar -> similar; else near.
    pair_label = labels[pairs.a]
    has_similar = np.zeros(n, bool)
    has_edit = np.zeros(n, bool)
    has_similar[pair_label[pairs.relation == RELATION_RANK["similar"]]] = True
    has_edit[pair_label[pairs.relation > RELATION_RANK["copy"]]] = True
    members = np.flatnonzero(strongest < len(RELATIONS))
    order = members[np.argsort(labels[members], kind="stable")]
    cuts = np.flatnonzero(np.diff(labels[order])) + 1
    found = []
    for rows in np.split(order, cuts):
        if len(rows) < 2:
            continue
        label = labels[rows[0]]
        kind = "similar" if has_similar[label] else "near_duplicate" if has_edit[label] else "duplicate"
        found.append(FoundGroup(rows.tolist(), [RELATIONS[r] for r in strongest[rows].tolist()], kind))
    return found
