"""Faces: detect (YuNet), judge each face crop, align and embed it (MobileFaceNet or InsightFace).

The result's evidence lists each face in the upright photo's own pixels (box x, y, w, h; five landmarks),
with its detector score, crop sharpness and quality ('ok', or 'small' / 'blurry': kept but not grouped).
The embeddings travel in ``vector``: n x dim float16, in the order of the evidence's faces.

YuNet without its model file, or the embedder without its, is an expected outcome: ``not_installed``.
A missing embedder still lets faces be found (and counted, and boxed); they are just not grouped.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from plugin.analyzers.base import AnalysisInput, AnalyzerResult
from plugin.analyzers.objects import ModelRef, not_installed
from plugin.config import FaceSettings
from plugin.inference.faces import EMBEDDERS, DetectedFace, FaceEmbedder, YuNetDetector, align_face, face_sharpness
from plugin.inference.runtime import RuntimeOptions

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class FaceModels:
    """The resolved model files for faces (picklable for workers)."""

    detector: ModelRef
    embedder: ModelRef
    embedder_kind: str = "mobilefacenet"

    @property
    def key(self) -> str:
        return f"det={self.detector.key};emb={self.embedder_kind}:{self.embedder.key}"

    @property
    def embed_model(self) -> str | None:
        """Names the vector space faces are embedded in: vectors of another model are never compared."""
        return f"{self.embedder_kind}:{self.embedder.key}" if self.embedder.path else None


def face_quality(face: DetectedFace, sharpness: float, settings: FaceSettings) -> str:
    if min(face.box[2], face.box[3]) < settings.cluster_min_size:
        return "small"
    if sharpness < settings.cluster_min_sharpness:
        return "blurry"
    return "ok"


class FacesAnalyzer:
    name: ClassVar[str] = "faces"
    version: ClassVar[int] = 1

    def __init__(self, models: FaceModels, runtime: RuntimeOptions, settings: FaceSettings) -> None:
        self.models, self.settings = models, settings
        self.detector = (YuNetDetector(Path(models.detector.path), settings.min_score)
                         if models.detector.path else None)
        self.embedder: FaceEmbedder | None = None
        self.embedder_problem = models.embedder.problem
        if models.embedder.path:
            try:
                self.embedder = EMBEDDERS[models.embedder_kind](Path(models.embedder.path), runtime)
            except Exception as exc:  # an optional backend (insightface) that fails to load: faces still found
                self.embedder_problem = f"{models.embedder_kind} failed to load: {type(exc).__name__}: {exc}"
                log.warning("face embedder %s", self.embedder_problem)

    @property
    def embed_model(self) -> str | None:
        return self.models.embed_model if self.embedder is not None else None

    def analyze(self, photo: AnalysisInput) -> AnalyzerResult:
        if self.detector is None:
            return not_installed(self.name, self.version, self.models.detector)
        found = [f for f in self.detector.detect(photo.rgb)
                 if min(f.box[2], f.box[3]) >= self.settings.min_size][: self.settings.max_faces]
        factor = photo.original_size[0] / photo.rgb.shape[1]
        faces: list[dict[str, Any]] = []
        for face in found:
            sharpness = face_sharpness(photo.grey, face.box)
            faces.append({
                "box": [round(v * factor, 1) for v in face.box],
                "landmarks": [[round(x * factor, 1), round(y * factor, 1)] for x, y in face.landmarks],
                "score": round(face.score, 4),
                "sharpness": round(sharpness, 1),
                "size": round(min(face.box[2], face.box[3]), 1),
                "quality": face_quality(face, sharpness, self.settings),
            })
        vector = None
        evidence: dict[str, Any] = {"method": "yunet", "count": len(faces), "faces": faces}
        if self.embedder is not None and found:
            embeddings = self.embedder.embed([align_face(photo.rgb, f.landmarks) for f in found])
            vector = embeddings.astype(np.float16).tobytes()
            evidence["embed_model"], evidence["dim"] = self.embed_model, int(embeddings.shape[1])
        elif self.embedder is None:
            evidence["embedder"] = {"not_installed": f"model {self.models.embedder.name} not installed",
                                    "detail": self.embedder_problem}
        return AnalyzerResult(self.name, self.version, score=float(len(faces)), flagged=False,
                              evidence=evidence, vector=vector)
