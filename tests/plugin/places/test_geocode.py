"""Offline reverse geocoding: real photos' GPS (read by exiftool and by a real scan) to country, region, city."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from plugin.config import Settings
from plugin.places.events import haversine_km
from plugin.places.geocode import data_folder, gazetteer, place_version, valid_gps
from plugin.scan import Scanner
from plugin.store.db import open_database
from plugin.store.models import Photo

LIMIT_KM = 50.0

# What the coordinates of the test photos are (checked on a map): the country each must land in.
EXPECTED_COUNTRY = {
    "exif_ianare/jpg/gps": "IT",  # Arezzo, Tuscany: the nine DSCN photos
    "heic/photoprism/iphone_15_pro.heic": "DE",  # Berlin
    "heic/photoprism/iphone_7.heic": "JP",  # Hyogo, between Himeji and Takasago
    "heic/pillow_heif/heif_special/xiaomi.heic": "RU",  # Rostov-on-Don
    "heic/pillow_heif/heif_special/aux_YCbCr.heic": "EE",  # by Tallinn
    "heic/pillow_heif/heif_other/pug.heic": "UA",  # Sudak, Crimea (as GeoNames files it)
    "heic/pillow_heif/heif_other/empty_icc.heic": "UA",  # Nova Kakhovka
}


def expected_country(rel: str) -> str:
    return next(code for prefix, code in EXPECTED_COUNTRY.items() if rel.startswith(prefix))


def exiftool_gps(testdata: Path) -> dict[str, tuple[float, float]]:
    """Relative path -> (lat, lon) as exiftool reads it, for the test photos that have GPS at all."""
    if shutil.which("exiftool") is None:
        pytest.skip("exiftool is not installed (apt-get install libimage-exiftool-perl)")
    folders = [testdata / "exif_ianare/jpg/gps", testdata / "heic"]
    for folder in folders:
        if not folder.is_dir():
            pytest.skip(f"{folder} is missing")
    out = subprocess.run(["exiftool", "-n", "-json", "-r", "-ext", "jpg", "-ext", "heic", "-GPSLatitude",
                          "-GPSLongitude", *map(str, folders)], capture_output=True, text=True, check=False).stdout
    found = {}
    for row in json.loads(out):
        if isinstance(row.get("GPSLatitude"), (int, float)) and isinstance(row.get("GPSLongitude"), (int, float)):
            found[str(Path(row["SourceFile"]).relative_to(testdata))] = (row["GPSLatitude"], row["GPSLongitude"])
    assert len(found) >= 15, found
    return found


def test_real_photos_land_in_their_country_and_a_city_within_the_limit(testdata: Path) -> None:
    # GIVEN the coordinates exiftool reads from the GPS photos of the test data
    coords = {rel: ll for rel, ll in exiftool_gps(testdata).items() if ll != (0, 0)}
    rels = sorted(coords)
    # WHEN they are geocoded in one batch
    places = gazetteer().lookup([coords[r][0] for r in rels], [coords[r][1] for r in rels], LIMIT_KM)
    for rel, place in zip(rels, places, strict=True):
        # THEN each lands in the expected country, in a city whose own point lies within the limit
        assert place is not None, rel
        assert place.country_code == expected_country(rel), (rel, place)
        lat, lon = coords[rel]
        km = float(haversine_km(np.array(lat), np.array(lon), np.array(place.lat), np.array(place.lon)))
        assert km <= LIMIT_KM and km == pytest.approx(place.distance_km, abs=0.01), (rel, place)
        assert place.city and place.country and place.region, (rel, place)
    by_rel = dict(zip(rels, places, strict=True))
    arezzo = [p for r, p in by_rel.items() if r.startswith("exif_ianare")]
    assert {(p.city, p.region, p.country) for p in arezzo if p} == {("Arezzo", "Tuscany", "Italy")}
    # A big city's neighbourhoods are its own GeoNames places: the photo is in Berlin, not in Steglitz.
    assert by_rel["heic/photoprism/iphone_15_pro.heic"].city == "Berlin"  # type: ignore[union-attr]


def test_a_scan_gives_real_photos_the_place_of_their_exiftool_coordinates(testdata: Path, tmp_path: Path) -> None:
    # GIVEN a library of the GPS photos (and one whose GPS is the 0,0 of a receiver without a fix)
    coords = exiftool_gps(testdata)
    library = tmp_path / "lib"
    for rel in coords:
        target = library / rel.replace("/", "_")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(testdata / rel, target)
    empty = tmp_path / "no-models"
    empty.mkdir()
    settings = Settings(library=[library], data_dir=tmp_path / "data", workers={"kind": "thread", "count": 2},
                        models_dir=empty, inference={"download": False})
    sessions = open_database(settings.resolved_database_url)
    # WHEN it is scanned (the scan ends by geocoding what it read)
    Scanner(settings, sessions).scan(library)
    with sessions() as session:
        photos = {p.relpath: p for p in session.scalars(select(Photo))}
    want = gazetteer().lookup([ll[0] for ll in coords.values()], [ll[1] for ll in coords.values()], LIMIT_KM)
    for (rel, (lat, lon)), place in zip(coords.items(), want, strict=True):
        photo = photos[rel.replace("/", "_")]
        # THEN every photo has the place of the coordinates exiftool reads, and the 0,0 one has none
        assert photo.place_version == place_version(LIMIT_KM), rel
        if (lat, lon) == (0, 0):
            assert place is None and photo.place_country_code is None and photo.place_city is None, rel
            continue
        assert place is not None
        assert (photo.place_country_code, photo.place_region, photo.place_city) == (
            place.country_code, place.region, place.city), rel
        assert photo.place_country_code == expected_country(rel)


def test_invalid_gps_gets_no_place() -> None:
    # GIVEN coordinates that say nothing: no fix (0,0), out of range, not numbers; and the middle of the Atlantic
    lat = [0.0, 91.0, -90.5, 10.0, float("nan"), 38.7, float("inf"), 45.0]
    lon = [0.0, 0.0, 0.0, 181.0, 9.0, float("nan"), 9.0, -30.0]
    # WHEN they are looked up
    places = gazetteer().lookup(lat, lon, LIMIT_KM)
    # THEN none gets a place: invalid GPS is never guessed, and the ocean is farther than the limit from any town
    assert places == [None] * len(lat)
    assert valid_gps(np.array(lat), np.array(lon)).tolist() == [False] * 7 + [True]


def test_the_distance_limit_decides_whether_a_remote_photo_has_a_place() -> None:
    # GIVEN a point about 12 km off Lisbon's coast (the nearest towns: Cascais, Costa da Caparica)
    lat, lon = [38.60], [-9.45]
    # WHEN looked up with a generous and with a strict limit
    loose, strict = gazetteer().lookup(lat, lon, 50.0), gazetteer().lookup(lat, lon, 5.0)
    # THEN the first names the nearest coast in Portugal, the second claims nothing
    assert loose[0] is not None and loose[0].country_code == "PT" and 5.0 < loose[0].distance_km <= 50.0
    assert strict == [None]


def test_a_photo_keeps_the_country_and_region_it_is_in_near_a_bigger_city_across_a_border() -> None:
    # GIVEN Kehl (Germany) across the Rhine from Strasbourg (France), and Hoboken (New Jersey) across from New York
    places = gazetteer().lookup([48.5706, 40.7440, 40.7580], [7.8150, -74.0324, -73.9855], LIMIT_KM)
    # THEN the big city claims only its own side: Kehl stays German, Hoboken in New Jersey; Times Square is New York
    assert [(p.city, p.country_code) for p in places if p] == [("Kehl", "DE"), ("Hoboken", "US"),
                                                               ("New York City", "US")]


def test_the_gazetteer_is_loaded_once_and_its_version_follows_the_limit() -> None:
    # GIVEN the process's gazetteer
    first = gazetteer()
    # THEN asking again gives the same one, and a different limit gives a different place version
    assert gazetteer() is first and len(first) > 100_000
    assert place_version(50.0) == place_version(50.0) != place_version(25.0)
    assert (data_folder() / "geocode.gz").is_file()
