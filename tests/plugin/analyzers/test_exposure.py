"""Dark-photo analyzer: the luminance distribution's highlights and the EXIF scene EV."""

from __future__ import annotations

import json
import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from plugin.analyzers.base import AnalysisInput, ExposureExif
from plugin.analyzers.exposure import DARK_METHODS, LuminanceDark, make_dark_analyzer, scene_ev100
from plugin.config import DarkSettings
from tests.conftest import analysis_input, labels, plain


def photo(grey: np.ndarray, exposure: ExposureExif | None = None) -> AnalysisInput:
    h, w = grey.shape
    return AnalysisInput(
        grey=grey,
        rgb=np.repeat(grey[:, :, None], 3, axis=2),
        original_size=(w, h),
        exposure=exposure or ExposureExif(),
    )


def scene(mean: float, spread: float, seed: int = 0) -> np.ndarray:
    """A smooth grey scene with its luminance spread around ``mean``, plus noise."""
    rng = np.random.default_rng(seed)
    base = cv2.GaussianBlur(rng.normal(0, 1, (480, 640)).astype(np.float32), (0, 0), 12)
    base = (base - base.mean()) / base.std()
    return np.clip(mean + spread * base + rng.normal(0, 2, base.shape), 0, 255).astype(np.uint8)


def night_city(mean: float, spread: float, seed: int, window: int) -> np.ndarray:
    """A dark scene with 60 lit windows (about 2% of the frame) at luminance ``window``."""
    grey = scene(mean, spread)
    rng = np.random.default_rng(seed)
    for _ in range(60):
        y, x = int(rng.integers(0, 470)), int(rng.integers(0, 630))
        grey[y : y + 8, x : x + 6] = window
    return grey


# Typical phone EXIF: a sunny day, and a dim room at the camera's limits.
DAYLIGHT = ExposureExif(exposure_time_s=1 / 1000, f_number=1.8, iso=50, flash_fired=False)
DIM_ROOM = ExposureExif(exposure_time_s=1 / 10, f_number=1.8, iso=3200, flash_fired=False)


def test_underexposed_frame_is_dark() -> None:
    # GIVEN an underexposed frame: everything, highlights included, near black
    result = LuminanceDark().analyze(photo(scene(12, 6)))
    # THEN it is dark because of the picture, with readable, plain evidence
    assert result.flagged and result.analyzer == "exposure"
    assert result.evidence["reason"] == "dark_picture"
    assert result.score is not None and result.score > 0.9
    assert plain(result.evidence) and json.loads(json.dumps(result.evidence)) == result.evidence


def test_well_exposed_photo_is_not_dark() -> None:
    # GIVEN a normally exposed photo shot in daylight
    result = LuminanceDark().analyze(photo(scene(120, 40), DAYLIGHT))
    # THEN it is not dark
    assert not result.flagged
    assert result.score is not None and result.score < 0.1


def test_dim_but_correctly_exposed_scene_is_not_dark() -> None:
    # GIVEN a low-key photo (mean ~62) whose brightest part still reaches ~2 stops below white
    grey = scene(62, 25)
    grey[:20, :60] = 160
    # THEN the picture is not called dark (cf. LOL "high" 780.png: mean 62, p95 114)
    assert not LuminanceDark().analyze(photo(grey)).flagged


def test_night_scene_with_lit_windows_is_not_dark() -> None:
    # GIVEN a city at night: almost all black, but 2% of the frame is lit windows
    grey = night_city(8, 4, seed=2, window=235)
    result = LuminanceDark().analyze(photo(grey))
    # THEN light sources make it a lit night scene, not an underexposed frame
    assert not result.flagged
    assert result.evidence["lit_scene"] is True


