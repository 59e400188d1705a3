"""The user's albums and favourites: made, filled and emptied only by the user.

An album is piccl's own view of photos: adding a photo never moves, copies or changes its file, and deleting an
album deletes its rows, never a photo. Memberships and hearts belong to the photo's row, so a photo moved or
renamed on disk (a scan relinks it to its row by its content) keeps them; a photo in the trash or gone from the
disk keeps them too and shows again when it comes back, but albums count and show only the photos in the
library now (:func:`plugin.store.models.readable_in_library`).

Names are NFC-normalised and trimmed, runs of whitespace become one space; 1-256 characters, no control
characters. They are unique whatever their case: compared casefolded in Python ("Straße" and "STRASSE" are one
name), the same on SQLite and PostgreSQL, whose ``lower()`` differ. The database's unique index holds exact
names only, so two different casings made at the same instant could both get in; one household clicking is
never that fast. "Favourites" (and "Favorites") is the hearts' own album: no album may take that name.

Expected outcomes are results, not exceptions: a name refused (:class:`NameRefused`), an album that is not
there (:class:`AlbumNotFound`), photos that could not be added (``skipped`` of :class:`PhotoChange`). Each
writing function is one user action and commits it; doing it twice (a double tap) changes nothing the second
time, and says so (``unchanged``).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Select, delete, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from plugin.store.db import chunks
from plugin.store.models import Album, AlbumPhoto, Favorite, Photo, readable_in_library, utcnow

MAX_NAME = 256
FAVOURITES = "Favourites"
_RESERVED = frozenset({"favourites", "favorites"})

NameProblem = Literal["empty", "too_long", "control", "reserved", "taken"]
# Why a photo was not added or hearted: no such photo, or not in the library now (trashed, gone, unreadable).
SkipReason = Literal["not_found", "not_in_library"]


@dataclass(frozen=True, slots=True)
class NameRefused:
    problem: NameProblem
    name: str
    album_id: int | None = None  # the album that has the name, when taken

    @property
    def message(self) -> str:
        shown = self.name if len(self.name) <= 60 else self.name[:59] + "…"
        return {
            "empty": "an album needs a name",
            "too_long": f"an album's name has at most {MAX_NAME} characters",
            "control": "an album's name cannot hold control characters",
            "reserved": f"“{shown}” is the hearts' own album: choose another name",
            "taken": f"there is already an album called “{shown}”",
        }[self.problem]


@dataclass(frozen=True, slots=True)
class AlbumNotFound:
    ref: int | str

    @property
    def message(self) -> str:
        return f"no album {self.ref}" if isinstance(self.ref, int) else f"no album called “{self.ref}”"


@dataclass(frozen=True, slots=True)
class DeletedAlbum:
    id: int
    name: str
    photos: int  # memberships dropped (the photos themselves stay)


@dataclass(slots=True)
class PhotoChange:
    """What one action did to each photo it was given (each id once, in the order given)."""

    done: list[int] = field(default_factory=list)  # changed now: added, removed, hearted or unhearted
    unchanged: list[int] = field(default_factory=list)  # already so (a second tap)
    skipped: dict[int, SkipReason] = field(default_factory=dict)
    album_id: int | None = None  # None: the favourites
    album_name: str = FAVOURITES


@dataclass(frozen=True, slots=True)
class AlbumSummary:
    """An album as the Albums page and ``piccl albums list`` show it: photos in the library now, and a cover."""

    id: int | None  # None: the favourites (the hearts, not an album row)
    name: str
    count: int
    cover_photo_id: int | None  # the most recently added photo in the library now
    cover_hash: str | None
    updated_at: datetime | None


@dataclass(frozen=True, slots=True)
class PhotoAlbums:
    """One photo's side: its heart, the albums it is in (by name), the others to add it to (recent first)."""

    favorite: bool
    albums: list[tuple[int, str]]
    choices: list[tuple[int, str]]


# -- names --------------------------------------------------------------------------------------------------

