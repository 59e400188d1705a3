"""Synthetic identities: embeddings with a known person, for tests of grouping without photos."""

from __future__ import annotations

import numpy as np


def identities(people: int, faces_each: int, dim: int = 128, spread: float = 0.9,
               seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``people`` x ``faces_each`` unit vectors: each person's faces scatter around a random centre.

    With ``spread`` 0.9 two faces of one person have a cosine of about 0.55 and faces of two people about 0,
    close to what MobileFaceNet gives on the development sets.
    """
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(people, dim))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    noise = rng.normal(size=(people, faces_each, dim)) * spread / np.sqrt(dim)
    vectors = (centres[:, None, :] + noise).reshape(-1, dim)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors.astype(np.float32), np.repeat(np.arange(people), faces_each)
