"""Browse the library by folder and by month. Folders are matched in the database, never opened."""

from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from plugin.store.models import Library
from plugin.writeback.nextcloud_job import nextcloud_tag_status
from plugin.writeback.queue import writeback_status
from webui import queries
from webui.extensions import db, services
from webui.review import cursor_arg

bp = Blueprint("library", __name__, url_prefix="/library")


def _library(library_id: int) -> Library:
    library = db().get(Library, library_id)
    if library is None:
        abort(404)
    return library


@bp.get("/")
def index() -> ResponseReturnValue:
    libraries = queries.libraries(db())
    if len(libraries) == 1:
        return redirect(url_for("library.folders", library_id=libraries[0].id))
    return render_template("libraries.html", libraries=libraries)


def tag_arg() -> tuple[str, str] | None:
    """The folder grid's filter from ?tag=: 'person' (a PICCL tag, else a scene, else an object) or 'kind:tag'."""
    value = request.args.get("tag", "").strip()
    if not value:
        return None
    kind, sep, name = value.partition(":")
    if not (sep and kind in queries.TAG_KINDS):
        kind, name = "", value
    found = queries.tag_kind(name, kind or None)
    if found is None:
        abort(404)
    return found, name


def tag_param(tag: tuple[str, str] | None) -> str | None:
    """``tag`` as ?tag= carries it (and the filter's options name it): 'person', 'scene:landscape', 'object:dog'."""
    if tag is None:
        return None
    kind, name = tag
    return name if kind == "piccl" else f"{kind}:{name}"


@bp.get("/<int:library_id>/folders")
def folders(library_id: int) -> ResponseReturnValue:
    library = _library(library_id)
    folder = request.args.get("folder", "").strip("/")
    tag = tag_arg()
    view = queries.folder_view(db(), library_id, folder)
    if view is None:
        abort(404)
    page = queries.folder_page(db(), library_id, folder, cursor_arg(), services().settings.ui.page_size, tag)
    crumbs = []
    if folder:
        parts = folder.split("/")
        crumbs = [(part, "/".join(parts[:i + 1])) for i, part in enumerate(parts)]
    more = url_for("library.folder_tiles", library_id=library_id, folder=folder, tag=tag_param(tag),
                   cursor=page.next_cursor)
    # The library's root page says how the write-back into its sidecars stands (and what failed, and why).
    settings = services().settings
    sidecars = writeback_status(db()) if not folder and settings.xmp.enabled else None
    tags = (nextcloud_tag_status(db()) if not folder and library.kind == "webdav" and settings.webdav.nextcloud_tags
            else None)
    return render_template("folders.html", library=library, view=view, page=page, crumbs=crumbs, more_url=more,
                           tag=tag, tag_value=tag_param(tag) or "", piccl_tags=queries.KNOWN_TAGS["piccl"],
                           scenes=queries.KNOWN_TAGS["scene"], sidecars=sidecars, nextcloud_tags=tags)


@bp.get("/<int:library_id>/folders/tiles")
def folder_tiles(library_id: int) -> ResponseReturnValue:
    _library(library_id)
    folder = request.args.get("folder", "").strip("/")
    tag = tag_arg()
    page = queries.folder_page(db(), library_id, folder, cursor_arg(), services().settings.ui.page_size, tag)
    return render_template("_tiles.html", page=page, more_url=url_for(
        "library.folder_tiles", library_id=library_id, folder=folder, tag=tag_param(tag), cursor=page.next_cursor))


@bp.get("/<int:library_id>/dates")
def dates(library_id: int) -> ResponseReturnValue:
    library = _library(library_id)
    return render_template("dates.html", library=library, buckets=queries.month_buckets(db(), library_id))


@bp.get("/<int:library_id>/dates/<int:year>/<int:month>")
def month(library_id: int, year: int, month: int) -> ResponseReturnValue:
    library = _library(library_id)
    if not (1 <= month <= 12 and 1 <= year <= 9998):
        abort(404)
    page = queries.month_page(db(), library_id, year, month, cursor_arg(), services().settings.ui.page_size)
    more = url_for("library.month_tiles", library_id=library_id, year=year, month=month, cursor=page.next_cursor)
    return render_template("month.html", library=library, year=year, month=month, page=page, more_url=more)


@bp.get("/<int:library_id>/dates/<int:year>/<int:month>/tiles")
def month_tiles(library_id: int, year: int, month: int) -> ResponseReturnValue:
    _library(library_id)
    if not (1 <= month <= 12 and 1 <= year <= 9998):
        abort(404)
    page = queries.month_page(db(), library_id, year, month, cursor_arg(), services().settings.ui.page_size)
    return render_template("_tiles.html", page=page, more_url=url_for(
        "library.month_tiles", library_id=library_id, year=year, month=month, cursor=page.next_cursor))