def clean_name(name: str) -> str | NameRefused:
    """The name as stored, or why it cannot be one (taken names are checked by the callers)."""
    cleaned = " ".join(unicodedata.normalize("NFC", name).split())
    if not cleaned:
        return NameRefused("empty", cleaned)
    if any(unicodedata.category(c) == "Cc" for c in cleaned):
        return NameRefused("control", cleaned)
    if len(cleaned) > MAX_NAME:
        return NameRefused("too_long", cleaned)
    if cleaned.casefold() in _RESERVED:
        return NameRefused("reserved", cleaned)
    return cleaned


def album_by_name(session: Session, name: str) -> Album | None:
    """The album called ``name``, whatever its case and spacing."""
    key = " ".join(unicodedata.normalize("NFC", name).split()).casefold()
    # A household has dozens of albums: comparing in Python keeps one rule for every database.
    found = next((aid for aid, n in session.execute(select(Album.id, Album.name)) if n.casefold() == key), None)
    return session.get(Album, found) if found is not None else None


def find_album(session: Session, ref: int | str) -> Album | None:
    """An album by id (an int) or by name (a str)."""
    return session.get(Album, ref) if isinstance(ref, int) else album_by_name(session, ref)


# -- albums -------------------------------------------------------------------------------------------------

def create_album(session: Session, name: str) -> Album | NameRefused:
    cleaned = clean_name(name)
    if isinstance(cleaned, NameRefused):
        return cleaned
    if (existing := album_by_name(session, cleaned)) is not None:
        return NameRefused("taken", cleaned, existing.id)
    album = Album(name=cleaned)
    session.add(album)
    try:
        session.commit()
    except IntegrityError:  # the same name made by another request in between
        session.rollback()
        existing = album_by_name(session, cleaned)
        return NameRefused("taken", cleaned, existing.id if existing else None)
    return album


def album_named(session: Session, name: str) -> tuple[Album, bool] | NameRefused:
    """The album called ``name``, made when there is none: (album, made now). Tapping "Create" twice, or two
    devices naming the same new album, ends in one album."""
    made = create_album(session, name)
    if isinstance(made, Album):
        return made, True
    if made.problem == "taken" and made.album_id is not None and (album := session.get(Album, made.album_id)):
        return album, False
    return made


def rename_album(session: Session, album_id: int, name: str) -> Album | NameRefused | AlbumNotFound:
    album = session.get(Album, album_id)
    if album is None:
        return AlbumNotFound(album_id)
    cleaned = clean_name(name)
    if isinstance(cleaned, NameRefused):
        return cleaned
    other = album_by_name(session, cleaned)
    if other is not None and other.id != album.id:
        return NameRefused("taken", cleaned, other.id)
    if album.name == cleaned:
        return album  # a second tap, or the name as it was
    album.name = cleaned  # a change of case only is a rename too
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        other = album_by_name(session, cleaned)
        return NameRefused("taken", cleaned, other.id if other else None)
    return album


def delete_album(session: Session, album_id: int) -> DeletedAlbum | AlbumNotFound:
    """The album and its memberships; never a photo."""
    album = session.get(Album, album_id)
    if album is None:
        return AlbumNotFound(album_id)
    # Explicit rather than left to ON DELETE CASCADE: SQLite honours that only with its foreign_keys pragma.
    dropped = session.execute(delete(AlbumPhoto).where(AlbumPhoto.album_id == album_id))
    deleted = DeletedAlbum(album.id, album.name, int(getattr(dropped, "rowcount", 0) or 0))
    session.delete(album)
    session.commit()
    return deleted


# -- photos in albums and hearts ----------------------------------------------------------------------------

def _photo_states(session: Session, ids: list[int]) -> dict[int, bool]:
    """photo id -> whether it is in the library now, for the ids that exist."""
    states: dict[int, bool] = {}
    for chunk in chunks(ids):
        rows = session.execute(select(Photo.id, readable_in_library()).where(Photo.id.in_(chunk)))
        states.update((pid, bool(readable)) for pid, readable in rows)
    return states


def _existing(session: Session, column: Any, ids: list[int], *where: Any) -> set[int]:
    found: set[int] = set()
    for chunk in chunks(ids):
        found.update(session.scalars(select(column).where(column.in_(chunk), *where)))
    return found


