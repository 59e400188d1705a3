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


def test_download_keeps_only_a_file_whose_hash_matches(tmp_path: Path) -> None:
    import dataclasses
    import functools
    import hashlib
    import http.server
    import threading

    import pytest

    from models.fetch import download

    # GIVEN a model file served over HTTP on this machine
    served = tmp_path / "served"
    served.mkdir()
    payload = b"onnx bytes" * 1000
    (served / "m.onnx").write_bytes(payload)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/m.onnx"
        spec = dataclasses.replace(load_manifest()["yunet"], file="m.onnx", url=url,
                                   sha256=hashlib.sha256(payload).hexdigest())
        # WHEN it is downloaded with the right hash THEN it lands in the cache
        path = download(spec, tmp_path / "cache")
        assert path.read_bytes() == payload
        # AND with a wrong hash nothing is kept
        bad = dataclasses.replace(spec, file="bad.onnx", url=url, sha256="0" * 64)
        with pytest.raises(RuntimeError, match="sha256"):
            download(bad, tmp_path / "cache")
        assert not (tmp_path / "cache" / "bad.onnx").exists()
        assert not list((tmp_path / "cache").glob("*.part"))
    finally:
        server.shutdown()
