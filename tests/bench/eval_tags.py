"""Object tags and scenes of the real pipeline, scored on the shared labelled photos.

Run: ``PICCL_TESTDATA=../shared/data PICCL_MODELS_DIR=../shared/models .venv/bin/python tests/bench/eval_tags.py``

Sets (under ``$PICCL_TESTDATA``):

* ``objects_coco_mini/`` -- 80 COCO photos. Ground truth: the COCO classes of labels.csv
  ``categories_with_counts``, mapped to the nine PICCL tags with :func:`plugin.tagging.piccl_tags`.
  Scored per image (a tag or class is in the photo or not): precision, recall and F1 for each tag and
  micro-averaged, and micro-averaged over the 80 COCO classes. ``derived_scene_tags`` (``people;vehicle``)
  scores the scene: right when the predicted scene is one of them; photos without one are not scored.
* ``scenes_intel_dev/`` -- 180 scene photos: right when the predicted scene is ``coarse_scene``
  (building / landscape); the confusion matrix has the six Intel classes as rows.

Predictions come from :func:`plugin.analysis.analyse_file` with :func:`plugin.analysis.options_from_settings`
(default settings): the product's decoding at the analysis size, detector, classifier and thresholds.
Tags are the ``objects`` result's ``evidence["tags"]``, scenes the ``scene`` result's ``evidence["scene"]``.
``--sweep`` decodes the COCO photos once more, detects once at a low threshold and filters by score
(exactly what a higher threshold gives: greedy NMS on the boxes above a threshold is a prefix of it).

Targets: micro-F1 of the nine tags >= 0.75; scene accuracy >= 0.90.
Not collected by pytest (no ``test_`` prefix; tests/bench is excluded). It prints numbers, asserts nothing.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import os
import sys
import tempfile
import time
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from plugin.analysis import AnalysisOptions, PhotoOutcome, PhotoTask, options_from_settings  # noqa: E402
from plugin.config import load_settings  # noqa: E402
from plugin.inference.yolox import COCO_CLASSES, YoloxDetector  # noqa: E402
from plugin.reading.decode import DecodedPhoto, read_photo  # noqa: E402
from plugin.scenes import SCENES  # noqa: E402
from plugin.tagging import PICCL_TAGS, piccl_tags  # noqa: E402
from plugin.workers import make_runner  # noqa: E402

TARGET_TAG_F1 = 0.75
TARGET_SCENE_ACC = 0.90
INTEL_CLASSES = ("buildings", "street", "forest", "glacier", "mountain", "sea")
SWEEP = (0.10, 0.15, 0.20, 0.25, 0.30, 0.35, 0.40, 0.45, 0.50)
CACHE_SCORE = 0.05


@dataclasses.dataclass
class Photo:
    path: Path
    rel: str
    classes: set[str]  # ground truth (COCO) or empty
    truth_scenes: set[str]  # accepted scenes; empty: not scored
    group: str  # "coco" or the Intel class
    tags: set[str] = dataclasses.field(default_factory=set)
    pred_classes: set[str] = dataclasses.field(default_factory=set)
    scene: str = "?"
    why: str = ""
    error: str = ""

    @property
    def truth_tags(self) -> set[str]:
        return piccl_tags(self.classes)


def read_coco(data: Path) -> list[Photo]:
    root = data / "objects_coco_mini"
    photos = []
    with open(root / "labels.csv", newline="") as f:
        for row in csv.DictReader(f):
            classes = {part.rsplit(":", 1)[0] for part in row["categories_with_counts"].split(";") if part}
            scenes = {s for s in row["derived_scene_tags"].split(";") if s}
            photos.append(Photo(root / row["file"], row["file"], classes, scenes, "coco"))
    return photos


def read_intel(data: Path) -> list[Photo]:
    root = data / "scenes_intel_dev"
    with open(root / "labels.csv", newline="") as f:
        return [Photo(root / row["file"], row["file"], set(), {row["coarse_scene"]}, row["intel_class"])
                for row in csv.DictReader(f)]


def run_pipeline(photos: list[Photo], options: AnalysisOptions, workers: int) -> float:
    """analyse_file over ``photos`` in the product's thread runner; fills in tags and scenes."""
    by_path = {str(p.path): p for p in photos}
    tasks = []
    for p in photos:
        st = p.path.stat()
        tasks.append(PhotoTask(p.rel, str(p.path), st.st_size, st.st_mtime_ns))
    started = time.perf_counter()
    outcome: PhotoOutcome
    for outcome in make_runner("thread", workers, options, 60.0, 500).run(tasks):
        photo = by_path[outcome.task.abspath]
        if outcome.failure is not None:
            photo.error = f"{outcome.failure.reason}: {outcome.failure.detail}"
            continue
        results = {r.analyzer: r for r in outcome.results}
        objects, scene = results.get("objects"), results.get("scene")
        if objects is None or scene is None or "tags" not in objects.evidence or "scene" not in scene.evidence:
            photo.error = f"objects {objects and objects.evidence}; scene {scene and scene.evidence}"
            continue
        photo.tags = set(objects.evidence["tags"])
        photo.pred_classes = set(objects.evidence["classes"])
        photo.scene = scene.evidence["scene"]
        photo.why = scene.evidence.get("why", "")
    return time.perf_counter() - started


