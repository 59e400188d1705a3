"""Flask extensions, bound to an app with ``init_app`` in :func:`webui.create_app`."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, current_app, g
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_wtf import CSRFProtect
from sqlalchemy.orm import Session, sessionmaker

from plugin.config import Settings
from plugin.decisions import Reviewer
from plugin.store.db import open_database
from plugin.thumbnails import ThumbnailCache
from plugin.trash import TrashBin

csrf = CSRFProtect()
# In memory: one process serves the UI (waitress threads), and a restart forgetting counts is harmless.
limiter = Limiter(key_func=get_remote_address, storage_uri="memory://", default_limits=[])


@dataclass(frozen=True, slots=True)
class Services:
    settings: Settings
    sessions: sessionmaker[Session]
    trash_bin: TrashBin
    reviewer: Reviewer
    thumbnails: ThumbnailCache


class Store:
    """The engine's database and services for a Flask app; a request gets its own session."""

    def init_app(self, app: Flask, settings: Settings, sessions: sessionmaker[Session] | None = None) -> None:
        sessions = sessions or open_database(settings.resolved_database_url)
        trash_bin = TrashBin.from_settings(sessions, settings)
        trash_bin.reconcile()
        thumbnails = ThumbnailCache(settings.data_dir / "thumbnails", settings.max_image_pixels,
                                    settings.max_file_bytes)
        app.extensions["piccl"] = Services(settings, sessions, trash_bin, Reviewer(sessions, trash_bin), thumbnails)
        app.teardown_appcontext(self._close)

    @staticmethod
    def _close(exc: BaseException | None) -> None:
        session: Session | None = g.pop("db", None)
        if session is not None:
            if exc is not None:
                session.rollback()
            session.close()


store = Store()


def services() -> Services:
    return current_app.extensions["piccl"]


def db() -> Session:
    """This request's database session (closed, and rolled back on error, when the request ends)."""
    if "db" not in g:
        g.db = services().sessions()
    return g.db
