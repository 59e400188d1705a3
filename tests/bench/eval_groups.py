"""Evaluate duplicate / near-duplicate grouping and the keeper choice on the real development sets.

Runs the real scan (decode, hashes, features, blur) into a temporary database, then groups with each
method ('default' and the seed's 'piccl2021') and prints pairwise precision and recall:

* ``neardup_imagededup/``: imagededup's test images. Its ``evaluation_files/ground_truth.json`` names a
  base image's duplicates by suffix (``<base>_rotation``, ``_hflip``, ``_resize``); the folder holds such
  copies of ukbench00120 plus copies in other folders, other formats (some with the wrong extension) and
  a grey version. Truth here: files with the same ``ukbenchNNNNN`` number are one photo
  (``alpha_channel_image.png`` is ukbench00120 with an alpha channel, by eye); every other file is alone.
  Files that do not decode (the corrupt JPEGs) are left out: they are errors, not photos.
* ``exif_ianare/jpg/orientation/``: orientation 1-8 of one landscape and one portrait photo (two photos).
* ``exif_ianare/jpg/gps/``: nine photos of one afternoon, all different (no pair is a duplicate).
* ``exif_ianare/jpg/hdr/``: two exposure brackets (a Canon pair 26 s apart, an iPhone pair 0.5 s apart).
* ``blur_deblurgen/``: each blurred photo with its sharp original; the keeper must be the sharp one.

Usage: PICCL_TESTDATA=../shared/data PICCL_MODELS_DIR=../shared/models python tests/bench/eval_groups.py
"""

from __future__ import annotations

import argparse
import csv
import itertools
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import select

from plugin.config import load_settings
from plugin.grouping.service import export_groups, group_photos
from plugin.scan import Scanner
from plugin.store.db import open_database
from plugin.store.models import Photo

METHODS = ("default", "piccl2021")
VARIANT = re.compile(r"_(rotation|hflip|resize|gray)$")


def scanned(library: Path, work: Path, models: Path | None) -> tuple[object, object]:
    data = work / f"data-{library.name}"
    settings = load_settings(library=[library], data_dir=data, models_dir=models,
                             workers={"kind": "thread", "count": max(1, (os.cpu_count() or 2))})
    sessions = open_database(settings.resolved_database_url)
    Scanner(settings, sessions).scan(library)
    return settings, sessions


def grouped_pairs(settings: object, sessions: object, method: str) -> tuple[set[frozenset[str]], list[dict]]:
    group_photos(sessions, settings.similar, method)  # type: ignore[attr-defined]
    with sessions() as session:  # type: ignore[operator]
        groups = export_groups(session)
    pairs = {frozenset(p) for g in groups for p in itertools.combinations([m["path"] for m in g["members"]], 2)}
    return pairs, groups


def ok_paths(sessions: object) -> list[str]:
    with sessions() as session:  # type: ignore[operator]
        return list(session.scalars(select(Photo.relpath).where(Photo.status == "ok")))


def pr(predicted: set[frozenset[str]], truth: set[frozenset[str]]) -> tuple[float, float, int, int, int]:
    tp = len(predicted & truth)
    precision = tp / len(predicted) if predicted else 1.0
    recall = tp / len(truth) if truth else 1.0
    return precision, recall, tp, len(predicted), len(truth)


def truth_pairs(paths: list[str], identity: Callable[[str], str | None]) -> set[frozenset[str]]:
    by_id: dict[str, list[str]] = {}
    for path in paths:
        key = identity(path)
        if key is not None:
            by_id.setdefault(key, []).append(path)
    return {frozenset(p) for members in by_id.values() for p in itertools.combinations(members, 2)}


def imagededup_identity(path: str) -> str | None:
    if Path(path).name == "alpha_channel_image.png":
        return "ukbench00120"
    found = re.search(r"ukbench\d+", path)
    return found.group(0) if found else None


def variant_of(path: str) -> str:
    stem, suffix = Path(path).stem, Path(path).suffix.lower()
    if (m := VARIANT.search(stem)) is not None:
        return m.group(1)
    if suffix not in {".jpg", ".jpeg"} or Path(path).name == "alpha_channel_image.png":
        return "format"
    return "copy"


