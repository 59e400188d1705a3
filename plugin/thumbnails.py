"""Display images of photos, made on demand from the decoded photo and cached in the data dir.

Keyed by content hash, so a moved or renamed photo keeps its thumbnails and a changed one gets new
ones. HEIC, TIFF, WebP... are all served as JPEG, which every browser shows.
"""

from __future__ import annotations

import io
import os
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from plugin.reading.decode import DecodedPhoto, ReadFailure, ReadOptions, read_photo

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
        long_side = SIZES[size]

        def make(target: Path) -> ReadFailure | None:
            decoded = self._decode(source, ReadOptions(analysis_size=long_side, max_pixels=self.max_pixels,
                                                       heic_thumbnail_min_side=long_side))
            if isinstance(decoded, ReadFailure):
                return decoded
            save_thumbnail(decoded.rgb, target, long_side)
            return None

        return self._cached(self.cached_path(content_hash, size), self.etag(content_hash, size), make)

    def _cached(self, target: Path, etag: str, make: Callable[[Path], ReadFailure | None]) -> Thumbnail | ReadFailure:
        """``target`` if cached, else made once by ``make`` (concurrent requests for it wait for the first)."""
        if target.is_file():
            return Thumbnail(target, etag)
        with self._lock_for(str(target)):
            if not target.is_file():  # another request may have made it while this one waited
                problem = make(target)
                if problem is not None:
                    return problem
        return Thumbnail(target, etag)

    def _lock_for(self, key: str) -> threading.Lock:
        with self._locks_guard:
            if len(self._locks) > 1024:
                self._locks = {k: v for k, v in self._locks.items() if v.locked()}
            return self._locks.setdefault(key, threading.Lock())

    def _decode(self, source: Path, options: ReadOptions) -> DecodedPhoto | ReadFailure:
        try:
            if source.stat().st_size > self.max_file_bytes:
                return ReadFailure("skipped", "too_large", "larger than max_file_bytes")
            data = source.read_bytes()
        except OSError as exc:
            return ReadFailure("error", "unreadable", exc.strerror or str(exc))
        return read_photo(data, options)


# --- face thumbnails (People pages) --------------------------------------------------------------------------

FACE_SIDE = 160  # px: a face card on a 3x phone screen
_FACE_MARGIN = 1.6  # the square crop is this many times the face box's longer side (hair and chin included)


def face_thumbnail_path(cache_dir: Path, content_hash: str, box: list[float] | tuple[float, ...]) -> Path:
    # Keyed by the box too: a re-analysis that moves a face gets a new crop, not a stale one.
    x, y, w, h = (round(v) for v in box)
    return cache_dir / f"v{_VERSION}" / "face" / content_hash[:2] / f"{content_hash}-{x}-{y}-{w}-{h}.jpg"


def face_crop(rgb: np.ndarray, box: list[float] | tuple[float, ...], scale: float) -> np.ndarray:
    """A square crop around ``box`` (photo pixels; ``scale`` = rgb pixels per photo pixel), clipped to the image."""
    x, y, w, h = (v * scale for v in box)
    side = max(w, h) * _FACE_MARGIN
    cx, cy = x + w / 2, y + h / 2
    height, width = rgb.shape[:2]
    x0, y0 = max(0, int(cx - side / 2)), max(0, int(cy - side / 2))
    x1, y1 = min(width, int(cx + side / 2)), min(height, int(cy + side / 2))
    return rgb[y0:max(y1, y0 + 1), x0:max(x1, x0 + 1)]


def save_face_thumbnails(cache_dir: Path, content_hash: str, rgb: np.ndarray, original_width: int,
                         boxes: list[list[float]]) -> None:
    """During a scan: each face's crop from the pixels already decoded for analysis (no second decode)."""
    scale = rgb.shape[1] / original_width
    for box in boxes:
        target = face_thumbnail_path(cache_dir, content_hash, box)
        if not target.is_file():
            save_thumbnail(face_crop(rgb, box, scale), target, FACE_SIDE)


class FaceThumbnailCache(ThumbnailCache):
    """Face crops for the People pages, made from the photo when the scan did not leave one."""

    def face_etag(self, content_hash: str, box: list[float]) -> str:
        x, y, w, h = (round(v) for v in box)
        return f"{content_hash[:20]}-{x}-{y}-{w}-{h}-{_VERSION}"

    def get_face(self, source: Path, content_hash: str, box: list[float], photo_width: int) -> Thumbnail | ReadFailure:
        def make(target: Path) -> ReadFailure | None:
            decoded = self._decode(source, ReadOptions(analysis_size=1024, max_pixels=self.max_pixels))
            if isinstance(decoded, ReadFailure):
                return decoded
            scale = decoded.rgb.shape[1] / (photo_width or decoded.width)
            save_thumbnail(face_crop(decoded.rgb, box, scale), target, FACE_SIDE)
            return None

        return self._cached(face_thumbnail_path(self.cache_dir, content_hash, box),
                            self.face_etag(content_hash, box), make)
