"""The contract every analyzer keeps.

An analyzer looks at one decoded photo (:class:`AnalysisInput`) and returns an
:class:`AnalyzerResult`: a score, a verdict and evidence a person can read. It
never raises for an expected outcome (a flat grey frame, no EXIF); it says so
in the evidence instead. Results carry the analyzer's ``name`` and
``version`` so that the store can re-run only analyzers whose version changed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

import numpy as np


@dataclass(frozen=True, slots=True)
class ExposureExif:
    """The EXIF fields that say how a photo was exposed (all optional)."""

    exposure_time_s: float | None = None
    f_number: float | None = None
    iso: float | None = None
    brightness_ev: float | None = None  # EXIF BrightnessValue (APEX Bv)
    flash_fired: bool | None = None


@dataclass(frozen=True, slots=True)
class AnalysisInput:
    """One photo, decoded once, upright, at the analysis size.

    ``grey`` is the luminance (uint8, H x W) of the photo resized so that its
    long side is exactly ``analysis_size`` (or smaller, never upscaled, when
    the photo itself is smaller). ``rgb`` is the same image in colour (uint8,
    H x W x 3) for analyzers that need colour. ``original_size`` is the
    photo's own pixel size (upright), for evidence and for resolution-bound
    rules such as the seed paper's.
    """

    grey: np.ndarray
    rgb: np.ndarray
    original_size: tuple[int, int]
    exposure: ExposureExif = field(default_factory=ExposureExif)


@dataclass(frozen=True, slots=True)
class AnalyzerResult:
    """What an analyzer concluded about one photo."""

    analyzer: str
    version: int
    score: float | None
    flagged: bool
    evidence: dict[str, Any] = field(default_factory=dict)
    # A feature vector (float16 bytes) for later stages (similar photos); kept out of the JSON evidence.
    vector: bytes | None = None


class Analyzer(Protocol):
    """A quality analyzer: one name, one version, one job."""

    name: ClassVar[str]
    version: ClassVar[int]

    def analyze(self, photo: AnalysisInput) -> AnalyzerResult: ...
