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
5. The photo's edge width is the 10th percentile of the tiles' worst-direction edge width: a
   subject in focus against a soft background is a sharp photo.
6. When the photo is blurry, the tiles' anisotropy (worst over best direction) tells camera
   shake ("motion", with its direction when the tiles agree on one) from defocus.

Everything is measured on the analysis-size image (long side 1024 by default), i.e. at the
size a person looks at a photo on a screen, so the same photo at 1 MP and at 12 MP gets the
same score. The score is ``1 / edge_width_px`` (higher = sharper; a perfect edge reads 0.58 px,
so scores run to about 1.7, more where downscaling sharpens), and a photo is blurry above
1.24 px (score below 0.806).

Photos whose long side is under 320 px are not judged (thumbnails: resampling blur and camera
blur look alike there), nor are photos with too little two-dimensional detail (a clear sky, a
blank wall): both come back with ``score=None``, not flagged, and the reason in the evidence.

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
# (edges ~1.24 px wide at 1024 px).
COARSE_SIGMA = 1.0
_COARSE_KSIZE = 7

# ~16 tiles along the long side: big enough (64 px at 1024) for a stable tensor, small enough
# that a subject covering a few percent of the frame owns whole tiles.
TILES_ALONG_LONG_SIDE = 16
MIN_TILE_PX = 16

# Noise is estimated from this fraction of the flattest tiles (at least one tile).
NOISE_FLOOR_FRACTION = 0.05

# A tile has "detail" when its coarse-scale gradient RMS is at least 0.25 grey levels per pixel
# (a faint texture) and at least 4x the noise floor's RMS, and when its weaker gradient
# direction carries at least 15% of the stronger one (two-dimensional detail).
MIN_DETAIL_GRADIENT = 0.25
MIN_DETAIL_OVER_NOISE = 4.0
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

# Edge width is measured as a Gaussian sigma in px at the analysis size, including the width of
# the measuring operator itself: a perfect step edge reads 0.58 px, and an edge blurred by a
# Gaussian of sigma s reads about sqrt(s^2 + 0.58^2).
OPERATOR_SIGMA = 0.58

# Edge width above which a photo is blurry: 1.24 px is 1.1 px of blur added to a perfect edge.
# In-focus photos from phones and cameras read 0.7-1.2 px at 1024 px (native 640x480 frames up
# to 1.2), mild defocus (a 2.5 px box at 1024 px) about 1.4 px, camera shake 1.25-2.5 px; about
# one pixel of blur at screen size is where softness starts to show.
DEFAULT_EDGE_PX = 1.24

# Below this long side (px) a photo is a thumbnail, an avatar or a crop: resampling blur and
# camera blur look alike there, so it is not judged.
MIN_LONG_SIDE_PX = 320

# A blurred photo whose tiles are, by median, at least this much blurrier in one direction
# than across it is called motion blur (camera shake); isotropic blur is defocus. Defocus reads
# 1.1-1.3 (up to ~1.4 when heavy), linear and rotational shake 1.4-2.
MOTION_ANISOTROPY = 1.3
# Without a common direction across the tiles (rotational shake), more anisotropy is asked for:
# heavy defocus measured near the method's range reads up to ~1.4.
MOTION_ANISOTROPY_NO_DIRECTION = 1.4
# Shake vs defocus is judged at a scale where the median tile edge is at most this wide (px).
KIND_MAX_EDGE_PX = 2.5
# Direction is reported when the tiles agree on it (mean resultant length of doubled angles).
DIRECTION_COHERENCE = 0.5

_SCHARR_GAIN_SQ = 32.0 * 32.0  # Scharr's response to a unit ramp is 32
_FILTER_MARGIN = _COARSE_KSIZE // 2 + 1  # rows the Gaussian and then Scharr reach beyond a band
_BAND_PIXELS = 65_536  # ~0.3 MB float32 per buffer: stays in cache
# Fine/coarse gradient-energy ratios of white pixel noise and of the sharpest natural edge, measured
# with these very filters; they separate noise from texture in the noise floor.
_RATIO_NOISE = 10.7
_RATIO_SHARP_EDGE = 1.6
# Picking the sharpest tiles favours those where noise happened to run above its average, so a
# little more than the average noise is removed.
_NOISE_OVERSUBTRACT = 1.3


