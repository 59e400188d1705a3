"""Shared fixtures: real data when present (skipping with a reason when not), synthetic photos, a store."""

from __future__ import annotations

import csv
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from PIL import Image
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from plugin.analyzers.base import AnalysisInput
from plugin.config import Settings
from plugin.reading.decode import DecodedPhoto, ReadOptions, read_photo
from plugin.store.db import make_engine, open_database


def _shared(var: str, sub: str) -> Path:
    value = os.environ.get(var)
    if not value:
        pytest.skip(f"{var} is not set: real {sub} are in ../shared (see README, 'Tests')")
    path = Path(value)
    if not path.is_dir():
        pytest.skip(f"{var}={value} is not a folder")
    return path


@pytest.fixture(autouse=True)
def _no_model_downloads(monkeypatch: pytest.MonkeyPatch) -> None:
    # Tests never reach out to the internet for a model: a missing one must read "not installed".
    monkeypatch.setenv("PICCL_INFERENCE__DOWNLOAD", "false")


@pytest.fixture(scope="session")
def testdata() -> Path:
    return _shared("PICCL_TESTDATA", "photos")


@pytest.fixture(scope="session")
def models_dir() -> Path:
    return _shared("PICCL_MODELS_DIR", "models")


@pytest.fixture(scope="session")
def coco(testdata: Path) -> Callable[[str], Path]:
    """A COCO photo of objects_coco_mini by its file number, e.g. coco("000000535506")."""
    folder = testdata / "objects_coco_mini" / "train2017"
    if not folder.is_dir():
        pytest.skip(f"{folder} is missing")

    def find(number: str) -> Path:
        return folder / f"{number}.jpg"

    return find


def coco_classes(testdata: Path) -> dict[str, set[str]]:
    """For each COCO photo (file number), the classes annotated in it."""
    out = {}
    for row in labels(testdata / "objects_coco_mini"):
        classes = {part.split(":")[0] for part in row["categories_with_counts"].split(";") if part}
        out[Path(row["file"]).stem] = classes
    return out


def textured(width: int, height: int, seed: int = 0) -> np.ndarray:
    """A photo-like RGB image: smooth shading at many scales, hard-edged objects, thin lines, sensor noise.

    Natural photos have detail at every scale (a roughly 1/f spectrum); flat shapes on iid noise do not,
    and make poor stand-ins for a sharp photo.
    """
    rng = np.random.default_rng(seed)
    img = np.zeros((height, width, 3), np.float32)
    for octave in range(1, 8):
        cells = 2**octave
        small = rng.normal(0, 1, (max(2, cells * height // width), cells, 3)).astype(np.float32)
        img += cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC) * (40 / octave)
    img += 128
    scale = max(width, height) / 1000
    for _ in range(80):
        colour = tuple(float(c) for c in rng.integers(0, 256, 3))
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        r = int(rng.integers(max(3, int(8 * scale)), max(6, int(90 * scale))))
        if rng.random() < 0.5:
            cv2.circle(img, (x, y), r, colour, -1)
        else:
            cv2.rectangle(img, (x, y), (x + r, y + r // 2), colour, -1)
    for _ in range(120):  # twigs, wires, letters: the fine detail a sharp photo has
        colour = tuple(float(c) for c in rng.integers(0, 256, 3))
        p1 = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        p2 = (p1[0] + int(rng.integers(-60, 60) * scale), p1[1] + int(rng.integers(-60, 60) * scale))
        cv2.line(img, p1, p2, colour, max(1, int(scale)))
    img += rng.normal(0, 3, (height, width, 1)).astype(np.float32)
    return np.clip(img, 0, 255).astype(np.uint8)


def plain(value: Any) -> bool:
    """True when ``value`` is made of plain JSON types only (no numpy scalars): evidence must be."""
    if isinstance(value, dict):
        return all(isinstance(k, str) and plain(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return all(plain(v) for v in value)
    return value is None or type(value) in (str, int, float, bool)


def labels(folder: Path) -> list[dict[str, str]]:
    """A labelled data set's labels.csv, or a skip saying it is missing."""
    if not (folder / "labels.csv").is_file():
        pytest.skip(f"{folder} has no labels.csv")
    with (folder / "labels.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


def analysis_input(path: Path) -> AnalysisInput:
    """A real photo read exactly as a scan reads it (DCT scaling, orientation, EXIF)."""
    decoded = read_photo(path.read_bytes(), ReadOptions())
    assert isinstance(decoded, DecodedPhoto), (path, decoded)
    return AnalysisInput(decoded.grey, decoded.rgb, (decoded.width, decoded.height), decoded.exif.exposure)


PhotoFactory = Callable[..., Path]


@pytest.fixture
def make_photo() -> PhotoFactory:
    """Write a synthetic JPEG (or any Pillow format) with optional EXIF; returns its path."""

    def make(path: Path, width: int = 1600, height: int = 1200, *, blur: float = 0, gain: float = 1.0,
             seed: int = 0, exif: dict[int, Any] | None = None, exif_ifd: dict[int, Any] | None = None,
             gps: dict[int, Any] | None = None, fmt: str = "JPEG", quality: int = 90) -> Path:
        rgb = textured(width, height, seed)
        if blur:
            rgb = cv2.GaussianBlur(rgb, (0, 0), blur)
        if gain != 1.0:
            rgb = np.clip(rgb.astype(np.float32) * gain, 0, 255).astype(np.uint8)
        image = Image.fromarray(rgb)
        info = Image.Exif()
        for tag, value in (exif or {}).items():
            info[tag] = value
        if exif_ifd:
            info.get_ifd(0x8769).update(exif_ifd)
        if gps:
            info.get_ifd(0x8825).update(gps)
        path.parent.mkdir(parents=True, exist_ok=True)
        kwargs: dict[str, Any] = {"exif": info.tobytes()} if (exif or exif_ifd or gps) else {}
        if fmt == "JPEG":
            kwargs["quality"] = quality
        image.save(path, fmt, **kwargs)
        return path

    return make


@pytest.fixture
def settings_for(tmp_path: Path) -> Callable[..., Settings]:
    def build(library: Path | None = None, **overrides: Any) -> Settings:
        workers = {"count": 2, "kind": "thread", **overrides.pop("workers", {})}
        return Settings(library=[library] if library else [], data_dir=tmp_path / "data", workers=workers, **overrides)

    return build


@pytest.fixture
def sessions(tmp_path: Path) -> sessionmaker[Session]:
    return open_database(f"sqlite:///{tmp_path / 'store.sqlite3'}")


def empty_postgres() -> str:
    """The test PostgreSQL server's URL, its database emptied; or a skip saying there is none."""
    url = os.environ.get("PICCL_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("PICCL_TEST_POSTGRES_URL is not set (.ci/run starts a PostgreSQL server and sets it)")
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()
    return url
