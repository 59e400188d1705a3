"""Albums and favourites: the Albums page (Favourites first), an album's grid; make, rename, delete an album;
the heart and "Add to album" on a photo's page; and the JSON the grids' selection bar uses.

Pages post plain forms and redirect (they work without JavaScript); the grids' selection bar posts JSON with the
CSRF token in X-CSRFToken, like the review grid. Every change goes through :mod:`plugin.albums`, which commits
it, and each is safe to send twice (a double tap): forms send the state wanted (heart on, heart off), never a
toggle, and a name that exists means that album.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from plugin.albums import (
    FAVOURITES,
    AlbumNotFound,
    AlbumSummary,
    NameRefused,
    PhotoAlbums,
    PhotoChange,
    add_photos,
    album_count,
    album_named,
    create_album,
    delete_album,
    favorites_summary,
    list_albums,
    photo_albums,
    photos_query,
    remove_photos,
    rename_album,
    set_favorite,
)
from plugin.recommend import REASONS
from plugin.store.models import Album
from webui import queries
from webui.api import _body, _ids
from webui.extensions import db, services
from webui.forms import number
from webui.review import cursor_arg

bp = Blueprint("albums", __name__, url_prefix="/albums")
api_bp = Blueprint("albums_api", __name__, url_prefix="/api")


@dataclass(frozen=True, slots=True)
class AlbumCard:
    album: AlbumSummary
    url: str
    thumb: str | None


def _card(album: AlbumSummary) -> AlbumCard:
    url = url_for("albums.favourites") if album.id is None else url_for("albums.album", album_id=album.id)
    thumb = (url_for("photos.thumbnail", photo_id=album.cover_photo_id, size="sm",
                     v=queries.version_of(album.cover_hash)) if album.cover_photo_id is not None else None)
    return AlbumCard(album, url, thumb)


def _plural(n: int) -> str:
    return f"{n} photo{'' if n == 1 else 's'}"


def _album(album_id: int) -> Album:
    album = db().get(Album, album_id)
    if album is None:
        abort(404)
    return album


@bp.app_template_global("photo_albums")
def _photo_albums(photo_id: int) -> PhotoAlbums:
    """For the photo page: its heart, its albums, the albums to add it to."""
    return photo_albums(db(), photo_id)


# -- pages ----------------------------------------------------------------------------------------

@bp.get("/")
def index() -> ResponseReturnValue:
    cards = [_card(favorites_summary(db()))] + [_card(a) for a in list_albums(db())]
    return render_template("albums.html", cards=cards)


def _grid(album_id: int | None) -> queries.Page:
    return queries.newest_first_page(db(), photos_query(album_id), cursor_arg(), services().settings.ui.page_size)


@bp.get("/<int:album_id>")
def album(album_id: int) -> ResponseReturnValue:
    """An album's photos in the library now, newest first; rename and delete above them."""
    found = _album(album_id)
    page = _grid(album_id)
    return render_template("album.html", album=found, name=found.name, count=album_count(db(), album_id), page=page,
                           more_url=url_for("albums.tiles", album_id=album_id, cursor=page.next_cursor))


@bp.get("/<int:album_id>/tiles")
def tiles(album_id: int) -> ResponseReturnValue:
    """The next page of an album's grid, as HTML to append (infinite scroll)."""
    _album(album_id)
    page = _grid(album_id)
    return render_template("_tiles.html", page=page,
                           more_url=url_for("albums.tiles", album_id=album_id, cursor=page.next_cursor))


@bp.get("/favourites")
def favourites() -> ResponseReturnValue:
    page = _grid(None)
    return render_template("album.html", album=None, name=FAVOURITES, count=album_count(db(), None), page=page,
                           more_url=url_for("albums.favourite_tiles", cursor=page.next_cursor))


@bp.get("/favourites/tiles")
def favourite_tiles() -> ResponseReturnValue:
    page = _grid(None)
    return render_template("_tiles.html", page=page,
                           more_url=url_for("albums.favourite_tiles", cursor=page.next_cursor))


