"""piccl's review UI: a Flask app served by waitress (``piccl serve``).

Every route needs the household login unless the settings turn it off; every state change needs a
CSRF token; no URL carries a file path: photos are addressed by id and their files found through the
database, inside the library.
"""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta
from typing import Any

from flask import Flask, g, jsonify, render_template, request
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import CSRFError
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.exceptions import HTTPException

from plugin import __version__
from plugin.config import Settings, load_settings
from plugin.store.models import Setting
from webui import (
    albums,
    api,
    auth,
    groups,
    health,
    library,
    people,
    photos,
    places,
    queries,
    review,
    search,
    tags,
    trash,
)
from webui.extensions import csrf, limiter, store

MONTH_NAMES = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
               "October", "November", "December")

log = logging.getLogger(__name__)

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


def create_app(settings: Settings | None = None, sessions: sessionmaker[Session] | None = None,
               **config: Any) -> Flask:
    settings = settings or load_settings()
    app = Flask(__name__)
    store.init_app(app, settings, sessions)
    # The count caches live in the process: a new app (a new database, in tests) must not see the last one's.
    queries.counts_cache.clear()
    queries.library_cache.clear()
    app.config.update(
        SECRET_KEY=_secret_key(app.extensions["piccl"].sessions),
        SESSION_COOKIE_NAME="piccl_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.ui.secure_cookies,
        PERMANENT_SESSION_LIFETIME=timedelta(days=settings.ui.session_days),
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the login
        MAX_CONTENT_LENGTH=1024 * 1024,
        JSON_SORT_KEYS=False,
    )
    app.config.update(config)
    auth.sync_password(settings, app.extensions["piccl"].sessions)

    csrf.init_app(app)
    limiter.init_app(app)
    auth.init_app(app)
    people.init_app(app)
    for blueprint in (auth.bp, review.bp, groups.bp, library.bp, photos.bp, tags.bp, people.bp, trash.bp,
                      api.bp, search.bp):
        app.register_blueprint(blueprint)
    app.register_blueprint(albums.bp)
    app.register_blueprint(albums.api_bp)
    app.register_blueprint(places.bp)
    app.register_blueprint(health.bp)

    app.after_request(_security_headers)
    app.register_error_handler(CSRFError, _csrf_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _server_error)
    app.jinja_env.globals.update(piccl_version=__version__, month_names=MONTH_NAMES)
    app.jinja_env.filters["filesize"] = _filesize
    return app


def _secret_key(sessions: sessionmaker[Session]) -> str:
    """The session signing key: made once, kept in the database so logins survive restarts."""
    with sessions() as session:
        row = session.scalar(select(Setting).where(Setting.key == "secret_key"))
        if row is None:
            row = Setting(key="secret_key", value=secrets.token_hex(32))
            session.add(row)
            session.commit()
        return row.value


def _security_headers(response: Any) -> Any:
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
    response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
    if "Cache-Control" not in response.headers and response.mimetype in ("text/html", "application/json"):
        response.headers["Cache-Control"] = "no-store"
    return response


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def _csrf_error(error: CSRFError) -> ResponseReturnValue:
    message = "The form has expired or did not come from piccl: reload the page and try again."
    if _wants_json():
        return jsonify(error="csrf", message=error.description), 400
    return render_template("error.html", code=400, message=message), 400


def _http_error(error: HTTPException) -> ResponseReturnValue:
    code = error.code or 500
    if _wants_json():
        return jsonify(error=error.name, message=error.description), code
    return render_template("error.html", code=code, message=error.description), code


def _server_error(error: Exception) -> ResponseReturnValue:
    log.exception("request failed: %s %s", request.method, request.path)
    if "db" in g:  # an error handler's response ends the request normally: roll back here
        g.db.rollback()
    if _wants_json():
        return jsonify(error="server_error"), 500
    return render_template("error.html", code=500, message="Something went wrong; it has been logged."), 500


def _filesize(n: int | None) -> str:
    size = float(n or 0)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"
