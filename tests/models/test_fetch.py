"""The model manifest and model lookup (never weights in the repo)."""

from __future__ import annotations

from pathlib import Path

from models.fetch import ModelState, load_manifest, locate


def test_manifest_names_every_model_with_a_hash() -> None:
    manifest = load_manifest()
    assert {"yolox_nano", "yunet", "mobilefacenet", "efficientnet_lite0"} <= set(manifest)
    for spec in manifest.values():
        assert len(spec.sha256) == 64 and spec.file.endswith(".onnx")


def test_models_are_found_and_verified_in_the_models_dir(models_dir: Path) -> None:
    for spec in load_manifest().values():
        status = locate(spec, [models_dir])
        assert status.state is ModelState.OK, spec.name
        assert status.path == models_dir / spec.file


def test_missing_and_corrupt_models_are_reported_not_raised(tmp_path: Path) -> None:
    spec = load_manifest()["yunet"]
    assert locate(spec, [tmp_path]).state is ModelState.NOT_INSTALLED
    (tmp_path / spec.file).write_bytes(b"not a model")
    assert locate(spec, [tmp_path]).state is ModelState.CORRUPT
