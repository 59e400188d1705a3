"""Faces through the whole pipeline: scan, people formed, CLI corrections, export, re-scan, changed photos."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from plugin.cli import cli
from plugin.config import Settings
from plugin.store.db import open_database
from plugin.store.models import Face, Person, Photo
from plugin.thumbnails import face_thumbnail_path

OBAMA = ["obama-720p.jpg", "obama-480p.jpg", "knn_train/obama/obama.jpg", "knn_train/obama/obama2.jpg",
         "knn_test/obama1.jpg"]
OTHERS = ["biden.jpg", "knn_train/rose_leslie/img1.jpg", "knn_train/kit_harington/john1.jpeg"]


@pytest.fixture
def face_library(tmp_path: Path, testdata: Path, models_dir: Path) -> Path:
    source = testdata / "faces_face_recognition"
    library = tmp_path / "photos"
    library.mkdir()
    for n, name in enumerate(OBAMA + OTHERS):
        shutil.copy(source / name, library / f"{n:02d}_{Path(name).name}")
    return library


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    data = tmp_path / "data"
    monkeypatch.setenv("PICCL_DATA_DIR", str(data))
    monkeypatch.setenv("PICCL_WORKERS__KIND", "thread")
    monkeypatch.setenv("PICCL_WORKERS__COUNT", "2")
    return data


def _db(data: Path) -> sessionmaker[Session]:
    return open_database(Settings(data_dir=data).resolved_database_url)  # the CLI's: SQLite or the test's PostgreSQL


def test_scan_groups_faces_into_people_that_the_cli_names_and_merges(face_library: Path, env: Path) -> None:
    runner = CliRunner()
    # GIVEN a library with five photos of one man and three other people seen once
    # WHEN it is scanned
    result = runner.invoke(cli, ["scan", str(face_library)])
    assert result.exit_code == 0, result.output
    assert "faces" in result.output and "people" in result.output
    # THEN one person is formed from his five faces; the others wait unassigned
    listed = json.loads(runner.invoke(cli, ["people", "list", "--json"]).stdout)
    assert len(listed) == 1 and listed[0]["faces"] == 5 and listed[0]["name"] is None
    person_id = listed[0]["id"]
    sessions = _db(env)
    with sessions() as session:
        faces = session.scalars(select(Face).join(Photo)).all()
        assert len(faces) == len(OBAMA + OTHERS)
        # AND each face crop was saved during the scan (no second decode for the People page)
        for face in faces:
            assert face_thumbnail_path(env / "thumbnails", face.photo.content_hash, face.box).is_file()
    # WHEN the user names him from the command line
    result = runner.invoke(cli, ["people", "name", str(person_id), "Barack", "Obama"])
    assert result.exit_code == 0, result.output
    # THEN the export carries the faces with box, score, person and whether confirmed
    out = runner.invoke(cli, ["export"]).stdout
    records = {Path(r["relpath"]).name: r for r in map(json.loads, out.splitlines())}
    obama = records["00_obama-720p.jpg"]["faces"]
    assert len(obama) == 1
    assert obama[0]["person_name"] == "Barack Obama" and obama[0]["person_id"] == person_id
    assert obama[0]["confirmed"] is False and len(obama[0]["box"]) == 4 and obama[0]["score"] > 0.7
    assert records["05_biden.jpg"]["faces"][0]["person_id"] is None
    # WHEN a second person is made by hand and merged into the first
    with sessions() as session:
        biden_face = session.scalars(select(Face).join(Photo).where(Photo.relpath == "05_biden.jpg")).one()
        from plugin.people.service import move_faces

        other = move_faces(session, [biden_face.id], None, new_name="Joe")
        session.commit()
        other_id = other.id
    result = runner.invoke(cli, ["people", "merge", str(person_id), str(other_id)])
    assert result.exit_code == 0, result.output
    # THEN one person holds all six faces and the other is gone
    listed = json.loads(runner.invoke(cli, ["people", "list", "--json"]).stdout)
    assert [(p["id"], p["faces"]) for p in listed] == [(person_id, 6)]
    # AND an unknown person is a clear error, not a crash
    result = runner.invoke(cli, ["people", "name", "999", "Nobody"])
    assert result.exit_code != 0 and "no person 999" in result.output


def test_rescan_keeps_people_and_corrections_and_a_changed_photo_loses_its_faces(
        face_library: Path, env: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(cli, ["scan", str(face_library)]).exit_code == 0
    sessions = _db(env)
    with sessions() as session:
        person = session.scalars(select(Person)).one()
        person.name = "Barack"
        face = session.scalars(select(Face).join(Photo).where(Photo.relpath == "00_obama-720p.jpg")).one()
        face.confirmed = True
        face_id = face.id
        session.commit()
    # WHEN the faces settings change (every photo is re-analysed) and the library is scanned again
    result = runner.invoke(cli, ["scan", str(face_library)], env={"PICCL_FACES__MAX_FACES": "40"})
    assert result.exit_code == 0, result.output
    # THEN each face keeps its row, person and confirmation
    with sessions() as session:
        face = session.get(Face, face_id)
        assert face is not None and face.confirmed and face.person.name == "Barack"
        assert session.scalars(select(Person)).one().face_count == 5
    # WHEN one of his photos is replaced by a photo without a face
    Image.new("RGB", (640, 480), (90, 140, 200)).save(face_library / "00_obama-720p.jpg")
    assert runner.invoke(cli, ["scan", str(face_library)]).exit_code == 0
    # THEN its face is gone and his count follows
    with sessions() as session:
        assert session.get(Face, face_id) is None
        assert session.scalars(select(Person)).one().face_count == 4


def test_faces_cluster_command_reports(face_library: Path, env: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(cli, ["scan", str(face_library)]).exit_code == 0
    result = runner.invoke(cli, ["faces", "cluster", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["people_after"] == 1 and report["new_people"] == 0 and report["faces"] >= 8
