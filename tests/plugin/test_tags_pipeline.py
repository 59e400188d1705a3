"""Objects, tags and scenes through the whole pipeline: scan, store, find, export, missing models."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from plugin.cli import cli
from plugin.config import Settings
from plugin.export import iter_records
from plugin.scan import Scanner
from plugin.search import find_photos, tag_counts
from plugin.store.models import Analysis, Photo, PhotoFeature, PhotoTag

KITCHEN = "000000535506"  # a person, a microwave, an oven, bottles, books
DOG_AND_CAR = "000000332078"  # a dog, cars, a truck


@pytest.fixture
def coco_library(tmp_path: Path, coco: Callable[[str], Path]) -> Path:
    library = tmp_path / "photos"
    (library / "2024").mkdir(parents=True)
    shutil.copy(coco(KITCHEN), library / "2024" / "kitchen.jpg")
    shutil.copy(coco(DOG_AND_CAR), library / "dog.jpg")
    (library / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really")
    return library


def _tags(session: Session, relpath: str) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for tag in session.scalars(select(PhotoTag).join(Photo).where(Photo.relpath == relpath)):
        out.setdefault(tag.kind, set()).add(tag.tag)
    return out


def test_a_scan_tags_photos_and_finds_them_by_tag(coco_library: Path, settings_for: Callable[..., Settings],
                                                  sessions: sessionmaker[Session], models_dir: Path) -> None:
    # GIVEN two real photos and a broken file, with the models installed
    settings = settings_for(coco_library, models_dir=models_dir)
    # WHEN the library is scanned
    summary = Scanner(settings, sessions).scan(coco_library)
    assert summary.ok == 2
    with sessions() as session:
        # THEN each photo has its PICCL tags, its COCO classes and a scene
        kitchen = _tags(session, "2024/kitchen.jpg")
        assert {"person", "device"} <= kitchen["piccl"]
        assert {"person", "microwave"} <= kitchen["object"]
        assert kitchen["scene"] == {"people"}
        dog = _tags(session, "dog.jpg")
        assert {"animal", "vehicle"} <= dog["piccl"] and "dog" in dog["object"]
        assert len(dog["scene"]) == 1
        # AND a normalised 1280-d feature vector is kept for each
        features = session.scalars(select(PhotoFeature)).all()
        assert len(features) == 2
        for feature in features:
            vector = np.frombuffer(feature.vector, np.float16).astype(np.float32)
            assert feature.dim == vector.size == 1280 and abs(np.linalg.norm(vector) - 1) < 0.01
        # AND the broken file has no tags and no feature
        assert _tags(session, "broken.jpg") == {}
        # AND search combines terms
        assert [p.relpath for p, _ in find_photos(session, ["dog"])] == ["dog.jpg"]
        assert [p.relpath for p, _ in find_photos(session, ["animal", "vehicle"])] == ["dog.jpg"]
        assert [p.relpath for p, _ in find_photos(session, ["microwave"], scene="people")] == ["2024/kitchen.jpg"]
        assert list(find_photos(session, ["dog"], scene="building")) == []
        assert tag_counts(session)[("piccl", "person")] >= 1


def test_an_unchanged_library_is_not_analysed_again(coco_library: Path, settings_for: Callable[..., Settings],
                                                    sessions: sessionmaker[Session], models_dir: Path) -> None:
    settings = settings_for(coco_library, models_dir=models_dir)
    Scanner(settings, sessions).scan(coco_library)
    again = Scanner(settings, sessions).scan(coco_library)
    assert again.processed == 0
    # A tag threshold change re-runs only the model analyzers, and keeps the tag rows in step.
    stricter = settings.model_copy(update={"tags": settings.tags.model_copy(update={"min_score": 0.9})})
    rerun = Scanner(stricter, sessions).scan(coco_library)
    assert rerun.reanalysed == 2
    with sessions() as session:
        assert "microwave" not in _tags(session, "2024/kitchen.jpg").get("object", set())


def test_missing_models_are_reported_and_the_rest_carries_on(
        tmp_path: Path, coco_library: Path, settings_for: Callable[..., Settings],
        sessions: sessionmaker[Session], models_dir: Path) -> None:
    # GIVEN no models anywhere, and downloads off
    empty = tmp_path / "no-models"
    empty.mkdir()
    settings = settings_for(coco_library, models_dir=empty, inference={"download": False})
    # WHEN the library is scanned
    summary = Scanner(settings, sessions).scan(coco_library)
    # THEN every photo is still analysed for quality, and the model analyzers say "not installed"
    assert summary.ok == 2
    with sessions() as session:
        rows = session.scalars(select(Analysis).join(Photo).where(Photo.relpath == "dog.jpg")).all()
        by_name = {a.analyzer: a for a in rows}
        assert by_name["blur"].score is not None
        assert by_name["objects"].evidence["not_installed"] == "model yolox_nano not installed"
        assert by_name["scene"].evidence["not_installed"] == "model efficientnet_lite0 not installed"
        assert session.scalars(select(PhotoTag)).all() == []
        record = next(r for r in iter_records(session) if r["relpath"] == "dog.jpg")
        assert record["tags"] == {"not_installed": "model yolox_nano not installed"}
        assert record["scene"] == {"not_installed": "model efficientnet_lite0 not installed"}
    # AND once the models are installed, the next scan runs just those analyzers
    later = Scanner(settings.model_copy(update={"models_dir": models_dir}), sessions).scan(coco_library)
    assert later.reanalysed == 2
    with sessions() as session:
        assert "dog" in _tags(session, "dog.jpg")["object"]


def test_find_and_export_from_the_command_line(coco_library: Path, tmp_path: Path, models_dir: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PICCL_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("PICCL_MODELS_DIR", str(models_dir))
    monkeypatch.setenv("PICCL_WORKERS__KIND", "thread")
    runner = CliRunner()
    assert runner.invoke(cli, ["scan", str(coco_library)]).exit_code == 0
    # WHEN a user looks for dogs
    result = runner.invoke(cli, ["find", "--tag", "dog"])
    # THEN the one photo with a dog is listed by its full path
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [str(coco_library.resolve() / "dog.jpg")]
    result = runner.invoke(cli, ["find", "--tag", "person", "--json"])
    record = json.loads(result.stdout.splitlines()[0])
    assert record["scene"] == "people" and "person" in record["tags"] and "microwave" in record["objects"]
    assert runner.invoke(cli, ["find"]).exit_code != 0  # nothing to look for is a usage error
    # AND the export carries objects (boxes in photo pixels), tags and scene
    out = tmp_path / "export.jsonl"
    assert runner.invoke(cli, ["export", "-o", str(out)]).exit_code == 0
    records = {Path(r["path"]).name: r for r in map(json.loads, out.read_text().splitlines())}
    kitchen = records["kitchen.jpg"]
    assert {"person", "device"} <= set(kitchen["tags"]["piccl"]) and kitchen["tags"]["mapping"] == "piccl2021"
    assert kitchen["scene"]["label"] == "people"
    person = next(o for o in kitchen["objects"] if o["label"] == "person")
    x, y, w, h = person["box"]
    assert 0 <= x < x + w <= kitchen["width"] + 0.1 and 0 <= y < y + h <= kitchen["height"] + 0.1
    assert records["broken.jpg"]["objects"] is None and records["broken.jpg"]["scene"] is None


def test_models_list_and_verify(models_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PICCL_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("PICCL_MODELS_DIR", str(models_dir))
    result = CliRunner().invoke(cli, ["models", "verify"])
    assert result.exit_code == 0, result.output
    assert "yolox_nano" in result.output and "not installed" not in result.output
    monkeypatch.setenv("PICCL_MODELS_DIR", str(tmp_path))
    result = CliRunner().invoke(cli, ["models", "verify"])
    assert result.exit_code == 1 and "not installed" in result.output
