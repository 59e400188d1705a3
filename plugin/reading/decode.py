"""Read one photo, once, at the size the analysis needs.

The format is sniffed from the bytes (Pillow's and libheif's own signature
checks), never taken from the extension. JPEGs are decoded with DCT scaling
(Pillow's ``draft``: libjpeg does the 1/2, 1/4, 1/8 reduction inside the
IDCT), which is most of the speed of a scan. HEIC/HEIF go through pillow-heif;
libheif cannot decode at reduced size, so an embedded thumbnail that is big
enough is used instead of a full decode. The result is upright: EXIF
orientation is applied here so no analyzer has to think about it.

Expected failures (not an image, truncated, a bomb) come back as a
:class:`ReadFailure` with a stable reason code; only programming errors raise.
"""

from __future__ import annotations

import io
import threading
import warnings
from dataclasses import dataclass
from struct import error as struct_error
from typing import Literal, TextIO

import cv2
import numpy as np
import pillow_heif
from PIL import Image, UnidentifiedImageError

from plugin.reading.exif import ExifFacts, read_exif

# Formats a photo library holds. Pillow opens more (EPS, PSD, ICO, ...), but those are
# not photos, and some (EPS) would hand the file to an external interpreter. MPO (multi-picture
# JPEG) comes through the JPEG plugin.
PHOTO_FORMATS: tuple[str, ...] = (
    "JPEG", "PNG", "WEBP", "TIFF", "GIF", "BMP", "AVIF", "JPEG2000", "PPM", "QOI", "PSD",
)

# A JPEG is DCT-scaled only while the reduced image keeps at least this share of the
# analysis size, so the analysers see (nearly) the same pixel scale for every camera.
_DRAFT_MIN_FRACTION = 0.95

# Above this size a HEIF is decoded from any thumbnail at least this big (see _read_heif).
_HUGE_HEIF_PIXELS = 100_000_000
_HUGE_HEIF_THUMBNAIL_MIN_SIDE = 320

# Pillow's transpose for each EXIF orientation (same table as ImageOps.exif_transpose).
_TRANSPOSE: dict[int, Image.Transpose] = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}

Status = Literal["error", "skipped"]


@dataclass(frozen=True, slots=True)
class ReadOptions:
    analysis_size: int = 1024
    max_pixels: int = 200_000_000
    heic_thumbnail_min_side: int = 1024
    # The seed paper's blur rule is defined on the full-resolution photo.
    keep_full_grey: bool = False


@dataclass(frozen=True, slots=True)
class ReadFailure:
    """Why a file did not become an analysed photo. ``reason`` is a stable code."""

    status: Status
    reason: str
    detail: str


@dataclass(frozen=True, slots=True)
class DecodedPhoto:
    """One photo, upright, at the analysis size, with its EXIF facts."""

    format: str
    width: int  # the photo's own size, upright
    height: int
    frames: int
    exif: ExifFacts
    rgb: np.ndarray  # uint8 HxWx3, long side <= analysis_size
    grey: np.ndarray  # uint8 HxW, same size
    decoded_from: str  # how the pixels were obtained, for evidence and benchmarks
    grey_full: np.ndarray | None = None


def read_photo(data: bytes, options: ReadOptions) -> DecodedPhoto | ReadFailure:
    """Decode ``data`` (a whole file's bytes) for analysis."""
    if not data:
        return ReadFailure("error", "empty_file", "the file is empty (0 bytes)")
    # Pillow enforces its own bomb check (errors at 2x the limit) while parsing headers
    # of formats whose size is only known mid-decode (GIF frame extents); ours below is exact.
    Image.MAX_IMAGE_PIXELS = options.max_pixels
    Image.init()  # registers every plugin, so that formats= below can name WEBP, TIFF, AVIF
    _install_warning_capture()
    _capture.sink = caught = []
    try:
        result = _read_guarded(data, options)
    finally:
        _capture.sink = None
    if isinstance(result, DecodedPhoto):
        # Pillow reports repairable damage (corrupt EXIF, a malformed MPO) as warnings: keep them.
        result.exif.warnings.extend(caught[:10])
    return result


# warnings.catch_warnings() swaps process-wide state and is not thread-safe (scan workers may be
# threads), so warnings raised while a photo is read go to a per-thread list instead.
_capture = threading.local()
_capture_lock = threading.Lock()