@bp.get("/<int:album_id>/delete")
def confirm_delete(album_id: int) -> ResponseReturnValue:
    found = _album(album_id)
    return render_template("album_delete.html", album=found, count=album_count(db(), album_id))


# -- changes (plain forms) ------------------------------------------------------------------------

@bp.post("/")
def create() -> ResponseReturnValue:
    made = create_album(db(), request.form.get("name", ""))
    if isinstance(made, Album):
        flash(f"Made the album {made.name}. Add photos from any grid (select them, then Add to album) "
              "or from a photo's page.")
        return redirect(url_for("albums.album", album_id=made.id))
    if made.problem == "taken" and made.album_id is not None:
        # A second tap on Create, or a name already used: that album is the one wanted.
        flash(f"You have an album called {made.name} already: here it is.")
        return redirect(url_for("albums.album", album_id=made.album_id))
    flash(f"No album made: {made.message}.", "error")
    return redirect(url_for("albums.index"))


@bp.post("/<int:album_id>/rename")
def rename(album_id: int) -> ResponseReturnValue:
    was = _album(album_id).name
    renamed = rename_album(db(), album_id, request.form.get("name", ""))
    if isinstance(renamed, Album):
        if renamed.name != was:
            flash(f"Renamed {was} to {renamed.name}.")
    else:
        flash(f"Not renamed: {renamed.message}.", "error")
    return redirect(url_for("albums.album", album_id=album_id))


@bp.post("/<int:album_id>/delete")
def delete(album_id: int) -> ResponseReturnValue:
    """Delete the album (never its photos): needs the field the confirmation page sends."""
    if request.form.get("confirm") != "delete":
        flash("Nothing was deleted: the deletion was not confirmed.", "error")
        return redirect(url_for("albums.confirm_delete", album_id=album_id))
    deleted = delete_album(db(), album_id)
    if not isinstance(deleted, AlbumNotFound):  # not there: deleted by the first of two taps
        flash(f"Deleted the album {deleted.name}. Its photos are still in the library.")
    return redirect(url_for("albums.index"))


def _back_to_photo(photo_id: int) -> ResponseReturnValue:
    reason = request.form.get("reason")
    return redirect(url_for("photos.view", photo_id=photo_id, reason=reason if reason in REASONS else None))


def _why_skipped(change: PhotoChange) -> str:
    why = next(iter(change.skipped.values()), "not_found")
    return "it is not in the library now" if why == "not_in_library" else "no such photo"


@bp.post("/photo/<int:photo_id>/favorite")
def favorite(photo_id: int) -> ResponseReturnValue:
    """The heart on a photo's page: ``favorite`` is 1 (heart it) or 0 (take the heart off)."""
    wanted = request.form.get("favorite")
    if wanted not in ("0", "1"):
        abort(400)
    change = set_favorite(db(), [photo_id], wanted == "1")
    if change.skipped:
        flash(f"Not added to {FAVOURITES}: {_why_skipped(change)}.", "error")
    return _back_to_photo(photo_id)


@bp.post("/photo/<int:photo_id>/add")
def add_photo(photo_id: int) -> ResponseReturnValue:
    """"Add to album" on a photo's page: an existing album (``album_id``) or one by name (made if new)."""
    album_id, name = number(request.form.get("album_id", "")), request.form.get("name")
    if album_id is not None:
        change = add_photos(db(), album_id, [photo_id])
        made = False
    elif name is not None:
        found = album_named(db(), name)
        if isinstance(found, NameRefused):
            flash(f"Not added: {found.message}.", "error")
            return _back_to_photo(photo_id)
        change, made = add_photos(db(), found[0].id, [photo_id]), found[1]
    else:
        abort(400)
    if isinstance(change, AlbumNotFound):
        flash("Not added: that album is gone.", "error")
    elif change.skipped:
        flash(f"Not added to {change.album_name}: {_why_skipped(change)}.", "error")
    elif change.done:
        flash(f"{'Made the album' if made else 'Added to'} {change.album_name}"
              f"{' with this photo' if made else ''}.")
    else:
        flash(f"Already in {change.album_name}.")
    return _back_to_photo(photo_id)