def counts(pairs: list[tuple[set[str], set[str]]], label: str) -> tuple[int, int, int, int]:
    """tp, fp, fn, support of ``label`` over (truth, predicted) per image."""
    tp = sum(label in t and label in p for t, p in pairs)
    fp = sum(label not in t and label in p for t, p in pairs)
    fn = sum(label in t and label not in p for t, p in pairs)
    return tp, fp, fn, tp + fn


def prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    precision = tp / (tp + fp) if tp + fp else float("nan")
    recall = tp / (tp + fn) if tp + fn else float("nan")
    f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else float("nan")
    return precision, recall, f1


def micro(pairs: list[tuple[set[str], set[str]]], labels: tuple[str, ...]) -> dict[str, float]:
    tp = fp = fn = 0
    for label in labels:
        a, b, c, _ = counts(pairs, label)
        tp, fp, fn = tp + a, fp + b, fn + c
    p, r, f = prf(tp, fp, fn)
    return {"precision": p, "recall": r, "f1": f, "tp": tp, "fp": fp, "fn": fn}


def macro_f1(pairs: list[tuple[set[str], set[str]]], labels: tuple[str, ...]) -> float:
    scores = [prf(*counts(pairs, label)[:3])[2] for label in labels if counts(pairs, label)[3]]
    return sum(scores) / len(scores) if scores else float("nan")


def fmt(x: float) -> str:
    return "  n/a" if x != x else f"{x:.3f}"


