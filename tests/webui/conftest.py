"""A scanned library and the review UI over it, for Flask's test client."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from plugin.config import Settings
from plugin.scan import Scanner
from plugin.store.db import open_database
from plugin.store.models import Photo
from tests.conftest import PhotoFactory
from webui import create_app
from webui.extensions import limiter

PASSWORD = "correct horse battery"


@dataclass
class UI:
    app: Flask
    client: FlaskClient
    library: Path
    sessions: sessionmaker[Session]
    settings: Settings

    def photo_id(self, relpath: str) -> int:
        with self.sessions() as session:
            pid = session.scalar(select(Photo.id).where(Photo.relpath == relpath))
            assert pid is not None, relpath
            return pid

    def csrf(self) -> str:
        """A CSRF token for this client's session, as the pages carry it."""
        page = self.client.get("/login" if "uid" not in self._session() else "/trash/", follow_redirects=True)
        match = re.search(r'name="csrf-token" content="([^"]+)"', page.text)
        assert match, page.text[:500]
        return match.group(1)

    def _session(self) -> dict[str, Any]:
        with self.client.session_transaction() as session:
            return dict(session)

    def login(self, password: str = PASSWORD) -> Any:
        token = self.csrf()
        return self.client.post("/login", data={"username": "piccl", "password": password, "csrf_token": token})

    def post_json(self, url: str, body: dict[str, Any]) -> Any:
        return self.client.post(url, json=body, headers={"X-CSRFToken": self.csrf()})


@pytest.fixture
def library(tmp_path: Path, make_photo: PhotoFactory) -> Path:
    lib = tmp_path / "lib"
    make_photo(lib / "2024" / "sharp.jpg", 800, 600, seed=1)
    make_photo(lib / "2024" / "blurry.jpg", 800, 600, blur=6, seed=2)
    (lib / "2024" / "blurry.jpg.xmp").write_text("<x:xmpmeta/>")
    make_photo(lib / "2024" / "shaky.jpg", 800, 600, blur=4, seed=3)
    make_photo(lib / "2023" / "dark.jpg", 800, 600, gain=0.04, seed=4)
    return lib


@pytest.fixture
def make_ui(tmp_path: Path, library: Path) -> Callable[..., UI]:
    def build(**overrides: Any) -> UI:
        settings = Settings(library=[library], data_dir=tmp_path / "data", workers={"kind": "thread", "count": 2},
                            **{"password": PASSWORD, **overrides})
        sessions = open_database(settings.resolved_database_url)
        Scanner(settings, sessions).scan(library)
        app = create_app(settings, sessions, TESTING=True)
        limiter.reset()  # its counts live in the process; each test starts with a clean slate

        return UI(app, app.test_client(), library, sessions, settings)
    return build


@pytest.fixture
def ui(make_ui: Callable[..., UI]) -> UI:
    return make_ui()


@pytest.fixture
def logged_in(ui: UI) -> UI:
    assert ui.login().status_code == 302
    return ui


def tile_ids(page: str) -> list[int]:
    """The photo ids of a grid page or fragment, in order."""
    return [int(v) for v in re.findall(r'<figure class="tile" data-id="(\d+)"', page)]


def more_url(page: str) -> str | None:
    """The infinite-scroll URL of a grid's next page, if there is one."""
    found = re.search(r'data-more="([^"]+)"', page)
    return html.unescape(found.group(1)) if found else None


def walk_grid(ui: UI, url: str) -> list[int]:
    """Every photo id of a grid, following its infinite-scroll pages to the end."""
    response = ui.client.get(url)
    assert response.status_code == 200, url
    ids, more = tile_ids(response.text), more_url(response.text)
    while more:
        response = ui.client.get(more)
        assert response.status_code == 200, more
        assert "<html" not in response.text  # a fragment to append, not a page
        ids, more = ids + tile_ids(response.text), more_url(response.text)
    return ids
