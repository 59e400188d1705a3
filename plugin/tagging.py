"""From detected COCO objects to tags: the PICCL paper's Table 1.

``PICCL2021_TABLE1`` is the table as printed, class for class and in its order.
Two things in it are not what they seem:

* ``refrigerator`` is listed twice, under Furniture and under Device. We keep
  both: a photo with a fridge gets both tags. The paper's tag vector is
  multi-label (a woman is both "person" and "woman"), so this is the table
  applied as written, not a guess about which row was meant.
* ``notebook`` (under Book) is not one of YOLOv3's 80 COCO classes, so no
  detection can ever produce it ("laptop" is already under Device). It stays in
  the table, as printed, and matches nothing.

Seven COCO classes are in no row (bench, umbrella, tie, potted plant, vase,
scissors, toothbrush): they get no PICCL tag, only their own class name.
Every detected class name is kept as a finer tag ("dog", "cup") either way.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import cache

from plugin.inference.yolox import COCO_CLASSES

PICCL_TAGS: tuple[str, ...] = ("person", "animal", "vehicle", "furniture", "book", "bag", "sports", "food", "device")

PICCL2021_TABLE1: Mapping[str, tuple[str, ...]] = {
    "person": ("person",),
    "animal": ("bird", "cat", "dog", "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe", "teddy bear"),
    "vehicle": ("bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat", "traffic light",
                "stop sign", "parking meter", "fire hydrant"),
    "furniture": ("chair", "couch", "bed", "refrigerator", "sink", "toilet", "dining table", "clock"),
    "book": ("notebook", "book"),
    "bag": ("handbag", "backpack", "suitcase"),
    "sports": ("frisbee", "skis", "snowboard", "sports ball", "kite", "baseball bat", "baseball glove",
               "skateboard", "surfboard", "tennis racket"),
    "food": ("wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple", "sandwich", "orange",
             "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "bottle"),
    "device": ("hair drier", "toaster", "oven", "microwave", "cell phone", "keyboard", "remote", "mouse",
               "laptop", "tv", "refrigerator"),
}

MAPPINGS: Mapping[str, Mapping[str, tuple[str, ...]]] = {"piccl2021": PICCL2021_TABLE1}


@cache
def tags_by_class(mapping: str = "piccl2021") -> dict[str, tuple[str, ...]]:
    """For each COCO class, the PICCL tags it gives (none, one, or two for refrigerator)."""
    table = MAPPINGS[mapping]
    return {cls: tuple(tag for tag in PICCL_TAGS if cls in table[tag]) for cls in COCO_CLASSES}


def piccl_tags(classes: Iterable[str], mapping: str = "piccl2021") -> set[str]:
    by_class = tags_by_class(mapping)
    return {tag for cls in classes for tag in by_class.get(cls, ())}