def report_imagededup(root: Path, work: Path, models: Path | None) -> None:
    library = root / "neardup_imagededup"
    settings, sessions = scanned(library, work, models)
    paths = ok_paths(sessions)
    truth = truth_pairs(paths, imagededup_identity)
    print(f"\nneardup_imagededup: {len(paths)} photos read, {len(truth)} true pairs "
          f"(ground_truth.json's naming rule over the folder)")
    print(f"{'method':<10} {'precision':>9} {'recall':>7} {'tp/pred/true':>14}   recall by kind of copy")
    for method in METHODS:
        predicted, _ = grouped_pairs(settings, sessions, method)
        p, r, tp, n_pred, n_true = pr(predicted, truth)
        by_variant = {}
        for pair in truth:
            kinds = sorted({variant_of(x) for x in pair} - {"copy"}) or ["copy"]
            for kind in kinds:
                hit, total = by_variant.get(kind, (0, 0))
                by_variant[kind] = (hit + (pair in predicted), total + 1)
        detail = ", ".join(f"{k} {h}/{t}" for k, (h, t) in sorted(by_variant.items()))
        print(f"{method:<10} {p:>9.3f} {r:>7.3f} {f'{tp}/{n_pred}/{n_true}':>14}   {detail}")


def report_orientation_and_gps(root: Path, work: Path, models: Path | None) -> None:
    print("\nexif_ianare: orientation 1-8 (2 photos x 8 files), gps (9 different photos), hdr (2 exposure "
          "brackets of 2 shots)")
    print(f"{'set':<12} {'method':<10} {'precision':>9} {'recall':>7} {'groups':>7}")
    for name, rel, identity in (
            ("orientation", "exif_ianare/jpg/orientation", lambda p: Path(p).stem.split("_")[0]),
            ("gps", "exif_ianare/jpg/gps", lambda p: Path(p).stem),
            ("brackets", "exif_ianare/jpg/hdr", lambda p: Path(p).stem.split("_")[0])):
        settings, sessions = scanned(root / rel, work, models)
        truth = truth_pairs(ok_paths(sessions), identity)
        for method in METHODS:
            predicted, groups = grouped_pairs(settings, sessions, method)
            p, r, *_ = pr(predicted, truth)
            print(f"{name:<12} {method:<10} {p:>9.3f} {r:>7.3f} {len(groups):>7}")


def report_keepers(root: Path, work: Path, models: Path | None) -> None:
    library = root / "blur_deblurgen"
    with open(library / "labels.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    sharp = {r["pair_id"]: r["file"] for r in rows if r["label"] == "sharp"}
    blurred = [(r["file"], sharp[r["pair_id"]]) for r in rows if r["label"] != "sharp" and r["pair_id"] in sharp]
    settings, sessions = scanned(library, work, models)
    print(f"\nblur_deblurgen: {len(blurred)} blurred photos with their sharp original")
    print(f"{'method':<10} {'grouped':>8} {'sharp kept':>11}")
    for method in METHODS:
        _, groups = grouped_pairs(settings, sessions, method)
        group_of = {m["path"]: g for g in groups for m in g["members"]}
        together = kept = 0
        for blurry, original in blurred:
            group = group_of.get(blurry)
            if group is not None and group is group_of.get(original):
                together += 1
                # The sharp original is kept, or another sharp original of the same scene.
                kept += group["keeper"] == original or group["keeper"] in sharp.values()
        print(f"{method:<10} {f'{together}/{len(blurred)}':>8} {f'{kept}/{together}':>11}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.parse_args()
    root = Path(os.environ.get("PICCL_TESTDATA", ""))
    if not (root / "neardup_imagededup").is_dir():
        sys.exit("set PICCL_TESTDATA to ../shared/data")
    models = Path(os.environ["PICCL_MODELS_DIR"]) if os.environ.get("PICCL_MODELS_DIR") else None
    work = Path(tempfile.mkdtemp(prefix="piccl-eval-groups-"))
    try:
        report_imagededup(root, work, models)
        report_orientation_and_gps(root, work, models)
        report_keepers(root, work, models)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
