"""Objects and scene: the two model-based analyzers.

``objects`` runs the COCO detector and gives the PICCL tags (Table 1) and the
finer class names; ``scene`` runs the ImageNet classifier, combines it with
the objects found (:mod:`plugin.scenes`) and keeps the 1280-d feature vector
for the similar-photo stage. Boxes are stored in the photo's own upright
pixels (x, y, width, height), whatever size the analysis ran at.

A missing model is an expected outcome, not an error: the result says
``not_installed`` and the rest of the pipeline carries on.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from plugin.analyzers.base import AnalysisInput, AnalyzerResult
from plugin.config import SceneSettings, TagSettings
from plugin.inference.classifier import ImageClassifier
from plugin.inference.runtime import RuntimeOptions
from plugin.inference.yolox import Detection, YoloxDetector
from plugin.scenes import classify_scene
from plugin.tagging import piccl_tags


@dataclass(frozen=True, slots=True)
class ModelRef:
    """A resolved model file, or why there is none (picklable, for scan workers)."""

    name: str
    path: str | None
    sha256: str = ""
    problem: str = ""

    @property
    def key(self) -> str:
        # Part of the analyzer's settings key: installing the model later re-runs the analyzer.
        return self.sha256[:12] if self.path else "missing"


def not_installed(analyzer: str, version: int, model: ModelRef) -> AnalyzerResult:
    return AnalyzerResult(analyzer, version, None, False,
                          {"not_installed": f"model {model.name} not installed", "detail": model.problem})


def _to_photo_pixels(det: Detection, factor: float) -> dict[str, Any]:
    x, y, w, h = (round(v * factor, 1) for v in det.box)
    return {"label": det.label, "score": round(det.score, 4), "box": [x, y, w, h]}


class ObjectsAnalyzer:
    name: ClassVar[str] = "objects"
    version: ClassVar[int] = 1

    def __init__(self, model: ModelRef, runtime: RuntimeOptions, settings: TagSettings) -> None:
        self.model, self.settings = model, settings
        self.detector = YoloxDetector(Path(model.path), runtime) if model.path else None

    def detect(self, photo: AnalysisInput) -> list[Detection]:
        if self.detector is None:
            return []
        return self.detector.detect(photo.rgb, self.settings.min_score, self.settings.nms_iou,
                                    self.settings.max_objects)

    def analyze(self, photo: AnalysisInput, detections: list[Detection] | None = None) -> AnalyzerResult:
        if self.detector is None:
            return not_installed(self.name, self.version, self.model)
        if detections is None:
            detections = self.detect(photo)
        factor = photo.original_size[0] / photo.rgb.shape[1]
        classes = sorted({d.label for d in detections})
        return AnalyzerResult(
            self.name, self.version,
            score=max((d.score for d in detections), default=0.0),
            flagged=False,
            evidence={
                "method": "yolox_nano",
                "mapping": self.settings.mapping,
                "tags": sorted(piccl_tags(classes, self.settings.mapping)),
                "classes": classes,
                "objects": [_to_photo_pixels(d, factor) for d in detections],
            },
        )


class SceneAnalyzer:
    name: ClassVar[str] = "scene"
    version: ClassVar[int] = 1

    def __init__(self, model: ModelRef, runtime: RuntimeOptions, settings: SceneSettings) -> None:
        self.model, self.settings = model, settings
        self.classifier = ImageClassifier(Path(model.path), runtime) if model.path else None

    def analyze(self, photo: AnalysisInput, detections: list[Detection] | None = None) -> AnalyzerResult:
        if self.classifier is None:
            return not_installed(self.name, self.version, self.model)
        result = self.classifier.classify([photo.rgb])[0]
        height, width = photo.rgb.shape[:2]
        verdict = classify_scene(result.probabilities, detections or [], width, height, self.settings)
        return AnalyzerResult(
            self.name, self.version,
            score=verdict.subject_area.get(verdict.scene, verdict.groups.get(verdict.scene)),
            flagged=False,
            evidence={
                "method": self.settings.method,
                "scene": verdict.scene,
                "why": verdict.why,
                "groups": verdict.groups,
                "subject_area": verdict.subject_area,
                "imagenet_top": [[index, p] for index, p in verdict.top_classes],
                "detector": detections is not None,
            },
            vector=result.features.astype(np.float16).tobytes(),
        )
