"""Shared fixtures: real data when present (skipping with a reason when not), synthetic photos, a store."""

from __future__ import annotations

import csv
import itertools
import os
import queue
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from PIL import Image
from sqlalchemy import Engine, make_url, text
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


# PICCL_TEST_DATABASE=postgresql runs every test on a PostgreSQL database of its own (on the server of
# PICCL_TEST_POSTGRES_URL) instead of SQLite; tests marked 'sqlite' are about SQLite and keep it.
TEST_DATABASE = os.environ.get("PICCL_TEST_DATABASE") or "sqlite"
ON_POSTGRES = TEST_DATABASE == "postgresql"


class _PostgresDatabases:
    """A migrated template database, made once per session, and a copy of it for each test.

    Copying (CREATE DATABASE ... TEMPLATE) costs about 70 ms of the server's time where migrating costs 700;
    a thread keeps the next copies ready and drops the used ones, so that a test waits for neither.
    """

    AHEAD = 2  # copies kept ready

    def __init__(self, server_url: str) -> None:
        self.url = make_url(server_url)
        admin = make_engine(self.url.set(database="postgres").render_as_string(hide_password=False))
        self.admin: Engine = admin.execution_options(isolation_level="AUTOCOMMIT")  # CREATE DATABASE needs it
        self.prefix = f"piccl_t{os.getpid()}_"
        self.template = f"{self.prefix}template"
        self.numbers = itertools.count()
        with self.admin.connect() as conn:
            self._drop(conn, self.template)
            conn.execute(text(f'CREATE DATABASE "{self.template}"'))
        template = open_database(self.url_of(self.template))
        template.kw["bind"].dispose()  # a template must have no connections while it is copied
        self._ready: queue.Queue[str | Exception] = queue.Queue()
        self._used: queue.Queue[str | None] = queue.Queue()
        self._worker = threading.Thread(target=self._work, name="piccl-test-databases", daemon=True)
        self._worker.start()

    def url_of(self, name: str) -> str:
        return self.url.set(database=name).render_as_string(hide_password=False)

    def take(self) -> str:
        """A fresh database's name (made ahead by the thread)."""
        name = self._ready.get(timeout=60)
        if isinstance(name, Exception):
            raise name
        self._used.put("")  # wakes the thread to make the next one
        return name

    def give_back(self, name: str) -> None:
        self._used.put(name)

    def close(self) -> None:
        self._used.put(None)
        self._worker.join(timeout=60)
        with self.admin.connect() as conn:
            for left in [*self._ready.queue, *self._used.queue]:  # what the thread left, should it have stopped
                if isinstance(left, str) and left:
                    self._drop(conn, left)
            self._drop(conn, self.template)
        self.admin.dispose()

    def _work(self) -> None:
        with self.admin.connect() as conn:
            while True:
                if self._ready.qsize() < self.AHEAD:
                    try:
                        name = f"{self.prefix}{next(self.numbers)}"
                        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"'))
                    except Exception as exc:  # the test that takes it says why
                        self._ready.put(exc)
                        return
                    self._ready.put(name)
                    continue
                used = self._used.get()  # a copy taken ("") or given back (its name), or the end (None)
                if used is None:
                    return
                if used:
                    self._drop(conn, used)

    @staticmethod
    def _drop(conn: Any, name: str) -> None:
        # FORCE ends the connections the test's engines still hold (pooled, or left to the garbage collector).
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def _postgres_databases() -> Iterator[_PostgresDatabases | None]:
    if TEST_DATABASE not in ("sqlite", "postgresql"):
        pytest.exit(f"PICCL_TEST_DATABASE={TEST_DATABASE}: 'sqlite' (the default) or 'postgresql'", 4)
    if not ON_POSTGRES:
        yield None
        return
    server = os.environ.get("PICCL_TEST_POSTGRES_URL")
    if not server:
        pytest.exit("PICCL_TEST_DATABASE=postgresql needs PICCL_TEST_POSTGRES_URL (.ci/run starts a server)", 4)
    databases = _PostgresDatabases(server)
    yield databases
    databases.close()


@pytest.fixture(autouse=True)
def _test_database(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch,
                   _postgres_databases: _PostgresDatabases | None) -> Iterator[str | None]:
    """Under PICCL_TEST_DATABASE=postgresql: a fresh migrated PostgreSQL database for this test, in
    PICCL_DATABASE_URL so that every Settings the test and piccl build (subprocesses too) use it."""
    if _postgres_databases is None or request.node.get_closest_marker("sqlite") is not None:
        monkeypatch.delenv("PICCL_DATABASE_URL", raising=False)
        yield None
        return
    name = _postgres_databases.take()
    url = _postgres_databases.url_of(name)
    monkeypatch.setenv("PICCL_DATABASE_URL", url)
    yield url
    _postgres_databases.give_back(name)


@pytest.fixture
def database_url(_test_database: str | None, tmp_path: Path) -> str:
    """The database a test's store lives in: its own PostgreSQL database, or an SQLite file in tmp_path."""
    return _test_database or f"sqlite:///{tmp_path / 'store.sqlite3'}"


@pytest.fixture
def sessions(database_url: str) -> Iterator[sessionmaker[Session]]:
    made = open_database(database_url)
    yield made
    made.kw["bind"].dispose()


def store_on(database: str, tmp_path: Path) -> sessionmaker[Session]:
    """A migrated store on ``database`` ('sqlite', a file in tmp_path, or 'postgresql', the test server emptied):
    for the tests run on both whatever PICCL_TEST_DATABASE says."""
    if database == "sqlite":
        return open_database(f"sqlite:///{tmp_path / 'store.sqlite3'}")
    return open_database(empty_postgres())


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
