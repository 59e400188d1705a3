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


def test_manifest_hashes_and_sizes_agree_with_the_shared_models_readme(models_dir: Path) -> None:
    # The README of ../shared/models lists each file with its byte count and sha256.
    readme = (models_dir / "README.md").read_text()
    for spec in load_manifest().values():
        row = next((line for line in readme.splitlines() if line.startswith(f"| {spec.file} |")), None)
        assert row is not None, spec.file
        cells = [c.strip() for c in row.split("|")]
        assert cells[3] == spec.sha256, spec.name
        assert int(cells[2].replace(",", "")) == spec.bytes, spec.name


def test_manifest_describes_inputs_sources_and_tasks() -> None:
    for spec in load_manifest().values():
        assert spec.task and spec.source and spec.license
        assert {"name", "shape", "colour", "resize", "scale"} <= set(spec.input), spec.name


def test_a_truncated_copy_is_caught_by_its_size(tmp_path: Path, models_dir: Path) -> None:
    spec = load_manifest()["yunet"]
    data = (models_dir / spec.file).read_bytes()
    (tmp_path / spec.file).write_bytes(data[: len(data) // 2])
    status = locate(spec, [tmp_path])
    assert status.state is ModelState.CORRUPT and "size or sha256" in status.detail


class _Server:
    """A real HTTP server on 127.0.0.1 serving one folder."""

    def __init__(self, folder: Path) -> None:
        import functools
        import http.server
        import threading

        handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/{name}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def test_a_corrupt_cached_model_is_fetched_again_and_a_users_copy_is_only_reported(
        tmp_path: Path, models_dir: Path) -> None:
    import dataclasses

    from models.fetch import resolve

    # GIVEN the real YuNet file served over HTTP, a cache holding a truncated copy,
    # and a user's models folder holding a corrupt one
    spec = load_manifest()["yunet"]
    served = tmp_path / "served"
    served.mkdir()
    (served / spec.file).write_bytes((models_dir / spec.file).read_bytes())
    server = _Server(served)
    try:
        spec = dataclasses.replace(spec, url=server.url(spec.file))
        cache, users = tmp_path / "cache", tmp_path / "users"
        cache.mkdir()
        users.mkdir()
        (cache / spec.file).write_bytes(b"half a model")
        seen: list[tuple[int, int | None]] = []
        # WHEN the model is resolved from the cache, downloads allowed
        status = resolve(spec, [cache], cache, allow_download=True, progress=lambda d, t: seen.append((d, t)))
        # THEN the cache now holds the verified file, and progress was reported up to its size
        assert status.state is ModelState.OK and status.path == cache / spec.file
        assert locate(spec, [cache]).state is ModelState.OK
        assert seen and seen[-1] == (spec.bytes, spec.bytes)
        # AND a corrupt copy in the user's folder is reported as such when downloads are off
        (users / spec.file).write_bytes(b"corrupt")
        status = resolve(spec, [users], tmp_path / "cache2", allow_download=False)
        assert status.state is ModelState.CORRUPT and (users / spec.file).read_bytes() == b"corrupt"
    finally:
        server.close()


def test_a_download_from_a_server_that_is_down_is_reported_not_raised(tmp_path: Path) -> None:
    import dataclasses
    import socket

    from models.fetch import resolve

    # GIVEN a source URL on a port where nothing listens
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    spec = dataclasses.replace(load_manifest()["yunet"], url=f"http://127.0.0.1:{port}/m.onnx")
    # WHEN it is resolved
    status = resolve(spec, [tmp_path], tmp_path, allow_download=True)
    # THEN it is not installed, the reason names the failed download, and no partial file is left
    assert status.state is ModelState.NOT_INSTALLED
    assert "download" in status.detail and "failed" in status.detail
    assert list(tmp_path.iterdir()) == []
