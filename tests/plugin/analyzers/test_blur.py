"""Blur analyzers: the tiled default (resolution-independent, shake vs defocus) and the seed rule."""

from __future__ import annotations

import json
import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from plugin.analyzers.base import AnalysisInput
from plugin.analyzers.blur import (
    BLUR_METHODS,
    DEFAULT_EDGE_PX,
    Piccl2021Blur,
    TiledBlur,
    make_blur_analyzer,
)
from plugin.config import BlurSettings
from tests.conftest import analysis_input, labels, plain


def scene(width: int, height: int, seed: int = 0) -> np.ndarray:
    """A photo-like grey scene: hard-edged shapes of many sizes, thin lines and fine texture."""
    rng = np.random.default_rng(seed)
    img = np.full((height, width), 120, np.uint8)
    unit = max(width, height) / 1024
    for _ in range(400):
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        r = int(rng.integers(max(2, int(4 * unit)), max(4, int(60 * unit))))
        shade = int(rng.integers(0, 256))
        kind = rng.random()
        if kind < 0.4:
            cv2.circle(img, (x, y), r, shade, -1, lineType=cv2.LINE_AA)
        elif kind < 0.8:
            cv2.rectangle(img, (x, y), (x + r, y + int(rng.integers(1, 2 * r + 2))), shade, -1)
        else:
            x2, y2 = x + int(rng.integers(-4 * r, 4 * r)), y + int(rng.integers(-4 * r, 4 * r))
            cv2.line(img, (x, y), (x2, y2), shade, max(1, int(2 * unit)), lineType=cv2.LINE_AA)
    return img


def photo_of(grey: np.ndarray, original: tuple[int, int] | None = None) -> AnalysisInput:
    h, w = grey.shape
    return AnalysisInput(grey=grey, rgb=np.repeat(grey[:, :, None], 3, axis=2), original_size=original or (w, h))


def at_analysis_size(grey: np.ndarray, size: int = 1024) -> np.ndarray:
    h, w = grey.shape
    s = size / max(h, w)
    if s >= 1:
        return grey
    return cv2.resize(grey, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA)


def add_noise(grey: np.ndarray, sigma: float, seed: int = 1) -> np.ndarray:
    noise = np.random.default_rng(seed).normal(0, sigma, grey.shape)
    return np.clip(grey.astype(np.float32) + noise, 0, 255).astype(np.uint8)


def motion(grey: np.ndarray, length: int, angle_deg: float) -> np.ndarray:
    """Linear motion blur of ``length`` px along ``angle_deg`` (0 = horizontal, counter-clockwise)."""
    size = length + 2
    kernel = np.zeros((size, size), np.float32)
    c = (size - 1) / 2
    for t in np.linspace(-length / 2, length / 2, 8 * length + 1):
        kernel[round(c - t * math.sin(math.radians(angle_deg))), round(c + t * math.cos(math.radians(angle_deg)))] += 1
    return cv2.filter2D(grey, -1, kernel / kernel.sum())


@pytest.fixture(scope="module")
def sharp() -> np.ndarray:
    # A 12 MP-like render brought to the analysis size, as a phone photo would be.
    return at_analysis_size(add_noise(scene(2048, 1536), 2.0))


# --- tiled: verdicts on synthetic photos ---------------------------------------------------------


def test_sharp_scene_is_sharp(sharp: np.ndarray) -> None:
    # GIVEN a sharp, slightly noisy scene at the analysis size
    # WHEN the tiled analyzer looks at it
    result = TiledBlur().analyze(photo_of(sharp))
    # THEN it is not flagged, and says so in plain, readable evidence
    assert not result.flagged
    assert result.analyzer == "blur" and result.evidence["method"] == "tiled"
    assert result.evidence["kind"] == "sharp"
    assert result.score is not None and result.score > 1 / DEFAULT_EDGE_PX
    assert plain(result.evidence) and json.loads(json.dumps(result.evidence)) == result.evidence


@pytest.mark.parametrize("sigma", [2.0, 4.0, 8.0])
def test_defocus_is_flagged_as_defocus(sharp: np.ndarray, sigma: float) -> None:
    # GIVEN the scene defocused (isotropic Gaussian blur)
    blurred = add_noise(cv2.GaussianBlur(sharp, (0, 0), sigma), 1.0)
    # WHEN analysed
    result = TiledBlur().analyze(photo_of(blurred))
    # THEN it is blurry, of the defocus kind, and scores below the sharp original
    assert result.flagged
    assert result.evidence["kind"] == "defocus"
    assert result.score is not None and result.score < TiledBlur().analyze(photo_of(sharp)).score


