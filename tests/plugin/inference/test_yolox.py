"""YOLOX-Nano on real COCO photos: the annotated objects are found, boxes land where they belong."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from plugin.inference.runtime import RuntimeOptions
from plugin.inference.yolox import COCO_CLASSES, YoloxDetector, letterbox


@pytest.fixture(scope="module")
def detector(models_dir: Path) -> YoloxDetector:
    return YoloxDetector(models_dir / "yolox_nano.onnx", RuntimeOptions(threads=2, idle_unload_s=0))


def _rgb(path: Path) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)


def _iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    ax1, ay1, bx1, by1 = a[0] + a[2], a[1] + a[3], b[0] + b[2], b[1] + b[3]
    w = max(0.0, min(ax1, bx1) - max(a[0], b[0]))
    h = max(0.0, min(ay1, by1) - max(a[1], b[1]))
    return w * h / (a[2] * a[3] + b[2] * b[3] - w * h)


def test_letterbox_keeps_the_aspect_and_pads_with_114() -> None:
    boxed = letterbox(np.zeros((100, 200, 3), np.uint8), 416)
    assert boxed.tensor.shape == (1, 3, 416, 416) and boxed.scale == pytest.approx(2.08)
    assert boxed.tensor[0, :, 300, 10].tolist() == [114, 114, 114]  # below the image: padding
    assert boxed.tensor[0, :, 10, 10].tolist() == [0, 0, 0]


def test_prominent_annotated_objects_are_found(detector: YoloxDetector, testdata: Path) -> None:
    # GIVEN the COCO annotations of objects_coco_mini: objects covering at least 5% of their photo
    folder = testdata / "objects_coco_mini"
    coco = json.loads((folder / "annotations" / "instances_train2017.json").read_text())
    names = {c["id"]: c["name"] for c in coco["categories"]}
    images = {i["id"]: i for i in coco["images"]}
    prominent: dict[str, set[str]] = {}
    for ann in coco["annotations"]:
        image = images[ann["image_id"]]
        if not ann["iscrowd"] and ann["area"] >= 0.05 * image["width"] * image["height"]:
            prominent.setdefault(image["file_name"], set()).add(names[ann["category_id"]])
    # WHEN the detector looks at each photo
    found = missed = 0
    for file_name, classes in prominent.items():
        labels = {d.label for d in detector.detect(_rgb(folder / "train2017" / file_name), 0.25, 0.45, 100)}
        found += len(classes & labels)
        missed += len(classes - labels)
    # THEN nearly every prominent object's class is among the detections
    assert found / (found + missed) >= 0.85, (found, missed)


def test_known_photo_gives_its_objects_with_boxes_on_them(detector: YoloxDetector,
                                                          coco: Callable[[str], Path]) -> None:
    # GIVEN a kitchen photo with a person, a microwave and a bottle (COCO 535506)
    detections = detector.detect(_rgb(coco("000000535506")), 0.25, 0.45, 100)
    labels = {d.label for d in detections}
    # THEN they are found, every label is a COCO class, boxes are inside the image, best first
    assert {"person", "microwave"} <= labels
    assert labels <= set(COCO_CLASSES)
    height, width = cv2.imread(str(coco("000000535506"))).shape[:2]
    for det in detections:
        x, y, w, h = det.box
        assert x >= 0 and y >= 0 and x + w <= width + 0.01 and y + h <= height + 0.01 and w > 0 and h > 0
    assert [d.score for d in detections] == sorted((d.score for d in detections), reverse=True)


def test_per_class_nms_leaves_one_box_per_object(detector: YoloxDetector, coco: Callable[[str], Path]) -> None:
    detections = detector.detect(_rgb(coco("000000535506")), 0.25, 0.45, 100)
    for i, a in enumerate(detections):
        for b in detections[i + 1:]:
            if a.label == b.label:
                assert _iou(a.box, b.box) <= 0.45


def test_boxes_are_in_upright_coordinates_for_an_exif_rotated_photo(
        tmp_path: Path, coco: Callable[[str], Path], settings_for: Callable[..., object]) -> None:
    from plugin.analysis import PhotoTask, analyse_file, options_from_settings

    # GIVEN the same photo stored upright, and stored sideways with EXIF orientation 6 (rotate 90° CW to view)
    source = Image.open(coco("000000535506"))
    upright = tmp_path / "upright.jpg"
    source.save(upright, quality=95)
    sideways = tmp_path / "sideways.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6
    source.transpose(Image.Transpose.ROTATE_90).save(sideways, quality=95, exif=exif)
    options = options_from_settings(settings_for())

    def objects(path: Path) -> list[dict]:
        outcome = analyse_file(PhotoTask(path.name, str(path), path.stat().st_size, 0), options)
        result = next(r for r in outcome.results if r.analyzer == "objects")
        return result.evidence["objects"]

    # WHEN both are analysed
    plain, rotated = objects(upright), objects(sideways)
    # THEN the boxes agree: they are in the upright photo's pixels either way
    person = next(o for o in plain if o["label"] == "person")
    twin = max((o for o in rotated if o["label"] == "person"), key=lambda o: _iou(o["box"], person["box"]))
    assert _iou(twin["box"], person["box"]) > 0.85