# -- JSON (the grids' selection bar) --------------------------------------------------------------

def _album_json(album_id: int, name: str) -> dict[str, Any]:
    return {"id": album_id, "name": name, "url": url_for("albums.album", album_id=album_id)}


def _added(change: PhotoChange, made: bool = False) -> ResponseReturnValue:
    parts = []
    if change.unchanged:
        parts.append(f"{len(change.unchanged)} already there")
    if change.skipped:
        parts.append(f"{len(change.skipped)} not in the library")
    if change.done:
        text = f"Added {_plural(len(change.done))} to {change.album_name}"
    else:
        text = f"Nothing added to {change.album_name}"
    return jsonify(album=_album_json(change.album_id or 0, change.album_name), created=made, added=change.done,
                   already=change.unchanged, skipped={str(k): v for k, v in change.skipped.items()},
                   message=text + (f" ({', '.join(parts)})" if parts else "") + ".")


def _refused(result: NameRefused | AlbumNotFound) -> ResponseReturnValue:
    if isinstance(result, AlbumNotFound):
        return jsonify(error="not_found", message=result.message), 404
    return jsonify(error=f"name_{result.problem}", message=result.message), 400


@api_bp.get("/albums")
def albums() -> ResponseReturnValue:
    """The albums to add to, the most recently changed first (the one being filled is on top)."""
    found = list_albums(db(), "recent")
    return jsonify(albums=[{**_album_json(a.id, a.name), "count": a.count} for a in found if a.id is not None],
                   favorites={"count": favorites_summary(db()).count, "url": url_for("albums.favourites")})


@api_bp.post("/albums")
def create_and_add() -> ResponseReturnValue:
    """``{"name": ..., "photo_ids": [...]}``: the album of that name (made when there is none), with the photos."""
    body = _body()
    name = body.get("name")
    if not isinstance(name, str):
        abort(400, description="'name' must be a string")
    ids = _ids(body, "photo_ids") if "photo_ids" in body else []
    found = album_named(db(), name)
    if isinstance(found, NameRefused):
        return _refused(found)
    change = add_photos(db(), found[0].id, ids)
    return _refused(change) if isinstance(change, AlbumNotFound) else _added(change, found[1])


@api_bp.post("/albums/<int:album_id>/add")
def add(album_id: int) -> ResponseReturnValue:
    change = add_photos(db(), album_id, _ids(_body(), "photo_ids"))
    return _refused(change) if isinstance(change, AlbumNotFound) else _added(change)


@api_bp.post("/albums/<int:album_id>/remove")
def remove(album_id: int) -> ResponseReturnValue:
    change = remove_photos(db(), album_id, _ids(_body(), "photo_ids"))
    if isinstance(change, AlbumNotFound):
        return _refused(change)
    return jsonify(album=_album_json(album_id, change.album_name), removed=change.done, not_in=change.unchanged,
                   message=f"Took {_plural(len(change.done))} out of {change.album_name}.")


@api_bp.post("/favorites")
def favorites() -> ResponseReturnValue:
    """``{"photo_ids": [...], "favorite": true | false}``: heart them, or take the heart off."""
    body = _body()
    wanted = body.get("favorite", True)
    if not isinstance(wanted, bool):
        abort(400, description="'favorite' must be true or false")
    change = set_favorite(db(), _ids(body, "photo_ids"), wanted)
    verb = f"Added {_plural(len(change.done))} to" if wanted else f"Took {_plural(len(change.done))} out of"
    return jsonify(favorite=wanted, changed=change.done, unchanged=change.unchanged,
                   skipped={str(k): v for k, v in change.skipped.items()}, message=f"{verb} {FAVOURITES}.")
