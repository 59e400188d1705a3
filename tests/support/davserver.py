"""A real WebDAV server (WsgiDAV on cheroot) on 127.0.0.1, with faults the tests can switch on.

The server can be stopped and started again on the same port (a NAS that reboots mid-scan), answer
with errors for a number of requests (a proxy in trouble), or answer slowly.
"""

from __future__ import annotations

import logging
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cheroot import wsgi
from cheroot.ssl.builtin import BuiltinSSLAdapter
from wsgidav.wsgidav_app import WsgiDAVApp

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

USER, PASSWORD = "anna", "app-password-1"


def wsgidav_app(root: Path, user: str = USER, password: str = PASSWORD) -> WsgiApp:
    """WsgiDAV serving ``root`` read-write to one user with HTTP Basic auth (what Nextcloud app passwords use)."""
    config = {
        "provider_mapping": {"/": str(root)},
        "http_authenticator": {"accept_basic": True, "accept_digest": False, "default_to_digest": False,
                               "trusted_auth_header": None},
        "simple_dc": {"user_mapping": {"*": {user: {"password": password, "roles": []}}}},
        "property_manager": True,
        "lock_storage": True,
        "verbose": 1,
        "logging": {"enable": False},
    }
    logging.getLogger("wsgidav").setLevel(logging.WARNING)
    return WsgiDAVApp(config)


@dataclass
class Faults:
    """What the server does wrong; the tests change these while it runs."""

    fail_next: int = 0  # answer this many of the next requests with ``fail_status``
    fail_status: int = 500
    fail_when: Callable[[dict[str, Any]], bool] | None = None  # only requests this says yes to
    delay_s: float = 0.0  # wait this long before answering each request
    requests: list[tuple[str, str]] = field(default_factory=list)  # (method, path) of every request seen
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def take_failure(self, environ: dict[str, Any]) -> bool:
        with self._lock:
            self.requests.append((environ["REQUEST_METHOD"], environ.get("PATH_INFO", "")))
            if self.fail_next > 0 and (self.fail_when is None or self.fail_when(environ)):
                self.fail_next -= 1
                return True
            return False


def faulty(app: WsgiApp, faults: Faults) -> WsgiApp:
    def wrapped(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if faults.delay_s:
            time.sleep(faults.delay_s)
        if faults.take_failure(environ):
            body = b"injected failure"
            start_response(f"{faults.fail_status} Injected", [("Content-Type", "text/plain"),
                                                             ("Content-Length", str(len(body)))])
            return [body]
        return app(environ, start_response)

    return wrapped


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 signed by itself (what a NAS or a home Nextcloud often has)."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    return cert, key


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class DavServer:
    """A WSGI app served on 127.0.0.1 from a thread; stop() and start() keep the port."""

    def __init__(self, app: WsgiApp, port: int | None = None, tls: tuple[Path, Path] | None = None) -> None:
        self.faults = Faults()
        self.app = faulty(app, self.faults)
        self.port = port or free_port()
        self.tls = tls  # (certificate, private key): serve HTTPS
        self._server: wsgi.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    def start(self) -> DavServer:
        server = wsgi.Server(("127.0.0.1", self.port), self.app, numthreads=8, timeout=10)
        if self.tls:
            server.ssl_adapter = BuiltinSSLAdapter(str(self.tls[0]), str(self.tls[1]))
        server.prepare()  # binds now, so a client never races the thread
        thread = threading.Thread(target=server.serve, name=f"dav-{self.port}", daemon=True)
        thread.start()
        self._server, self._thread = server, thread
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server = self._thread = None

    @property
    def running(self) -> bool:
        return self._server is not None

    def __enter__(self) -> DavServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
