"""The best shot of a group, and why.

Criteria are applied in order; each keeps the candidates within a tolerance of the best on that
criterion and drops the rest. The first criterion that drops someone is the reason shown ("sharper
faces", "higher resolution copy"). Copies and edits are judged first on what a copy loses (pixels,
colour), shots of one moment first on what the photographer cares about (faces, focus, light).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class ShotQuality:
    """What piccl knows of one photo's quality (from its analyses)."""

    photo_id: int
    relpath: str
    pixels: int = 0
    file_size: int = 0
    mono: bool = False
    sharpness: float | None = None  # the blur analyzer's score (higher = sharper)
    blurry: bool = False
    darkness: float | None = None  # the dark analyzer's score (0..1, higher = darker)
    dark: bool = False
    clipped: float | None = None  # fraction of blown-out pixels
    face_sharpness: tuple[float, ...] = ()  # sharpness of each groupable face
    camera_time: bool = False


@dataclass(frozen=True, slots=True)
class KeeperChoice:
    photo_id: int
    reason: str
    # Per criterion that decided something: the dropped photo ids.
    dropped: dict[str, list[int]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Criterion:
    name: str
    reason: str
    value: Callable[[ShotQuality, list[ShotQuality]], float | None]  # higher is better; None: unknown
    keep_within: Callable[[float], float]  # the best value -> the lowest value kept

    def apply(self, candidates: list[ShotQuality]) -> list[ShotQuality]:
        values = [self.value(c, candidates) for c in candidates]
        known = [v for v in values if v is not None]
        if len(known) < 2:
            return candidates
        floor = self.keep_within(max(known))
        return [c for c, v in zip(candidates, values, strict=True) if v is None or v >= floor]


def _faces(shot: ShotQuality, group: list[ShotQuality]) -> float | None:
    most = max(len(s.face_sharpness) for s in group)
    if most == 0:
        return None
    # A face missing from this shot (turned away, hidden) counts as a blurred one.
    return sum(shot.face_sharpness) / most


CLIPPED_WEIGHT = 2.0


def _exposure(shot: ShotQuality, _group: list[ShotQuality]) -> float | None:
    if shot.darkness is None and shot.clipped is None:
        return None
    # Darkness is a 0..1 score; blown highlights weigh double their share of the frame (5% blown = 0.1), so a
    # bracket's over-exposed frame loses to a balanced one as an under-exposed frame does.
    return -(shot.darkness or 0.0) - CLIPPED_WEIGHT * (shot.clipped or 0.0)


CRITERIA: dict[str, Criterion] = {c.name: c for c in (
    Criterion("resolution", "higher resolution copy", lambda s, _: float(s.pixels) or None, lambda best: 0.9 * best),
    Criterion("colour", "in colour", lambda s, _: 0.0 if s.mono else 1.0,
              lambda best: best),
    Criterion("not_flagged", "not blurry or dark", lambda s, _: 0.0 if s.blurry or s.dark else 1.0,
              lambda best: best),
    Criterion("faces", "sharper faces", _faces, lambda best: 0.85 * best),
    Criterion("sharpness", "sharper", lambda s, _: s.sharpness, lambda best: 0.9 * best),
    Criterion("exposure", "better exposed", _exposure, lambda best: best - 0.1),
    Criterion("file_size", "larger file (less compressed)", lambda s, _: float(s.file_size) or None,
              lambda best: 0.95 * best),
    Criterion("camera_time", "the original, with the camera's date", lambda s, _: float(s.camera_time),
              lambda best: best),
)}

ORDER_BY_KIND: dict[str, tuple[str, ...]] = {
    # A copy or an edit that kept the camera's date beats one that lost it (an export, a download) before
    # file size is asked: a PNG made from a JPEG is larger, not better.
    "duplicate": ("resolution", "colour", "camera_time", "sharpness", "file_size"),
    "near_duplicate": ("resolution", "colour", "not_flagged", "sharpness", "exposure", "camera_time", "file_size"),
    "similar": ("not_flagged", "faces", "sharpness", "exposure", "resolution", "colour", "file_size"),
}


def choose_keeper(kind: str, shots: list[ShotQuality]) -> KeeperChoice:
    candidates = list(shots)
    reasons: list[str] = []
    dropped: dict[str, list[int]] = {}
    for name in ORDER_BY_KIND[kind]:
        criterion = CRITERIA[name]
        kept = criterion.apply(candidates)
        if len(kept) < len(candidates):
            dropped[name] = [c.photo_id for c in candidates if c not in kept]
            reasons.append(criterion.reason)
        candidates = kept
        if len(candidates) == 1:
            break
    # Still a tie: the shortest path (an original rarely sits deeper than its copy), then the oldest id.
    best = min(candidates, key=lambda c: (c.relpath.count("/"), len(c.relpath), c.relpath, c.photo_id))
    if reasons:
        reason = ", ".join(reasons)
    else:
        reason = "equally good copies: the first by path" if kind == "duplicate" else "as good as the others"
    return KeeperChoice(best.photo_id, reason, dropped)