def _insert_new(session: Session, model: type[AlbumPhoto] | type[Favorite], rows: list[dict[str, Any]]) -> None:
    """Insert rows, skipping any that another request inserted since we looked (a double tap on two devices)."""
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        statement: Any = sqlite_insert(model.__table__).on_conflict_do_nothing()
    elif dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        statement = pg_insert(model.__table__).on_conflict_do_nothing()
    else:
        statement = insert(model.__table__)
    for chunk in chunks(rows):
        session.execute(statement, chunk)


def _sort_out(ids: list[int], states: dict[int, bool], already: set[int], change: PhotoChange,
              need_present: bool) -> list[int]:
    """Fill ``change`` with what cannot or need not change; returns the ids to change."""
    todo = []
    for pid in ids:
        if pid not in states:
            change.skipped[pid] = "not_found"
        elif pid in already:
            change.unchanged.append(pid)
        elif need_present and not states[pid]:
            change.skipped[pid] = "not_in_library"
        else:
            todo.append(pid)
    return todo


def _change_of(session: Session, album_id: int,
               photo_ids: Iterable[int]) -> tuple[Album, list[int], PhotoChange] | AlbumNotFound:
    """The album, the photo ids once each in order, and an empty change to fill in."""
    album = session.get(Album, album_id)
    if album is None:
        return AlbumNotFound(album_id)
    return album, list(dict.fromkeys(photo_ids)), PhotoChange(album_id=album.id, album_name=album.name)


def add_photos(session: Session, album_id: int, photo_ids: Iterable[int]) -> PhotoChange | AlbumNotFound:
    """Add photos in the library now; those already in the album are left as they were (``unchanged``)."""
    found = _change_of(session, album_id, photo_ids)
    if isinstance(found, AlbumNotFound):
        return found
    album, ids, change = found
    already = _existing(session, AlbumPhoto.photo_id, ids, AlbumPhoto.album_id == album_id)
    change.done = _sort_out(ids, _photo_states(session, ids), already, change, need_present=True)
    now = utcnow()
    _insert_new(session, AlbumPhoto, [{"album_id": album_id, "photo_id": pid, "added_at": now} for pid in change.done])
    if change.done:
        album.updated_at = now  # "recently used" orders the albums to add to
    session.commit()
    return change


def remove_photos(session: Session, album_id: int, photo_ids: Iterable[int]) -> PhotoChange | AlbumNotFound:
    """Take photos out of the album (their files and other albums untouched); any photo may be taken out."""
    found = _change_of(session, album_id, photo_ids)
    if isinstance(found, AlbumNotFound):
        return found
    album, ids, change = found
    inside = _existing(session, AlbumPhoto.photo_id, ids, AlbumPhoto.album_id == album_id)
    states = _photo_states(session, ids)
    for pid in ids:
        if pid in inside:
            change.done.append(pid)
        elif pid in states:
            change.unchanged.append(pid)
        else:
            change.skipped[pid] = "not_found"
    for chunk in chunks(change.done):
        session.execute(delete(AlbumPhoto).where(AlbumPhoto.album_id == album_id, AlbumPhoto.photo_id.in_(chunk)))
    if change.done:
        album.updated_at = utcnow()
    session.commit()
    return change


def set_favorite(session: Session, photo_ids: Iterable[int], favorite: bool = True) -> PhotoChange:
    """Heart photos (those in the library now), or take the heart off (any photo). The wanted state is given,
    never toggled, so a double tap cannot undo itself."""
    ids = list(dict.fromkeys(photo_ids))
    change = PhotoChange()
    hearted = _existing(session, Favorite.photo_id, ids)
    states = _photo_states(session, ids)
    if favorite:
        change.done = _sort_out(ids, states, hearted, change, need_present=True)
        now = utcnow()
        _insert_new(session, Favorite, [{"photo_id": pid, "created_at": now} for pid in change.done])
    else:
        change.done = _sort_out(ids, states, set(states) - hearted, change, need_present=False)
        for chunk in chunks(change.done):
            session.execute(delete(Favorite).where(Favorite.photo_id.in_(chunk)))
    session.commit()
    return change


# -- reading ------------------------------------------------------------------------------------------------

