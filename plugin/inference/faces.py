"""Faces: YuNet detection, alignment to the ArcFace template, and pluggable embedding backends.

YuNet runs through OpenCV's ``cv2.FaceDetectorYN`` (it decodes the model's
twelve outputs for us) on the upright analysis image. Each face is aligned by a
similarity transform of its five landmarks onto the standard 112x112 ArcFace
template, then embedded by a backend:

- ``mobilefacenet`` (the default, ``../shared/models``): 128-d, RGB 0..1 with
  ImageNet mean/std; the file's batch size is fixed at 1, so faces run one by one (6.5 ms each with one CPU thread).
- ``insightface``: an InsightFace recognition pack (for example ``buffalo_l``)
  that the user put in the models folder, loaded by the optional ``insightface``
  package. Nothing depends on it.

Backends are registered by a type key, Frigate style: :data:`EMBEDDERS`.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Protocol

import cv2
import numpy as np

from plugin.inference.runtime import OnnxModel, RuntimeOptions

log = logging.getLogger(__name__)

# The five landmark positions of the ArcFace 112x112 crop (insightface's `arcface_dst`): the eye,
# the other eye, nose tip, mouth corners, in image left-to-right order, as YuNet gives them.
ARCFACE_TEMPLATE = np.array(
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]],
    dtype=np.float32,
)
ALIGNED_SIZE = 112


@dataclass(frozen=True, slots=True)
class DetectedFace:
    """One face in the pixels it was found in: box (x, y, w, h), five landmarks (x, y), score."""

    box: tuple[float, float, float, float]
    landmarks: tuple[tuple[float, float], ...]
    score: float


class YuNetDetector:
    """cv2.FaceDetectorYN, one per thread (it keeps per-size state), built lazily."""

    def __init__(self, model_path: Path, score_threshold: float = 0.6, nms_iou: float = 0.3,
                 top_k: int = 5000) -> None:
        self.model_path = Path(model_path)
        self.score_threshold, self.nms_iou, self.top_k = score_threshold, nms_iou, top_k
        self._local = threading.local()

    def _detector(self, width: int, height: int) -> cv2.FaceDetectorYN:
        detector = getattr(self._local, "detector", None)
        if detector is None:
            # OpenCV 5 warns once per detector that its new graph engine ignores the target: noise on stderr.
            cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
            detector = cv2.FaceDetectorYN.create(str(self.model_path), "", (width, height),
                                                 self.score_threshold, self.nms_iou, self.top_k)
            self._local.detector = detector
        else:
            detector.setInputSize((width, height))
        return detector

    def detect(self, rgb: np.ndarray) -> list[DetectedFace]:
        """Faces in ``rgb`` (uint8, H x W x 3), highest score first."""
        height, width = rgb.shape[:2]
        if width < 16 or height < 16:
            return []
        bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
        _, rows = self._detector(width, height).detect(bgr)
        if rows is None:
            return []
        faces = []
        for row in rows:
            x, y, w, h = (float(v) for v in row[:4])
            # Clip to the image: YuNet's boxes can reach past the border for faces cut by the frame.
            x0, y0 = max(0.0, x), max(0.0, y)
            x1, y1 = min(float(width), x + w), min(float(height), y + h)
            if x1 - x0 < 2 or y1 - y0 < 2:
                continue
            points = tuple((float(row[4 + 2 * i]), float(row[5 + 2 * i])) for i in range(5))
            faces.append(DetectedFace((x0, y0, x1 - x0, y1 - y0), points, float(row[14])))
        faces.sort(key=lambda f: -f.score)
        return faces


def align_face(rgb: np.ndarray, landmarks: tuple[tuple[float, float], ...] | np.ndarray,
               size: int = ALIGNED_SIZE) -> np.ndarray:
    """The face warped by a similarity transform of its landmarks onto the ArcFace template (size x size)."""
    src = np.asarray(landmarks, dtype=np.float32).reshape(5, 2)
    dst = ARCFACE_TEMPLATE * (size / ALIGNED_SIZE)
    matrix, _ = cv2.estimateAffinePartial2D(src, dst, method=cv2.LMEDS)
    if matrix is None:  # degenerate landmarks (all on one point): fall back to the least-squares fit
        matrix = cv2.estimateAffinePartial2D(src, dst, method=0)[0]
    if matrix is None:
        matrix = np.array([[1, 0, 0], [0, 1, 0]], np.float32)
    return cv2.warpAffine(rgb, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def face_sharpness(grey: np.ndarray, box: tuple[float, float, float, float], side: int = 64) -> float:
    """Sharpness of the face crop: variance of the Laplacian on the crop resized to ``side`` px.

    Resizing to a fixed side makes the number comparable between a small and a large face (the seed's blur
    rule depends on resolution; this does not), so the similar-photo stage can compare faces across shots.
    """
    x, y, w, h = box
    height, width = grey.shape[:2]
    x0, y0 = max(0, int(x)), max(0, int(y))
    x1, y1 = min(width, round(x + w)), min(height, round(y + h))
    if x1 - x0 < 4 or y1 - y0 < 4:
        return 0.0
    crop = cv2.resize(grey[y0:y1, x0:x1], (side, side), interpolation=cv2.INTER_AREA)
    return float(cv2.Laplacian(crop, cv2.CV_32F).var())


class FaceEmbedder(Protocol):
    """An embedding backend: aligned 112x112 RGB faces in, L2-normalised vectors out."""

    key: ClassVar[str]
    dim: int
    # Cosine similarity at or above which two faces are the same person, for this backend.
    match_threshold: float

    def embed(self, faces: list[np.ndarray]) -> np.ndarray: ...


def _l2_normalise(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.maximum(norms, 1e-12)).astype(np.float32)


class MobileFaceNetEmbedder:
    key: ClassVar[str] = "mobilefacenet"
    input_name = "input0"
    dim = 128
    match_threshold = 0.55
    _mean = np.array([0.485, 0.456, 0.406], np.float32)
    _std = np.array([0.229, 0.224, 0.225], np.float32)

    def __init__(self, model_path: Path, runtime: RuntimeOptions) -> None:
        self.model = OnnxModel(model_path, runtime, warmup=self._warmup_feed, name="mobilefacenet")

    def _warmup_feed(self) -> dict[str, np.ndarray]:
        return {self.input_name: np.zeros((1, 3, ALIGNED_SIZE, ALIGNED_SIZE), np.float32)}

    def preprocess(self, face: np.ndarray) -> np.ndarray:
        scaled = (face.astype(np.float32) / 255.0 - self._mean) / self._std
        return scaled.transpose(2, 0, 1)[None]

    def embed(self, faces: list[np.ndarray]) -> np.ndarray:
        if not faces:
            return np.zeros((0, self.dim), np.float32)
        # The file's batch dimension is fixed at 1: one call per face.
        out = [self.model.run({self.input_name: self.preprocess(face)}, ["output0"])[0][0] for face in faces]
        return _l2_normalise(np.stack(out))


class InsightFaceEmbedder:
    """An InsightFace recognition model (``w600k_r50.onnx`` of buffalo_l, ...) through the insightface package."""

    key: ClassVar[str] = "insightface"
    match_threshold = 0.40  # ArcFace r50 same-person cosine is usually far above; its own scale, not ours

    def __init__(self, model_path: Path, runtime: RuntimeOptions) -> None:
        from insightface.model_zoo import get_model  # optional dependency, imported only when chosen

        providers = ["CUDAExecutionProvider", "CPUExecutionProvider"] if runtime.device != "cpu" else [
            "CPUExecutionProvider"]
        self.model = get_model(str(model_path), providers=providers)
        self.model.prepare(ctx_id=-1 if runtime.device == "cpu" else 0)
        self.dim = int(self.model.session.get_outputs()[0].shape[-1])

    def embed(self, faces: list[np.ndarray]) -> np.ndarray:
        if not faces:
            return np.zeros((0, self.dim), np.float32)
        # insightface expects BGR crops already aligned to 112x112.
        return _l2_normalise(np.asarray(self.model.get_feat([cv2.cvtColor(f, cv2.COLOR_RGB2BGR) for f in faces]),
                                        np.float32).reshape(len(faces), -1))


EMBEDDERS: dict[str, type] = {MobileFaceNetEmbedder.key: MobileFaceNetEmbedder,
                              InsightFaceEmbedder.key: InsightFaceEmbedder}


def find_insightface_model(models_dirs: list[Path], pack: str) -> Path | None:
    """The recognition model of an InsightFace pack (``<dir>/<pack>/w600k_*.onnx`` or ``<dir>/models/<pack>/...``)."""
    for base in models_dirs:
        for folder in (base / pack, base / "models" / pack):
            if folder.is_dir():
                candidates = sorted(folder.glob("w600k*.onnx")) + sorted(folder.glob("*glint*.onnx"))
                if candidates:
                    return candidates[0]
    return None
