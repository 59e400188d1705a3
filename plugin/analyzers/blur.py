"""Blur and camera-shake analyzers.

Two methods share the name ``blur`` (one result per photo, whichever is configured):

``tiled`` (:class:`TiledBlur`, the default) estimates how many pixels wide the edges of the
*sharpest part* of the photo are, at the fixed analysis size, and in the worst direction:

1. The analysis-size luminance is cut into a grid of about 16 tiles along the long side.
2. In each tile the gradient structure tensor is measured twice: on the image and on the
   image blurred by a Gaussian of ``COARSE_SIGMA`` px. For an edge blurred by a Gaussian of
   sigma ``s`` the gradient energy falls as ``1/s``, so in any direction the ratio
   ``R = E_fine / E_coarse = sqrt(s^2 + c^2) / s`` gives ``s = c / sqrt(R^2 - 1)``: an edge
   width in pixels that does not depend on the tile's contrast (fog and snow are not "blurry")
   nor on how many edges the tile holds. Solving ``det(A - R B) = 0`` for the two tensors gives
   the directions of least and most blur: motion blur shows up as a large blur in one direction
   only, which a direction-blind measure (the seed paper's Laplacian) averages away.
3. Noise adds gradient energy that looks "sharp". Its share is estimated from the flattest
   tiles and subtracted from every tile before the ratio is taken, so a high-ISO photo that is
   blurred still reads as blurred.
4. Only tiles with detail in two directions take part: on a tile with a single edge direction
   the blur along the edge cannot be measured, and would otherwise read as sharp.
5. The photo's blur is a low percentile of the tiles' worst-direction blur: a subject in focus
   against a soft background is a sharp photo.

Everything is measured on the analysis-size image (long side 1024 by default), i.e. at the
size a person looks at a photo on a screen, so the same photo at 1 MP and at 12 MP gets the
same score. The score is ``1 / blur_px`` (higher = sharper).

``piccl2021`` (:class:`Piccl2021Blur`) is the seed paper's rule, kept for comparison: the
variance of the Laplacian of the *full-resolution* grey photo, blurry below alpha = 400.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import cv2
import numpy as np

from plugin.analyzers.base import AnalysisInput, Analyzer, AnalyzerResult
from plugin.config import BlurSettings

# Gaussian sigma (px) of the comparison scale. The ratio method resolves blur from about
# COARSE_SIGMA/2 to several times it; 1 px puts the resolution where the verdict is made
# (edges ~1.3 px wide at 1024 px).
COARSE_SIGMA = 1.0
_COARSE_KSIZE = 7

# ~16 tiles along the long side: big enough (64 px at 1024) for a stable tensor, small enough
# that a subject covering a few percent of the frame owns whole tiles.
TILES_ALONG_LONG_SIDE = 16
MIN_TILE_PX = 16

# Noise is estimated from this fraction of the flattest tiles (at least one tile).
NOISE_FLOOR_FRACTION = 0.05

# A tile has "detail" when its coarse-scale gradient RMS is at least 0.25 grey levels per pixel
# (a faint texture) and at least 3x the noise floor's RMS, and when its weaker gradient
# direction carries at least 15% of the stronger one (two-dimensional detail).
MIN_DETAIL_GRADIENT = 0.25
MIN_DETAIL_OVER_NOISE = 3.0
MIN_ISOTROPY = 0.15
# Fewer tiles with detail than this and the photo is not judged (a blank wall, a clear sky).
MIN_DETAIL_TILES = 4
# When the fine scale has no detail, a coarser scale must show detail on at least this share of
# its tiles for the photo to count as heavily blurred (rather than a graphic or a blank frame).
COARSE_DETAIL_FRACTION = 0.10

# The photo's blur is this percentile of the tiles' worst-direction blur: the sharpest ~10% of
# the detailed area decides, so a sharp subject on a soft background (a flower, a face against
# bokeh) is sharp.
SHARPEST_PERCENTILE = 0.10

# A perfect step edge measures as a Gaussian of this sigma (px): the width of the Scharr operator
# itself. It is taken out in quadrature so that blur_px is the blur added to the photo.
OPERATOR_SIGMA = 0.66

# Blur (Gaussian sigma, px at the analysis size) above which a photo is blurry. In-focus photos
# from phones and cameras read 0.2-0.95 px at 1024 px (native 640x480 frames up to 0.95),
# mild defocus (a 2.5 px box at 1024 px) about 1.3 px, camera shake 1.1-2.5 px; one pixel of
# blur at screen size is where softness starts to show.
DEFAULT_BLUR_PX = 1.05

# Below this long side (px) a photo is a thumbnail, an avatar or a crop: resampling blur and
# camera blur look alike there, so it is not judged.
MIN_LONG_SIDE_PX = 320

# A blurred photo whose tiles are, by median, at least this much blurrier in one direction
# than across it is called motion blur (camera shake); isotropic blur is defocus. Defocus and
# sharp photos measure 1.05-1.25, linear and rotational shake 1.3-1.8.
MOTION_ANISOTROPY = 1.3
# Direction is reported when the tiles agree on it (mean resultant length of doubled angles).
DIRECTION_COHERENCE = 0.5

_SCHARR_GAIN_SQ = 32.0 * 32.0  # Scharr's response to a unit ramp is 32
# Fine/coarse gradient-energy ratios of white pixel noise and of a perfect step edge, measured
# with these very filters; they separate noise from texture in the noise floor.
_RATIO_NOISE = 10.7
_RATIO_SHARP_EDGE = 1.6


def _tile_means(a: np.ndarray, ny: int, t: int, nx: int) -> np.ndarray:
    return a.reshape(ny, t, nx * t).sum(axis=1).reshape(ny, nx, t).sum(axis=2) * (1.0 / (t * t * _SCHARR_GAIN_SQ))


def _tensors(img: np.ndarray, ny: int, t: int, nx: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    gx = cv2.Scharr(img, cv2.CV_32F, 1, 0)
    gy = cv2.Scharr(img, cv2.CV_32F, 0, 1)
    return (
        _tile_means(gx * gx, ny, t, nx),
        _tile_means(gy * gy, ny, t, nx),
        _tile_means(gx * gy, ny, t, nx),
    )


def _noise_floor(fine: np.ndarray, coarse: np.ndarray) -> tuple[float, float]:
    """Noise share of the gradient energy (fine, coarse), from the flattest tiles.

    The flattest tiles hold noise and whatever faint texture the scene has there. The two are
    told apart by their fine/coarse energy ratio: ~10.7 for pixel noise, ~1.6 for a perfectly
    sharp edge. Only the part that behaves like noise is removed, so a photo textured all over
    (a leaf, a carpet) keeps its detail.
    """
    flat = coarse.ravel()
    flattest = np.argsort(flat)[: max(1, int(flat.size * NOISE_FLOOR_FRACTION))]
    fine_floor = float(fine.ravel()[flattest].mean())
    coarse_floor = float(flat[flattest].mean())
    noise_coarse = (fine_floor - _RATIO_SHARP_EDGE * coarse_floor) / (_RATIO_NOISE - _RATIO_SHARP_EDGE)
    noise_coarse = min(max(noise_coarse, 0.0), coarse_floor)
    return _RATIO_NOISE * noise_coarse, noise_coarse


def _grid(h: int, w: int) -> tuple[int, int, int] | None:
    t = max(MIN_TILE_PX, max(h, w) // TILES_ALONG_LONG_SIDE)
    if min(h, w) < 2 * t:
        t = min(h, w) // 2
    if t < 8:
        return None
    return t, h // t, w // t


def measure_tiles(grey: np.ndarray) -> dict[str, Any] | None:
    """Per-tile blur of one luminance image; ``None`` when the image is too small for a grid.

    Returns arrays over the tiles with detail: ``blur_max`` and ``blur_min`` (edge sigma in px in
    the worst and best direction) and ``angle_deg`` (direction of worst blur, 0 = horizontal,
    counter-clockwise as seen), plus ``n_tiles`` and ``noise`` (the noise floor's gradient RMS).
    """
    h, w = grey.shape[:2]
    grid = _grid(h, w)
    if grid is None:
        return None
    t, ny, nx = grid
    g = np.ascontiguousarray(grey[: ny * t, : nx * t], dtype=np.float32)
    b = cv2.GaussianBlur(g, (_COARSE_KSIZE, _COARSE_KSIZE), COARSE_SIGMA)
    a11, a22, a12 = _tensors(g, ny, t, nx)
    b11, b22, b12 = _tensors(b, ny, t, nx)

    noise_a, noise_b = _noise_floor(a11 + a22, b11 + b22)
    # Noise is taken as isotropic. The +1e-3 keeps empty directions finite; it is far below any
    # detail that counts.
    a11 = np.maximum(a11 - noise_a / 2, 0) + 1e-3
    a22 = np.maximum(a22 - noise_a / 2, 0) + 1e-3
    b11 = np.maximum(b11 - noise_b / 2, 0) + 1e-3
    b22 = np.maximum(b22 - noise_b / 2, 0) + 1e-3

    tr_b = b11 + b22
    spread = np.sqrt((b11 - b22) ** 2 + 4 * b12 * b12)
    isotropy = (tr_b - spread) / (tr_b + spread)
    noise_rms = math.sqrt(noise_b)
    detail = (
        (np.sqrt(tr_b) >= max(MIN_DETAIL_GRADIENT, MIN_DETAIL_OVER_NOISE * noise_rms))
        & (isotropy >= MIN_ISOTROPY)
    ).ravel()

    a11, a22, a12 = a11.ravel()[detail], a22.ravel()[detail], a12.ravel()[detail]
    b11, b22, b12 = b11.ravel()[detail], b22.ravel()[detail], b12.ravel()[detail]
    # Generalised eigenvalues of (A, B): extreme fine/coarse energy ratios over all directions.
    det_a = a11 * a22 - a12 * a12
    det_b = b11 * b22 - b12 * b12
    m = a11 * b22 + a22 * b11 - 2 * a12 * b12
    disc = np.sqrt(np.maximum(m * m - 4 * det_a * det_b, 0))
    r_min = (m - disc) / (2 * det_b)
    r_max = (m + disc) / (2 * det_b)
    blur_max = COARSE_SIGMA / np.sqrt(np.maximum(r_min - 1, 1e-4))
    blur_min = COARSE_SIGMA / np.sqrt(np.maximum(r_max - 1, 1e-4))
    # The worst direction v solves (A - r_min B) v = 0; image y points down, hence -vy.
    vx = -(a12 - r_min * b12)
    vy = a11 - r_min * b11
    angle = np.degrees(np.arctan2(-vy, vx)) % 180.0
    return {
        "blur_max": blur_max,
        "blur_min": np.minimum(blur_min, blur_max),
        "angle_deg": angle,
        "n_tiles": int(detail.sum()),
        "grid": (nx, ny),
        "noise": noise_rms,
    }


def _added_blur(measured: np.ndarray) -> np.ndarray:
    return np.sqrt(np.maximum(measured * measured - OPERATOR_SIGMA * OPERATOR_SIGMA, 0.0))


def _kind_of_blur(tiles: dict[str, Any]) -> tuple[str, float, float | None]:
    """Motion or defocus from the anisotropy of the tiles' blur; with the motion direction."""
    bmax, bmin, ang = tiles["blur_max"], tiles["blur_min"], tiles["angle_deg"]
    ratio = bmax / np.maximum(bmin, 1e-3)
    anisotropy = float(np.median(ratio))
    if anisotropy < MOTION_ANISOTROPY:
        return "defocus", anisotropy, None
    weight = ratio - 1.0
    z = np.sum(weight * np.exp(2j * np.radians(ang))) / max(float(weight.sum()), 1e-9)
    if abs(z) < DIRECTION_COHERENCE:
        return "motion", anisotropy, None  # directions disagree: rotation, or a curved shake path
    return "motion", anisotropy, float(np.degrees(np.angle(z)) / 2.0 % 180.0)


class TiledBlur:
    """Resolution-independent blur: worst-direction edge width of the sharpest detailed tiles."""

    name: ClassVar[str] = "blur"
    version: ClassVar[int] = 1
    method: ClassVar[str] = "tiled"

    def __init__(self, threshold_px: float = DEFAULT_BLUR_PX, min_long_side: int = MIN_LONG_SIDE_PX) -> None:
        self.threshold_px = threshold_px
        self.min_long_side = min_long_side

    def _not_judged(self, reason: str, **extra: Any) -> AnalyzerResult:
        evidence = {"method": self.method, "verdict": "not_judged", "reason": reason, "kind": "unknown"}
        evidence.update(extra)
        return AnalyzerResult(self.name, self.version, None, False, evidence)

    def analyze(self, photo: AnalysisInput) -> AnalyzerResult:
        grey = photo.grey
        h, w = grey.shape[:2]
        if max(photo.original_size) < self.min_long_side or max(h, w) < self.min_long_side:
            return self._not_judged("too_small", measured_at=[w, h], min_long_side_px=self.min_long_side)
        tiles = measure_tiles(grey)
        scale = 1
        # Heavy blur can leave no fine detail at all; detail that survives only at a coarser scale is
        # blur, so look again at half and quarter size before calling the photo featureless.
        while tiles is not None and tiles["n_tiles"] < MIN_DETAIL_TILES and scale < 4:
            grey = cv2.pyrDown(grey)
            scale *= 2
            tiles = measure_tiles(grey)
        if scale > 1 and tiles is not None and tiles["n_tiles"] < max(
            MIN_DETAIL_TILES, COARSE_DETAIL_FRACTION * tiles["grid"][0] * tiles["grid"][1]
        ):
            tiles = None  # a graphic or a near-blank frame, not a photo blurred beyond recognition
        if tiles is None or tiles["n_tiles"] < MIN_DETAIL_TILES:
            return self._not_judged(
                "too_little_detail",
                measured_at=[w, h],
                tiles_with_detail=0 if tiles is None else tiles["n_tiles"],
            )
        ordered = _added_blur(np.sort(tiles["blur_max"])) * scale
        blur_px = float(ordered[int(SHARPEST_PERCENTILE * len(ordered))])
        flagged = blur_px > self.threshold_px
        evidence: dict[str, Any] = {
            "method": self.method,
            "blur_px": round(blur_px, 2),
            "threshold_px": round(self.threshold_px, 2),
            "measured_at": [w, h],
            "tiles_with_detail": tiles["n_tiles"],
            "grid": list(tiles["grid"]),
            "median_tile_blur_px": round(float(np.median(ordered)), 2),
            "noise": round(tiles["noise"], 2),
        }
        if scale > 1:
            evidence["measured_scale"] = 1 / scale
        if flagged:
            kind, anisotropy, direction = _kind_of_blur(tiles)
            evidence["kind"] = kind
            evidence["anisotropy"] = round(anisotropy, 2)
            if kind == "motion":
                evidence["direction_deg"] = None if direction is None else round(direction)
        else:
            evidence["kind"] = "sharp"
        score = round(1.0 / max(blur_px, 1e-3), 3)
        return AnalyzerResult(self.name, self.version, score, flagged, evidence)


class Piccl2021Blur:
    """The seed paper's rule: ``cv2.Laplacian(grey, cv2.CV_64F).var() < alpha`` means blurry.

    The paper applies it to the full-resolution photo (its Fig. 3), where the value moves with the
    resolution alone. :meth:`analyze` measures ``photo.grey`` and says at which size in
    ``measured_at``; the pipeline passes a full-resolution :class:`AnalysisInput` for this method
    (or calls :meth:`analyze_full`) to reproduce the paper.
    """

    name: ClassVar[str] = "blur"
    version: ClassVar[int] = 1
    method: ClassVar[str] = "piccl2021"

    def __init__(self, alpha: float = 400.0) -> None:
        self.alpha = alpha

    def analyze_full(self, grey_full: np.ndarray) -> AnalyzerResult:
        h, w = grey_full.shape[:2]
        variance = float(cv2.Laplacian(grey_full, cv2.CV_64F).var())
        flagged = variance < self.alpha
        evidence = {
            "method": self.method,
            "laplacian_variance": round(variance, 1),
            "threshold": self.alpha,
            "measured_at": [w, h],
        }
        return AnalyzerResult(self.name, self.version, round(variance, 1), flagged, evidence)

    def analyze(self, photo: AnalysisInput) -> AnalyzerResult:
        return self.analyze_full(photo.grey)


BLUR_METHODS: dict[str, type] = {"tiled": TiledBlur, "piccl2021": Piccl2021Blur}


def make_blur_analyzer(settings: BlurSettings) -> Analyzer:
    """The blur analyzer that ``settings.method`` selects."""
    if settings.method == "piccl2021":
        return Piccl2021Blur(alpha=settings.piccl2021_threshold)
    if settings.method == "tiled":
        threshold_px = 1.0 / settings.threshold if settings.threshold > 0 else DEFAULT_BLUR_PX
        return TiledBlur(threshold_px=threshold_px, min_long_side=settings.min_long_side)
    raise ValueError(f"unknown blur method: {settings.method!r} (known: {', '.join(BLUR_METHODS)})")
