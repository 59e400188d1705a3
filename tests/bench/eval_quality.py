"""Blur and dark verdicts on the shared real-photo data, for the seed rule and the default method.

Run: ``PICCL_TESTDATA=../shared/data .venv/bin/python tests/bench/eval_quality.py``

Sets (under ``$PICCL_TESTDATA``):

* ``blur_deblurgen/`` -- labels.csv: sharp / defocus_like_blur / motion_blur / camera_shake_blur;
* ``lowlight_lol/`` -- labels.csv: low / high;
* every other decodable image in the other folders (``corrupt_and_edge_cases`` skipped) as negatives:
  neither blurry nor dark.

For blur, LOL photos count as not blurry; for dark, blur-set photos count as not dark. The seed rule
(piccl2021) is measured on the full-resolution grey photo, as in the paper; the default methods on
the analysis-size image. Not collected by pytest (no ``test_`` prefix; tests/bench is excluded).
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import sys
import time
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from plugin.analyzers.base import AnalysisInput, AnalyzerResult, ExposureExif  # noqa: E402
from plugin.analyzers.blur import Piccl2021Blur, TiledBlur  # noqa: E402
from plugin.analyzers.exposure import LuminanceDark  # noqa: E402

ANALYSIS_SIZE = 1024
_EXIF_IFD = 0x8769


def _exif_number(value: object) -> float | None:
    if isinstance(value, tuple):
        value = value[0] if value else None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    return number if math.isfinite(number) else None


READER = {"name": "plugin"}  # as a scan reads photos; "pillow" (--reader pillow) is a plain full decode


def load_analysis_input(path: Path, size: int | None) -> AnalysisInput:
    """Decode one photo upright at ``size`` (long side, never upscaled; ``None`` = full resolution).

    The one place that reads images here. By default it goes through ``plugin.reading`` (DCT-scaled
    JPEG decoding, HEIC thumbnails), as a scan does; ``--reader pillow`` decodes fully with Pillow.
    """
    if READER["name"] == "plugin":
        from plugin.reading.decode import DecodedPhoto, ReadOptions, read_photo

        decoded = read_photo(path.read_bytes(), ReadOptions(analysis_size=size or 1024, keep_full_grey=size is None))
        if not isinstance(decoded, DecodedPhoto):
            raise ValueError(f"{decoded.reason}: {decoded.detail}")
        grey = decoded.grey_full if size is None and decoded.grey_full is not None else decoded.grey
        return AnalysisInput(
            grey=grey, rgb=decoded.rgb, original_size=(decoded.width, decoded.height), exposure=decoded.exif.exposure
        )
    with Image.open(path) as im:
        exif = im.getexif()
        rgb = np.asarray(ImageOps.exif_transpose(im).convert("RGB"))
    ifd = exif.get_ifd(_EXIF_IFD)
    flash = _exif_number(ifd.get(0x9209))
    exposure = ExposureExif(
        exposure_time_s=_exif_number(ifd.get(0x829A)),
        f_number=_exif_number(ifd.get(0x829D)),
        iso=_exif_number(ifd.get(0x8827)),
        brightness_ev=_exif_number(ifd.get(0x9203)),
        flash_fired=None if flash is None else bool(int(flash) & 1),
    )
    h, w = rgb.shape[:2]
    if size is not None and max(h, w) > size:
        scale = size / max(h, w)
        rgb = cv2.resize(rgb, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    return AnalysisInput(grey=grey, rgb=rgb, original_size=(w, h), exposure=exposure)


@dataclass
class Photo:
    path: Path
    group: str  # "blur", "lol" or "other"
    label: str
    pair: str | None
    results: dict[str, AnalyzerResult] = field(default_factory=dict)

    @property
    def blurry(self) -> bool:
        return self.group == "blur" and self.label != "sharp"

    @property
    def dark(self) -> bool:
        return self.group == "lol" and self.label == "low"


SKIP_DIRS = {"blur_deblurgen", "lowlight_lol", "corrupt_and_edge_cases"}
NOT_IMAGES = {".csv", ".json", ".txt", ".md", ".rst", ".svg", ""}


def collect(data: Path) -> list[Photo]:
    photos: list[Photo] = []
    with open(data / "blur_deblurgen" / "labels.csv", newline="") as f:
        for row in csv.DictReader(f):
            photos.append(Photo(data / "blur_deblurgen" / row["file"], "blur", row["label"], row["pair_id"]))
    with open(data / "lowlight_lol" / "labels.csv", newline="") as f:
        for row in csv.DictReader(f):
            photos.append(Photo(data / "lowlight_lol" / row["file"], "lol", row["label"], row["pair_id"]))
    for path in sorted(data.rglob("*")):
        rel = path.relative_to(data)
        if rel.parts[0] in SKIP_DIRS or not path.is_file() or path.suffix.lower() in NOT_IMAGES:
            continue
        photos.append(Photo(path, "other", "negative", None))
    return photos


def prf(truth: list[bool], pred: list[bool]) -> str:
    tp = sum(t and p for t, p in zip(truth, pred, strict=True))
    fp = sum(p and not t for t, p in zip(truth, pred, strict=True))
    fn = sum(t and not p for t, p in zip(truth, pred, strict=True))
    acc = sum(t == p for t, p in zip(truth, pred, strict=True)) / max(len(truth), 1)
    precision = tp / (tp + fp) if tp + fp else float("nan")
    recall = tp / (tp + fn) if tp + fn else float("nan")
    return f"n={len(truth):4d} acc={acc:.3f} precision={precision:.3f} recall={recall:.3f} (tp={tp} fp={fp} fn={fn})"


def report_verdicts(photos: list[Photo], key: str, truth_attr: str, title: str) -> None:
    print(f"\n== {title} [{key}]")
    for name, subset in [
        ("blur set", [p for p in photos if p.group == "blur"]),
        ("LOL set", [p for p in photos if p.group == "lol"]),
        ("others (all negatives)", [p for p in photos if p.group == "other"]),
        ("all", photos),
    ]:
        truth = [getattr(p, truth_attr) for p in subset]
        pred = [p.results[key].flagged for p in subset]
        print(f"  {name:24s} {prf(truth, pred)}")


def pair_ranking(photos: list[Photo], key: str) -> str:
    by_pair: dict[str, list[Photo]] = {}
    for p in photos:
        if p.group == "blur" and p.pair:
            by_pair.setdefault(p.pair, []).append(p)
    right = total = 0
    wrong: list[str] = []
    for pair, members in sorted(by_pair.items()):
        sharp = [m for m in members if m.label == "sharp"]
        blurred = [m for m in members if m.label != "sharp"]
        for s in sharp:
            for b in blurred:
                total += 1
                s_score, b_score = s.results[key].score, b.results[key].score
                if s_score is not None and b_score is not None and s_score > b_score:
                    right += 1
                else:
                    wrong.append(pair)
    return f"{right}/{total} pairs ranked right" + (f" (wrong: {', '.join(wrong)})" if wrong else "")


def resolution_check(path: Path) -> None:
    """Same sharp photo at ~1 MP and at its full size (12 MP for a phone photo): score ratio."""
    reader, READER["name"] = READER["name"], "pillow"  # needs the full-size colour photo
    try:
        full = load_analysis_input(path, None)
    finally:
        READER["name"] = reader
    w, h = full.original_size
    scale = math.sqrt(1_000_000 / (w * h))
    small_rgb = cv2.resize(full.rgb, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
    variants = {}
    for name, rgb in (("full", full.rgb), ("1MP", small_rgb)):
        rh, rw = rgb.shape[:2]
        grey_full = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        s = ANALYSIS_SIZE / max(rh, rw)
        small = cv2.resize(rgb, (round(rw * s), round(rh * s)), interpolation=cv2.INTER_AREA) if s < 1 else rgb
        inp = AnalysisInput(cv2.cvtColor(small, cv2.COLOR_RGB2GRAY), small, (rw, rh))
        variants[name] = (rw * rh / 1e6, Piccl2021Blur().analyze_full(grey_full), TiledBlur().analyze(inp))
    (mp_full, seed_full, tiled_full), (mp_small, seed_small, tiled_small) = variants["full"], variants["1MP"]
    print(f"\n== resolution invariance: {path.name} at {mp_full:.1f} MP vs {mp_small:.1f} MP")
    assert seed_full.score is not None and seed_small.score is not None
    print(
        f"  piccl2021 laplacian variance: {seed_full.score:9.1f} vs {seed_small.score:9.1f} "
        f"-> ratio {seed_small.score / max(seed_full.score, 1e-9):6.2f} "
        f"(flagged {seed_full.flagged} / {seed_small.flagged})"
    )
    if tiled_full.score and tiled_small.score:
        print(
            f"  tiled score (1/edge_px):      {tiled_full.score:9.3f} vs {tiled_small.score:9.3f} "
            f"-> ratio {tiled_small.score / tiled_full.score:6.2f} "
            f"(flagged {tiled_full.flagged} / {tiled_small.flagged})"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=os.environ.get("PICCL_TESTDATA"))
    parser.add_argument("--list-errors", action="store_true", help="print every wrong verdict of the default methods")
    parser.add_argument(
        "--reader",
        choices=["pillow", "plugin"],
        default="plugin",
        help="decode as a scan does (plugin.reading, the default) or fully with Pillow",
    )
    args = parser.parse_args()
    READER["name"] = args.reader
    if not args.data or not Path(args.data).is_dir():
        print("set PICCL_TESTDATA (or --data) to the shared data folder", file=sys.stderr)
        return 2
    data = Path(args.data)
    warnings.simplefilter("ignore")
    import pillow_heif

    pillow_heif.register_heif_opener()
    # One core, as one scan worker has: the timings below are per photo per core.
    cv2.setNumThreads(1)

    seed, tiled, dark = Piccl2021Blur(), TiledBlur(), LuminanceDark()
    photos: list[Photo] = []
    skipped: Counter[str] = Counter()
    t_blur = t_dark = 0.0
    started = time.perf_counter()
    for photo in collect(data):
        try:
            inp = load_analysis_input(photo.path, ANALYSIS_SIZE)
            full = load_analysis_input(photo.path, None)
        except Exception as exc:  # an undecodable file is not a photo of either kind
            skipped[type(exc).__name__] += 1
            continue
        photo.results["piccl2021"] = seed.analyze_full(full.grey)
        t0 = time.perf_counter()
        photo.results["tiled"] = tiled.analyze(inp)
        t1 = time.perf_counter()
        photo.results["luminance"] = dark.analyze(inp)
        t2 = time.perf_counter()
        t_blur += t1 - t0
        t_dark += t2 - t1
        photos.append(photo)
    elapsed = time.perf_counter() - started
    counts = Counter(p.group for p in photos)
    print(
        f"decoded {len(photos)} photos ({dict(counts)}), skipped {sum(skipped.values())} {dict(skipped)}, "
        f"{elapsed:.0f} s"
    )

    for key in ("piccl2021", "tiled"):
        report_verdicts(photos, key, "blurry", "BLUR")
        sharp = [p for p in photos if not p.blurry]
        flagged = sum(p.results[key].flagged for p in sharp)
        print(
            f"  sharp photos flagged: {flagged}/{len(sharp)} = {flagged / len(sharp):.3f} "
            f"(blur-set sharp: {sum(p.results[key].flagged for p in sharp if p.group == 'blur')}"
            f"/{sum(p.group == 'blur' for p in sharp)})"
        )
        print(f"  pair ranking: {pair_ranking(photos, key)}")
    blurred = [p for p in photos if p.blurry]
    kinds = Counter((p.label, p.results["tiled"].evidence.get("kind")) for p in blurred)
    right = sum(
        n
        for (label, kind), n in kinds.items()
        if (kind == "defocus") == (label == "defocus_like_blur") and kind in ("defocus", "motion")
    )
    print(
        f"  tiled kind (motion vs defocus) on blurred photos: {right}/{len(blurred)} right; "
        + ", ".join(f"{label}->{kind}: {n}" for (label, kind), n in sorted(kinds.items(), key=str))
    )
    not_judged = Counter(p.results["tiled"].evidence.get("reason") for p in photos if p.results["tiled"].score is None)
    print(f"  tiled not judged: {dict(not_judged)}")

    report_verdicts(photos, "luminance", "dark", "DARK")

    print("\n== time per photo (analysis size, one core)")
    print(
        f"  tiled blur {1000 * t_blur / len(photos):.2f} ms + luminance dark {1000 * t_dark / len(photos):.2f} ms "
        f"(mean over {len(photos)} photos of all sizes)"
    )
    phone = data / "heic" / "photoprism" / "iphone_15_pro.heic"
    timing_path = phone if phone.is_file() else next(p.path for p in photos if p.group == "blur")
    big = load_analysis_input(timing_path, ANALYSIS_SIZE)
    for analyzer in (tiled, dark):
        analyzer.analyze(big)
        # The best of several batches, in wall and in CPU time of this process: other load on the
        # machine only ever adds time, and CPU time leaves out the waits for a core.
        wall, cpu = [], []
        for _ in range(7):
            t0, c0 = time.perf_counter(), time.process_time()
            for _ in range(20):
                analyzer.analyze(big)
            wall.append(1000 * (time.perf_counter() - t0) / 20)
            cpu.append(1000 * (time.process_time() - c0) / 20)
        print(
            f"  {type(analyzer).__name__} on a {big.grey.shape[1]}x{big.grey.shape[0]} grey image: "
            f"{min(wall):.2f} ms wall, {min(cpu):.2f} ms CPU (best batch; median wall {sorted(wall)[3]:.2f} ms)"
        )

    sharp_gt = next(p.path for p in photos if p.group == "blur" and p.label == "sharp")
    for path in (phone, sharp_gt):
        if path.is_file():
            resolution_check(path)

    if args.list_errors:
        print("\n== wrong verdicts of the default methods")
        for p in photos:
            for key, truth in (("tiled", p.blurry), ("luminance", p.dark)):
                r = p.results[key]
                if r.flagged != truth:
                    verdict = "FN" if truth else "FP"
                    print(f"  {key:9s} {verdict} {p.path.relative_to(data)} score={r.score} {r.evidence}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