def test_dim_scene_lifted_to_mid_grey_is_caught_from_exif() -> None:
    # GIVEN a phone shot of a dim room: auto-exposure lifted it to mid-grey, EXIF says EV100 ~ 0
    result = LuminanceDark().analyze(photo(scene(110, 30), DIM_ROOM))
    # THEN it is dark because of the dim scene
    assert result.flagged
    assert result.evidence["reason"] == "dim_scene"
    assert result.evidence["scene_ev100"] == pytest.approx(math.log2(1.8**2 * 10) - math.log2(32), abs=0.01)


def test_night_city_is_not_dark_even_with_dim_exif() -> None:
    # GIVEN a phone shot of a city at night: black sky and streets, lit windows, EXIF EV100 ~ 0
    grey = night_city(10, 5, seed=3, window=240)
    result = LuminanceDark().analyze(photo(grey, DIM_ROOM))
    # THEN the camera exposed for the lights: neither the picture nor the EXIF makes it dark
    assert not result.flagged
    assert result.evidence["exif_ignored"] == "night_scene"


def test_flash_or_tripod_exposure_is_not_judged_on_exif() -> None:
    # GIVEN the same dim scene lit by flash, and a deliberate long exposure on a tripod
    flash = ExposureExif(exposure_time_s=1 / 10, f_number=1.8, iso=3200, flash_fired=True)
    tripod = ExposureExif(exposure_time_s=20.0, f_number=8.0, iso=100)
    for exposure, reason in ((flash, "flash_fired"), (tripod, "long_exposure")):
        result = LuminanceDark().analyze(photo(scene(110, 30), exposure))
        # THEN the scene EV does not make them dark, and the evidence says why
        assert not result.flagged
        assert result.evidence["exif_ignored"] == reason


def test_brightness_value_is_the_fallback() -> None:
    # GIVEN EXIF with only an APEX BrightnessValue
    assert scene_ev100(ExposureExif(brightness_ev=-4.0)) == (pytest.approx(1.0), "brightness_value")
    # AND one with the exposure triangle, which wins
    ev, source = scene_ev100(ExposureExif(exposure_time_s=0.01, f_number=2.8, iso=100, brightness_ev=-4.0))
    assert source == "exposure" and ev == pytest.approx(math.log2(2.8**2 / 0.01))
    # AND "unknown" markers and nonsense are ignored
    assert scene_ev100(ExposureExif(brightness_ev=4294967295.0)) == (None, None)
    assert scene_ev100(ExposureExif(exposure_time_s=0.0, f_number=2.0, iso=100)) == (None, None)
    assert scene_ev100(ExposureExif()) == (None, None)


def test_empty_and_flat_inputs_do_not_crash() -> None:
    # GIVEN degenerate pictures WHEN analysed THEN a result comes back with plain evidence
    for grey in (np.zeros((0, 0), np.uint8), np.zeros((10, 10), np.uint8), np.full((10, 10), 255, np.uint8)):
        result = LuminanceDark().analyze(photo(grey, DAYLIGHT))
        assert plain(result.evidence)
    assert LuminanceDark().analyze(photo(np.zeros((10, 10), np.uint8))).flagged  # a black frame is dark


def test_factory_and_registry() -> None:
    # GIVEN settings WHEN the factory builds the analyzer THEN it is the registered method with the threshold
    default = make_dark_analyzer(DarkSettings())
    assert isinstance(default, LuminanceDark) and default.threshold == 0.5
    assert make_dark_analyzer(DarkSettings(threshold=0.8)).threshold == 0.8  # type: ignore[attr-defined]
    assert DARK_METHODS["luminance"] is LuminanceDark


def test_lol_low_light_pairs(testdata: Path) -> None:
    # GIVEN the LOL eval15 pairs (same scenes, low light and normal light; PNG, no EXIF)
    folder = testdata / "lowlight_lol"
    rows = labels(folder)
    analyzer = LuminanceDark()
    wrong = []
    for row in rows:
        # WHEN each is judged, read as a scan reads it
        result = analyzer.analyze(analysis_input(folder / row["file"]))
        if result.flagged != (row["label"] == "low"):
            wrong.append(row["file"])
    # THEN every low-light photo is dark and no normal-light one is
    assert wrong == []