def _install_warning_capture() -> None:
    """Route warnings to the reading thread's list; re-installed if someone replaced the hook since."""
    if getattr(warnings.showwarning, "_piccl_capture", False):
        return
    with _capture_lock:
        original = warnings.showwarning
        if getattr(original, "_piccl_capture", False):
            return

        def showwarning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                        file: TextIO | None = None, line: str | None = None) -> None:
            sink = getattr(_capture, "sink", None)
            if sink is None:
                original(message, category, filename, lineno, file, line)
            elif not issubclass(category, Image.DecompressionBombWarning):
                sink.append(str(message)[:200])

        showwarning._piccl_capture = True  # type: ignore[attr-defined]
        warnings.showwarning = showwarning
        # Decoders warn once per code location by default; each photo's own damage must be seen.
        warnings.filterwarnings("always", module=r"(PIL|pillow_heif)(\..*)?$")


def _read_guarded(data: bytes, options: ReadOptions) -> DecodedPhoto | ReadFailure:
    try:
        result = _read_heif(data, options) if _looks_like_heif(data) else None
        return result if result is not None else _read_pillow(data, options)
    except Image.DecompressionBombError as exc:
        return ReadFailure("skipped", "decompression_bomb", str(exc))
    except UnidentifiedImageError:
        return _unidentified(data)
    except MemoryError:
        return ReadFailure("error", "out_of_memory", "not enough memory to decode this photo")
    except (OSError, ValueError, SyntaxError, EOFError, IndexError, TypeError, KeyError,
            ZeroDivisionError, RuntimeError, struct_error) as exc:
        return _classify(exc)


def _looks_like_heif(data: bytes) -> bool:
    # ISO-BMFF files start with a box whose type is 'ftyp'; AVIF is left to Pillow's own
    # plugin, which handles its irot/imir transforms.
    if data[4:8] != b"ftyp":
        return False
    brands = data[8:64]
    return b"avif" not in data[8:12] and (b"hei" in brands or b"hev" in brands or b"mif1" in brands
                                          or b"msf1" in brands)


def _read_heif(data: bytes, options: ReadOptions) -> DecodedPhoto | ReadFailure | None:
    try:
        heif = pillow_heif.open_heif(io.BytesIO(data), convert_hdr_to_8bit=True)
    except (ValueError, RuntimeError, OSError) as exc:
        if "avif" in str(exc).lower() or "unsupported" in str(exc).lower():
            return None  # let Pillow try (an AVIF in a HEIF-branded box)
        return _classify(exc)
    # A multi-image HEIC (a burst, a stereo pair) is one photo: its primary image.
    primary = heif[heif.primary_index]
    width, height = primary.size  # libheif applies irot/imir: this is already upright
    if width * height > options.max_pixels:
        return _bomb(width, height, options)
    facts = read_exif(primary.info.get("exif") or b"")
    # EXIF orientation inside HEIF is informational: the container's transforms are authoritative.
    facts.orientation = 1

    thumbs = primary.info.get("thumbnails") or []
    min_side = options.heic_thumbnail_min_side
    if min_side and width * height > _HUGE_HEIF_PIXELS:
        # A full decode of a 200 MP photo takes seconds and 600 MB: a small thumbnail is the lesser evil.
        min_side = min(min_side, _HUGE_HEIF_THUMBNAIL_MIN_SIDE)
    usable = [i for i, side in enumerate(thumbs) if min_side and side >= min_side]
    if usable and not options.keep_full_grey:
        best = max(usable, key=lambda i: thumbs[i])
        image = primary.get_thumbnail(best).to_pillow()
        decoded_from = f"heif-thumbnail-{thumbs[best]}"
    else:
        image = primary.to_pillow()
        decoded_from = "heif-full"
    return _finish(image, "HEIF", width, height, len(heif), facts, decoded_from, options)


