"""People: the faces piccl found, grouped into persons; name them and fix what the grouping got wrong.

Every correction is one of :mod:`plugin.people.service`'s, made in this request's session and committed
here; one that cannot be made (an unknown face, an empty name) is flashed and rolled back. Every form
posts and redirects back (a plain form: it works without JavaScript). Face crops are found like
thumbnails: by the face's id, through its photo's row, inside the library.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

from flask import Blueprint, Flask, abort, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from plugin.people.service import (
    PeopleError,
    confirm_faces,
    find_person_by_name,
    hide_person,
    mark_not_a_face,
    merge_people,
    move_faces,
    name_person,
    remove_faces,
)
from plugin.store.models import Face, Person
from plugin.thumbnails import FaceThumbnailCache, Thumbnail
from webui import queries
from webui.extensions import db, services
from webui.forms import form_ids, number
from webui.photos import image_response, photo_file
from webui.review import cursor_arg

bp = Blueprint("people", __name__, url_prefix="/people")

CARDS_PER_PAGE = 120
FACES_PER_PAGE = 120


def init_app(app: Flask) -> None:
    """Face crops live beside the thumbnails (where a scan leaves them), within the same limits."""
    thumbnails = app.extensions["piccl"].thumbnails
    app.extensions["piccl_faces"] = FaceThumbnailCache(thumbnails.cache_dir, thumbnails.max_pixels,
                                                       thumbnails.max_file_bytes)


def face_thumbnails() -> FaceThumbnailCache:
    return current_app.extensions["piccl_faces"]


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _who(person: Person) -> str:
    return person.name or "this unnamed person"


def _person(person_id: int) -> Person:
    person = db().get(Person, person_id)
    if person is None:
        abort(404)
    return person


def _offset_arg() -> int:
    return number(request.args.get("offset", "")) or 0


def _back(default: str) -> str:
    """Where the form came from (its ``next`` field), when that is a People page of this site."""
    target = request.form.get("next") or ""
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/people") or "\\" in target:
        return default
    return target


def _face_ids() -> list[int]:
    ids = sorted(form_ids("face_id"))
    if not ids:
        raise PeopleError("select one or more faces first")
    return ids


def _done(message: str) -> None:
    db().commit()
    queries.counts_cache.clear()  # the unassigned faces' count
    flash(message)


@bp.errorhandler(PeopleError)
def _refused(error: PeopleError) -> ResponseReturnValue:
    db().rollback()
    flash(f"Not done: {error}.", "error")
    return redirect(_back(url_for("people.index")))


# -- pages ----------------------------------------------------------------------------------------

@bp.get("/")
def index() -> ResponseReturnValue:
    hidden = request.args.get("hidden") == "1"
    cards, next_offset = queries.people_cards(db(), hidden, 0, CARDS_PER_PAGE)
    return render_template(
        "people.html", cards=cards, hidden=hidden, names=queries.people_names(db()),
        hidden_count=queries.hidden_people_count(db()), unassigned=queries.unassigned_count(db()),
        more_url=url_for("people.cards", hidden=1 if hidden else None, offset=next_offset) if next_offset else None)


@bp.get("/cards")
def cards() -> ResponseReturnValue:
    """The next people of the grid, as HTML to append (infinite scroll)."""
    hidden = request.args.get("hidden") == "1"
    cards, next_offset = queries.people_cards(db(), hidden, _offset_arg(), CARDS_PER_PAGE)
    return render_template(
        "people_cards.html", cards=cards, hidden=hidden,
        more_url=url_for("people.cards", hidden=1 if hidden else None, offset=next_offset) if next_offset else None)


@bp.get("/<int:person_id>")
def person(person_id: int) -> ResponseReturnValue:
    """A person's photos, newest first; the name, hide and merge forms above them."""
    person = _person(person_id)
    page = queries.person_photo_page(db(), person_id, cursor_arg(), services().settings.ui.page_size)
    more = url_for("people.photo_tiles", person_id=person_id, cursor=page.next_cursor)
    return render_template("person.html", person=person, tab="photos", page=page, more_url=more,
                           names=queries.people_names(db()))


@bp.get("/<int:person_id>/tiles")
def photo_tiles(person_id: int) -> ResponseReturnValue:
    """The next page of a person's photos, as HTML to append (infinite scroll)."""
    _person(person_id)
    page = queries.person_photo_page(db(), person_id, cursor_arg(), services().settings.ui.page_size)
    return render_template("_tiles.html", page=page,
                           more_url=url_for("people.photo_tiles", person_id=person_id, cursor=page.next_cursor))


@bp.get("/<int:person_id>/faces")
def faces(person_id: int) -> ResponseReturnValue:
    """A person's faces, to select and correct: not them, someone else, not a face, or confirmed."""
    person = _person(person_id)
    page = queries.person_faces_page(db(), person_id, cursor_arg(), FACES_PER_PAGE)
    return render_template("person.html", person=person, tab="faces", faces=page, names=queries.people_names(db()))


@bp.get("/unassigned")
def unassigned() -> ResponseReturnValue:
    page = queries.unassigned_faces_page(db(), cursor_arg(), FACES_PER_PAGE)
    return render_template("faces_unassigned.html", faces=page, total=queries.unassigned_count(db()),
                           names=queries.people_names(db()))


