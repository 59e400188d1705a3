"""Perceptual hash of the upright photo, for library-wide near-duplicates.

The hash is the classic DCT hash (pHash): the photo's luminance at 32x32, its 8x8 lowest
frequencies, each bit saying whether a coefficient is above their median. It is taken on the
upright analysis image, so a copy that differs only by size, JPEG quality, file format or EXIF
orientation hashes the same (or within a bit or two). The hash of the mirrored picture is kept
beside it, so that a flipped copy is found too. ``mono`` says whether the photo has no colour, which
tells a black-and-white version from its colour original (the hash, made from luminance, matches);
``clipped`` is the fraction of blown-out pixels, which the keeper choice weighs against darkness.
"""

from __future__ import annotations

from typing import ClassVar

import cv2
import numpy as np

from plugin.analyzers.base import AnalysisInput, AnalyzerResult

HASH_SIDE = 32
HASH_BLOCK = 8
# Mean chroma (|a| + |b| in OpenCV's 8-bit Lab, 128 = grey) below which a photo has no colour: JPEG
# noise in a grey picture stays under 1; the dullest colour photos of the test sets are above 4.
MONO_CHROMA = 2.0


# Luminance at or above which a pixel is blown out (8-bit sRGB).
CLIPPED_LUMA = 250
# A picture whose 32x32 luminance varies less than this (standard deviation, 0-255) is flat: a black frame,
# a lens cap, a grey sky. Its hash bits are noise, and every flat picture would "match" every other.
FLAT_STD = 2.0


def _small(grey: np.ndarray) -> np.ndarray:
    return cv2.resize(grey, (HASH_SIDE, HASH_SIDE), interpolation=cv2.INTER_AREA).astype(np.float32)


def dct_hash(grey: np.ndarray) -> int:
    """The 64-bit DCT hash of a luminance image, as an unsigned int (bit 63 = lowest frequency)."""
    return _hash_of(_small(grey))


def _hash_of(small: np.ndarray) -> int:
    block = cv2.dct(small)[:HASH_BLOCK, :HASH_BLOCK].ravel()
    # The DC term says only how bright the photo is; the median is taken without it.
    bits = block > np.median(block[1:])
    return int(np.packbits(bits).view(">u8")[0])


def chroma(rgb: np.ndarray) -> float:
    small = cv2.resize(rgb, (64, 64), interpolation=cv2.INTER_AREA)
    lab = cv2.cvtColor(small, cv2.COLOR_RGB2LAB).astype(np.int16)
    return float(np.abs(lab[..., 1:] - 128).sum(axis=-1).mean())


def to_signed(value: int) -> int:
    """A 64-bit hash as the signed integer a BIGINT column holds."""
    return value - (1 << 64) if value >= 1 << 63 else value


class ImageHashAnalyzer:
    name: ClassVar[str] = "hash"
    version: ClassVar[int] = 1

    def analyze(self, photo: AnalysisInput) -> AnalyzerResult:
        small = _small(photo.grey)
        colour = chroma(photo.rgb)
        # Blown highlights, for choosing the better exposed shot of a bracket (the dark analyzer sees only darkness).
        clipped = float(np.count_nonzero(photo.grey >= CLIPPED_LUMA)) / max(photo.grey.size, 1)
        evidence: dict[str, object] = {"chroma": round(colour, 2), "mono": colour < MONO_CHROMA,
                                       "clipped": round(clipped, 4)}
        if float(small.std()) < FLAT_STD:
            evidence["flat"] = True  # no hash: only identical files and close shots group such photos
        else:
            evidence["phash"] = f"{_hash_of(small):016x}"
            evidence["phash_mirror"] = f"{_hash_of(np.ascontiguousarray(small[:, ::-1])):016x}"
        return AnalyzerResult(self.name, self.version, None, False, evidence)
