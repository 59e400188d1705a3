"""docker/healthcheck.py, the image's HEALTHCHECK, against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import importlib.util
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import ModuleType
from typing import ClassVar

import pytest

from tests.docker.files import DOCKER


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("piccl_healthcheck", DOCKER / "healthcheck.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


healthcheck = _load()


class _Healthz(BaseHTTPRequestHandler):
    status: ClassVar[int] = 200
    paths: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        type(self).paths.append(self.path)
        self.send_response(type(self).status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"status": "ok"}')

    def log_message(self, format: str, *args: object) -> None:  # keep the test output clean
        pass


@pytest.fixture
def server() -> Iterator[ThreadingHTTPServer]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Healthz)
    _Healthz.paths = []
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield httpd
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.mark.parametrize(("host", "port", "url"), [
    ("0.0.0.0", "8080", "http://127.0.0.1:8080/healthz"),
    ("", "", "http://127.0.0.1:8080/healthz"),
    ("::", "9000", "http://[::1]:9000/healthz"),
    ("192.168.1.20", "8080", "http://192.168.1.20:8080/healthz"),
])
def test_the_url_is_where_the_ui_listens(host: str, port: str, url: str) -> None:
    # GIVEN the UI's host and port settings as the container has them
    environ = {"PICCL_UI__HOST": host, "PICCL_UI__PORT": port}
    # WHEN the health check builds its URL
    # THEN a wildcard address is asked on the loopback, a given one as it is
    assert healthcheck.healthz_url(environ) == url


@pytest.mark.parametrize(("status", "code"), [(200, 0), (503, 1)])
def test_healthy_only_on_200(server: ThreadingHTTPServer, monkeypatch: pytest.MonkeyPatch, status: int,
                             code: int) -> None:
    # GIVEN a /healthz answering STATUS on the UI's port, and a proxy in the environment that must not be used
    _Healthz.status = status
    monkeypatch.setenv("PICCL_UI__HOST", "0.0.0.0")
    monkeypatch.setenv("PICCL_UI__PORT", str(server.server_address[1]))
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    # WHEN Docker runs the health check
    # THEN it asked /healthz and exits 0 for 200, 1 for 503
    assert healthcheck.main() == code
    assert _Healthz.paths == ["/healthz"]


def test_unhealthy_when_nothing_listens(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN a port nothing listens on
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("PICCL_UI__HOST", "127.0.0.1")
    monkeypatch.setenv("PICCL_UI__PORT", str(port))
    # WHEN the health check runs
    # THEN it exits 1 and says why in one line
    assert healthcheck.main() == 1
    assert f"127.0.0.1:{port}/healthz" in capsys.readouterr().err
