"""EXIF facts: dates with offsets, GPS with validation, camera, exposure; never a crash on bad EXIF."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
from datetime import datetime
from pathlib import Path

import pytest
from PIL.TiffImagePlugin import IFDRational

from plugin.reading.decode import DecodedPhoto, ReadOptions, read_photo
from plugin.reading.exif import parse_exif_datetime, parse_offset, parse_subsec
from tests.conftest import PhotoFactory


def _facts(path: Path) -> DecodedPhoto:
    photo = read_photo(path.read_bytes(), ReadOptions())
    assert isinstance(photo, DecodedPhoto), photo
    return photo


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2021:04:11 15:47:53", datetime(2021, 4, 11, 15, 47, 53)),
        ("2021-04-11 15:47:53", datetime(2021, 4, 11, 15, 47, 53)),
        ("2021:04:11 15:47:53\x00", datetime(2021, 4, 11, 15, 47, 53)),
        ("0000:00:00 00:00:00", None),
        ("    :  :     :  :  ", None),
        ("1970:01:01 00:00:00", None),
        ("2021:13:40 99:00:00", None),
        (b"2020:01:02 03:04:05", datetime(2020, 1, 2, 3, 4, 5)),
        (12345, None),
    ],
)
def test_exif_dates(text: object, expected: datetime | None) -> None:
    assert parse_exif_datetime(text) == expected


@pytest.mark.parametrize(("text", "minutes"), [("+02:00", 120), ("-05:30", -330), ("+0545", 345),
                                               ("Z", None), ("+25:00", None), (None, None)])
def test_exif_offsets(text: object, minutes: int | None) -> None:
    assert parse_offset(text) == minutes


def test_date_offset_gps_and_camera_are_read(tmp_path: Path, make_photo: PhotoFactory) -> None:
    # GIVEN a photo with DateTimeOriginal, OffsetTimeOriginal, GPS (south/west, below sea level) and camera
    path = make_photo(
        tmp_path / "a.jpg", 200, 150,
        exif={0x010F: "Canon", 0x0110: "EOS R6"},
        exif_ifd={0x9003: "2024:07:01 18:30:00", 0x9011: "+02:00", 0x829A: 1 / 60, 0x8827: 800},
        gps={1: "S", 2: (33.0, 51.0, 54.0), 3: "W", 4: (151.0, 12.0, 36.0), 5: b"\x01", 6: 12.5},
    )
    # WHEN it is read
    exif = _facts(path).exif
    # THEN every fact is there, signed and converted to decimal degrees
    assert exif.taken_at == datetime(2024, 7, 1, 18, 30)
    assert exif.taken_at_offset_min == 120
    assert exif.gps_lat == pytest.approx(-33.865, abs=1e-6)
    assert exif.gps_lon == pytest.approx(-151.21, abs=1e-6)
    assert exif.gps_alt == pytest.approx(-12.5)
    assert (exif.make, exif.model) == ("Canon", "EOS R6")
    assert exif.exposure.exposure_time_s == pytest.approx(1 / 60)
    assert exif.exposure.iso == 800


@pytest.mark.parametrize(
    "gps",
    [
        {1: "N", 2: (0.0, 0.0, 0.0), 3: "E", 4: (0.0, 0.0, 0.0)},  # no fix
        {1: "N", 2: (95.0, 0.0, 0.0), 3: "E", 4: (10.0, 0.0, 0.0)},  # impossible latitude
        {1: "N", 2: (45.0, 0.0, 0.0), 3: "E", 4: (190.0, 0.0, 0.0)},  # impossible longitude
        {1: "N", 2: (45.0, 0.0, 0.0), 3: "E", 4: (IFDRational(5, 0), 0.0, 0.0)},  # x/0
    ],
)
def test_impossible_gps_is_rejected(tmp_path: Path, make_photo: PhotoFactory, gps: dict) -> None:
    exif = _facts(make_photo(tmp_path / "g.jpg", 100, 80, gps=gps)).exif
    assert exif.gps_lat is None and exif.gps_lon is None


def test_offset_is_derived_from_gps_time_when_the_camera_wrote_none(tmp_path: Path, make_photo: PhotoFactory) -> None:
    # GIVEN local time 16:28 and a GPS (UTC) time of 14:28 the same day
    path = make_photo(tmp_path / "o.jpg", 100, 80, exif_ifd={0x9003: "2008:10:22 16:28:39"},
                      gps={1: "N", 2: (43.0, 28.0, 0.0), 3: "E", 4: (11.0, 53.0, 0.0),
                           7: (14.0, 28.0, 39.0), 29: "2008:10:22"})
    # THEN the offset is +02:00
    assert _facts(path).exif.taken_at_offset_min == 120


# --- real files ------------------------------------------------------------------------------------


def test_exif_samples_match_the_reference_readout(testdata: Path) -> None:
    # GIVEN 101 camera files and a reference readout of their EXIF
    root = testdata / "exif_ianare"
    mismatches = []
    for row in csv.DictReader((root / "pillow_readout.csv").open()):
        photo = _facts(root / row["file"])
        exif = photo.exif
        if row["lat"]:
            if exif.gps_lat is None or abs(exif.gps_lat - float(row["lat"])) > 1e-5 \
                    or abs(exif.gps_lon - float(row["lon"])) > 1e-5:  # type: ignore[operator]
                mismatches.append((row["file"], "gps", exif.gps_lat, exif.gps_lon))
        elif exif.gps_lat is not None:
            mismatches.append((row["file"], "unexpected gps"))
        if row["datetime"]:
            got = exif.taken_at.strftime("%Y:%m:%d %H:%M:%S") if exif.taken_at else None
            if got != row["datetime"]:
                mismatches.append((row["file"], "date", got, row["datetime"]))
        if row["orientation"] and photo.format != "HEIF" and int(row["orientation"]) != exif.orientation:
            mismatches.append((row["file"], "orientation", exif.orientation))
        camera = " ".join(x for x in (exif.make, exif.model) if x)
        # Pillow's readout keeps bytes after an EXIF string's NUL terminator; exiftool (and piccl) do not.
        if row["make_model"] and camera != row["make_model"].split(" F")[0] and camera != row["make_model"]:
            mismatches.append((row["file"], "camera", camera, row["make_model"]))
    # THEN they agree
    assert mismatches == []


@pytest.mark.skipif(shutil.which("exiftool") is None, reason="exiftool is not installed (apt-get install "
                    "libimage-exiftool-perl)")
def test_gps_and_dates_agree_with_exiftool(testdata: Path) -> None:
    folder = testdata / "exif_ianare" / "jpg" / "gps"
    out = subprocess.run(["exiftool", "-j", "-n", "-GPSLatitude", "-GPSLongitude", "-GPSAltitude",
                          "-DateTimeOriginal", "-Model", str(folder)], capture_output=True, check=True, text=True)
    for ref in json.loads(out.stdout):
        exif = _facts(Path(ref["SourceFile"])).exif
        assert exif.gps_lat == pytest.approx(ref["GPSLatitude"], abs=1e-6)
        assert exif.gps_lon == pytest.approx(ref["GPSLongitude"], abs=1e-6)
        if "GPSAltitude" in ref:
            assert exif.gps_alt == pytest.approx(ref["GPSAltitude"], abs=0.01)
        assert exif.taken_at is not None and exif.taken_at.strftime("%Y:%m:%d %H:%M:%S") == ref["DateTimeOriginal"]
        assert exif.model == ref["Model"].strip()


def test_heic_photos_give_their_exif(testdata: Path) -> None:
    exif = _facts(testdata / "exif_ianare" / "heic" / "IMG_5195.HEIC").exif
    assert exif.gps_lat == pytest.approx(39.051344, abs=1e-5)
    assert exif.gps_lon == pytest.approx(-94.288772, abs=1e-5)
    assert exif.taken_at == datetime(2021, 4, 11, 15, 47, 53, 54000)  # SubSecTimeOriginal "054"
    assert (exif.make, exif.model) == ("Apple", "iPhone 11 Pro Max")


def test_broken_exif_never_costs_the_photo(testdata: Path) -> None:
    for path in sorted((testdata / "exif_ianare" / "jpg").glob("*/*.jpg")):
        if path.parent.name in ("invalid", "tests"):
            result = read_photo(path.read_bytes(), ReadOptions())
            assert isinstance(result, DecodedPhoto), (path.name, result)


def test_subsec_time_becomes_microseconds_so_burst_shots_of_one_second_differ() -> None:
    assert parse_subsec("054") == 54000 and parse_subsec("5") == 500000 and parse_subsec("1234567") == 123456
    assert parse_subsec(None) == 0 and parse_subsec("  ") == 0 and parse_subsec("ab") == 0
