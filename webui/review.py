"""The review queue: tabs per reason, a grid of the photos piccl recommends deleting, worst first.

The Duplicates and Similar tabs show one group at a time instead (:mod:`webui.groups`): a copy or another shot
makes sense only beside the photo piccl keeps.
"""

from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from plugin.recommend import REASONS
from webui import groups, queries
from webui.extensions import db, services
from webui.forms import number

bp = Blueprint("review", __name__)

TAB_TITLES = {"blurry": "Blurry", "dark": "Dark", "duplicate": "Duplicates", "similar": "Similar"}
GROUP_TABS = ("duplicate", "similar")


def cursor_arg() -> int | None:
    return number(request.args.get("cursor", ""))


@bp.get("/")
def index() -> ResponseReturnValue:
    counts = queries.queue_counts(db())
    first = next((reason for reason in REASONS if counts.get(reason)), REASONS[0])
    return redirect(url_for("review.queue", reason=first))


@bp.get("/review/<reason>")
def queue(reason: str) -> ResponseReturnValue:
    if reason not in REASONS:
        abort(404)
    if reason in GROUP_TABS:
        return groups.render_queue(reason)
    page = queries.queue_page(db(), reason, cursor_arg(), services().settings.ui.page_size)
    return render_template("review.html", reason=reason, tabs=TAB_TITLES, counts=queries.queue_counts(db()),
                           page=page)


@bp.get("/review/<reason>/tiles")
def tiles(reason: str) -> ResponseReturnValue:
    """The next page of a grid, as HTML to append (infinite scroll)."""
    if reason not in REASONS:
        abort(404)
    page = queries.queue_page(db(), reason, cursor_arg(), services().settings.ui.page_size)
    return render_template("_tiles.html", page=page, reason=reason, selectable=True,
                           more_url=url_for("review.tiles", reason=reason, cursor=page.next_cursor))
