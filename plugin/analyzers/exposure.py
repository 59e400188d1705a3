"""Dark-photo analyzer.

:class:`LuminanceDark` (method ``luminance``) calls a photo dark on either of two grounds and
reports both in its evidence:

*The picture is dark.* What tells an underexposed frame (a pocket shot, a lens cap, a dim room
the camera could not lift) from a dark *subject* is its brightest part, not its average: in an
underexposed frame even the highlights sit far below white, whereas a night street, a city at
night or a concert is mostly black but its lights and lit subjects reach the top of the range.
So the measure is how many stops the 99th-percentile luminance sits below white (after undoing
the sRGB curve), with light sources in frame counting as a lit scene.

*The scene was dim.* Phones expose automatically and lift a dim room to a mid-grey picture,
noisy and usually soft, that the picture alone does not give away. The EXIF exposure gives the
scene's light: ``EV100 = log2(N^2 / t) - log2(ISO / 100)`` (or, without those, ``Bv + 5`` from
the APEX BrightnessValue). Daylight is EV 12-15, a lit living room EV 5-7; at EV 2.5 (~14 lux,
a dim room or a street at night) a camera is at its limits. Photos lit by flash, deliberate long
exposures (base ISO, a second or more: a tripod) and night scenes (a dark picture with light
sources in it: the camera exposed for the lights) are not judged on EXIF.

The two become a score in 0..1 (higher = darker) through logistic ramps, and the larger one is the
photo's score; dark means score >= threshold (0.5 by default).
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import cv2
import numpy as np

from plugin.analyzers.base import AnalysisInput, Analyzer, AnalyzerResult, ExposureExif
from plugin.config import DarkSettings

# Stops below white of the 99th-percentile luminance at which a picture counts as dark (score
# 0.5): 3 stops is an sRGB value of ~99/255. Well exposed photos keep their brightest 1% within
# ~2 stops of white (sRGB >= 134, even for a dim scene exposed correctly); the underexposed frames
# of the LOL set sit 3.7-6 stops down (sRGB <= 80).
IMAGE_DARK_STOPS = 3.0
IMAGE_RAMP_STOPS = 0.25
HIGHLIGHT_PERCENTILE = 0.99

# Light sources or lit subjects in frame make it a night scene, not an underexposed frame: at least
# this share of pixels at or above LIT_LEVEL. Underexposed frames have well under 0.05% there.
LIT_LEVEL = 200
LIT_FRACTION = 0.0025

# Scene EV100 at which the scene counts as dim (score 0.5), and the ramp's width in stops. EV 2.5
# is ~14 lux (a room lit by one small lamp, a street at night); the dimmest ordinary indoor photos
# in the development data are EV 3.5 (~30 lux), daylight is EV 12-15.
DIM_SCENE_EV100 = 2.5
EV_RAMP_STOPS = 0.5
# APEX: EV100 = Bv + Sv(ISO 100) = Bv + log2(100 / 3.125).
_APEX_SV_ISO100 = 5.0
# A night scene (dark picture, light sources in frame) was exposed for its lights: its low scene
# EV is the subject, not a failure. "Dark picture" here means a median below this.
NIGHT_SCENE_MAX_MEDIAN = 64
# A deliberate long exposure: at most this ISO and at least this many seconds.
LONG_EXPOSURE_MAX_ISO = 200.0
LONG_EXPOSURE_MIN_S = 1.0

DEFAULT_THRESHOLD = 0.5


def _logistic(x: float) -> float:
    if x < -60:
        return 0.0
    return 1.0 / (1.0 + math.exp(-x))


def _srgb_to_linear(v: float) -> float:
    return v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4


def _positive(x: float | None) -> float | None:
    if x is None:
        return None
    try:
        value = float(x)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) and value > 0 else None


def scene_ev100(exposure: ExposureExif) -> tuple[float | None, str | None]:
    """Scene brightness as EV at ISO 100, and where it came from ("exposure" / "brightness_value")."""
    t, n, iso = _positive(exposure.exposure_time_s), _positive(exposure.f_number), _positive(exposure.iso)
    if t is not None and n is not None and iso is not None:
        return math.log2(n * n / t) - math.log2(iso / 100.0), "exposure"
    bv = exposure.brightness_ev
    if bv is not None:
        try:
            bv_f = float(bv)
        except (TypeError, ValueError):
            return None, None
        # "Unknown" is written as 0xFFFFFFFF, which reads as a huge value; real scenes lie within +-20.
        if math.isfinite(bv_f) and -20.0 < bv_f < 30.0:
            return bv_f + _APEX_SV_ISO100, "brightness_value"
    return None, None


def _is_long_exposure(exposure: ExposureExif) -> bool:
    t, iso = _positive(exposure.exposure_time_s), _positive(exposure.iso)
    return t is not None and iso is not None and t >= LONG_EXPOSURE_MIN_S and iso <= LONG_EXPOSURE_MAX_ISO


class LuminanceDark:
    """Dark photos from the luminance distribution's highlights and from the EXIF scene EV."""

    name: ClassVar[str] = "exposure"
    # Bumped on any change of rule or constants, so the store re-runs stale results.
    version: ClassVar[int] = 2
    method: ClassVar[str] = "luminance"

    def __init__(self, threshold: float = DEFAULT_THRESHOLD) -> None:
        self.threshold = threshold

    def analyze(self, photo: AnalysisInput) -> AnalyzerResult:
        grey = photo.grey
        evidence: dict[str, Any] = {"method": self.method}
        image_darkness = 0.0
        night_scene = False
        if grey.size == 0:
            evidence["picture"] = "empty"
        else:
            # Every other row is plenty for percentiles and halves the cost (a strided view, no copy).
            grey = grey if grey.flags.c_contiguous else np.ascontiguousarray(grey)
            rows = grey[::2] if grey.shape[0] >= 64 else grey
            hist = cv2.calcHist([rows], [0], None, [256], [0, 256]).ravel()
            cdf = np.cumsum(hist) / hist.sum()
            p50 = int(np.searchsorted(cdf, 0.5))
            p99 = int(np.searchsorted(cdf, HIGHLIGHT_PERCENTILE))
            lit = float(1.0 - cdf[LIT_LEVEL - 1])
            stops = -math.log2(max(_srgb_to_linear(max(p99, 0.5) / 255.0), 1e-6))
            lit_scene = lit >= LIT_FRACTION
            night_scene = lit_scene and p50 < NIGHT_SCENE_MAX_MEDIAN
            if not lit_scene:
                image_darkness = _logistic((stops - IMAGE_DARK_STOPS) / IMAGE_RAMP_STOPS)
            evidence.update(
                {
                    "median_luma": p50,
                    "p99_luma": p99,
                    "mean_luma": round(float(np.dot(hist, np.arange(256)) / hist.sum()), 1),
                    "near_black_fraction": round(float(cdf[31]), 3),
                    "lit_fraction": round(lit, 4),
                    "highlight_stops_below_white": round(stops, 2),
                    "lit_scene": lit_scene,
                    "image_darkness": round(image_darkness, 3),
                }
            )

        exposure = photo.exposure
        ev, source = scene_ev100(exposure)
        scene_dimness = 0.0
        if ev is not None:
            evidence["scene_ev100"] = round(ev, 2)
            evidence["ev_source"] = source
            if exposure.flash_fired:
                evidence["exif_ignored"] = "flash_fired"
            elif _is_long_exposure(exposure):
                evidence["exif_ignored"] = "long_exposure"
            elif night_scene:
                evidence["exif_ignored"] = "night_scene"
            else:
                scene_dimness = _logistic((DIM_SCENE_EV100 - ev) / EV_RAMP_STOPS)
            evidence["scene_dimness"] = round(scene_dimness, 3)

        score = round(max(image_darkness, scene_dimness), 3)
        flagged = score >= self.threshold
        evidence["threshold"] = self.threshold
        if flagged:
            evidence["reason"] = "dark_picture" if image_darkness >= scene_dimness else "dim_scene"
        return AnalyzerResult(self.name, self.version, score, flagged, evidence)


DARK_METHODS: dict[str, type[LuminanceDark]] = {"luminance": LuminanceDark}


def make_dark_analyzer(settings: DarkSettings) -> Analyzer:
    """The dark-photo analyzer that ``settings.method`` selects."""
    cls = DARK_METHODS.get(settings.method)
    if cls is None:
        raise ValueError(f"unknown dark method: {settings.method!r} (known: {', '.join(DARK_METHODS)})")
    return cls(threshold=settings.threshold or DEFAULT_THRESHOLD)
