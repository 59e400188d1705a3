"""``piccl writeback`` on a scanned library: named people and tags reach the sidecars, renames follow."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from plugin.cli import cli

pytestmark = pytest.mark.skipif(shutil.which("exiftool") is None,
                                reason="exiftool is not installed (.ci/run installs libimage-exiftool-perl)")


def subjects(path: Path) -> list[str]:
    out = json.loads(subprocess.run(["exiftool", "-json", "-Subject", "-RegionName", str(path)],
                                    capture_output=True, text=True, check=True).stdout)[0]
    values = out.get("Subject", [])
    return values if isinstance(values, list) else [values]


def test_writeback_names_people_in_sidecars_and_follows_a_rename(  # type: ignore[no-untyped-def]
        tmp_path: Path, testdata: Path, models_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = testdata / "faces_face_recognition"
    library = tmp_path / "photos"
    library.mkdir()
    for n, name in enumerate(["obama-720p.jpg", "obama-480p.jpg", "knn_train/obama/obama.jpg"]):
        shutil.copy(source / name, library / f"{n}.jpg")
    monkeypatch.setenv("PICCL_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("PICCL_WORKERS__KIND", "thread")
    monkeypatch.setenv("PICCL_MODELS_DIR", str(models_dir))
    runner = CliRunner()
    assert runner.invoke(cli, ["scan", str(library)]).exit_code == 0
    [person] = json.loads(runner.invoke(cli, ["people", "list", "--json"]).stdout)
    assert runner.invoke(cli, ["people", "name", str(person["id"]), "Barack"]).exit_code == 0
    # WHEN the user writes back, first as a dry run
    dry = runner.invoke(cli, ["writeback", "--dry-run", "--json"])
    assert json.loads(dry.stdout)["sidecars"]["counts"] == {"would write": 3} and not list(library.glob("*.xmp"))
    done = json.loads(runner.invoke(cli, ["writeback", "--json"]).stdout)
    # THEN each photo has a sidecar naming him, with piccl's tags, and a second run writes nothing
    assert done["sidecars"]["counts"] == {"written": 3}
    for n in range(3):
        assert {"Barack", "person"} <= set(subjects(library / f"{n}.jpg.xmp"))
    assert json.loads(runner.invoke(cli, ["writeback", "--json"]).stdout)["sidecars"]["counts"] == {"unchanged": 3}
    # WHEN he is renamed in piccl
    runner.invoke(cli, ["people", "name", str(person["id"]), "Barack Obama"])
    assert json.loads(runner.invoke(cli, ["writeback", "--json"]).stdout)["sidecars"]["counts"] == {"written": 3}
    # THEN the old name is gone from the sidecars and the new one is there
    names = subjects(library / "0.jpg.xmp")
    assert "Barack Obama" in names and "Barack" not in names
    # WHEN a sidecar is broken by another program, and he is renamed again
    (library / "1.jpg.xmp").write_text("<not xmp")
    runner.invoke(cli, ["people", "name", str(person["id"]), "Obama"])
    report = json.loads(runner.invoke(cli, ["writeback", "--json"]).stdout)["sidecars"]
    # THEN that one fails with its reason (the file left alone), the others are written, and status says so
    assert report["counts"] == {"written": 2, "failed": 1}
    assert report["failures"][0]["photo"] == "1.jpg" and "not valid XML" in report["failures"][0]["reason"]
    assert (library / "1.jpg.xmp").read_text() == "<not xmp"
    status = runner.invoke(cli, ["status"]).stdout
    assert "write-back" in status and "1 failed" in status and "1.jpg" in status
