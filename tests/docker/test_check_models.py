"""docker/check_models.py: what MODELS=bundled lets into the image after `piccl models fetch`."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from models.fetch import load_manifest
from tests.docker.files import DOCKER, ROOT


def _check(folder: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(DOCKER / "check_models.py"), str(folder)], capture_output=True,
                          text=True, timeout=120, cwd=ROOT)


def test_missing_downloads_fail_the_build(tmp_path: Path) -> None:
    # GIVEN a models folder where the downloads did not arrive
    # WHEN the build checks it
    result = _check(tmp_path)
    # THEN it fails naming each model that has a download, and only reports the one that has none
    assert result.returncode == 1
    with_url = {name for name, spec in load_manifest().items() if spec.url}
    without_url = set(load_manifest()) - with_url
    assert {line.split(":")[0].removeprefix("model ") for line in result.stderr.splitlines()} == with_url
    for name in without_url:
        assert f"model {name}: not bundled" in result.stdout


def test_a_wrong_file_fails_the_build(tmp_path: Path) -> None:
    # GIVEN a file with a model's name but not its content
    spec = load_manifest()["yunet"]
    (tmp_path / spec.file).write_bytes(b"not a model")
    # WHEN the build checks the folder
    result = _check(tmp_path)
    # THEN the wrong file is named
    assert result.returncode == 1
    assert "model yunet:" in result.stderr and "size or sha256" in result.stderr


def test_the_real_models_pass(models_dir: Path, tmp_path: Path) -> None:
    # GIVEN every model file of the manifest, as ../shared/models has them (PICCL_MODELS_DIR)
    for spec in load_manifest().values():
        shutil.copy(models_dir / spec.file, tmp_path / spec.file)
    # WHEN the build checks the folder
    result = _check(tmp_path)
    # THEN each is ok
    assert result.returncode == 0, result.stderr
    assert result.stdout.count(": ok (") == len(load_manifest())