def _tile_tensors(grey: np.ndarray, t: int, ny: int, nx: int) -> np.ndarray:
    """Per-tile gradient tensors (xx, yy, xy) of the image and of its Gaussian-blurred copy: (6, ny, nx).

    Works through bands of whole tile rows (with a margin for the filters, so results equal a
    whole-image pass) in buffers reused across bands: full-size float temporaries cost more in
    memory traffic and page faults than the arithmetic does.
    """
    h, w = ny * t, nx * t
    src = grey[:h, :w]
    out = np.empty((6, ny, nx), np.float32)
    rows_per_band = max(1, _BAND_PIXELS // (t * w))
    band_rows = rows_per_band * t + 2 * _FILTER_MARGIN
    g_buf = np.empty((band_rows, w), np.float32)
    b_buf, gx_buf, gy_buf = np.empty_like(g_buf), np.empty_like(g_buf), np.empty_like(g_buf)
    prod_buf = np.empty((rows_per_band * t, w), np.float32)
    scale = 1.0 / (t * t * _SCHARR_GAIN_SQ)
    for i0 in range(0, ny, rows_per_band):
        i1 = min(ny, i0 + rows_per_band)
        r0, r1 = i0 * t, i1 * t
        a0, a1 = max(0, r0 - _FILTER_MARGIN), min(h, r1 + _FILTER_MARGIN)
        n, rows = a1 - a0, i1 - i0
        g = g_buf[:n]
        g[...] = src[a0:a1]
        b = cv2.GaussianBlur(g, (_COARSE_KSIZE, _COARSE_KSIZE), COARSE_SIGMA, dst=b_buf[:n])
        prod = prod_buf[: rows * t]
        for k, img in enumerate((g, b)):
            gx = cv2.Scharr(img, cv2.CV_32F, 1, 0, dst=gx_buf[:n])[r0 - a0 : r1 - a0]
            gy = cv2.Scharr(img, cv2.CV_32F, 0, 1, dst=gy_buf[:n])[r0 - a0 : r1 - a0]
            for j, (u, v) in enumerate(((gx, gx), (gy, gy), (gx, gy))):
                np.multiply(u, v, out=prod)
                tile_sums = prod.reshape(rows, t, nx * t).sum(axis=1).reshape(rows, nx, t).sum(axis=2)
                out[3 * k + j, i0:i1] = tile_sums * scale
    return out


def _noise_floor(fine: np.ndarray, coarse: np.ndarray) -> tuple[float, float]:
    """Noise share of the gradient energy (fine, coarse), from the flattest tiles.

    The flattest tiles hold noise and whatever faint texture the scene has there. The two are
    told apart by their fine/coarse energy ratio: ~10.7 for pixel noise, ~1.6 for the sharpest
    natural edges (a step blurred by 0.4 px). Only the part that behaves like noise is removed,
    so a photo textured all over (a leaf, a carpet) keeps its detail.
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
    a11, a22, a12, b11, b22, b12 = _tile_tensors(grey, t, ny, nx)

    noise_a, noise_b = _noise_floor(a11 + a22, b11 + b22)
    noise_a *= _NOISE_OVERSUBTRACT
    noise_b *= _NOISE_OVERSUBTRACT
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
        (np.sqrt(tr_b) >= max(MIN_DETAIL_GRADIENT, MIN_DETAIL_OVER_NOISE * noise_rms)) & (isotropy >= MIN_ISOTROPY)
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


def _kind_of_blur(tiles: dict[str, Any]) -> tuple[str, float, float | None, float]:
    """Motion or defocus from the anisotropy of the tiles' blur: (kind, anisotropy, direction, coherence)."""
    bmax, bmin, ang = tiles["blur_max"], tiles["blur_min"], tiles["angle_deg"]
    ratio = bmax / np.maximum(bmin, 1e-3)
    anisotropy = float(np.median(ratio))
    # Tiles vote by how anisotropic they are, capped so that a few ill-conditioned tiles cannot
    # outvote the rest.
    weight = np.clip(ratio - 1.0, 0.0, 1.0)
    z = np.sum(weight * np.exp(2j * np.radians(ang))) / max(float(weight.sum()), 1e-9)
    coherence = float(abs(z))
    if anisotropy < MOTION_ANISOTROPY:
        return "defocus", anisotropy, None, coherence
    if coherence < DIRECTION_COHERENCE:
        # Directions disagree: rotation, a curved shake path, or anisotropy that is only noise.
        if anisotropy < MOTION_ANISOTROPY_NO_DIRECTION:
            return "defocus", anisotropy, None, coherence
        return "motion", anisotropy, None, coherence
    return "motion", anisotropy, float(np.degrees(np.angle(z)) / 2.0 % 180.0), coherence


class TiledBlur:
    """Resolution-independent blur: worst-direction edge width of the sharpest detailed tiles."""

    name: ClassVar[str] = "blur"
    # Bumped on any change of algorithm or constants, so the store re-runs stale results.
    version: ClassVar[int] = 2
    method: ClassVar[str] = "tiled"

    def __init__(self, threshold_px: float = DEFAULT_EDGE_PX, min_long_side: int = MIN_LONG_SIDE_PX) -> None:
        self.threshold_px = threshold_px
        self.min_long_side = min_long_side

    def _not_judged(self, reason: str, **extra: Any) -> AnalyzerResult:
        evidence = {"method": self.method, "verdict": "not_judged", "reason": reason, "kind": "unknown"}
        evidence.update(extra)
        return AnalyzerResult(self.name, self.version, None, False, evidence)

    @staticmethod
    def _kind(tiles: dict[str, Any], grey: np.ndarray) -> tuple[str, float, float | None]:
        """Shake or defocus, with the shake's direction.

        Past ~2.5 px the fine/coarse ratio nears 1 in every direction and its anisotropy is noise, so
        heavy blur is looked at again at half size (and so on) until it is within range; that scale
        says shake or defocus. A long smear leaves little to measure along it, so the direction is
        taken from that scale or one coarser, whichever's tiles agree better.
        """
        levels: list[dict[str, Any]] = [tiles]
        for _ in range(3):
            grey = cv2.pyrDown(grey)
            coarser = measure_tiles(grey)
            if coarser is None or coarser["n_tiles"] < MIN_DETAIL_TILES:
                break
            levels.append(coarser)
        start = next(
            (i for i, t in enumerate(levels) if float(np.median(t["blur_max"])) <= KIND_MAX_EDGE_PX), len(levels) - 1
        )
        kind, anisotropy, direction, coherence = _kind_of_blur(levels[start])
        if kind == "motion" and start + 1 < len(levels):
            coarse = _kind_of_blur(levels[start + 1])
            if coarse[0] == "motion" and coarse[3] > coherence:
                direction = coarse[2]
        return kind, anisotropy, direction

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
        if (
            scale > 1
            and tiles is not None
            and tiles["n_tiles"] < max(MIN_DETAIL_TILES, COARSE_DETAIL_FRACTION * tiles["grid"][0] * tiles["grid"][1])
        ):
            tiles = None  # a graphic or a near-blank frame, not a photo blurred beyond recognition
        if tiles is None or tiles["n_tiles"] < MIN_DETAIL_TILES:
            return self._not_judged(
                "too_little_detail",
                measured_at=[w, h],
                tiles_with_detail=0 if tiles is None else tiles["n_tiles"],
            )
        ordered = np.sort(tiles["blur_max"]) * scale
        edge_px = float(ordered[int(SHARPEST_PERCENTILE * len(ordered))])
        flagged = edge_px > self.threshold_px
        evidence: dict[str, Any] = {
            "method": self.method,
            "edge_width_px": round(edge_px, 2),
            "threshold_px": round(self.threshold_px, 2),
            "measured_at": [w, h],
            "tiles_with_detail": tiles["n_tiles"],
            "grid": list(tiles["grid"]),
            "median_tile_edge_width_px": round(float(np.median(ordered)), 2),
            "noise": round(tiles["noise"], 2),
        }
        if scale > 1:
            evidence["measured_scale"] = 1 / scale
        if flagged:
            kind, anisotropy, direction = self._kind(tiles, grey)
            evidence["kind"] = kind
            evidence["anisotropy"] = round(anisotropy, 2)
            if kind == "motion":
                evidence["direction_deg"] = None if direction is None else round(direction)
        else:
            evidence["kind"] = "sharp"
        score = round(1.0 / max(edge_px, 1e-3), 3)
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
        if grey_full.size == 0:
            evidence = {"method": self.method, "verdict": "not_judged", "reason": "empty", "measured_at": [w, h]}
            return AnalyzerResult(self.name, self.version, None, False, evidence)
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
        threshold_px = 1.0 / settings.threshold if settings.threshold > 0 else DEFAULT_EDGE_PX
        return TiledBlur(threshold_px=threshold_px, min_long_side=settings.min_long_side)
    raise ValueError(f"unknown blur method: {settings.method!r} (known: {', '.join(BLUR_METHODS)})")
