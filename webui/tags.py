"""Browse by what is in the photos: the PICCL tags, the scenes and the detected objects (COCO classes)."""

from __future__ import annotations

from flask import Blueprint, abort, render_template, request, url_for
from flask.typing import ResponseReturnValue

from webui import queries
from webui.extensions import db, services
from webui.review import cursor_arg

bp = Blueprint("tags", __name__, url_prefix="/tags")

KIND_TITLES = {"piccl": "Tags", "scene": "Scenes", "object": "Objects"}


def _kind(tag: str) -> str:
    """The tag's kind from ?kind= (a PICCL tag, else a scene, else an object when not given); 404 if unknown."""
    kind = queries.tag_kind(tag, request.args.get("kind") or None)
    if kind is None:
        abort(404)
    return kind


@bp.get("/")
def index() -> ResponseReturnValue:
    return render_template("tags.html", counts=queries.tag_counts(db()), titles=KIND_TITLES)


@bp.get("/<tag>")
def tag(tag: str) -> ResponseReturnValue:
    kind = _kind(tag)
    page = queries.tag_page(db(), kind, tag, cursor_arg(), services().settings.ui.page_size)
    more = url_for("tags.tiles", tag=tag, kind=kind, cursor=page.next_cursor)
    return render_template("tag.html", tag=tag, kind=kind, title=KIND_TITLES[kind], page=page, more_url=more)


@bp.get("/<tag>/tiles")
def tiles(tag: str) -> ResponseReturnValue:
    """The next page of a tag's grid, as HTML to append (infinite scroll)."""
    kind = _kind(tag)
    page = queries.tag_page(db(), kind, tag, cursor_arg(), services().settings.ui.page_size)
    return render_template("_tiles.html", page=page,
                           more_url=url_for("tags.tiles", tag=tag, kind=kind, cursor=page.next_cursor))
