"""Average-linkage clustering of face embeddings that scales to a whole library, with the user's constraints.

For L2-normalised vectors the mean cosine similarity between two groups is ``sum_A . sum_B / (|A| |B|)``,
so exact average linkage needs only each group's sum vector: no n x n matrix. Only which groups are
*candidates* to merge comes from a sparse neighbour graph (each face's ``neighbours`` most similar faces
above ``threshold - edge_margin``), built by blocked matrix products. Groups merge best-first while their
average similarity is at least ``threshold``.

Constraints (the user's corrections, which clustering must never undo):

- ``groups``: faces that start together (an existing person); a group with ``fixed`` set never merges with
  another fixed group (two people stay two people; only unnamed, untouched people are left unfixed);
- ``cannot_link``: a face that must never end up with a group (the user's "not this person").
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping, Sequence

import numpy as np


def neighbour_graph(embeddings: np.ndarray, min_similarity: float, neighbours: int = 16,
                    block: int = 512) -> tuple[np.ndarray, np.ndarray]:
    """Edges (i, j), i < j, from each face to each face's ``neighbours`` most similar faces at or above the floor."""
    n = len(embeddings)
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    vectors = np.ascontiguousarray(embeddings, dtype=np.float32)
    for start in range(0, n, block):
        stop = min(n, start + block)
        scores = vectors[start:stop] @ vectors.T
        # A face is not its own neighbour.
        scores[np.arange(stop - start), np.arange(start, stop)] = -2.0
        # Each row's best ``neighbours`` first, then the floor: the cost does not depend on how many faces a
        # person has (a row of someone in 2,000 photos has 2,000 scores above the floor).
        k = min(neighbours, n - 1)
        if k <= 0:
            break
        best = np.argpartition(scores, -k, axis=1)[:, -k:]
        r, pick = np.nonzero(np.take_along_axis(scores, best, axis=1) >= min_similarity)
        rows.append(r + start)
        cols.append(best[r, pick])
    if not rows:
        empty = np.zeros(0, np.int64)
        return empty, empty
    i, j = np.concatenate(rows), np.concatenate(cols)
    lo, hi = np.minimum(i, j), np.maximum(i, j)
    # (i, j) and (j, i) both found: keep one.
    pairs = np.unique(lo.astype(np.int64) * n + hi)
    return pairs // n, pairs % n