@pytest.mark.parametrize("length", [8, 24])
@pytest.mark.parametrize("angle", [0, 45, 90, 135])
def test_shake_is_flagged_as_motion_with_its_direction(sharp: np.ndarray, angle: int, length: int) -> None:
    # GIVEN the scene smeared along one direction (camera shake)
    blurred = add_noise(motion(sharp, length, angle), 1.0)
    # WHEN analysed
    result = TiledBlur().analyze(photo_of(blurred))
    # THEN it is blurry, of the motion kind, in the direction of the smear
    assert result.flagged
    assert result.evidence["kind"] == "motion"
    direction = result.evidence["direction_deg"]
    assert direction is not None
    assert min(abs(direction - angle), 180 - abs(direction - angle)) <= 20


def test_noise_does_not_hide_blur(sharp: np.ndarray) -> None:
    # GIVEN a defocused photo with heavy sensor noise on top (high ISO), which adds "sharp" energy
    blurred = add_noise(cv2.GaussianBlur(sharp, (0, 0), 2.5), 8.0)
    # WHEN analysed
    result = TiledBlur().analyze(photo_of(blurred))
    # THEN the noise is discounted and the photo is still blurry
    assert result.flagged


def test_low_contrast_sharp_scene_is_not_blurry(sharp: np.ndarray) -> None:
    # GIVEN a sharp scene in fog: contrast cut to a tenth, a little noise
    foggy = np.clip(180 + (sharp.astype(np.float32) - 128) * 0.1, 0, 255).astype(np.uint8)
    foggy = add_noise(foggy, 0.7)
    # WHEN analysed
    result = TiledBlur().analyze(photo_of(foggy))
    # THEN low contrast is not mistaken for blur
    assert not result.flagged


