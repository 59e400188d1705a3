"""The `piccl` command as a user runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from plugin.cli import cli
from tests.conftest import PhotoFactory

EXPORT_KEYS = {"path", "status", "error", "width", "height", "taken_at", "taken_at_source", "gps", "camera",
               "quality", "recommendation"}


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.setenv("PICCL_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("PICCL_WORKERS__KIND", "thread")
    return {"PICCL_DATA_DIR": str(tmp_path / "data")}


def test_scan_status_export(tmp_path: Path, make_photo: PhotoFactory, env: dict[str, str]) -> None:
    # GIVEN a folder with a sharp photo with GPS, a blurry one, and a broken file
    library = tmp_path / "photos"
    make_photo(library / "a.jpg", 1200, 900, exif_ifd={0x9003: "2024:05:01 10:00:00", 0x9011: "+01:00"},
               gps={1: "N", 2: (48.0, 51.0, 0.0), 3: "E", 4: (2.0, 21.0, 0.0)}, exif={0x010F: "Apple"})
    make_photo(library / "b.jpg", 1200, 900, blur=7, seed=4)
    (library / "c.jpg").write_bytes(b"")
    runner = CliRunner()
    # WHEN it is scanned
    result = runner.invoke(cli, ["scan", str(library)])
    assert result.exit_code == 0, result.output
    assert "photos" in result.output and "empty_file" in result.output
    # THEN status tells the story
    result = runner.invoke(cli, ["status"])
    assert result.exit_code == 0, result.output
    assert "blurry 1" in result.output
    # AND export writes one full record per photo
    out = tmp_path / "export.jsonl"
    result = runner.invoke(cli, ["export", "--format", "jsonl", "--output", str(out)])
    assert result.exit_code == 0, result.output
    records = {Path(r["path"]).name: r for r in map(json.loads, out.read_text().splitlines())}
    assert set(records) == {"a.jpg", "b.jpg", "c.jpg"}
    for record in records.values():
        assert set(record) >= EXPORT_KEYS
    a = records["a.jpg"]
    assert a["taken_at"] == "2024-05-01T10:00:00+01:00" and a["taken_at_source"] == "exif"
    assert a["gps"]["lat"] == pytest.approx(48.85) and a["gps"]["alt"] is None
    assert a["camera"]["make"] == "Apple"
    assert set(a["quality"]["blur"]) >= {"score", "blurry", "kind", "method"}
    assert set(a["quality"]["exposure"]) >= {"score", "dark"}
    assert records["b.jpg"]["recommendation"]["reasons"] == ["blurry"]
    assert records["c.jpg"]["status"] == "error" and records["c.jpg"]["error"].startswith("empty_file")
    assert records["b.jpg"]["taken_at_source"] == "file_mtime"


def test_doctor_reports_every_area(tmp_path: Path, env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PICCL_LIBRARY", str(tmp_path))
    result = CliRunner().invoke(cli, ["doctor"])
    assert result.exit_code == 0, result.output
    for area in ("config", "library", "data_dir", "database", "decoders", "models"):
        assert area in result.output


def test_doctor_fails_on_a_missing_library(tmp_path: Path, env: dict[str, str],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PICCL_LIBRARY", str(tmp_path / "nowhere"))
    result = CliRunner().invoke(cli, ["doctor"])
    assert result.exit_code == 1
    assert "not a folder" in result.output


def test_bad_configuration_is_a_clear_error(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PICCL_BLUR__METHOD", "magic")
    result = CliRunner().invoke(cli, ["status"])
    assert result.exit_code != 0
    assert "blur.method" in result.output


def test_the_installed_entry_point_runs(tmp_path: Path, make_photo: PhotoFactory) -> None:
    make_photo(tmp_path / "photos" / "a.jpg", 600, 400)
    env = {**os.environ, "PICCL_DATA_DIR": str(tmp_path / "data")}
    piccl = Path(sys.executable).with_name("piccl")
    command = [str(piccl)] if piccl.exists() else [sys.executable, "-m", "plugin"]
    result = subprocess.run([*command, "scan", "--json", str(tmp_path / "photos")], env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)[0]["ok"] == 1
