"""The scene rule: subjects from the detector first, then the classifier's grouped ImageNet classes."""

from __future__ import annotations

import numpy as np
import pytest

from plugin.config import SceneSettings
from plugin.inference.yolox import Detection
from plugin.scenes import IMAGENET_GROUPS, classify_scene, group_masses

SETTINGS = SceneSettings()
SEASHORE, MONASTERY, TENCH, PLATE = 978, 663, 0, 923


def probs(**mass: float) -> np.ndarray:
    p = np.zeros(1000, np.float32)
    index = {"seashore": SEASHORE, "monastery": MONASTERY, "tench": TENCH, "plate": PLATE}
    for name, value in mass.items():
        p[index[name]] = value
    rest = 1.0 - p.sum()
    p[PLATE] += rest
    return p


def box(label: str, fraction: float, score: float = 0.9) -> Detection:
    side = 1000 * fraction ** 0.5
    return Detection(label, score, (0.0, 0.0, side, side))


def test_groups_do_not_overlap_and_mass_adds_up() -> None:
    seen: set[int] = set()
    for indices in IMAGENET_GROUPS.values():
        assert not seen & set(indices)
        seen |= set(indices)
    masses = group_masses(probs(seashore=0.5, monastery=0.2))
    assert masses["landscape"] == pytest.approx(0.5) and masses["building"] == pytest.approx(0.2)
    assert abs(sum(masses.values()) - 1) < 1e-5


def test_a_large_person_makes_a_people_photo_even_outdoors() -> None:
    verdict = classify_scene(probs(seashore=0.9), [box("person", 0.3)], 1000, 1000, SETTINGS)
    assert verdict.scene == "people" and "30%" in verdict.why


def test_a_small_person_in_a_landscape_is_a_landscape_but_indoors_is_people() -> None:
    small = [box("person", 0.04)]
    assert classify_scene(probs(seashore=0.8), small, 1000, 1000, SETTINGS).scene == "landscape"
    assert classify_scene(probs(plate=1.0), small, 1000, 1000, SETTINGS).scene == "people"


def test_low_scoring_boxes_do_not_count() -> None:
    verdict = classify_scene(probs(seashore=0.8), [box("dog", 0.5, score=0.1)], 1000, 1000, SETTINGS)
    assert verdict.scene == "landscape"


def test_animal_and_vehicle_from_boxes_or_from_the_classifier_alone() -> None:
    assert classify_scene(probs(plate=1.0), [box("cat", 0.2)], 1000, 1000, SETTINGS).scene == "animal"
    assert classify_scene(probs(plate=1.0), [box("car", 0.2)], 1000, 1000, SETTINGS).scene == "vehicle"
    assert classify_scene(probs(tench=0.95), [], 1000, 1000, SETTINGS).scene == "animal"


def test_places_and_other() -> None:
    assert classify_scene(probs(monastery=0.6, seashore=0.1), [], 1000, 1000, SETTINGS).scene == "building"
    assert classify_scene(probs(monastery=0.1, seashore=0.3), [], 1000, 1000, SETTINGS).scene == "landscape"
    assert classify_scene(probs(plate=1.0), [], 1000, 1000, SETTINGS).scene == "other"


def test_a_face_counts_as_people() -> None:
    verdict = classify_scene(probs(plate=1.0), [], 1000, 1000, SETTINGS, faces=[(0, 0, 200, 200)])
    assert verdict.scene == "people"
