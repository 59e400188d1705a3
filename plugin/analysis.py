"""Analyse one file: read it once, hash it, decode it once, run the analyzers.

This is the function scan workers run. It takes a small picklable
:class:`PhotoTask` and returns a :class:`PhotoOutcome` holding only facts and
numbers (never pixels), so results cross the process boundary cheaply and
the main process alone writes to the database.
"""

from __future__ import annotations

import hashlib
import os
from contextlib import suppress
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from plugin.analyzers.base import AnalysisInput, AnalyzerResult
from plugin.analyzers.blur import make_blur_analyzer
from plugin.analyzers.exposure import make_dark_analyzer
from plugin.analyzers.faces import FaceModels, FacesAnalyzer
from plugin.analyzers.hashes import ImageHashAnalyzer
from plugin.analyzers.objects import ModelRef, ObjectsAnalyzer, SceneAnalyzer
from plugin.config import BlurSettings, DarkSettings, FaceSettings, SceneSettings, Settings, TagSettings
from plugin.inference.models import resolve_face_models, resolve_model, runtime_options
from plugin.inference.runtime import RuntimeOptions
from plugin.inference.yolox import Detection
from plugin.reading.decode import DecodedPhoto, ReadFailure, ReadOptions, read_photo
from plugin.reading.exif import ExifFacts
from plugin.thumbnails import save_face_thumbnails, save_grid_thumbnail

ANALYZER_NAMES: tuple[str, ...] = ("blur", "exposure", "objects", "scene", "faces", "hash")
MODEL_ANALYZERS: tuple[str, ...] = ("objects", "scene")
FACE_ANALYSIS_FIELDS = {"detector", "embedder", "insightface_pack", "min_score", "min_size", "max_faces",
                        "cluster_min_size", "cluster_min_sharpness"}


@dataclass(frozen=True, slots=True)
class AnalysisOptions:
    """Everything a worker needs, passed in (workers read no global configuration)."""

    read: ReadOptions
    blur: BlurSettings
    dark: DarkSettings
    max_file_bytes: int = 1_000_000_000
    # Where the grid thumbnail made from the analysis pixels goes (None: none made during the scan).
    thumbnail_dir: str | None = None
    tags: TagSettings = field(default_factory=TagSettings)
    scene: SceneSettings = field(default_factory=SceneSettings)
    runtime: RuntimeOptions = field(default_factory=RuntimeOptions)
    # Models resolved by the main process (workers never download); None path: not installed.
    detector: ModelRef = field(default_factory=lambda: ModelRef("yolox_nano", None, problem="not resolved"))
    classifier: ModelRef = field(default_factory=lambda: ModelRef("efficientnet_lite0", None,
                                                                  problem="not resolved"))
    faces: FaceSettings = field(default_factory=FaceSettings)
    face_models: FaceModels = field(default_factory=lambda: FaceModels(
        ModelRef("yunet", None, problem="not resolved"), ModelRef("mobilefacenet", None, problem="not resolved")))


@dataclass(frozen=True, slots=True)
class PhotoTask:
    relpath: str
    abspath: str
    size: int  # as listed; the worker re-reads both from the open file
    mtime_ns: int
    analyzers: tuple[str, ...] = ANALYZER_NAMES
    etag: str | None = None  # WebDAV: recorded with the photo, so the next listing can tell a change
    remote_id: str | None = None


@dataclass(frozen=True, slots=True)
class PhotoFacts:
    """What decoding told us about a photo (no pixels)."""

    format: str
    width: int
    height: int
    frames: int
    decoded_from: str
    exif: ExifFacts


@dataclass(slots=True)
class PhotoOutcome:
    task: PhotoTask
    size: int = 0
    mtime_ns: int = 0
    content_hash: str | None = None
    facts: PhotoFacts | None = None
    failure: ReadFailure | None = None
    results: list[AnalyzerResult] = field(default_factory=list)


@lru_cache(maxsize=4)
def _analyzers(options: AnalysisOptions) -> dict[str, Any]:
    # Built once per worker process (models load on first use); the options are frozen and hashable.
    return {
        "blur": make_blur_analyzer(options.blur),
        "exposure": make_dark_analyzer(options.dark),
        "objects": ObjectsAnalyzer(options.detector, options.runtime, options.tags),
        "scene": SceneAnalyzer(options.classifier, options.runtime, options.scene),
        "faces": FacesAnalyzer(options.face_models, options.runtime, options.faces),
        "hash": ImageHashAnalyzer(),
    }


def analyser_versions(options: AnalysisOptions) -> dict[str, str]:
    """For each analyzer, "version|settings": a stored analysis with another key is out of date.

    The settings include how the photo was read: a verdict measured at another analysis size, or on a
    HEIC thumbnail instead of the full image, is not comparable.
    """
    analyzers = _analyzers(options)
    settings = {
        "blur": options.blur.model_dump_json(),
        "exposure": options.dark.model_dump_json(),
        # The model file is part of the key: a model installed (or replaced) later re-runs the analyzer.
        "objects": f"{options.tags.model_dump_json()};model={options.detector.key}",
        "scene": f"{options.scene.model_dump_json()};model={options.classifier.key};det={options.detector.key}",
        # Only what changes the faces found and their vectors; matching thresholds apply without a re-run.
        "faces": options.faces.model_dump_json(include=FACE_ANALYSIS_FIELDS) + f";{options.face_models.key}",
        "hash": "",
    }
    reading = f"size={options.read.analysis_size};heic_thumb={options.read.heic_thumbnail_min_side}"
    return {name: f"{analyzers[name].version}|{settings[name]};{reading}" for name in ANALYZER_NAMES}