def tag_report(coco: list[Photo], all_classes: bool) -> dict[str, Any]:
    scored = [p for p in coco if not p.error]
    pairs = [(p.truth_tags, p.tags) for p in scored]
    print(f"\n== PICCL tags, image level, {len(scored)} COCO photos (product min_score; objects evidence['tags'])")
    print(f"  {'tag':10s} {'support':>7s} {'pred':>5s} {'tp':>4s} {'fp':>4s} {'fn':>4s}  {'prec':>5s} {'recall':>6s} "
          f"{'F1':>5s}")
    per_tag = {}
    for tag in PICCL_TAGS:
        tp, fp, fn, support = counts(pairs, tag)
        p, r, f = prf(tp, fp, fn)
        per_tag[tag] = {"support": support, "tp": tp, "fp": fp, "fn": fn, "precision": p, "recall": r, "f1": f}
        print(f"  {tag:10s} {support:7d} {tp + fp:5d} {tp:4d} {fp:4d} {fn:4d}  {fmt(p)} {fmt(r):>6s} {fmt(f)}")
    m = micro(pairs, PICCL_TAGS)
    print(f"  {'micro':10s} {m['tp'] + m['fn']:7d} {m['tp'] + m['fp']:5d} {m['tp']:4d} {m['fp']:4d} {m['fn']:4d}  "
          f"{fmt(m['precision'])} {fmt(m['recall']):>6s} {fmt(m['f1'])}   "
          f"(macro F1 {fmt(macro_f1(pairs, PICCL_TAGS))})")
    exact = sum(t == p for t, p in pairs)
    print(f"  photos with exactly the right tag set: {exact}/{len(pairs)}")
    verdict = "MET" if m["f1"] >= TARGET_TAG_F1 else "NOT MET"
    print(f"  target: micro-F1 of the nine tags >= {TARGET_TAG_F1:.2f} -> {fmt(m['f1'])} {verdict}")

    class_pairs = [(p.classes, p.pred_classes) for p in scored]
    mc = micro(class_pairs, COCO_CLASSES)
    present = sum(1 for c in COCO_CLASSES if counts(class_pairs, c)[3])
    print(f"\n== COCO classes, image level ({present} of 80 classes present in the truth)")
    print(f"  micro over classes: precision {fmt(mc['precision'])} recall {fmt(mc['recall'])} F1 {fmt(mc['f1'])} "
          f"(tp={mc['tp']} fp={mc['fp']} fn={mc['fn']}); macro F1 over present classes "
          f"{fmt(macro_f1(class_pairs, COCO_CLASSES))}")
    per_class = {}
    for cls in COCO_CLASSES:
        tp, fp, fn, support = counts(class_pairs, cls)
        if tp + fp + fn:
            p, r, f = prf(tp, fp, fn)
            per_class[cls] = {"support": support, "tp": tp, "fp": fp, "fn": fn, "precision": p, "recall": r, "f1": f}
    if all_classes:
        print(f"  {'class':14s} {'support':>7s} {'tp':>4s} {'fp':>4s} {'fn':>4s}  {'prec':>5s} {'recall':>6s} "
              f"{'F1':>5s}")
        for cls, v in per_class.items():
            print(f"  {cls:14s} {v['support']:7d} {v['tp']:4d} {v['fp']:4d} {v['fn']:4d}  {fmt(v['precision'])} "
                  f"{fmt(v['recall']):>6s} {fmt(v['f1'])}")
    worst = sorted(per_class.items(), key=lambda kv: (-(kv[1]["fn"] + kv[1]["fp"]), kv[0]))[:12]
    print("  most errors (class: support tp/fp/fn, recall):  "
          + "; ".join(f"{c}: {v['support']} {v['tp']}/{v['fp']}/{v['fn']} R={fmt(v['recall'])}" for c, v in worst))
    return {"tags": per_tag, "tags_micro": m, "tags_macro_f1": macro_f1(pairs, PICCL_TAGS), "exact_tag_sets": exact,
            "classes_micro": mc, "classes_macro_f1": macro_f1(class_pairs, COCO_CLASSES), "classes": per_class}


def sweep_report(coco: list[Photo], options: AnalysisOptions, thresholds: tuple[float, ...]) -> dict[str, Any]:
    """Decode once more, detect once at CACHE_SCORE, filter by score per threshold."""
    assert options.detector.path is not None
    detector = YoloxDetector(Path(options.detector.path), options.runtime)
    cached: list[tuple[Photo, list[tuple[str, float]]]] = []
    started = time.perf_counter()
    for p in coco:
        if p.error:
            continue
        decoded = read_photo(p.path.read_bytes(), options.read)
        if not isinstance(decoded, DecodedPhoto):
            continue
        dets = detector.detect(decoded.rgb, CACHE_SCORE, options.tags.nms_iou, 1000)
        cached.append((p, [(d.label, d.score) for d in dets]))
    elapsed = time.perf_counter() - started

    def at(threshold: float, p_dets: list[tuple[str, float]]) -> set[str]:
        kept = sorted((d for d in p_dets if d[1] >= threshold), key=lambda d: -d[1])[:options.tags.max_objects]
        return {label for label, _ in kept}

    product = options.tags.min_score
    same = sum(piccl_tags(at(product, d)) == p.tags for p, d in cached)
    print(f"\n== min_score sweep ({len(cached)} photos decoded again and detected once at {CACHE_SCORE} in "
          f"{elapsed:.1f} s; at the product's {product} the cache gives analyse_file's tags for {same}/{len(cached)})")
    print(f"  {'min_score':>9s}  {'tag P':>5s} {'tag R':>5s} {'tag F1':>6s}   {'class P':>7s} {'class R':>7s} "
          f"{'class F1':>8s}")
    rows = {}
    for t in sorted({*thresholds, product}):
        classes = [(p.classes, at(t, d)) for p, d in cached]
        tags = [(p.truth_tags, piccl_tags(found)) for (p, _), (_, found) in zip(cached, classes, strict=True)]
        mt, mc = micro(tags, PICCL_TAGS), micro(classes, COCO_CLASSES)
        rows[f"{t:.2f}"] = {"tags": mt, "classes": mc}
        mark = "  <- product" if t == product else ""
        print(f"  {t:9.2f}  {fmt(mt['precision'])} {fmt(mt['recall'])} {fmt(mt['f1']):>6s}   "
              f"{fmt(mc['precision']):>7s} {fmt(mc['recall']):>7s} {fmt(mc['f1']):>8s}{mark}")
    return rows


