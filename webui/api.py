"""The JSON API under /api/: what the grid's script uses, and what scripts and apps may use.

State changes take JSON bodies and need the CSRF token in the X-CSRFToken header (the pages carry it
in a meta tag), like every other state change.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, jsonify, request, url_for
from flask.typing import ResponseReturnValue

from plugin.grouping.animation import AnimationError, make_animation
from plugin.recommend import REASONS
from webui import groups, queries
from webui.extensions import db, services
from webui.review import cursor_arg

bp = Blueprint("api", __name__, url_prefix="/api")

MAX_IDS = 1000


def _ids(body: dict[str, Any], key: str) -> list[int]:
    values = body.get(key)
    # An id is a 64-bit integer on every database (SQLite cannot even bind a larger number; PostgreSQL compares it).
    if not isinstance(values, list) or not values or len(values) > MAX_IDS \
            or not all(isinstance(v, int) and not isinstance(v, bool) and -(2**63) <= v < 2**63 for v in values):
        abort(400, description=f"'{key}' must be a list of 1 to {MAX_IDS} ids")
    return values


def _body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        abort(400, description="expected a JSON object")
    return body


def _tile(tile: queries.Tile) -> dict[str, Any]:
    return {"id": tile.photo_id, "name": tile.name, "caption": tile.caption, "reason": tile.reason,
            "thumb": url_for("photos.thumbnail", photo_id=tile.photo_id, size="sm", v=tile.version),
            "url": url_for("photos.view", photo_id=tile.photo_id, reason=tile.reason)}


@bp.get("/review/counts")
def counts() -> ResponseReturnValue:
    return jsonify(queries.queue_counts(db()))


@bp.get("/review/<reason>")
def queue(reason: str) -> ResponseReturnValue:
    if reason not in REASONS:
        abort(404)
    page = queries.queue_page(db(), reason, cursor_arg(), services().settings.ui.page_size)
    return jsonify(items=[_tile(t) for t in page.tiles], next_cursor=page.next_cursor)


@bp.get("/photos/<int:photo_id>")
def photo(photo_id: int) -> ResponseReturnValue:
    found = queries.photo_detail(db(), photo_id)
    if found is None:
        abort(404)
    return jsonify(
        id=found.id, name=found.relpath.rpartition("/")[2], status=found.status, error_reason=found.error_reason,
        width=found.width, height=found.height, format=found.format,
        taken_at=found.taken_at.isoformat() if found.taken_at else None,
        camera=" ".join(filter(None, (found.camera_make, found.camera_model))) or None,
        trashed=found.trashed_at is not None, decision=found.decision.decision if found.decision else None,
        recommendations=[{"reason": r.reason, "severity": r.severity, "evidence": r.evidence}
                         for r in found.recommendations],
        analyses={a.analyzer: {"score": a.score, "flagged": a.flagged, "evidence": a.evidence}
                  for a in found.analyses},
        thumb=url_for("photos.thumbnail", photo_id=found.id, size="lg", v=queries.version_of(found.content_hash)),
        original=url_for("photos.original", photo_id=found.id))


def _result(result: Any) -> ResponseReturnValue:
    queries.counts_cache.clear()
    queries.library_cache.clear()
    return jsonify(done=result.done, failed={str(k): v for k, v in result.failed.items()},
                   counts=queries.queue_counts(db()))


@bp.post("/decisions")
def decide() -> ResponseReturnValue:
    body = _body()
    choice = body.get("decision")
    if choice not in ("keep", "trash"):
        abort(400, description="'decision' must be 'keep' or 'trash'")
    return _result(services().reviewer.decide(_ids(body, "photo_ids"), choice))


@bp.post("/undo")
def undo() -> ResponseReturnValue:
    return _result(services().reviewer.undo(_ids(_body(), "photo_ids")))


@bp.post("/gif")
def gif() -> ResponseReturnValue:
    """An animated GIF and WebP of any photos (the grid's selection), saved in their library; says where."""
    ids = _ids(_body(), "photo_ids")
    settings = services().settings
    try:
        made = make_animation(services().sessions, ids, settings.gif, max_pixels=settings.max_image_pixels)
    except AnimationError as error:
        return jsonify(error="animation", message=str(error)), 400
    return jsonify(paths=made.paths, library_id=made.library_id, frames=made.frames,
                   skipped={str(k): v for k, v in made.skipped.items()}, message=groups.flash_animation(made))


@bp.get("/trash")
def trash() -> ResponseReturnValue:
    tiles, next_cursor = queries.trash_page(db(), cursor_arg(), services().settings.ui.page_size)
    return jsonify(items=[{"entry_id": t.entry_id, "photo_id": t.photo_id, "original_relpath": t.original_relpath,
                           "trashed_at": t.trashed_at.isoformat(), "size": t.size} for t in tiles],
                   next_cursor=next_cursor)


@bp.post("/trash/restore")
def restore() -> ResponseReturnValue:
    outcomes = services().trash_bin.restore(_ids(_body(), "entry_ids"))
    queries.counts_cache.clear()
    queries.library_cache.clear()
    return jsonify(results=[{"entry_id": o.entry_id, "ok": o.ok, "photo_id": o.photo_id,
                             "restored_relpath": o.restored_relpath, "renamed": o.renamed, "reason": o.reason}
                            for o in outcomes])


@bp.post("/trash/empty")
def empty() -> ResponseReturnValue:
    body = _body()
    if body.get("confirm") is not True:
        abort(400, description="emptying the trash deletes photos for good: send \"confirm\": true")
    summary = services().trash_bin.empty(everything=body.get("everything") is True)
    queries.library_cache.clear()
    return jsonify(purged=summary.purged, bytes=summary.bytes, kept_recent=summary.kept_recent,
                   in_nextcloud_bin=summary.in_nextcloud_bin,
                   failed=[{"entry_id": eid, "reason": why} for eid, why in summary.failed])