def _album_covers(session: Session) -> dict[int, tuple[int, str | None]]:
    """album id -> (photo id, content hash) of its most recently added photo in the library now."""
    rank = func.row_number().over(partition_by=AlbumPhoto.album_id,
                                  order_by=(AlbumPhoto.added_at.desc(), AlbumPhoto.photo_id.desc())).label("rank")
    ranked = (select(AlbumPhoto.album_id, AlbumPhoto.photo_id, Photo.content_hash, rank)
              .join(Photo, Photo.id == AlbumPhoto.photo_id).where(readable_in_library()).subquery())
    rows = session.execute(select(ranked.c.album_id, ranked.c.photo_id, ranked.c.content_hash)
                           .where(ranked.c.rank == 1))
    return {aid: (pid, h) for aid, pid, h in rows}


def list_albums(session: Session, order: Literal["name", "recent"] = "name") -> list[AlbumSummary]:
    """Every album with its count and cover; by name (case-insensitively), or the most recently changed first."""
    counts = dict(session.execute(
        select(AlbumPhoto.album_id, func.count()).join(Photo, Photo.id == AlbumPhoto.photo_id)
        .where(readable_in_library()).group_by(AlbumPhoto.album_id)).all())
    covers = _album_covers(session)
    albums = []
    for aid, name, updated in session.execute(select(Album.id, Album.name, Album.updated_at)):
        cover = covers.get(aid, (None, None))
        albums.append(AlbumSummary(aid, name, int(counts.get(aid, 0)), cover[0], cover[1], updated))
    if order == "recent":
        return sorted(albums, key=lambda a: (a.updated_at or datetime.min, -(a.id or 0)), reverse=True)
    return sorted(albums, key=lambda a: (a.name.casefold(), a.id or 0))


def favorites_summary(session: Session) -> AlbumSummary:
    """The hearts as an album: how many in the library now, and the most recently hearted as its cover."""
    hearted = (select(Photo.id, Photo.content_hash).join(Favorite, Favorite.photo_id == Photo.id)
               .where(readable_in_library()))
    count = session.scalar(select(func.count()).select_from(hearted.subquery())) or 0
    cover = session.execute(hearted.order_by(Favorite.created_at.desc(), Photo.id.desc()).limit(1)).first()
    updated = session.scalar(select(func.max(Favorite.created_at)))
    return AlbumSummary(None, FAVOURITES, int(count), cover[0] if cover else None, cover[1] if cover else None,
                        updated)


def photos_query(album_id: int | None) -> Select[Any]:
    """The album's photos in the library now (the favourites' with None), selecting id, relpath, content hash and
    taken_at: what the grids page through, newest first."""
    query = select(Photo.id, Photo.relpath, Photo.content_hash, Photo.taken_at)
    if album_id is None:
        query = query.join(Favorite, Favorite.photo_id == Photo.id)
    else:
        query = query.join(AlbumPhoto, AlbumPhoto.photo_id == Photo.id).where(AlbumPhoto.album_id == album_id)
    return query.where(readable_in_library())


def album_count(session: Session, album_id: int | None) -> int:
    """Photos in the album (the favourites with None) that are in the library now."""
    return int(session.scalar(select(func.count()).select_from(photos_query(album_id).subquery())) or 0)


def photo_albums(session: Session, photo_id: int) -> PhotoAlbums:
    favorite = session.get(Favorite, photo_id) is not None
    inside = set(session.scalars(select(AlbumPhoto.album_id).where(AlbumPhoto.photo_id == photo_id)))
    albums = session.execute(select(Album.id, Album.name).order_by(Album.updated_at.desc(), Album.id.desc())).all()
    mine = sorted(((aid, name) for aid, name in albums if aid in inside), key=lambda a: (a[1].casefold(), a[0]))
    return PhotoAlbums(favorite, mine, [(aid, name) for aid, name in albums if aid not in inside])


def album_names_by_photo(session: Session) -> dict[int, list[str]]:
    """photo id -> the names of its albums, sorted (for the export: memberships are few next to photos)."""
    found: dict[int, list[str]] = {}
    for pid, name in session.execute(select(AlbumPhoto.photo_id, Album.name).join(Album,
                                                                                  Album.id == AlbumPhoto.album_id)):
        found.setdefault(pid, []).append(name)
    return {pid: sorted(names, key=lambda n: (n.casefold(), n)) for pid, names in found.items()}


def favorite_ids(session: Session) -> set[int]:
    return set(session.scalars(select(Favorite.photo_id)))
