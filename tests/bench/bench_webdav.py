"""Benchmark: scanning a WebDAV library (WsgiDAV on 127.0.0.1) next to scanning the same folder locally.

    PICCL_TESTDATA=../shared/data .venv/bin/python tests/bench/bench_webdav.py [--copies 20] [--files 5000]

Prints: the first scan of real camera photos over WebDAV and locally (photos/s, the download overhead), a
rescan with nothing changed, and the listing of a large tree of small files (files/s), which is what an
unchanged library costs every poll. Not part of the test run: it prints numbers, it asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from plugin.config import Settings
from plugin.scan import Scanner
from plugin.sources.webdav import open_webdav
from plugin.store.db import open_database
from tests.support.davserver import PASSWORD, USER, DavServer, wsgidav_app

PHOTOS = ["exif_ianare/jpg/mobile/HMD_Nokia_8.3_5G.jpg", "faces_deepface/img49.jpg", "faces_deepface/img40.jpg",
          "exif_ianare/jpg/Canon_40D.jpg", "exif_ianare/jpg/Nikon_D70.jpg"]


def settings(data: Path, library: list[Path | str]) -> Settings:
    return Settings(library=library, data_dir=data, webdav_user=USER, webdav_password=PASSWORD,
                    models_dir=os.environ.get("PICCL_MODELS_DIR"), workers={"kind": "thread"})


def timed_scan(config: Settings, root: Path | str) -> tuple[float, int]:
    sessions = open_database(config.resolved_database_url)
    started = time.perf_counter()
    summary = Scanner(config, sessions).scan(root)
    return time.perf_counter() - started, summary.ok


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--copies", type=int, default=20, help="copies of each real photo")
    parser.add_argument("--files", type=int, default=5000, help="files in the listing test")
    args = parser.parse_args()
    data = Path(os.environ.get("PICCL_TESTDATA", "../shared/data"))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "share"
        for i in range(args.copies):
            for name in PHOTOS:
                target = root / f"set{i:03d}" / f"{i}-{Path(name).name}"
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(data / name, target)
        count = args.copies * len(PHOTOS)
        size = sum(f.stat().st_size for f in root.rglob("*.jpg")) / 1e6
        local_s, local_ok = timed_scan(settings(Path(tmp) / "local", [root]), root)
        with DavServer(wsgidav_app(root)) as server:
            config = settings(Path(tmp) / "dav", [server.url])
            dav_s, dav_ok = timed_scan(config, server.url)
            again_s, _ = timed_scan(config, server.url)
        print(f"{count} camera photos ({size:.0f} MB), {os.cpu_count()} cores, thread workers")
        print(f"  local scan:   {local_s:6.1f} s  {local_ok / local_s:5.1f} photos/s")
        print(f"  WebDAV scan:  {dav_s:6.1f} s  {dav_ok / dav_s:5.1f} photos/s  (x{dav_s / local_s:.2f} of local)")
        print(f"  WebDAV rescan, nothing changed: {again_s:.2f} s")

        tree = Path(tmp) / "tree"
        for i in range(args.files):
            path = tree / f"{i % 50:02d}" / f"{i // 50 % 20:02d}" / f"IMG_{i:06d}.jpg"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"x")
        with DavServer(wsgidav_app(tree)) as server:
            remote = open_webdav(settings(Path(tmp) / "list", [server.url]), server.url)
            started = time.perf_counter()
            listing = remote.list()
            seconds = time.perf_counter() - started
            remote.close()
        folders = 50 * 20 + 50
        print(f"  listing {len(listing.files)} files in {folders} folders: {seconds:.2f} s "
              f"({len(listing.files) / seconds:.0f} files/s, parallel {remote.settings.parallel})")


if __name__ == "__main__":
    sys.exit(main())
