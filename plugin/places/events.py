"""Events: photos taken close together in time (and place), found from camera dates alone. Pure numpy.

Photos sorted by their camera date are cut where the gap to the previous photo exceeds ``gap_s`` (a night's
sleep splits days; a day out stays one event), and where two photos with GPS are more than ``split_km``
apart and more than ``split_gap_s`` apart in time (a flight or a long drive lies between them). The distance
is measured from the last photo with GPS of the same run of photos, so photos without GPS in between neither
cut nor bridge a journey. An event is named by its dates and its place: "12-14 Aug 2023, Lisbon", "3 May 2024".
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

import numpy as np

from plugin.places.geocode import EARTH_RADIUS_KM, valid_gps

T = TypeVar("T")

# English month abbreviations, fixed: strftime's %b follows the process's locale.
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass(frozen=True, slots=True)
class EventRules:
    gap_s: float = 6 * 3600.0
    split_km: float = 100.0  # 0: no split by distance
    split_gap_s: float = 3600.0


def haversine_km(lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray, lon2: np.ndarray) -> np.ndarray:
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dphi, dlam = p2 - p1, np.radians(lon2) - np.radians(lon1)
    a = np.sin(dphi / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlam / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def event_starts(seconds: np.ndarray, lat: np.ndarray, lon: np.ndarray, rules: EventRules) -> np.ndarray:
    """The index of each event's first photo, for photos sorted by time (``seconds``; NaN lat/lon: no GPS)."""
    n = len(seconds)
    if n == 0:
        return np.empty(0, dtype=np.int64)
    seconds = np.asarray(seconds, dtype=np.float64)
    cut = np.diff(seconds) > rules.gap_s  # cut[i]: a new event starts at photo i + 1
    if rules.split_km > 0 and n > 1:
        has_gps = valid_gps(lat, lon)
        index = np.arange(n)
        # The last photo with GPS at or before each photo, and where each run of photos (between time cuts) starts.
        last_gps = np.maximum.accumulate(np.where(has_gps, index, -1))
        run_start = np.maximum.accumulate(np.concatenate(([0], np.where(cut, index[1:], 0))))
        after = index[1:]
        before = last_gps[:-1]
        check = has_gps[1:] & (before >= run_start[1:])
        safe = np.where(check, before, 0)
        lat, lon = np.asarray(lat, dtype=np.float64), np.asarray(lon, dtype=np.float64)
        km = haversine_km(lat[safe], lon[safe], lat[after], lon[after])
        cut |= check & (km > rules.split_km) & (seconds[after] - seconds[safe] > rules.split_gap_s)
    return np.concatenate(([0], np.flatnonzero(cut) + 1)).astype(np.int64)


def date_range(start: datetime, end: datetime) -> str:
    """'3 May 2024', '12-14 Aug 2023', '30 Jul - 2 Aug 2023', '30 Dec 2023 - 2 Jan 2024'."""
    s, e = start.date(), end.date()
    if s == e:
        return f"{s.day} {MONTHS[s.month - 1]} {s.year}"
    if (s.year, s.month) == (e.year, e.month):
        return f"{s.day}-{e.day} {MONTHS[s.month - 1]} {s.year}"
    if s.year == e.year:
        return f"{s.day} {MONTHS[s.month - 1]} - {e.day} {MONTHS[e.month - 1]} {s.year}"
    return f"{s.day} {MONTHS[s.month - 1]} {s.year} - {e.day} {MONTHS[e.month - 1]} {e.year}"


PlaceParts = tuple[str | None, str | None, str | None]  # (city, region, country) of one photo


def event_place(places: Sequence[PlaceParts]) -> str | None:
    """The event's place: the city of at least half of its photos that have a place; else the region of at least
    half (a day driving through Tuscany); else the most common country. None when no photo has a place."""
    known = [p for p in places if p[2]]
    if not known:
        return None
    half = len(known) / 2
    city, n = _most_common((p[0], p[1], p[2]) for p in known)
    if city[0] and n >= half:
        return city[0]
    region, n = _most_common((p[1], p[2]) for p in known)
    if region[0] and n >= half:
        return region[0]
    country, _ = _most_common(p[2] for p in known)
    return country


def _most_common(items: Iterable[T]) -> tuple[T, int]:
    # Ties go to the value seen first (the earliest photo's), so a name does not flip between recomputations.
    return Counter(items).most_common(1)[0]


def event_name(start: datetime, end: datetime, place: str | None) -> str:
    dates = date_range(start, end)
    return f"{dates}, {place}" if place else dates


def event_key(first_photo_id: int, start: datetime) -> str:
    """What identifies an event across recomputations while it stays the same (its first photo and start)."""
    return f"{first_photo_id}@{start.isoformat(timespec='seconds')}"


def cover_index(flagged: np.ndarray) -> int:
    """The event's cover among its photos (in time order): the middle one of those piccl does not advise deleting
    (sharp, well exposed, the keeper of its burst), or the middle one when all are flagged."""
    good = np.flatnonzero(~np.asarray(flagged, dtype=bool))
    pool = good if len(good) else np.arange(len(flagged))
    return int(pool[len(pool) // 2])
