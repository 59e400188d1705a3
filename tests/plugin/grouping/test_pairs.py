"""Candidate pairs without comparing every pair: content hashes, multi-index hashing, time windows, PICCL 2021."""

from __future__ import annotations

import numpy as np

from plugin.config import SimilarSettings
from plugin.grouping.groups import PhotoTable, find_groups
from plugin.grouping.pairs import Pairs, components, hash_pairs, identical_pairs, piccl2021_pairs, window_pairs


def table(n: int, **columns: np.ndarray) -> PhotoTable:
    base = {
        "ids": np.arange(1, n + 1, dtype=np.int64), "content": np.arange(n, dtype=np.int64),
        "phash": np.random.default_rng(1).integers(0, 2**63, n).astype(np.uint64),
        "mirror": np.random.default_rng(2).integers(0, 2**63, n).astype(np.uint64),
        "has_hash": np.ones(n, bool), "mono": np.zeros(n, bool),
        "width": np.full(n, 4000, np.int64), "height": np.full(n, 3000, np.int64),
        "times": np.arange(n, dtype=np.float64) * 3600, "camera_time": np.ones(n, bool),
        "lat": np.full(n, np.nan), "lon": np.full(n, np.nan),
    }
    base.update(columns)
    return PhotoTable(**base)


def no_vectors(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.full(len(a), np.nan)


def test_identical_pairs_chain_equal_content_and_skip_unknown() -> None:
    # GIVEN content codes with one value three times and unknown (-1) twice
    pairs = identical_pairs(np.array([5, -1, 5, 7, -1, 5]))
    # THEN the three equal rows are chained and the unknown rows are not paired
    assert sorted(zip(pairs.a.tolist(), pairs.b.tolist(), strict=True)) == [(0, 2), (2, 5)]


def test_hash_pairs_find_every_pair_within_three_bits_and_mirrored_copies() -> None:
    rng = np.random.default_rng(7)
    n = 5000
    phash = rng.integers(0, 2**63, n, dtype=np.int64).astype(np.uint64) * np.uint64(2)
    mirror = rng.integers(0, 2**63, n, dtype=np.int64).astype(np.uint64)
    # GIVEN copies of row 0 with 1, 2 and 3 bits flipped (one bit in each of three quarters) and a mirrored copy
    phash[1] = phash[0] ^ np.uint64(1)
    phash[2] = phash[0] ^ np.uint64(1 | 1 << 20)
    phash[3] = phash[0] ^ np.uint64(1 | 1 << 20 | 1 << 40)
    phash[4] = mirror[0]
    # WHEN pairs within 3 bits are looked for among 5,000 random hashes
    a, b, distance, mirrored = hash_pairs(phash, mirror, np.ones(n, bool), 3)
    found = {(int(x), int(y)): (int(d), bool(m)) for x, y, d, m in zip(a, b, distance, mirrored, strict=True)}
    # THEN the copies are found with their distance, the mirrored one as mirrored, and nothing else
    assert found[(0, 1)] == (1, False) and found[(0, 2)] == (2, False) and found[(0, 3)] == (3, False)
    assert found[(0, 4)] == (0, True)
    assert all(x <= 4 and y <= 4 for x, y in found)


def test_window_pairs_stop_at_the_gap_and_at_the_neighbour_limit() -> None:
    # GIVEN a burst of five shots a second apart, a photo an hour later, and one without a time
    times = np.array([0, 1, 2, 3, 4, 3600, np.nan])
    a, b = window_pairs(times, max_gap_s=2, neighbours=3)
    pairs = set(zip(a.tolist(), b.tolist(), strict=True))
    # THEN only shots at most 2 s apart pair up, and the lone photos are in no pair
    assert pairs == {(0, 1), (1, 2), (2, 3), (3, 4), (0, 2), (1, 3), (2, 4)}
    a, b = window_pairs(times, max_gap_s=10, neighbours=1)
    assert len(a) == 4  # each only with its next neighbour


def test_piccl2021_uses_absolute_differences_same_day_and_same_tag() -> None:
    # GIVEN photos of one day: two 30 s apart (same tag, same place), one taken before them (same tag),
    # one with another tag, one 1 km away
    times = np.array([100.0, 130.0, 90.0, 110.0, 120.0])
    tags = np.array([1, 1, 1, 2, 1])
    lat = np.array([48.0, 48.0, 48.0, 48.0, 48.01])
    lon = np.array([2.0, 2.0, 2.0, 2.0, 2.0])
    pairs = piccl2021_pairs(times, np.zeros(5), tags, lat, lon, 60, 0.0005, 0.0005, 10)
    found = set(zip(pairs.a.tolist(), pairs.b.tolist(), strict=True))
    # THEN the earlier photo counts too (the paper's signed test would miss or over-admit it),
    # and the other tag and the far photo do not
    assert found == {(0, 1), (0, 2), (1, 2)}


def test_components_label_connected_rows() -> None:
    labels = components(6, Pairs.of(np.array([0, 3, 2]), np.array([2, 4, 5]), 0))
    assert labels[0] == labels[2] == labels[5] and labels[3] == labels[4] and labels[1] == 1
    assert labels[0] != labels[3]


def test_a_trip_hour_of_different_things_is_not_similar_but_a_burst_is() -> None:
    # GIVEN six photos within a minute: a burst of three (features nearly equal) and three different scenes
    n = 6
    rng = np.random.default_rng(3)
    vectors = rng.normal(size=(n, 64))
    vectors[1] = vectors[0] + 0.1 * rng.normal(size=64)
    vectors[2] = vectors[0] + 0.1 * rng.normal(size=64)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    photos = table(n, times=np.array([0.0, 1.0, 2.0, 10.0, 20.0, 30.0]))

    def cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.einsum("ij,ij->i", vectors[a], vectors[b])

    # WHEN they are grouped
    groups = find_groups(photos, SimilarSettings(), cosine)
    # THEN the burst is one 'similar' group and the other scenes are alone
    assert [(g.rows, g.kind) for g in groups] == [([0, 1, 2], "similar")]


def test_a_copy_is_a_duplicate_and_a_grey_or_mirrored_copy_a_near_duplicate() -> None:
    n = 6
    photos = table(n)
    # GIVEN a photo, its byte-identical copy, a resized copy (hash equal), a grey copy and a mirrored one
    photos.content[1] = photos.content[0]
    photos.phash[2] = photos.phash[0]
    photos.width[2], photos.height[2] = 1000, 750
    photos.phash[3], photos.mono[3] = photos.phash[0], True
    photos.phash[4] = photos.mirror[0]
    photos.camera_time[:] = False  # copies made later: no camera date
    groups = find_groups(photos, SimilarSettings(), no_vectors)
    # THEN they are one near-duplicate group (an edit is in it) and the unrelated photo stays out
    assert len(groups) == 1 and groups[0].rows == [0, 1, 2, 3, 4] and groups[0].kind == "near_duplicate"
    # AND without the edits the same copies are a duplicate group
    photos.mono[3], photos.phash[4] = False, np.uint64(12345)
    photos.phash[3] = photos.phash[0] ^ np.uint64(0xFFFF_FFFF_FFFF_0000)
    assert [g.kind for g in find_groups(photos, SimilarSettings(), no_vectors)] == ["duplicate"]


def test_photos_that_hash_alike_but_were_taken_on_other_days_are_not_grouped() -> None:
    # GIVEN two camera photos a day apart with equal hashes (a white wall, a night sky)
    photos = table(2, phash=np.array([42, 42], np.uint64), times=np.array([0.0, 86400.0]))
    # THEN they are not copies of one another
    assert find_groups(photos, SimilarSettings(), no_vectors) == []


def test_the_seed_method_is_selectable() -> None:
    photos = table(3, times=np.array([0.0, 10.0, 5000.0]), tag_keys=np.array([1, 1, 1]))
    groups = find_groups(photos, SimilarSettings(method="piccl2021"), no_vectors)
    assert [(g.rows, g.kind) for g in groups] == [([0, 1], "similar")]


def test_burst_shots_a_fraction_of_a_second_apart_are_similar_not_copies() -> None:
    # GIVEN two camera shots 0.2 s apart whose hashes are equal (a burst), and no feature vectors
    photos = table(2, phash=np.array([42, 42], np.uint64), times=np.array([100.0, 100.2]))
    # THEN they are two shots of one moment, not a copy
    assert [g.kind for g in find_groups(photos, SimilarSettings(), no_vectors)] == ["similar"]
    # AND with the same time to the fraction (what a copy keeps) they are a duplicate
    photos.times[1] = 100.0
    assert [g.kind for g in find_groups(photos, SimilarSettings(), no_vectors)] == ["duplicate"]


def test_a_slow_series_is_cut_into_moments_instead_of_one_endless_group() -> None:
    # GIVEN a tripod series: one shot every 30 s for two hours, each like the next
    n = 240
    photos = table(n, times=np.arange(n) * 30.0)

    def alike(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.full(len(a), 0.9)

    groups = find_groups(photos, SimilarSettings(), alike)
    # THEN no group spans more than five minutes, and every shot is in one
    spans = [photos.times[g.rows].max() - photos.times[g.rows].min() for g in groups]
    assert max(spans) <= 300 and sum(len(g.rows) for g in groups) == n and len(groups) >= 20


def test_a_copy_of_another_burst_shot_is_similar_to_the_keeper_not_a_duplicate() -> None:
    from plugin.grouping.groups import relation_to

    # GIVEN burst shots A and B (0.5 s apart, hashes far apart) and A2, a copy of A without EXIF
    photos = table(3, times=np.array([100.0, 100.5, 5000.0]), camera_time=np.array([True, True, False]))
    photos.phash[2] = photos.phash[0]
    settings = SimilarSettings()
    # THEN with B kept, A is a similar shot, and so is its copy A2
    assert relation_to(photos, 0, 1, "similar", settings) == "similar"
    assert relation_to(photos, 2, 1, "copy", settings) == "similar"
    # AND with A kept, A2 is a copy of it
    assert relation_to(photos, 2, 0, "copy", settings) == "copy"
