"""The PICCL paper's Table 1, transcribed as printed."""

from __future__ import annotations

from plugin.inference.yolox import COCO_CLASSES
from plugin.tagging import PICCL2021_TABLE1, PICCL_TAGS, piccl_tags, tags_by_class


def test_table_has_the_nine_tags_with_the_papers_class_counts() -> None:
    assert tuple(PICCL2021_TABLE1) == PICCL_TAGS
    counts = {tag: len(classes) for tag, classes in PICCL2021_TABLE1.items()}
    assert counts == {"person": 1, "animal": 11, "vehicle": 12, "furniture": 8, "book": 2, "bag": 3,
                      "sports": 10, "food": 17, "device": 11}


def test_refrigerator_is_listed_twice_and_gives_both_tags() -> None:
    assert "refrigerator" in PICCL2021_TABLE1["furniture"] and "refrigerator" in PICCL2021_TABLE1["device"]
    assert tags_by_class()["refrigerator"] == ("furniture", "device")
    assert piccl_tags(["refrigerator"]) == {"furniture", "device"}


def test_notebook_is_not_a_coco_class_and_matches_nothing() -> None:
    assert "notebook" not in COCO_CLASSES
    assert piccl_tags(["notebook"]) == set()


def test_every_other_table_class_is_a_coco_class() -> None:
    listed = {cls for classes in PICCL2021_TABLE1.values() for cls in classes} - {"notebook"}
    assert listed <= set(COCO_CLASSES)
    unmapped = {cls for cls, tags in tags_by_class().items() if not tags}
    assert unmapped == {"bench", "umbrella", "tie", "potted plant", "vase", "scissors", "toothbrush"}


def test_classes_map_to_tags() -> None:
    assert piccl_tags(["dog", "cup", "laptop", "vase"]) == {"animal", "food", "device"}
    assert piccl_tags(["teddy bear"]) == {"animal"}  # as printed: the paper files it under Animal
    assert piccl_tags(["traffic light"]) == {"vehicle"}
