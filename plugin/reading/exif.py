"""What piccl reads from EXIF: when, where, with what, and how it was exposed.

Camera EXIF is routinely broken (zeroed dates, 0/0 rationals, GPS at 0,0,
strings padded with NULs). Every reader here returns ``None`` for a value it
cannot trust and records a warning instead of raising, so a bad tag costs one
field, never the photo.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from PIL import Image

from plugin.analyzers.base import ExposureExif

# EXIF tag numbers (EXIF 2.32 / TIFF 6.0); Pillow's ExifTags names them too, but the
# numbers are what the spec and exiftool's docs use, which makes review easier.
IFD_EXIF = 0x8769
IFD_GPS = 0x8825
TAG_MAKE = 0x010F
TAG_MODEL = 0x0110
TAG_ORIENTATION = 0x0112
TAG_DATETIME = 0x0132
TAG_EXPOSURE_TIME = 0x829A
TAG_FNUMBER = 0x829D
TAG_ISO = 0x8827
TAG_DATETIME_ORIGINAL = 0x9003
TAG_DATETIME_DIGITIZED = 0x9004
TAG_OFFSET_TIME = 0x9010
TAG_OFFSET_TIME_ORIGINAL = 0x9011
TAG_OFFSET_TIME_DIGITIZED = 0x9012
TAG_BRIGHTNESS = 0x9203
TAG_FLASH = 0x9209
TAG_SUBSEC_ORIGINAL = 0x9291

_DATE_RE = re.compile(r"^\s*(\d{4})[:\-/](\d{2})[:\-/](\d{2})[ T](\d{2}):(\d{2}):(\d{2})")
_OFFSET_RE = re.compile(r"^\s*([+-])(\d{2}):?(\d{2})\s*$")


@dataclass(slots=True)
class ExifFacts:
    """The EXIF facts piccl keeps; every field may be missing."""

    orientation: int = 1
    taken_at: datetime | None = None  # naive wall-clock time where the photo was taken
    taken_at_offset_min: int | None = None  # its UTC offset, when the camera recorded one
    gps_lat: float | None = None
    gps_lon: float | None = None
    gps_alt: float | None = None
    make: str | None = None
    model: str | None = None
    exposure: ExposureExif = field(default_factory=ExposureExif)
    warnings: list[str] = field(default_factory=list)


def _number(value: Any) -> float | None:
    """A finite float from an EXIF rational/int/tuple, or None (0/0 is None, not NaN)."""
    try:
        if isinstance(value, tuple) and len(value) == 2:
            num, den = value
            if not den:
                return None
            result = float(num) / float(den)
        else:
            result = float(value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    return result if math.isfinite(result) else None


def _text(value: Any) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str):
        return None
    # EXIF ASCII values end at the first NUL; cameras leave garbage after it (exiftool agrees).
    cleaned = value.split("\x00", 1)[0].strip()
    return cleaned or None


def parse_exif_datetime(value: Any) -> datetime | None:
    """``YYYY:MM:DD HH:MM:SS`` (and the common '-' and '/' variants) as a naive datetime."""
    text = _text(value)
    match = _DATE_RE.match(text) if text else None
    if not match:
        return None
    try:
        parsed = datetime(*(int(g) for g in match.groups()))
    except ValueError:  # 0000:00:00, month 13 and friends
        return None
    # Cameras with a flat clock battery write 1970 or earlier; no digital photo predates 1980's.
    return parsed if parsed.year >= 1980 else None


def parse_subsec(value: Any) -> int:
    """EXIF SubSecTimeOriginal ('345' = 0.345 s; digits only, any length) as microseconds (0 when absent)."""
    text = (_text(value) or "").strip()
    digits = text[:6] if text.isdigit() else ""
    return int(digits.ljust(6, "0")) if digits else 0


def parse_offset(value: Any) -> int | None:
    """EXIF OffsetTime* (``+02:00``) as minutes east of UTC."""
    text = _text(value)
    match = _OFFSET_RE.match(text) if text else None
    if not match:
        return None
    sign, hours, minutes = match.groups()
    total = int(hours) * 60 + int(minutes)
    if total > 14 * 60:
        return None
    return total if sign == "+" else -total


def _dms_to_degrees(dms: Any, ref: Any) -> float | None:
    if not isinstance(dms, tuple) or not dms:
        single = _number(dms)
        parts = [single] if single is not None else []
    else:
        parts = [_number(p) for p in dms[:3]]
    if not parts or any(p is None for p in parts):
        return None
    degrees = sum(p / (60**i) for i, p in enumerate(parts))  # type: ignore[operator]
    ref_text = (_text(ref) or "").upper()
    return -degrees if ref_text in ("S", "W") else degrees


def _gps_utc(gps: dict[int, Any]) -> datetime | None:
    """GPSDateStamp + GPSTimeStamp, always UTC per the EXIF spec."""
    date_text = _text(gps.get(29))
    stamp = gps.get(7)
    if not date_text or not isinstance(stamp, tuple) or len(stamp) != 3:
        return None
    hms = [_number(v) for v in stamp]
    if any(v is None for v in hms):
        return None
    date = parse_exif_datetime(f"{date_text} 00:00:00")
    if date is None:
        return None
    h, m, s = hms
    return date + timedelta(hours=h, minutes=m, seconds=int(s))  # type: ignore[arg-type]


def read_gps(gps: dict[int, Any], facts: ExifFacts) -> None:
    lat = _dms_to_degrees(gps.get(2), gps.get(1))
    lon = _dms_to_degrees(gps.get(4), gps.get(3))
    if lat is None or lon is None:
        return
    if abs(lat) > 90 or abs(lon) > 180:
        facts.warnings.append(f"GPS out of range ({lat:.6f}, {lon:.6f}) ignored")
        return
    if lat == 0 and lon == 0:
        # Exactly 0,0 is what phones write when they had no fix, not a photo in the Gulf of Guinea.
        facts.warnings.append("GPS 0,0 (no fix) ignored")
        return
    facts.gps_lat, facts.gps_lon = round(lat, 7), round(lon, 7)
    alt = _number(gps.get(6))
    if alt is not None:
        alt_ref = gps.get(5)
        below = alt_ref in (1, b"\x01") or _number(alt_ref) == 1
        facts.gps_alt = round(-alt if below else alt, 2)


def read_exif(source: Image.Image | bytes) -> ExifFacts:
    """Read the facts from an opened Pillow image, or from a raw EXIF block (HEIF); never raises."""
    facts = ExifFacts()
    try:
        if isinstance(source, bytes):
            exif = Image.Exif()
            exif.load(source)
        else:
            exif = source.getexif()
    except Exception as exc:  # a broken APP1 segment must not cost the photo
        facts.warnings.append(f"EXIF unreadable: {type(exc).__name__}: {exc}")
        return facts
    if not exif:
        return facts

    def sub_ifd(tag: int) -> dict[int, Any]:
        try:
            return dict(exif.get_ifd(tag))
        except Exception as exc:
            facts.warnings.append(f"EXIF IFD {tag:#x} unreadable: {type(exc).__name__}")
            return {}

    ifd = sub_ifd(IFD_EXIF)
    gps = sub_ifd(IFD_GPS)

    orientation = exif.get(TAG_ORIENTATION)
    if isinstance(orientation, int) and 1 <= orientation <= 8:
        facts.orientation = orientation
    elif orientation is not None:
        facts.warnings.append(f"invalid orientation {orientation!r} ignored")

    facts.make = _text(exif.get(TAG_MAKE))
    facts.model = _text(exif.get(TAG_MODEL))

    for date_tag, offset_tag, store in (
        (TAG_DATETIME_ORIGINAL, TAG_OFFSET_TIME_ORIGINAL, ifd),
        (TAG_DATETIME_DIGITIZED, TAG_OFFSET_TIME_DIGITIZED, ifd),
        (TAG_DATETIME, TAG_OFFSET_TIME, exif),
    ):
        taken = parse_exif_datetime(store.get(date_tag))
        if taken is not None:
            if date_tag == TAG_DATETIME_ORIGINAL:
                # The fraction of a second tells the shots of a burst apart (a copy keeps it).
                taken = taken.replace(microsecond=parse_subsec(ifd.get(TAG_SUBSEC_ORIGINAL)))
            facts.taken_at = taken
            facts.taken_at_offset_min = parse_offset(ifd.get(offset_tag))
            break
    if facts.taken_at is not None and facts.taken_at_offset_min is None:
        # Older cameras record no offset, but a GPS fix carries UTC: the difference is the
        # local offset, to the nearest quarter hour (the finest real-world zone step).
        utc = _gps_utc(gps)
        if utc is not None:
            minutes = (facts.taken_at - utc).total_seconds() / 60
            quarter = round(minutes / 15) * 15
            if abs(quarter) <= 14 * 60 and abs(minutes - quarter) <= 2:
                facts.taken_at_offset_min = int(quarter)

    if gps:
        read_gps(gps, facts)

    iso = ifd.get(TAG_ISO)
    if isinstance(iso, tuple):
        iso = iso[0] if iso else None
    flash = ifd.get(TAG_FLASH)
    facts.exposure = ExposureExif(
        exposure_time_s=_positive(_number(ifd.get(TAG_EXPOSURE_TIME))),
        f_number=_positive(_number(ifd.get(TAG_FNUMBER))),
        iso=_positive(_number(iso)),
        brightness_ev=_number(ifd.get(TAG_BRIGHTNESS)),
        flash_fired=bool(flash & 1) if isinstance(flash, int) else None,
    )
    return facts


def _positive(value: float | None) -> float | None:
    return value if value is not None and value > 0 else None

