"""YOLOX object detection (COCO 80 classes): letterbox, decode, per-class NMS.

Boxes come back in the coordinates of the image that was passed in; the
caller scales them to the photo's own (upright) pixel size.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import cv2
import numpy as np

from plugin.inference.runtime import OnnxModel, RuntimeOptions

# In the model's output order (YOLOX, like every COCO detector, uses the 80 "thing" classes).
COCO_CLASSES: tuple[str, ...] = (
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat", "traffic light",
    "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog", "horse", "sheep", "cow",
    "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella", "handbag", "tie", "suitcase", "frisbee",
    "skis", "snowboard", "sports ball", "kite", "baseball bat", "baseball glove", "skateboard", "surfboard",
    "tennis racket", "bottle", "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple",
    "sandwich", "orange", "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch",
    "potted plant", "bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote", "keyboard", "cell phone",
    "microwave", "oven", "toaster", "sink", "refrigerator", "book", "clock", "vase", "scissors", "teddy bear",
    "hair drier", "toothbrush",
)

_PAD_VALUE = 114  # YOLOX's training letterbox colour
_STRIDES = (8, 16, 32)


@dataclass(frozen=True, slots=True)
class Detection:
    label: str
    score: float
    box: tuple[float, float, float, float]  # x, y, width, height


@dataclass(frozen=True, slots=True)
class Letterboxed:
    tensor: np.ndarray  # float32 [1, 3, S, S], BGR, 0..255
    scale: float  # model pixels per input pixel


def letterbox(rgb: np.ndarray, size: int) -> Letterboxed:
    """Scale ``rgb`` to fit ``size`` x ``size`` keeping its aspect, pad bottom/right with 114, as BGR CHW."""
    height, width = rgb.shape[:2]
    scale = min(size / height, size / width)
    new_w, new_h = max(1, round(width * scale)), max(1, round(height * scale))
    # INTER_AREA when shrinking: the analysis image is ~2.5x the model input, and linear
    # interpolation would alias fine texture into false edges.
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    resized = cv2.resize(rgb, (new_w, new_h), interpolation=interpolation)
    canvas = np.full((size, size, 3), _PAD_VALUE, np.uint8)
    canvas[:new_h, :new_w] = resized[:, :, ::-1]
    tensor = np.ascontiguousarray(canvas.transpose(2, 0, 1), dtype=np.float32)[None]
    return Letterboxed(tensor, scale)


class YoloxDetector:
    """YOLOX exported with its decoding head left out (raw grid outputs), as the official ONNX files are."""

    input_name = "images"

    def __init__(self, model_path: Path, runtime: RuntimeOptions, size: int = 416) -> None:
        self.size = size
        self.model = OnnxModel(model_path, runtime, warmup=self._warmup_feed, name="yolox_nano")

    def _warmup_feed(self) -> dict[str, np.ndarray]:
        return {self.input_name: np.full((1, 3, self.size, self.size), _PAD_VALUE, np.float32)}

    @cached_property
    def _grid(self) -> tuple[np.ndarray, np.ndarray]:
        cells, strides = [], []
        for stride in _STRIDES:
            n = self.size // stride
            ys, xs = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
            cells.append(np.stack([xs, ys], -1).reshape(-1, 2))
            strides.append(np.full((n * n, 1), stride))
        return np.concatenate(cells).astype(np.float32), np.concatenate(strides).astype(np.float32)

    def detect(self, rgb: np.ndarray, min_score: float, nms_iou: float, max_objects: int) -> list[Detection]:
        boxed = letterbox(rgb, self.size)
        raw = self.model.run({self.input_name: boxed.tensor})[0][0]
        return self.decode(raw, boxed.scale, rgb.shape[1], rgb.shape[0], min_score, nms_iou, max_objects)

    def decode(self, raw: np.ndarray, scale: float, width: int, height: int, min_score: float, nms_iou: float,
               max_objects: int) -> list[Detection]:
        grid, strides = self._grid
        scores = raw[:, 4:5] * raw[:, 5:]
        classes = scores.argmax(1)
        best = scores[np.arange(len(scores)), classes]
        keep = best >= min_score
        if not keep.any():
            return []
        centres = (raw[keep, :2] + grid[keep]) * strides[keep]
        sizes = np.exp(np.minimum(raw[keep, 2:4], 10.0)) * strides[keep]  # clamp: exp of garbage overflows
        boxes = np.concatenate([centres - sizes / 2, sizes], 1) / scale
        # Clip to the image: padding and boxes that run past the edge are not the photo.
        x0 = np.clip(boxes[:, 0], 0, width)
        y0 = np.clip(boxes[:, 1], 0, height)
        x1 = np.clip(boxes[:, 0] + boxes[:, 2], 0, width)
        y1 = np.clip(boxes[:, 1] + boxes[:, 3], 0, height)
        boxes = np.stack([x0, y0, x1 - x0, y1 - y0], 1)
        classes, best = classes[keep], best[keep]
        found: list[Detection] = []
        for cls in np.unique(classes):
            mine = np.flatnonzero(classes == cls)
            kept = cv2.dnn.NMSBoxes(boxes[mine].tolist(), best[mine].tolist(), min_score, nms_iou)
            for index in np.asarray(kept, dtype=int).reshape(-1):
                i = mine[index]
                found.append(Detection(COCO_CLASSES[cls], float(best[i]), tuple(float(v) for v in boxes[i])))
        found.sort(key=lambda d: d.score, reverse=True)
        return found[:max_objects]