def average_linkage(embeddings: np.ndarray, threshold: float, *,
                    groups: np.ndarray | None = None,
                    fixed: Mapping[int, bool] | None = None,
                    cannot_link: Mapping[int, set[int]] | None = None,
                    neighbours: int = 16, edge_margin: float = 0.15) -> np.ndarray:
    """A cluster label per face (the index of one face of its cluster).

    ``groups[i]`` is the initial group of face ``i`` (-1: on its own); ``fixed[g]`` marks groups that never merge
    with each other; ``cannot_link[i]`` is the set of initial groups face ``i`` must never join.
    """
    n = len(embeddings)
    if n == 0:
        return np.zeros(0, np.int64)
    vectors = np.asarray(embeddings, dtype=np.float64)
    groups = np.full(n, -1, np.int64) if groups is None else np.asarray(groups, np.int64)
    fixed = fixed or {}
    cannot_link = cannot_link or {}

    # Union-find over faces; each root carries the sum vector, size, initial groups and forbidden groups.
    parent = np.arange(n)
    root_of_group: dict[int, int] = {}
    for face, group in enumerate(groups.tolist()):
        if group >= 0:
            root = root_of_group.setdefault(group, face)
            parent[face] = root
    sums: dict[int, np.ndarray] = {}
    sizes: dict[int, int] = {}
    members_groups: dict[int, set[int]] = {}
    forbidden: dict[int, set[int]] = {}
    for face in range(n):
        root = int(parent[face])
        if root in sums:
            sums[root] += vectors[face]
            sizes[root] += 1
        else:
            sums[root] = vectors[face].copy()
            sizes[root] = 1
            members_groups[root] = {int(groups[face])} if groups[face] >= 0 else set()
            forbidden[root] = set()
        forbidden[root] |= set(cannot_link.get(face, ()))

    def find(face: int) -> int:
        while parent[face] != face:
            parent[face] = parent[parent[face]]
            face = int(parent[face])
        return face

    def allowed(a: int, b: int) -> bool:
        if members_groups[a] & forbidden[b] or members_groups[b] & forbidden[a]:
            return False
        fixed_a = any(fixed.get(g, False) for g in members_groups[a])
        fixed_b = any(fixed.get(g, False) for g in members_groups[b])
        return not (fixed_a and fixed_b)

    def similarity(a: int, b: int) -> float:
        return float(sums[a] @ sums[b]) / (sizes[a] * sizes[b])

    adjacency: dict[int, set[int]] = {root: set() for root in sums}
    ii, jj = neighbour_graph(embeddings, threshold - edge_margin, neighbours)
    for i, j in zip(ii.tolist(), jj.tolist(), strict=True):
        a, b = int(parent[i]), int(parent[j])
        if a != b:
            adjacency[a].add(b)
            adjacency[b].add(a)

    heap: list[tuple[float, int, int]] = []
    for a, near in adjacency.items():
        for b in near:
            if a < b:
                sim = similarity(a, b)
                if sim >= threshold:
                    heap.append((-sim, a, b))
    heapq.heapify(heap)

    while heap:
        neg, a, b = heapq.heappop(heap)
        if parent[a] != a or parent[b] != b:
            continue  # one side was merged away since
        sim = similarity(a, b)
        if abs(sim + neg) > 1e-9:
            continue  # a size changed since this entry: a fresher one is in the heap
        if not allowed(a, b):
            continue
        if sizes[a] < sizes[b]:
            a, b = b, a
        parent[b] = a
        sums[a] += sums.pop(b)
        sizes[a] += sizes.pop(b)
        members_groups[a] |= members_groups.pop(b)
        forbidden[a] |= forbidden.pop(b)
        near_b = adjacency.pop(b)
        near_b.discard(a)
        adjacency[a].discard(b)
        for c in near_b:
            adjacency[c].discard(b)
            adjacency[c].add(a)
        adjacency[a] |= near_b
        if adjacency[a]:
            others = list(adjacency[a])
            stacked = np.stack([sums[c] for c in others])
            scores = (stacked @ sums[a]) / (np.array([sizes[c] for c in others]) * sizes[a])
            for c, score in zip(others, scores.tolist(), strict=True):
                if score >= threshold:
                    heapq.heappush(heap, (-score, min(a, c), max(a, c)))

    return np.array([find(face) for face in range(n)], np.int64)


def pairwise_scores(labels: Sequence[int], truth: Sequence[str]) -> tuple[float, float]:
    """Pairwise precision and recall of ``labels`` against ``truth`` (for evaluation)."""
    labels_a, truth_a = np.asarray(labels), np.asarray(truth)
    same_label = labels_a[:, None] == labels_a[None, :]
    same_truth = truth_a[:, None] == truth_a[None, :]
    upper = np.triu(np.ones_like(same_label, bool), 1)
    tp = float((same_label & same_truth & upper).sum())
    predicted, actual = float((same_label & upper).sum()), float((same_truth & upper).sum())
    return (tp / predicted if predicted else 1.0), (tp / actual if actual else 1.0)


def bcubed(labels: Sequence[int], truth: Sequence[str]) -> tuple[float, float, float]:
    """BCubed precision, recall and F (each face weighted equally)."""
    labels_a, truth_a = np.asarray(labels), np.asarray(truth)
    same_label = labels_a[:, None] == labels_a[None, :]
    same_truth = truth_a[:, None] == truth_a[None, :]
    both = (same_label & same_truth).sum(axis=1)
    precision = float(np.mean(both / same_label.sum(axis=1)))
    recall = float(np.mean(both / same_truth.sum(axis=1)))
    return precision, recall, (2 * precision * recall / (precision + recall) if precision + recall else 0.0)