def _read_pillow(data: bytes, options: ReadOptions) -> DecodedPhoto | ReadFailure:
    image = Image.open(io.BytesIO(data), formats=PHOTO_FORMATS)
    fmt = image.format or "unknown"
    facts = read_exif(image)
    raw_w, raw_h = image.size
    if raw_w * raw_h > options.max_pixels:
        return _bomb(raw_w, raw_h, options)
    width, height = (raw_h, raw_w) if facts.orientation in (5, 6, 7, 8) else (raw_w, raw_h)
    frames = _frame_count(image)

    decoded_from = "full"
    if fmt in ("JPEG", "MPO") and not options.keep_full_grey:
        scale = _draft_scale(max(raw_w, raw_h), options.analysis_size)
        if scale > 1:
            image.draft("RGB", (raw_w // scale, raw_h // scale))
            decoded_from = f"jpeg-dct-1/{scale}"
    # The whole file is already in memory: give it to the decoder in one call. Pillow's default
    # 64 KB chunks return to Python between chunks, which keeps decoding threads from running
    # in parallel (measured: 24 -> 48 photos/s with two threads on two cores).
    image.decodermaxblock = max(len(data), 65536)
    image.load()
    return _finish(image, fmt, width, height, frames, facts, decoded_from, options)


def _draft_scale(long_side: int, analysis_size: int) -> int:
    for scale in (8, 4, 2):
        if long_side / scale >= analysis_size * _DRAFT_MIN_FRACTION:
            return scale
    return 1


def _frame_count(image: Image.Image) -> int:
    # n_frames walks a whole GIF/WebP/PNG animation; for those "animated or not" is enough.
    try:
        if image.format in ("GIF", "WEBP", "PNG"):
            return 2 if getattr(image, "is_animated", False) else 1
        return int(getattr(image, "n_frames", 1))
    except Exception:
        return 1


def _finish(image: Image.Image, fmt: str, width: int, height: int, frames: int, facts: ExifFacts,
            decoded_from: str, options: ReadOptions) -> DecodedPhoto:
    transpose = _TRANSPOSE.get(facts.orientation)
    if transpose is not None:
        image = image.transpose(transpose)
    rgb = _to_rgb(image)
    grey_full = None
    if options.keep_full_grey:
        grey_full = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    h, w = rgb.shape[:2]
    long_side = max(h, w)
    if long_side > options.analysis_size:
        factor = options.analysis_size / long_side
        size = (max(1, round(w * factor)), max(1, round(h * factor)))
        rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    return DecodedPhoto(fmt, width, height, frames, facts, rgb, grey, decoded_from, grey_full)


def _to_rgb(image: Image.Image) -> np.ndarray:
    mode = image.mode
    if mode == "RGB":
        return np.asarray(image)
    if mode.startswith("I") or mode == "F":
        # 16-bit and float greyscale: Pillow's convert("L") clips instead of scaling.
        arr = np.asarray(image, dtype=np.float32)
        peak = float(arr.max()) if arr.size else 0.0
        if peak > 255:
            arr = arr * (255.0 / (65535.0 if peak <= 65535 else peak))
        grey = np.clip(arr, 0, 255).astype(np.uint8)
        return np.ascontiguousarray(np.repeat(grey[:, :, None], 3, axis=2))
    if "A" in mode or "transparency" in image.info:
        # Transparent areas shown on white, as a photo viewer would.
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return np.asarray(Image.alpha_composite(background, rgba).convert("RGB"))
    return np.asarray(image.convert("RGB"))


def _bomb(width: int, height: int, options: ReadOptions) -> ReadFailure:
    return ReadFailure(
        "skipped", "decompression_bomb",
        f"{width}x{height} = {width * height / 1e6:.1f} MP exceeds the limit of "
        f"{options.max_pixels / 1e6:.0f} MP (setting max_image_pixels)",
    )


def _unidentified(data: bytes) -> ReadFailure:
    # Tell "not a photo format piccl reads" (a PSD, an ICO) from "not an image at all".
    try:
        with Image.open(io.BytesIO(data)) as other:
            return ReadFailure("skipped", "unsupported_format", f"{other.format} is not a photo format piccl reads")
    except Exception:
        pass
    head = data[:16]
    if head.startswith(b"\xff\xd8"):
        return ReadFailure("error", "decode_failed", "JPEG signature but no readable JPEG header")
    return ReadFailure("skipped", "not_an_image", f"content is not a known image format (starts {head[:8]!r})")


def _classify(exc: BaseException) -> ReadFailure:
    message = f"{type(exc).__name__}: {exc}"
    lowered = message.lower()
    if "truncated" in lowered or isinstance(exc, EOFError):
        return ReadFailure("error", "truncated", message)
    if "too large" in lowered or "decompression bomb" in lowered:
        return ReadFailure("skipped", "decompression_bomb", message)
    return ReadFailure("error", "decode_failed", message)

