"""Benchmark: photos per second with the models (decode + detect + classify) for 8 MP+ camera JPEGs.

    PICCL_TESTDATA=../shared/data PICCL_MODELS_DIR=../shared/models \\
        .venv/bin/python tests/bench/bench_inference.py [--photos 80]

1. The product's pipeline (:func:`plugin.workers.make_runner`, process and thread workers, one per core)
   with all analyzers (blur, exposure, objects, scene) and with only blur + exposure: the difference is
   what the models cost. Next to it, the floor: decoding alone (read_photo) on the same threads.
2. Where the time of one photo goes, on one core (one thread, as each scan worker has): file read,
   hash, decode, blur, exposure, detector (letterbox / inference / decode + NMS), classifier
   (preprocess / inference), scene rule, grid thumbnail.
3. EfficientNet-Lite0 batch sizes 1-16, ms per image with 1 and 2 ORT threads. The YOLOX-Nano file has
   a fixed batch of 1 (input [1,3,416,416]), so it is timed at batch 1 only.

The photos: every JPEG of 8 MP or more under ``$PICCL_TESTDATA`` that decodes (found by reading the
headers; byte-identical files once), as tests/bench/bench_scan.py lists them, cycled to ``--photos``
copies. Each copy gets a few distinct bytes after the JPEG's end marker, so every copy has its own
content hash and the scan writes its thumbnail as it would for a library of distinct photos.

Target: >= 15 photos/s for 8 MP+ JPEGs on 2 cores, with all analyzers.
Not part of the test run: it prints numbers, it asserts nothing.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import sys
import tempfile
import time
import warnings
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from plugin.analysis import AnalysisOptions, PhotoTask, analyse_file, options_from_settings  # noqa: E402
from plugin.analyzers.base import AnalysisInput  # noqa: E402
from plugin.analyzers.blur import make_blur_analyzer  # noqa: E402
from plugin.analyzers.exposure import make_dark_analyzer  # noqa: E402
from plugin.config import load_settings  # noqa: E402
from plugin.inference.classifier import ImageClassifier, _softmax, preprocess  # noqa: E402
from plugin.inference.runtime import RuntimeOptions, available_providers  # noqa: E402
from plugin.inference.yolox import YoloxDetector, letterbox  # noqa: E402
from plugin.reading.decode import DecodedPhoto, read_photo  # noqa: E402
from plugin.scenes import classify_scene  # noqa: E402
from plugin.thumbnails import save_grid_thumbnail  # noqa: E402
from plugin.workers import make_runner  # noqa: E402

TARGET_RATE = 15.0
MIN_PIXELS = 8_000_000
NOT_IMAGES = {".csv", ".json", ".txt", ".md", ".rst", ".svg", ".xml", ".py", ""}
ALL = ("blur", "exposure", "objects", "scene")
NO_MODELS = ("blur", "exposure")


def find_jpegs(data: Path, options: AnalysisOptions) -> list[Path]:
    """Every JPEG of 8 MP or more under ``data`` that read_photo decodes, byte-identical files once."""
    found: dict[str, Path] = {}
    for path in sorted(data.rglob("*")):
        if not path.is_file() or path.suffix.lower() in NOT_IMAGES:
            continue
        content = path.read_bytes()
        if not content.startswith(b"\xff\xd8\xff"):  # JPEG's start-of-image marker: nothing else is opened
            continue
        try:
            with warnings.catch_warnings():  # header damage in test files; read_photo keeps its own
                warnings.simplefilter("ignore")
                with Image.open(path) as im:
                    if im.format != "JPEG" or im.size[0] * im.size[1] < MIN_PIXELS:
                        continue
        except Exception:
            continue
        digest = hashlib.sha256(content).hexdigest()
        if digest not in found and isinstance(read_photo(content, options.read), DecodedPhoto):
            found[digest] = path
    return list(found.values())


def megapixels(path: Path) -> float:
    with warnings.catch_warnings(), Image.open(path) as im:
        warnings.simplefilter("ignore")
        return im.size[0] * im.size[1] / 1e6


def make_library(root: Path, sources: list[Path], count: int) -> list[Path]:
    """``count`` photos cycling ``sources``, each with its own bytes after the end marker (own content hash)."""
    contents = [s.read_bytes() for s in sources]
    files = []
    for i in range(count):
        k = i % len(sources)
        target = root / f"{i:04d}_{sources[k].name}"
        target.write_bytes(contents[k] + f"piccl-bench-{i:05d}".encode())
        files.append(target)
    return files


def tasks_for(files: list[Path], analyzers: tuple[str, ...]) -> list[PhotoTask]:
    out = []
    for path in files:
        st = path.stat()
        out.append(PhotoTask(path.name, str(path), st.st_size, st.st_mtime_ns, analyzers))
    return out


def settings_options(models: Path, data_dir: Path, kind: str, workers: int) -> AnalysisOptions:
    settings = load_settings(models_dir=models, data_dir=data_dir, inference={"download": False},
                             workers={"kind": kind, "count": workers})
    return options_from_settings(settings)


def runner_rate(files: list[Path], models: Path, kind: str, workers: int, analyzers: tuple[str, ...]) -> str:
    """Photos/s through make_runner, from the pool's start (model loading included) to the last result."""
    with tempfile.TemporaryDirectory() as data_dir:
        options = settings_options(models, Path(data_dir), kind, workers)
        # As a scan does: the decoders' own complaints on stderr go to a log file.
        runner = make_runner(kind, workers, options, 60.0, 500, str(Path(data_dir) / "decoders.log"))
        done: list[float] = []
        failed = missing = 0
        started = time.perf_counter()
        for outcome in runner.run(tasks_for(files, analyzers)):
            done.append(time.perf_counter() - started)
            if outcome.failure is not None:
                failed += 1
            elif any("error" in r.evidence or "not_installed" in r.evidence for r in outcome.results):
                missing += 1
        elapsed = done[-1]
        skip = min(2 * workers, len(done) - 2)  # steady state: after each worker has done two photos
        steady = (len(done) - 1 - skip) / (done[-1] - done[skip])
        thumbs = sum(1 for _ in (Path(data_dir) / "thumbnails").rglob("*.jpg"))
    notes = f", {failed} failed" if failed else ""
    notes += f", {missing} with an analyzer error or model missing" if missing else ""
    return (f"{len(done) / elapsed:6.1f} photos/s overall, {steady:6.1f} steady "
            f"(first result after {done[0]:.2f} s; {thumbs} thumbnails{notes})")


