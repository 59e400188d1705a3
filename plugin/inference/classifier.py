"""EfficientNet-Lite0 (ImageNet-1k): class probabilities and the 1280-d feature vector.

The model takes a batch of any size; :meth:`ImageClassifier.classify` runs one
call for all images it is given.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from plugin.inference.runtime import OnnxModel, RuntimeOptions

FEATURE_DIM = 1280


@dataclass(frozen=True, slots=True)
class Classification:
    probabilities: np.ndarray  # float32 [1000], sums to 1
    features: np.ndarray  # float32 [1280], L2-normalised


def preprocess(rgb: np.ndarray, size: int = 224, resize_to: int = 256) -> np.ndarray:
    """Short side to ``resize_to``, centre crop ``size``, (x - 127) / 128, CHW (the model's training recipe)."""
    height, width = rgb.shape[:2]
    scale = resize_to / min(height, width)
    new_w, new_h = max(size, round(width * scale)), max(size, round(height * scale))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    resized = cv2.resize(rgb, (new_w, new_h), interpolation=interpolation)
    top, left = (new_h - size) // 2, (new_w - size) // 2
    crop = resized[top:top + size, left:left + size]
    return ((crop.astype(np.float32) - 127.0) / 128.0).transpose(2, 0, 1)


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


class ImageClassifier:
    input_name = "input"

    def __init__(self, model_path: Path, runtime: RuntimeOptions) -> None:
        self.model = OnnxModel(model_path, runtime, warmup=self._warmup_feed, name="efficientnet_lite0")

    def _warmup_feed(self) -> dict[str, np.ndarray]:
        return {self.input_name: np.zeros((1, 3, 224, 224), np.float32)}

    def classify(self, images: list[np.ndarray]) -> list[Classification]:
        """One model call for all of ``images`` (RGB uint8, any size)."""
        if not images:
            return []
        batch = np.stack([preprocess(image) for image in images])
        logits, features = self.model.run({self.input_name: batch}, ["logits", "features"])
        norms = np.linalg.norm(features, axis=1, keepdims=True)
        features = features / np.maximum(norms, 1e-12)
        return [Classification(p.astype(np.float32), f.astype(np.float32))
                for p, f in zip(_softmax(logits), features, strict=True)]