@bp.get("/faces/<int:face_id>/thumb")
def face_thumb(face_id: int) -> ResponseReturnValue:
    """A face's square crop: the scan's, or made now from the photo's file (found through its row)."""
    found = queries.face_photo(db(), face_id)
    if found is None:
        abort(404)
    face, photo = found
    readable = (photo.content_hash and photo.status == "ok"
                and (photo.size or 0) <= services().settings.max_file_bytes)
    source = photo_file(photo) if readable else None
    made = (face_thumbnails().get_face(source, photo.content_hash, face.box, photo.width or 0)
            if source and photo.content_hash else None)
    if isinstance(made, Thumbnail):
        # The crop is keyed by the box: so is its ETag, or a face found again a little elsewhere would keep
        # its old crop in the browser.
        made = Thumbnail(made.path, "-".join([made.etag, *(str(round(v)) for v in face.box)]))
    return image_response(made, queries.face_version(photo.content_hash, (face.x, face.y, face.w, face.h)))


# -- corrections ----------------------------------------------------------------------------------

@bp.post("/<int:person_id>/name")
def name(person_id: int) -> ResponseReturnValue:
    """Name or rename; a name another person already has makes them one person (the user says: same name)."""
    person = _person(person_id)
    new_name = request.form.get("name", "")
    other = find_person_by_name(db(), new_name) if new_name.strip() else None
    if other is not None and other.id != person.id:
        merged = merge_people(db(), [person.id], other.id)
        _done(f"{merged.name} already had that name: they are one person now, with "
              f"{_plural(merged.photo_count, 'photo')}.")
        return redirect(url_for("people.person", person_id=merged.id))
    was = person.name
    name_person(db(), person.id, new_name)
    _done(f"Renamed {was} to {person.name}." if was else f"Named {person.name}.")
    return redirect(_back(url_for("people.person", person_id=person.id)))


@bp.post("/<int:person_id>/merge")
def merge(person_id: int) -> ResponseReturnValue:
    """This person is the one called ``into``: their faces move there and this person goes."""
    person = _person(person_id)
    into = request.form.get("into", "")
    if not into.strip():
        raise PeopleError("type the name of the person to merge with")
    target = find_person_by_name(db(), into)
    if target is None:
        raise PeopleError(f"no one is called {' '.join(into.split())[:128]}")
    if target.id == person.id:
        raise PeopleError("that is this person")
    who = _who(person)
    merged = merge_people(db(), [person.id], target.id)
    _done(f"Merged {who} into {merged.name}: {_plural(merged.photo_count, 'photo')} now.")
    return redirect(url_for("people.person", person_id=merged.id))


@bp.post("/<int:person_id>/hide")
def hide(person_id: int) -> ResponseReturnValue:
    person = _person(person_id)
    hidden = request.form.get("hidden") != "0"
    hide_person(db(), person.id, hidden)
    _done(f"Hid {_who(person)} from People." if hidden else f"{person.name or 'This person'} is back on People.")
    return redirect(_back(url_for("people.person", person_id=person.id)))


def _move_target(name: str, current: int | None) -> Callable[[list[int]], Person]:
    """Moves faces to the person called ``name``, or to a new person of that name."""
    if not name.strip():
        raise PeopleError("type the name of the person they are")
    target = find_person_by_name(db(), name)
    if target is not None and target.id == current:
        raise PeopleError(f"they are {target.name}'s already")
    if target is not None:
        return lambda ids: move_faces(db(), ids, target.id)
    return lambda ids: move_faces(db(), ids, None, new_name=name)


@bp.post("/<int:person_id>/faces")
def correct_faces(person_id: int) -> ResponseReturnValue:
    """One action on the selected faces of a person: remove (not them), move, not a face, confirm."""
    person = _person(person_id)
    ids = _face_ids()
    theirs = set(db().scalars(select(Face.id).where(Face.id.in_(ids), Face.person_id == person.id)))
    if theirs != set(ids):
        raise PeopleError(f"{_plural(len(set(ids) - theirs), 'selected face')} no longer {_who(person)}'s")
    action, who, n = request.form.get("action"), _who(person), _plural(len(ids), "face")
    if action == "remove":
        remove_faces(db(), ids)
        message = f"Took {n} out of {who}: they wait among the unassigned faces."
    elif action == "move":
        target = _move_target(request.form.get("target", ""), person.id)(ids)
        message = f"Moved {n} to {target.name or 'a new person'}."
    elif action == "not_a_face":
        mark_not_a_face(db(), ids)
        message = f"Marked {n} as not a face."
    elif action == "confirm":
        confirm_faces(db(), ids)
        message = f"Confirmed {n} as {who}."
    else:
        abort(400)
    _done(message)
    if db().get(Person, person_id) is None:  # an unnamed person left without faces is gone
        return redirect(url_for("people.index"))
    return redirect(_back(url_for("people.faces", person_id=person_id)))


@bp.post("/unassigned")
def correct_unassigned() -> ResponseReturnValue:
    """Name the selected faces (an existing person of that name, else a new one), or say they are no faces."""
    ids = _face_ids()
    action, n = request.form.get("action"), _plural(len(ids), "face")
    if action == "name":
        target = _move_target(request.form.get("name", ""), None)(ids)
        message = f"{n.capitalize()} named {target.name}."
    elif action == "not_a_face":
        mark_not_a_face(db(), ids)
        message = f"Marked {n} as not a face."
    else:
        abort(400)
    _done(message)
    return redirect(_back(url_for("people.unassigned")))