def decode_floor(files: list[Path], options: AnalysisOptions, workers: int) -> float:
    """read + read_photo only, ``workers`` threads (the decoders release the GIL)."""
    started = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(lambda p: read_photo(p.read_bytes(), options.read), files))
    return len(files) / (time.perf_counter() - started)


def timed(stages: dict[str, list[float]], name: str, fn: Callable[[], object]) -> object:
    start = time.perf_counter()
    value = fn()
    stages[name].append(1000 * (time.perf_counter() - start))
    return value


def breakdown(sources: list[Path], options: AnalysisOptions, repeats: int) -> None:
    """One thread: each stage of one photo's analysis, in the product's order and with its settings."""
    import cv2

    cv2.setNumThreads(1)
    runtime = RuntimeOptions(threads=1, idle_unload_s=0)
    assert options.detector.path and options.classifier.path
    detector = YoloxDetector(Path(options.detector.path), runtime)
    classifier = ImageClassifier(Path(options.classifier.path), runtime)
    blur, dark = make_blur_analyzer(options.blur), make_dark_analyzer(options.dark)
    detector.model.run(detector._warmup_feed())  # load and warm both outside the timings
    classifier.model.run(classifier._warmup_feed())
    stages: dict[str, list[float]] = defaultdict(list)
    whole: list[float] = []
    sizes = []
    with tempfile.TemporaryDirectory() as tmp:
        for rep in range(repeats):
            for index, path in enumerate(sources):
                data = timed(stages, "file read", path.read_bytes)
                assert isinstance(data, bytes)
                timed(stages, "sha256", lambda d=data: hashlib.sha256(d).hexdigest())
                decoded = timed(stages, "decode (read_photo)", lambda d=data: read_photo(d, options.read))
                assert isinstance(decoded, DecodedPhoto)
                sizes.append(decoded.width * decoded.height / 1e6)
                photo = AnalysisInput(decoded.grey, decoded.rgb, (decoded.width, decoded.height),
                                      decoded.exif.exposure)
                timed(stages, "blur", lambda p=photo: blur.analyze(p))
                timed(stages, "exposure", lambda p=photo: dark.analyze(p))
                rgb = decoded.rgb
                boxed = timed(stages, "detector: letterbox", lambda r=rgb: letterbox(r, detector.size))
                raw = timed(stages, "detector: inference",
                            lambda b=boxed: detector.model.run({detector.input_name: b.tensor})[0][0])
                dets = timed(stages, "detector: decode + NMS", lambda r=raw, b=boxed, im=rgb: detector.decode(
                    r, b.scale, im.shape[1], im.shape[0], options.tags.min_score, options.tags.nms_iou,
                    options.tags.max_objects))
                batch = timed(stages, "classifier: preprocess", lambda r=rgb: preprocess(r)[None])
                logits = timed(stages, "classifier: inference",
                               lambda b=batch: classifier.model.run({classifier.input_name: b}, ["logits"])[0])
                timed(stages, "scene rule", lambda lg=logits, d=dets, r=rgb: classify_scene(
                    _softmax(lg)[0], d, r.shape[1], r.shape[0], options.scene))
                key = f"{rep:02d}{index:04d}".ljust(64, "0")
                timed(stages, "grid thumbnail", lambda r=rgb, k=key, d=decoded: save_grid_thumbnail(
                    Path(tmp), k, r, max(d.width, d.height)))
        # The same photos through analyse_file in this thread (its own models, one ORT thread each).
        single = AnalysisOptions(options.read, options.blur, options.dark, options.max_file_bytes,
                                 str(Path(tmp) / "thumbs"), options.tags, options.scene, runtime,
                                 options.detector, options.classifier)
        analyse_file(tasks_for(sources[:1], ALL)[0], single)  # loads the models
        for _ in range(repeats):
            for task in tasks_for(sources, ALL):
                task_started = time.perf_counter()
                analyse_file(task, single)
                whole.append(1000 * (time.perf_counter() - task_started))
    total = sum(statistics.mean(v) for v in stages.values())
    print(f"\n== 2. where the time goes, one thread (mean over {len(sources)} photos x {repeats}, "
          f"{min(sizes):.0f}-{max(sizes):.0f} MP, decoded to {options.read.analysis_size} px long side)")
    print(f"  {'stage':26s} {'mean ms':>8s} {'median':>8s} {'share':>6s}")
    for name, values in stages.items():
        mean = statistics.mean(values)
        print(f"  {name:26s} {mean:8.1f} {statistics.median(values):8.1f} {100 * mean / total:5.1f}%")
    models = sum(statistics.mean(v) for k, v in stages.items() if k.startswith(("detector", "classifier")))
    print(f"  {'sum':26s} {total:8.1f}   -> {1000 / total:.1f} photos/s per core, "
          f"{2000 / total:.1f} on 2 cores if it scaled perfectly")
    print(f"  models (detector + classifier) {models:.1f} ms = {100 * models / total:.0f}% of the sum; "
          f"without them {1000 / (total - models):.1f} photos/s per core")
    print(f"  analyse_file in one thread, same photos: mean {statistics.mean(whole):.1f} ms, "
          f"median {statistics.median(whole):.1f} ms")


