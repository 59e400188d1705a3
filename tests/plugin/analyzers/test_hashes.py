"""The perceptual hash: equal for copies of one picture, the mirror for a flipped copy, none for a flat frame."""

from __future__ import annotations

import io

import cv2
import numpy as np
from PIL import Image

from plugin.analyzers.base import AnalysisInput
from plugin.analyzers.hashes import ImageHashAnalyzer, dct_hash
from plugin.reading.decode import DecodedPhoto, ReadOptions, read_photo
from tests.conftest import plain, textured


def hashed(rgb: np.ndarray) -> dict[str, object]:
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    result = ImageHashAnalyzer().analyze(AnalysisInput(grey, rgb, (rgb.shape[1], rgb.shape[0])))
    assert plain(result.evidence)
    return result.evidence


def distance(x: object, y: object) -> int:
    return bin(int(str(x), 16) ^ int(str(y), 16)).count("1")


def as_read(rgb: np.ndarray, quality: int, orientation: int | None = None) -> np.ndarray:
    """``rgb`` saved as a JPEG (optionally stored rotated with an EXIF orientation) and read as a scan reads it."""
    image = Image.fromarray(rgb)
    exif = Image.Exif()
    if orientation == 6:  # stored turned left; the viewer turns it right
        image = image.transpose(Image.Transpose.ROTATE_90)
        exif[0x0112] = 6
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality, exif=exif)
    decoded = read_photo(buffer.getvalue(), ReadOptions())
    assert isinstance(decoded, DecodedPhoto)
    return decoded.rgb


def test_resized_reencoded_and_exif_rotated_copies_hash_alike() -> None:
    original = textured(1600, 1200, seed=4)
    base = hashed(as_read(original, 95))
    # GIVEN a copy at a third of the size and low quality, and one stored rotated with orientation 6
    small = as_read(cv2.resize(original, (533, 400), interpolation=cv2.INTER_AREA), 60)
    rotated = as_read(original, 90, orientation=6)
    # THEN their hashes of the upright picture are within a few bits of the original's
    assert distance(base["phash"], hashed(small)["phash"]) <= 4
    assert distance(base["phash"], hashed(rotated)["phash"]) <= 4
    # AND an unrelated picture is far away
    assert distance(base["phash"], hashed(textured(1600, 1200, seed=9))["phash"]) > 16


def test_a_mirrored_copy_matches_the_mirror_hash_and_a_grey_copy_is_mono() -> None:
    original = textured(1200, 900, seed=5)
    base = hashed(original)
    flipped = hashed(np.ascontiguousarray(original[:, ::-1]))
    assert distance(base["phash_mirror"], flipped["phash"]) <= 2 < distance(base["phash"], flipped["phash"])
    grey = cv2.cvtColor(cv2.cvtColor(original, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)
    assert hashed(grey)["mono"] is True and base["mono"] is False
    assert distance(base["phash"], hashed(grey)["phash"]) <= 2


def test_a_flat_frame_has_no_hash() -> None:
    # GIVEN a black frame with sensor noise (a pocket shot)
    noise = np.random.default_rng(1).integers(0, 4, (900, 1200, 3)).astype(np.uint8)
    evidence = hashed(noise)
    # THEN it is not hashed: every flat frame would otherwise match every other
    assert evidence["flat"] is True and "phash" not in evidence


def test_dct_hash_is_64_bits() -> None:
    value = dct_hash(cv2.cvtColor(textured(640, 480, seed=2), cv2.COLOR_RGB2GRAY))
    assert 0 <= value < 2**64