def test_sharp_subject_on_soft_background_is_sharp(sharp: np.ndarray) -> None:
    # GIVEN a photo whose left fifth is in focus and the rest is background blur (bokeh)
    mixed = cv2.GaussianBlur(sharp, (0, 0), 5.0)
    w = sharp.shape[1]
    mixed[:, : w // 5] = sharp[:, : w // 5]
    # WHEN analysed
    result = TiledBlur().analyze(photo_of(add_noise(mixed, 1.0)))
    # THEN the sharp subject decides
    assert not result.flagged


def test_same_photo_scores_alike_at_1mp_and_12mp() -> None:
    # GIVEN one sharp scene saved at 12 MP and at 1 MP
    big = add_noise(scene(4000, 3000, seed=3), 2.0)
    small = cv2.resize(big, (1155, 866), interpolation=cv2.INTER_AREA)
    # WHEN the tiled analyzer sees each at the analysis size, and the seed rule at full size
    tiled_big = TiledBlur().analyze(photo_of(at_analysis_size(big), (4000, 3000)))
    tiled_small = TiledBlur().analyze(photo_of(at_analysis_size(small), (1155, 866)))
    seed_big = Piccl2021Blur().analyze_full(big)
    seed_small = Piccl2021Blur().analyze_full(small)
    # THEN the tiled scores agree within 25%, and move far less than the seed rule's variance
    assert tiled_big.score is not None and tiled_small.score is not None
    assert seed_big.score is not None and seed_small.score is not None
    tiled_ratio = tiled_small.score / tiled_big.score
    assert 0.8 <= tiled_ratio <= 1.25
    assert not tiled_big.flagged and not tiled_small.flagged
    assert abs(math.log(tiled_ratio)) < abs(math.log(seed_small.score / seed_big.score)) / 2


def test_thumbnail_is_not_judged() -> None:
    # GIVEN a 250 x 250 crop (smaller than the 320 px minimum)
    crop = cv2.GaussianBlur(scene(250, 250), (0, 0), 3.0)
    # WHEN analysed
    result = TiledBlur().analyze(photo_of(crop))
    # THEN no verdict: no score, not flagged, and the reason
    assert result.score is None and not result.flagged
    assert result.evidence["reason"] == "too_small"


def test_featureless_frame_is_not_judged() -> None:
    # GIVEN a flat grey frame with sensor noise (a lens cap, a blank wall)
    flat = add_noise(np.full((768, 1024), 90, np.uint8), 3.0)
    # WHEN analysed
    result = TiledBlur().analyze(photo_of(flat))
    # THEN it is "not enough detail", not "blurry"
    assert result.score is None and not result.flagged
    assert result.evidence["reason"] == "too_little_detail"


def test_tiny_and_odd_shapes_do_not_crash() -> None:
    # GIVEN degenerate inputs: a 1-px line, a panorama strip, a small square
    for grey in (np.zeros((1, 500), np.uint8), scene(1024, 40), scene(330, 330), np.zeros((0, 0), np.uint8)):
        # WHEN analysed THEN a result comes back, never an exception
        for analyzer in (TiledBlur(), TiledBlur(min_long_side=0), Piccl2021Blur()):
            result = analyzer.analyze(photo_of(grey, (max(grey.shape[1], 1), max(grey.shape[0], 1))))
            assert plain(result.evidence)


# --- piccl2021: the seed rule --------------------------------------------------------------------


def test_seed_rule_is_the_laplacian_variance_below_alpha(sharp: np.ndarray) -> None:
    # GIVEN the seed rule with the paper's alpha
    rule = Piccl2021Blur(alpha=400.0)
    blurred = cv2.GaussianBlur(sharp, (0, 0), 3.0)
    # WHEN it measures a sharp and a blurred grey image
    expected = float(cv2.Laplacian(blurred, cv2.CV_64F).var())
    result = rule.analyze_full(blurred)
    # THEN the score is the variance of the Laplacian, and the verdict the paper's comparison
    assert result.score == pytest.approx(expected, abs=0.06)
    assert result.flagged == (expected < 400.0)
    assert result.evidence["method"] == "piccl2021"
    assert result.evidence["measured_at"] == [blurred.shape[1], blurred.shape[0]]
    assert rule.analyze(photo_of(sharp)).evidence["measured_at"] == [sharp.shape[1], sharp.shape[0]]
    assert plain(result.evidence)


# --- factory ------------------------------------------------------------------------------------


def test_factory_selects_the_configured_method() -> None:
    # GIVEN settings for each method WHEN the factory builds the analyzer THEN it is that method's
    default = make_blur_analyzer(BlurSettings())
    assert isinstance(default, TiledBlur) and default.threshold_px == DEFAULT_EDGE_PX
    tuned = make_blur_analyzer(BlurSettings(threshold=0.5, min_long_side=100))
    assert isinstance(tuned, TiledBlur) and tuned.threshold_px == pytest.approx(2.0) and tuned.min_long_side == 100
    seed = make_blur_analyzer(BlurSettings(method="piccl2021", piccl2021_threshold=123.0))
    assert isinstance(seed, Piccl2021Blur) and seed.alpha == 123.0
    assert default.name == seed.name == "blur"
    assert set(BLUR_METHODS) == {"tiled", "piccl2021"}


# --- real photos --------------------------------------------------------------------------------


def test_blur_set_verdicts_and_pair_ranking(testdata: Path) -> None:
    # GIVEN the labelled blur set (DIV2K with known kernels, NYU frames with synthetic shake)
    folder = testdata / "blur_deblurgen"
    rows = labels(folder)
    # WHEN the default analyzer judges every photo, read as a scan reads it
    analyzer = TiledBlur()
    results = {row["file"]: analyzer.analyze(analysis_input(folder / row["file"])) for row in rows}
    # THEN at least 95% of verdicts are right, no sharp photo is flagged,
    right = sum(results[r["file"]].flagged == (r["label"] != "sharp") for r in rows)
    assert right / len(rows) >= 0.95
    assert not any(results[r["file"]].flagged for r in rows if r["label"] == "sharp")
    # AND within every pair the sharp photo scores sharper
    by_pair: dict[str, dict[str, float]] = {}
    for r in rows:
        score = results[r["file"]].score
        assert score is not None
        by_pair.setdefault(r["pair_id"], {})["sharp" if r["label"] == "sharp" else "blurred"] = score
    pairs = [p for p in by_pair.values() if len(p) == 2]
    assert pairs and all(p["sharp"] > p["blurred"] for p in pairs)
