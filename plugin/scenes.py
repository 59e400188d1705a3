"""The scene of a photo: people, animal, landscape, vehicle, building (the smart-album paper's five), or other.

The paper trains a five-way classifier; we have no such model, but we have two
that together know more: an ImageNet classifier (EfficientNet-Lite0) and the
COCO detector. ImageNet has no "person" class and no "forest" or "street", so
its 1000 classes are grouped (:data:`IMAGENET_GROUPS`) into animal, vehicle,
building and landscape, and everything else is "things" (mostly indoors).
The rule, in order:

1. **Subjects first.** A person, animal or vehicle box covering at least
   ``subject_area`` of the frame makes it that kind of photo. A smaller one
   (down to ``small_subject_area``) does too, unless the classifier sees a
   place (building + landscape mass at least ``place_mass``): a hiker on a
   mountain is a landscape, a child at a kitchen table is people.
2. The classifier alone names an animal or vehicle photo when that group has
   at least ``classifier_subject_mass`` (ImageNet knows 398 animals, the
   detector 10).
3. "other" when things (neither places, animals nor vehicles) hold at least
   ``other_mass``: a plate of food, a desk.
4. Else building or landscape, whichever group has more mass.

Faces, once found, count as people (a face of 2% of the frame is a portrait).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from plugin.config import SceneSettings
from plugin.inference.yolox import Detection

SCENES: tuple[str, ...] = ("people", "animal", "landscape", "vehicle", "building", "other")


def _indices(*spans: int | tuple[int, int]) -> tuple[int, ...]:
    out: list[int] = []
    for span in spans:
        out.extend(range(span[0], span[1] + 1) if isinstance(span, tuple) else [span])
    return tuple(sorted(set(out)))


# ImageNet-1k class indices (the standard order of imagenet_labels.txt). Names in comments.
IMAGENET_GROUPS: dict[str, tuple[int, ...]] = {
    # 0-397: fish, birds, reptiles, amphibians, invertebrates, mammals.
    "animal": _indices((0, 397)),
    "vehicle": _indices(
        403, 404, 405, 407, 408,  # aircraft carrier, airliner, airship, ambulance, amphibian
        436, 444, 450, 466, 468, 472,  # beach wagon, tandem, bobsled, bullet train, cab, canoe
        475, 479, 484, 510, 511, 535,  # car mirror, car wheel, catamaran, container ship, convertible, disk brake
        # electric locomotive, fireboat, fire engine, forklift, freight car, garbage truck
        547, 554, 555, 561, 565, 569,
        573, 575, 581, 586, 595, 603,  # go-kart, golfcart, grille, half track, harvester, horse cart
        # jeep, jinrikisha, lifeboat, limousine, liner, minibus, minivan, Model T
        609, 612, 625, 627, 628, 654, 656, 661,
        # moped, motor scooter, mountain bike, moving van, oxcart, passenger car, pickup
        665, 670, 671, 675, 690, 705, 717,
        # pirate ship, police van, racer, RV, school bus, schooner, snowmobile, snowplow
        724, 734, 751, 757, 779, 780, 802, 803,
        # space shuttle, speedboat, sports car, steam loco, streetcar, submarine, tank, thresher
        812, 814, 817, 820, 829, 833, 847, 856,
        # tow truck, tractor, trailer truck, tricycle, trimaran, trolleybus, unicycle
        864, 866, 867, 870, 871, 874, 880,
        895, 908, 913, 914,  # warplane, wing, wreck, yawl
    ),
    "building": _indices(
        410, 415, 424, 425, 442, 449, 454,  # apiary, bakery, barbershop, barn, bell cote, boathouse, bookshop
        # butcher shop, castle, chainlink fence, church, cinema, cliff dwelling, confectionery
        467, 483, 489, 497, 498, 500, 509,
        525, 538, 562, 576, 580, 582, 624,  # dam, dome, fountain, gondola (Venice canals), greenhouse, grocery, library
        # lumbermill, mailbox, manhole cover, mobile home, monastery, mosque, obelisk
        634, 637, 640, 660, 663, 668, 682,
        698, 706, 707, 716, 727, 733, 743,  # palace, patio, pay-phone, picket fence, planetarium, pole, prison
        # restaurant, shoe shop, sliding door, steel arch bridge, stone wall, stupa, suspension bridge
        762, 788, 799, 821, 825, 832, 839,
        # thatch, tile roof, tobacco shop, totem pole, toyshop, triumphal arch, vault
        853, 858, 860, 863, 865, 873, 884,
        # viaduct, water tower, window screen, window shade, yurt, street sign, traffic light
        888, 900, 904, 905, 915, 919, 920,
    ),
    "landscape": _indices(
        (970, 980),  # alp, bubble, cliff, coral reef, geyser, lakeside, promontory, sandbar, seashore, valley, volcano
        437, 460, 536, 718, 649,  # beacon (lighthouse), breakwater, dock, pier, megalith: coastal and rural landmarks
        646, 672, 912, 958, 984,  # maze (hedge), mountain tent, worm fence (woods), hay, rapeseed (fields)
        (991, 997),  # fungi: the forest floor
    ),
}
IMAGENET_GROUPS["landscape"] = tuple(i for i in IMAGENET_GROUPS["landscape"] if i != 971)  # 971 is "bubble"

SUBJECT_CLASSES: dict[str, frozenset[str]] = {
    "people": frozenset({"person"}),
    "animal": frozenset({"bird", "cat", "dog", "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe"}),
    "vehicle": frozenset({"bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat"}),
}


@dataclass(frozen=True, slots=True)
class SceneVerdict:
    scene: str
    why: str
    groups: dict[str, float]  # ImageNet probability mass per group (+ "things")
    subject_area: dict[str, float]  # largest box of each subject kind, as a fraction of the frame
    top_classes: list[tuple[int, float]]


def group_masses(probabilities: np.ndarray) -> dict[str, float]:
    masses = {group: float(probabilities[list(idx)].sum()) for group, idx in IMAGENET_GROUPS.items()}
    masses["things"] = max(0.0, 1.0 - sum(masses.values()))
    return masses


def subject_areas(detections: Iterable[Detection], width: int, height: int, min_score: float,
                  faces: Iterable[tuple[float, float, float, float]] = ()) -> dict[str, float]:
    """The largest box of each subject kind, as a fraction of the frame (boxes in the same pixels)."""
    frame = float(max(1, width * height))
    areas = dict.fromkeys(SUBJECT_CLASSES, 0.0)
    for det in detections:
        if det.score < min_score:
            continue
        for kind, classes in SUBJECT_CLASSES.items():
            if det.label in classes:
                areas[kind] = max(areas[kind], det.box[2] * det.box[3] / frame)
    for box in faces:
        # A face is a small part of its person: its box times 4 is about head and shoulders.
        areas["people"] = max(areas["people"], min(1.0, 4 * box[2] * box[3] / frame))
    return areas


def classify_scene(probabilities: np.ndarray, detections: Iterable[Detection], width: int, height: int,
                   settings: SceneSettings, faces: Iterable[tuple[float, float, float, float]] = ()) -> SceneVerdict:
    groups = group_masses(probabilities)
    areas = subject_areas(detections, width, height, settings.detection_score, faces)
    place = groups["building"] + groups["landscape"]
    top = [(int(i), round(float(probabilities[i]), 4)) for i in np.argsort(probabilities)[::-1][:5]]

    def verdict(scene: str, why: str) -> SceneVerdict:
        return SceneVerdict(scene, why, {k: round(v, 4) for k, v in groups.items()},
                            {k: round(v, 4) for k, v in areas.items()}, top)

    for kind in ("people", "animal", "vehicle"):
        area = areas[kind]
        if area >= settings.subject_area:
            return verdict(kind, f"{kind} box covers {area:.0%} of the photo")
        if area >= settings.small_subject_area and place < settings.place_mass:
            return verdict(kind, f"{kind} box covers {area:.0%} of the photo, not a place ({place:.2f})")
    for kind in ("animal", "vehicle"):
        if groups[kind] >= settings.classifier_subject_mass:
            return verdict(kind, f"classifier: {kind} {groups[kind]:.2f}")
    if groups["things"] >= settings.other_mass:
        return verdict("other", f"classifier: things {groups['things']:.2f}, not a place")
    scene = "building" if groups["building"] > groups["landscape"] else "landscape"
    return verdict(scene, f"classifier: building {groups['building']:.2f}, landscape {groups['landscape']:.2f}")
