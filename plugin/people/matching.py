"""Does a face belong to a person? The match rule, and an index of every person's representative vector.

A person's representative vector is the normalised mean of its faces' embeddings, the user's confirmed
faces counted twice. On the development sets it separates people better than the best single face
(``tests/bench/eval_faces.py``): a face's true person scores above 0.47 (LFW) / 0.64 (deepface) while the
best wrong person stays below 0.34 / 0.43.

The smart-album paper joins a face to a person at a 72% match. Our similarity is a cosine in [-1, 1]; read
as a percentage, (1 + cosine) / 2 >= 0.72 is cosine >= 0.44, rule ``smart_album_72``. The default
``calibrated`` rule uses 0.50, with a margin: a face that matches two people about equally waits for the
user instead of guessing (a wrong merge hurts more than a missed one).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from plugin.config import FaceSettings

SMART_ALBUM_72 = 2 * 0.72 - 1  # cosine that is a 72% match when similarity is read as (1 + cos) / 2
CONFIRMED_WEIGHT = 2.0


def match_threshold(settings: FaceSettings) -> float:
    return SMART_ALBUM_72 if settings.match_rule == "smart_album_72" else settings.match_threshold


def decode_vector(blob: bytes) -> np.ndarray:
    return np.frombuffer(blob, dtype=np.float16).astype(np.float32)


def encode_vector(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype=np.float16).tobytes()


def representative(embeddings: np.ndarray, confirmed: np.ndarray | None = None) -> np.ndarray:
    """The normalised, confirmed-weighted mean of ``embeddings`` (n x dim)."""
    weights = np.ones(len(embeddings), np.float32)
    if confirmed is not None:
        weights[np.asarray(confirmed, bool)] = CONFIRMED_WEIGHT
    mean = (embeddings * weights[:, None]).sum(axis=0)
    return (mean / max(float(np.linalg.norm(mean)), 1e-12)).astype(np.float32)


@dataclass(frozen=True, slots=True)
class Match:
    person_id: int | None
    score: float  # similarity to the chosen (or the best) person
    runner_up: float  # the next best person's similarity (-1 when there is none)
    reason: str  # matched | below_threshold | ambiguous | no_people


class PeopleIndex:
    """Every person's representative vector in one matrix: one face is matched with one product."""

    def __init__(self, dim: int = 128) -> None:
        self.dim = dim
        self.ids = np.zeros(0, np.int64)
        self.vectors = np.zeros((0, dim), np.float32)

    @classmethod
    def build(cls, people: Iterable[tuple[int, np.ndarray]], dim: int = 128) -> PeopleIndex:
        index = cls(dim)
        items = [(pid, vec) for pid, vec in people if vec is not None and len(vec) == dim]
        if items:
            index.ids = np.array([pid for pid, _ in items], np.int64)
            index.vectors = np.stack([vec for _, vec in items]).astype(np.float32)
        return index

    def __len__(self) -> int:
        return len(self.ids)

    def set(self, person_id: int, vector: np.ndarray) -> None:
        where = np.flatnonzero(self.ids == person_id)
        if len(where):
            self.vectors[where[0]] = vector
        else:
            self.ids = np.append(self.ids, person_id)
            self.vectors = np.vstack([self.vectors, vector[None].astype(np.float32)])

    def remove(self, person_id: int) -> None:
        keep = self.ids != person_id
        self.ids, self.vectors = self.ids[keep], self.vectors[keep]

    def match(self, embedding: np.ndarray, threshold: float, margin: float,
              exclude: Iterable[int] = ()) -> Match:
        """The person ``embedding`` joins, if one is at or above ``threshold`` and clearly ahead of the next."""
        if not len(self.ids):
            return Match(None, -1.0, -1.0, "no_people")
        sims = self.vectors @ embedding.astype(np.float32)
        excluded = set(exclude)
        if excluded:
            sims = np.where(np.isin(self.ids, list(excluded)), -2.0, sims)
        order = np.argsort(sims)[::-1][:2]
        best = float(sims[order[0]])
        second = float(sims[order[1]]) if len(order) > 1 else -1.0
        if best < threshold:
            return Match(None, best, second, "below_threshold")
        if second >= threshold and best - second < margin:
            return Match(None, best, second, "ambiguous")
        return Match(int(self.ids[order[0]]), best, second, "matched")
