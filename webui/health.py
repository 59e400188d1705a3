"""``GET /healthz``: whether each part of piccl runs, for Docker's HEALTHCHECK and a NAS's container view.

No login: Docker calls it from inside the container. It answers 200 when every part runs and the database
answers, 503 otherwise, with each part's state as JSON. What a part is doing and why it last failed (which
can name a folder) is shown to the household only, once logged in.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify
from flask.typing import ResponseReturnValue
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from plugin import __version__
from webui.auth import logged_in
from webui.extensions import services

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> ResponseReturnValue:
    report: dict[str, Any] = current_app.config.get("PICCL_HEALTH", _web_only)()
    database = _database()
    ok = bool(report.get("ok")) and database == "ok"
    parts: dict[str, Any] = report.get("parts", {})
    if not logged_in():
        parts = {name: {"state": part.get("state")} for name, part in parts.items()}
        database = database.split(" ", 1)[0]
    body = {"status": "ok" if ok else "failing", "version": __version__, "database": database, "parts": parts}
    response = jsonify(body)
    response.status_code = 200 if ok else 503
    return response


def _web_only() -> dict[str, Any]:
    # The app outside `piccl run` (tests, another WSGI server): the web part is whatever answers this.
    return {"ok": True, "parts": {"web": {"state": "running"}}}


def _database() -> str:
    try:
        with services().sessions() as session:
            session.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        return f"unreachable ({type(exc).__name__})"
    return "ok"