def ms_per_image(run: Callable[[], object], images: int, budget_images: int = 96) -> float:
    """Best of 3 rounds, each running the batch until about ``budget_images`` images."""
    run()
    loops = max(1, budget_images // images)
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(loops):
            run()
        best = min(best, 1000 * (time.perf_counter() - start) / (loops * images))
    return best


def batch_sizes(sources: list[Path], options: AnalysisOptions) -> None:
    assert options.detector.path and options.classifier.path
    rgbs = []
    for path in sources:
        decoded = read_photo(path.read_bytes(), options.read)
        assert isinstance(decoded, DecodedPhoto)
        rgbs.append(decoded.rgb)
    tensors = [preprocess(rgb) for rgb in rgbs]
    letterboxed = letterbox(rgbs[0], 416).tensor
    sizes = (1, 2, 4, 8, 16)
    print("\n== 3. model inference alone, ms per image (best of 3; preprocessing not included)")
    print(f"  {'ORT threads':12s} " + " ".join(f"{'EffNet b' + str(b):>11s}" for b in sizes) + f" {'YOLOX b1':>10s}")
    for threads in (1, 2):
        runtime = RuntimeOptions(threads=threads, idle_unload_s=0)
        classifier = ImageClassifier(Path(options.classifier.path), runtime)
        detector = YoloxDetector(Path(options.detector.path), runtime)
        cells = []
        for b in sizes:
            batch = np.stack([tensors[i % len(tensors)] for i in range(b)])
            cells.append(ms_per_image(lambda x=batch, c=classifier: c.model.run({c.input_name: x},
                                                                                ["logits", "features"]), b))
        yolo = ms_per_image(lambda d=detector: d.model.run({d.input_name: letterboxed}), 1, 48)
        print(f"  {threads:<12d} " + " ".join(f"{c:11.2f}" for c in cells) + f" {yolo:10.2f}")
    print("  YOLOX-Nano's ONNX file has a fixed batch of 1 ([1,3,416,416]): only batch 1 is timed. A scan "
          "classifies one photo per call (batch 1) in each worker.")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=os.environ.get("PICCL_TESTDATA"))
    parser.add_argument("--models", type=Path, default=os.environ.get("PICCL_MODELS_DIR"))
    parser.add_argument("--photos", type=int, default=80, help="photos in the benchmark library (sources cycled)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="scan workers (default: cores)")
    parser.add_argument("--repeats", type=int, default=3, help="passes over the sources in the breakdown")
    parser.add_argument("--skip", choices=["runners", "breakdown", "batches"], nargs="*", default=[],
                        help="leave parts out")
    args = parser.parse_args()
    if not args.data or not Path(args.data).is_dir():
        print("set PICCL_TESTDATA (or --data) to the shared data folder", file=sys.stderr)
        return 2
    if not args.models or not Path(args.models).is_dir():
        print("set PICCL_MODELS_DIR (or --models) to the folder with the model files", file=sys.stderr)
        return 2
    warnings.simplefilter("ignore")
    import onnxruntime

    with tempfile.TemporaryDirectory() as tmp:
        options = settings_options(args.models, Path(tmp), "process", args.workers)
    for ref in (options.detector, options.classifier):
        if ref.path is None:
            print(f"model {ref.name} not found in {args.models}: {ref.problem}", file=sys.stderr)
            return 2
    probe = YoloxDetector(Path(options.detector.path), options.runtime)
    probe.model.run(probe._warmup_feed())
    choice = probe.model.choice
    assert choice is not None
    print(f"onnxruntime {onnxruntime.__version__}; providers available: {', '.join(available_providers())}; "
          f"used: {choice.names[0]} ({choice.reason}; device setting '{options.runtime.device}')")
    sources = find_jpegs(Path(args.data), options)
    if not sources:
        print(f"no JPEG of {MIN_PIXELS / 1e6:.0f} MP or more decodes under {args.data}", file=sys.stderr)
        return 2
    print(f"cores: {os.cpu_count()}, load average now {os.getloadavg()[0]:.2f} (other work on the machine "
          f"slows every number below); {len(sources)} distinct JPEGs >= {MIN_PIXELS / 1e6:.0f} MP: "
          + ", ".join(f"{p.relative_to(args.data)} ({megapixels(p):.1f} MP)" for p in sources))
    print(f"models: {Path(options.detector.path).name}, {Path(options.classifier.path).name}; analysis size "
          f"{options.read.analysis_size} px; {args.workers} workers x {options.runtime.threads} ORT thread(s) each "
          "(the product's default)")

    if "runners" not in args.skip:
        with tempfile.TemporaryDirectory() as lib:
            files = make_library(Path(lib), sources, args.photos)
            print(f"\n== 1. the product's pipeline over {len(files)} photos ({len(sources)} cycled), "
                  f"{args.workers} workers (make_runner; includes read, hash, decode, EXIF, thumbnail)")
            floor = decode_floor(files, options, args.workers)
            print(f"  decode floor (read + read_photo), {args.workers} threads:      {floor:6.1f} photos/s")
            for kind in ("process", "thread"):
                for label, analyzers in (("blur + exposure", NO_MODELS), ("all (+ objects, scene)", ALL)):
                    rate = runner_rate(files, args.models, kind, args.workers, analyzers)
                    print(f"  {kind:7s} x{args.workers}, {label:22s} {rate}")
            print(f"  target: >= {TARGET_RATE:.0f} photos/s for 8 MP+ JPEGs on 2 cores with all analyzers")

    if "breakdown" not in args.skip:
        breakdown(sources, options, args.repeats)
    if "batches" not in args.skip:
        batch_sizes(sources, options)
    print(f"\nload average at the end: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
