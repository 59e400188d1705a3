"""Benchmark: photos per second for a scan of real camera JPEGs (8 MP and up) and HEICs, next to the
time it takes just to decode the same files at the analysis size (the floor).

    PICCL_TESTDATA=../shared/data .venv/bin/python tests/bench/bench_scan.py [--copies 10]

Not part of the test run: it prints numbers, it asserts nothing.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

from plugin.config import Settings
from plugin.reading.decode import ReadOptions, _draft_scale
from plugin.scan import Scanner
from plugin.store.db import open_database

JPEGS = [  # every camera JPEG of 8 MP or more in ../shared/data
    "faces_deepface/img49.jpg", "faces_deepface/img40.jpg", "exif_ianare/jpg/tests/42_IndexError.jpg",
    "exif_ianare/jpg/tests/30-type_error.jpg", "exif_ianare/jpg/tests/67-0_length_string.jpg",
    "exif_ianare/jpg/mobile/HMD_Nokia_8.3_5G.jpg", "corrupt_and_edge_cases/misc/exif_samples_corrupted.jpg",
]
HEICS = [
    "heic/photoprism/iphone_15_pro.heic", "heic/photoprism/iphone_7.heic", "exif_ianare/heic/IMG_5195.HEIC",
    "exif_ianare/heic/mobile/iphone_13_pro_max.HEIC", "exif_ianare/heic/mobile/HMD_Nokia_8.3_5G.heif",
    "exif_ianare/heic/mobile/HMD_Nokia_8.3_5G_hdr.heif", "heic/pillow_heif/heif_other/pug.heic",
    "heic/pillow_heif/heif_special/aux_YCbCr.heic",
]


def decode_only(path: Path, options: ReadOptions) -> None:
    """Decode at the analysis size and resize, nothing else (no EXIF, hash or analysis).

    JPEG: DCT-scaled, whole buffer to the decoder. HEIC: the embedded thumbnail where piccl would
    use it, else libheif's full decode (it has no reduced decode).
    """
    import cv2
    import numpy as np
    import pillow_heif

    data = path.read_bytes()
    if data[4:8] == b"ftyp":
        heif = pillow_heif.open_heif(io.BytesIO(data), convert_hdr_to_8bit=True)
        primary = heif[heif.primary_index]
        thumbs = primary.info.get("thumbnails") or []
        big = [i for i, side in enumerate(thumbs) if options.heic_thumbnail_min_side
               and side >= options.heic_thumbnail_min_side]
        image = primary.get_thumbnail(big[0]).to_pillow() if big else primary.to_pillow()
    else:
        image = Image.open(io.BytesIO(data))
        w, h = image.size
        scale = _draft_scale(max(w, h), options.analysis_size)
        if scale > 1:
            image.draft("RGB", (w // scale, h // scale))
        image.decodermaxblock = len(data)
    rgb = np.asarray(image.convert("RGB"))
    long_side = max(rgb.shape[:2])
    if long_side > options.analysis_size:
        f = options.analysis_size / long_side
        cv2.resize(rgb, (round(rgb.shape[1] * f), round(rgb.shape[0] * f)), interpolation=cv2.INTER_AREA)


def decode_floor_ms(paths: list[Path], options: ReadOptions) -> float:
    """Median decode-only time on one core."""
    times = []
    for path in paths:
        start = time.perf_counter()
        decode_only(path, options)
        times.append(time.perf_counter() - start)
    times.sort()
    return 1000 * times[len(times) // 2]


def decode_floor_rate(paths: list[Path], options: ReadOptions, workers: int) -> float:
    """Decode-only throughput with ``workers`` threads (the decoders release the GIL): the floor."""
    from concurrent.futures import ThreadPoolExecutor

    start = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(lambda p: decode_only(p, options), paths))
    return len(paths) / (time.perf_counter() - start)


def pipeline_ms(paths: list[Path], options: ReadOptions) -> float:
    """One core: piccl's whole per-photo work in-process (read, hash, decode, EXIF, analyzers)."""
    from plugin.analysis import AnalysisOptions, PhotoTask, analyse_file
    from plugin.config import BlurSettings, DarkSettings

    opts = AnalysisOptions(options, BlurSettings(), DarkSettings())
    times = []
    for path in paths:
        st = path.stat()
        start = time.perf_counter()
        analyse_file(PhotoTask(path.name, str(path), st.st_size, st.st_mtime_ns), opts)
        times.append(time.perf_counter() - start)
    times.sort()
    return 1000 * times[len(times) // 2]


def scan_rate(library: Path, kind: str, workers: int, heic_thumbnail_min_side: int = 1024) -> tuple[float, int]:
    with tempfile.TemporaryDirectory() as data_dir:
        settings = Settings(library=[library], data_dir=Path(data_dir), heic_thumbnail_min_side=heic_thumbnail_min_side,
                            workers={"kind": kind, "count": workers})
        sessions = open_database(settings.resolved_database_url)
        start = time.perf_counter()
        summary = Scanner(settings, sessions).scan(library)
        elapsed = time.perf_counter() - start
    return summary.processed / elapsed, summary.processed


def make_library(root: Path, sources: list[Path], copies: int) -> Path:
    for i in range(copies):
        for source in sources:
            target = root / f"copy{i:02}" / source.name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
    return root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--copies", type=int, default=20, help="copies of each file in the benchmark library")
    args = parser.parse_args()
    data = os.environ.get("PICCL_TESTDATA")
    if not data:
        sys.exit("set PICCL_TESTDATA to ../shared/data")
    cores = os.cpu_count() or 1
    print(f"cores: {cores}, analysis size: {ReadOptions().analysis_size} px, copies of each file: {args.copies}")
    for label, names, variants in (
        ("JPEG >= 8 MP", JPEGS, [("", 1024)]),
        ("HEIC/HEIF", HEICS, [(" (the default: thumbnail when >= 1024 px)", 1024),
                              (" (thumbnail when >= 320 px)", 320)]),
    ):
        paths = [p for p in (Path(data) / n for n in names) if p.exists()]
        for suffix, thumb in variants:
            opts = ReadOptions(heic_thumbnail_min_side=thumb)
            print(f"\n{label}{suffix}: {len(paths)} files")
            floor_ms, work_ms = decode_floor_ms(paths * 3, opts), pipeline_ms(paths * 3, opts)
            print(f"  1 core, median:  decode only {floor_ms:6.1f} ms, piccl's whole per-photo work {work_ms:6.1f} ms "
                  f"({work_ms / floor_ms:.2f}x)")
            with tempfile.TemporaryDirectory() as tmp:
                library = make_library(Path(tmp), paths, args.copies)
                files = sorted(p for p in library.rglob("*") if p.is_file())
                floor = decode_floor_rate(files, opts, cores)
                print(f"  decode floor, {cores} threads: {floor:6.1f} photos/s over {len(files)} photos")
                for kind in ("process", "thread"):
                    rate, _ = scan_rate(library, kind, cores, thumb)
                    print(f"  piccl scan, {cores} {kind} workers: {rate:6.1f} photos/s "
                          f"({floor / rate:.2f}x the floor's time; includes hashing, EXIF, blur, exposure, database)")


if __name__ == "__main__":
    main()