def analyse_file(task: PhotoTask, options: AnalysisOptions) -> PhotoOutcome:
    """Never raises for a bad file: the outcome carries the reason."""
    outcome = PhotoOutcome(task, size=task.size, mtime_ns=task.mtime_ns)
    try:
        with open(task.abspath, "rb") as handle:
            st = os.fstat(handle.fileno())
            outcome.size, outcome.mtime_ns = st.st_size, st.st_mtime_ns
            if st.st_size > options.max_file_bytes:
                outcome.failure = ReadFailure(
                    "skipped", "too_large",
                    f"{st.st_size / 1e6:.0f} MB exceeds the limit of {options.max_file_bytes / 1e6:.0f} MB")
                return outcome
            # One read serves both the hash and the decoder: the file crosses the network once.
            data = handle.read()
    except FileNotFoundError:
        outcome.failure = ReadFailure("error", "vanished", "the file was deleted or moved while the scan ran")
        return outcome
    except OSError as exc:
        outcome.failure = ReadFailure("error", "unreadable", f"{type(exc).__name__}: {exc.strerror or exc}")
        return outcome
    outcome.content_hash = hashlib.sha256(data).hexdigest()

    decoded = read_photo(data, options.read)
    del data
    if isinstance(decoded, ReadFailure):
        outcome.failure = decoded
    else:
        outcome.facts = PhotoFacts(decoded.format, decoded.width, decoded.height, decoded.frames,
                                   decoded.decoded_from, decoded.exif)
        outcome.results = run_analyzers(decoded, task.analyzers, options)
        if options.thumbnail_dir:
            # A full or read-only data dir costs the thumbnail, never the photo.
            with suppress(OSError):
                save_grid_thumbnail(Path(options.thumbnail_dir), outcome.content_hash, decoded.rgb,
                                    max(decoded.width, decoded.height))
            boxes = [f["box"] for r in outcome.results if r.analyzer == "faces" for f in r.evidence.get("faces", ())]
            if boxes:
                with suppress(OSError):
                    save_face_thumbnails(Path(options.thumbnail_dir), outcome.content_hash, decoded.rgb,
                                         decoded.width, boxes)
    return outcome


def run_analyzers(decoded: DecodedPhoto, names: tuple[str, ...], options: AnalysisOptions) -> list[AnalyzerResult]:
    analyzers = _analyzers(options)
    photo = AnalysisInput(decoded.grey, decoded.rgb, (decoded.width, decoded.height), decoded.exif.exposure)
    results = []
    # The scene uses the objects found; detect once for both (also when only the scene is out of date).
    detections: list[Detection] | None = None
    detect_error: Exception | None = None
    if any(name in MODEL_ANALYZERS for name in names) and analyzers["objects"].detector is not None:
        try:
            detections = analyzers["objects"].detect(photo)
        except Exception as exc:  # recorded below as the objects verdict's error; the scene goes on without
            detect_error = exc
    for name in names:
        analyzer = analyzers[name]
        try:
            if name == "objects" and detect_error is not None:
                raise detect_error
            if name in MODEL_ANALYZERS:
                results.append(analyzer.analyze(photo, detections))
            elif name == "blur" and decoded.grey_full is not None:
                # The seed paper's rule is defined on the full-resolution grey photo.
                results.append(analyzer.analyze(
                    AnalysisInput(decoded.grey_full, decoded.rgb, photo.original_size, photo.exposure)))
            else:
                results.append(analyzer.analyze(photo))
        except Exception as exc:  # an analyzer bug must cost one verdict, not the photo or the scan
            results.append(AnalyzerResult(name, analyzer.version, None, False,
                                          {"error": f"{type(exc).__name__}: {exc}"}))
    return results


def options_from_settings(settings: Settings) -> AnalysisOptions:
    return AnalysisOptions(
        read=ReadOptions(
            analysis_size=settings.analysis_size,
            max_pixels=settings.max_image_pixels,
            heic_thumbnail_min_side=settings.heic_thumbnail_min_side,
            keep_full_grey=settings.blur.method == "piccl2021",
        ),
        blur=settings.blur,
        dark=settings.dark,
        max_file_bytes=settings.max_file_bytes,
        thumbnail_dir=str(settings.data_dir / "thumbnails"),
        tags=settings.tags,
        scene=settings.scene,
        runtime=runtime_options(settings),
        detector=resolve_model("yolox_nano", settings),
        classifier=resolve_model("efficientnet_lite0", settings),
        faces=settings.faces,
        face_models=resolve_face_models(settings),
    )