def scene_report(coco: list[Photo], intel: list[Photo], list_errors: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    print(f"\n== scenes: Intel scenes ({len(intel)} photos), right = predicted scene is coarse_scene")
    print(f"  {'intel_class':12s} {'truth':9s} " + " ".join(f"{s:>9s}" for s in SCENES) + f" {'acc':>6s}")
    matrix: dict[str, dict[str, int]] = {}
    for cls in INTEL_CLASSES:
        rows = [p for p in intel if p.group == cls and not p.error]
        c = Counter(p.scene for p in rows)
        matrix[cls] = {s: c.get(s, 0) for s in SCENES}
        right = sum(p.scene in p.truth_scenes for p in rows)
        truth = next(iter(rows[0].truth_scenes)) if rows else "?"
        print(f"  {cls:12s} {truth:9s} " + " ".join(f"{c.get(s, 0):9d}" for s in SCENES)
              + f" {right / max(1, len(rows)):6.3f}")
    intel_ok = [p for p in intel if not p.error]
    intel_right = sum(p.scene in p.truth_scenes for p in intel_ok)
    print(f"  accuracy: {intel_right}/{len(intel_ok)} = {intel_right / max(1, len(intel_ok)):.3f}")
    out["intel"] = {"right": intel_right, "n": len(intel_ok), "accuracy": intel_right / max(1, len(intel_ok)),
                    "confusion": matrix}

    scored = [p for p in coco if p.truth_scenes and not p.error]
    print(f"\n== scenes: COCO photos with derived_scene_tags ({len(scored)}), right = predicted is one of them")
    print(f"  {'derived tags':26s} " + " ".join(f"{s:>9s}" for s in SCENES) + f" {'acc':>6s}")
    coco_matrix: dict[str, dict[str, int]] = {}
    for key in sorted({";".join(sorted(p.truth_scenes)) for p in scored}):
        rows = [p for p in scored if ";".join(sorted(p.truth_scenes)) == key]
        c = Counter(p.scene for p in rows)
        coco_matrix[key] = {s: c.get(s, 0) for s in SCENES}
        right = sum(p.scene in p.truth_scenes for p in rows)
        print(f"  {key + f' ({len(rows)})':26s} " + " ".join(f"{c.get(s, 0):9d}" for s in SCENES)
              + f" {right / len(rows):6.3f}")
    coco_right = sum(p.scene in p.truth_scenes for p in scored)
    print(f"  accuracy: {coco_right}/{len(scored)} = {coco_right / max(1, len(scored)):.3f}")
    unscored = [p for p in coco if not p.truth_scenes and not p.error]
    dist = Counter(p.scene for p in unscored)
    print(f"  no derived tag ({len(unscored)}, not scored): "
          + ", ".join(f"{s} {dist.get(s, 0)}" for s in SCENES))
    out["coco"] = {"right": coco_right, "n": len(scored), "accuracy": coco_right / max(1, len(scored)),
                   "confusion": coco_matrix, "unscored_distribution": {s: dist.get(s, 0) for s in SCENES}}

    right, n = intel_right + coco_right, len(intel_ok) + len(scored)
    acc = right / max(1, n)
    verdict = "MET" if acc >= TARGET_SCENE_ACC else "NOT MET"
    print(f"\n  overall scene accuracy (Intel + scored COCO): {right}/{n} = {acc:.3f}")
    print(f"  target: scene accuracy >= {TARGET_SCENE_ACC:.2f} -> {acc:.3f} {verdict}")
    out["overall"] = {"right": right, "n": n, "accuracy": acc}

    if list_errors:
        print("\n== wrong scenes")
        for p in [*intel_ok, *scored]:
            if p.scene not in p.truth_scenes:
                print(f"  {p.rel}: truth {'/'.join(sorted(p.truth_scenes))}, got {p.scene} ({p.why})")
        print("\n== tag errors (COCO)")
        for p in coco:
            missed, extra = p.truth_tags - p.tags, p.tags - p.truth_tags
            if missed or extra:
                print(f"  {p.rel}: missed {sorted(missed)} extra {sorted(extra)}; truth classes "
                      f"{sorted(p.classes)}; detected {sorted(p.pred_classes)}")
    return out


def _finite(value: Any) -> Any:
    """NaN (an undefined precision or recall) as null: strict JSON has no NaN."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    if isinstance(value, float) and value != value:
        return None
    return value


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=os.environ.get("PICCL_TESTDATA"))
    parser.add_argument("--models", type=Path, default=os.environ.get("PICCL_MODELS_DIR"))
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="analysis threads (thread runner)")
    parser.add_argument("--sweep", action=argparse.BooleanOptionalAction, default=True,
                        help="min_score sweep on the COCO photos (default on)")
    parser.add_argument("--min-score", type=float, nargs="+", default=list(SWEEP), metavar="T",
                        help="thresholds of the sweep")
    parser.add_argument("--per-class", action="store_true", help="print P/R/F1 of every COCO class")
    parser.add_argument("--list-errors", action="store_true", help="print every wrong scene and tag set")
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    args = parser.parse_args()
    if not args.data or not (Path(args.data) / "objects_coco_mini").is_dir():
        print("set PICCL_TESTDATA (or --data) to the shared data folder", file=sys.stderr)
        return 2
    if not args.models or not Path(args.models).is_dir():
        print("set PICCL_MODELS_DIR (or --models) to the folder with the model files", file=sys.stderr)
        return 2
    warnings.simplefilter("ignore")
    data = Path(args.data)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(models_dir=Path(args.models), data_dir=Path(tmp), inference={"download": False})
        # The product's options; only the thumbnails are left out (they change no verdict).
        options = dataclasses.replace(options_from_settings(settings), thumbnail_dir=None)
        for ref in (options.detector, options.classifier):
            if ref.path is None:
                print(f"model {ref.name} not found in {args.models}: {ref.problem}", file=sys.stderr)
                return 2
        print(f"models: {Path(options.detector.path).name}, {Path(options.classifier.path).name}; "
              f"tags: min_score {options.tags.min_score}, nms_iou {options.tags.nms_iou}; analysis size "
              f"{options.read.analysis_size} px; {args.workers} thread workers x {options.runtime.threads} ORT "
              f"thread(s)")
        coco, intel = read_coco(data), read_intel(data)
        elapsed = run_pipeline([*coco, *intel], options, args.workers)
        errors = [p for p in [*coco, *intel] if p.error]
        print(f"analysed {len(coco)} COCO + {len(intel)} Intel photos in {elapsed:.1f} s; failed: {len(errors)}"
              + "".join(f"\n  {p.rel}: {p.error}" for p in errors))
        result: dict[str, Any] = {"settings": {"min_score": options.tags.min_score, "nms_iou": options.tags.nms_iou,
                                               "analysis_size": options.read.analysis_size,
                                               "scene": options.scene.model_dump()}}
        result |= tag_report(coco, args.per_class)
        if args.sweep:
            result["sweep"] = sweep_report(coco, options, tuple(args.min_score))
        result["scenes"] = scene_report(coco, intel, args.list_errors)
    total = time.perf_counter() - started
    print(f"\ntotal {total:.0f} s")
    result["targets"] = {"tags_micro_f1": TARGET_TAG_F1, "scene_accuracy": TARGET_SCENE_ACC}
    result["seconds"] = total
    if args.json:
        args.json.write_text(json.dumps(_finite(result), indent=1))
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
