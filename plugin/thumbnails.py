"""Display images of photos, made on demand from the decoded photo and cached in the data dir.

Keyed by content hash, so a moved or renamed photo keeps its thumbnails and a changed one gets new
ones. HEIC, TIFF, WebP... are all served as JPEG, which every browser shows.
"""

from __future__ import annotations

import io
import os
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from plugin.reading.decode import ReadFailure, ReadOptions, read_photo

# Long side in pixels: 'sm' fills a grid tile on a 3x phone screen, 'lg' a phone or laptop screen.
SIZES: dict[str, int] = {"sm": 360, "lg": 1600}
_VERSION = 1  # bump when the rendering changes, so caches refill
_QUALITY = 82


def thumbnail_path(cache_dir: Path, content_hash: str, size: str) -> Path:
    return cache_dir / f"v{_VERSION}" / size / content_hash[:2] / f"{content_hash}.jpg"


def save_thumbnail(rgb: np.ndarray, target: Path, long_side: int) -> None:
    """Encode ``rgb`` (upright, uint8) at most ``long_side`` px long as ``target``, written whole then renamed."""
    height, width = rgb.shape[:2]
    scale = long_side / max(height, width)
    if scale < 1:
        # OpenCV's area resampling: 5 ms for 1024 -> 360 px where Pillow's Lanczos takes 17 (2-core CI machine).
        rgb = cv2.resize(rgb, (max(1, round(width * scale)), max(1, round(height * scale))),
                         interpolation=cv2.INTER_AREA)
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, "JPEG", quality=_QUALITY)
    target.parent.mkdir(parents=True, exist_ok=True)
    # A reader (another request, another process) never sees half a thumbnail.
    fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".part")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(buffer.getvalue())
        os.replace(tmp, target)
    except OSError:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_grid_thumbnail(cache_dir: Path, content_hash: str, rgb: np.ndarray, original_long_side: int) -> None:
    """During a scan: the grid thumbnail from the pixels already decoded for analysis (no second decode).

    Skipped when those pixels are smaller than the thumbnail of a larger photo; the UI then makes it on demand.
    """
    long_side = SIZES["sm"]
    if max(rgb.shape[:2]) < min(long_side, original_long_side):
        return
    target = thumbnail_path(cache_dir, content_hash, "sm")
    if not target.is_file():
        save_thumbnail(rgb, target, long_side)


@dataclass(frozen=True, slots=True)
class Thumbnail:
    path: Path
    etag: str


class ThumbnailCache:
    def __init__(self, cache_dir: Path, max_pixels: int, max_file_bytes: int) -> None:
        self.cache_dir, self.max_pixels, self.max_file_bytes = cache_dir, max_pixels, max_file_bytes
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()

    def etag(self, content_hash: str, size: str) -> str:
        return f"{content_hash[:20]}-{size}-{_VERSION}"

    def cached_path(self, content_hash: str, size: str) -> Path:
        return thumbnail_path(self.cache_dir, content_hash, size)

    def get(self, source: Path, content_hash: str, size: str) -> Thumbnail | ReadFailure:
        """The thumbnail of ``source`` (whose content hash is ``content_hash``), made if not cached yet."""
        if size not in SIZES:
            raise ValueError(f"unknown thumbnail size {size!r}")
        target = self.cached_path(content_hash, size)
        if target.is_file():
            return Thumbnail(target, self.etag(content_hash, size))
        with self._lock_for(target.name + size):
            if not target.is_file():  # another request may have made it while this one waited
                problem = self._make(source, target, SIZES[size])
                if problem is not None:
                    return problem
        return Thumbnail(target, self.etag(content_hash, size))

    def _lock_for(self, key: str) -> threading.Lock:
        with self._locks_guard:
            if len(self._locks) > 1024:
                self._locks = {k: v for k, v in self._locks.items() if v.locked()}
            return self._locks.setdefault(key, threading.Lock())

    def _make(self, source: Path, target: Path, long_side: int) -> ReadFailure | None:
        try:
            if source.stat().st_size > self.max_file_bytes:
                return ReadFailure("skipped", "too_large", "larger than max_file_bytes")
            data = source.read_bytes()
        except OSError as exc:
            return ReadFailure("error", "unreadable", exc.strerror or str(exc))
        decoded = read_photo(data, ReadOptions(analysis_size=long_side, max_pixels=self.max_pixels,
                                               heic_thumbnail_min_side=long_side))
        if isinstance(decoded, ReadFailure):
            return decoded
        save_thumbnail(decoded.rgb, target, long_side)
        return None
