"""Places (countries, their cities, a city's photos) and events (newest first, each with its photos).

Places come from the photos' GPS (offline reverse geocoding, :mod:`plugin.places`); a city is addressed by its
country code, name and region in the URL's query (two Springfields are two cities), never by a path. Country
and city lists are one GROUP BY each, cached for 30 s (the library's cache); photo grids are keyset pages over
ix_photos_place and ix_photos_event_id.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask import Blueprint, abort, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from plugin.places import browse
from plugin.places.events import date_range
from plugin.store.db import holds_nul
from plugin.store.models import Event, Photo, readable_in_library
from webui import queries
from webui.extensions import db, services
from webui.review import cursor_arg

bp = Blueprint("places", __name__)


@dataclass(frozen=True, slots=True)
class Card:
    """A country, a city or an event: its name, a line under it, its photo count, its cover, its page."""

    title: str
    subtitle: str
    label: str  # the whole name (the card's tooltip): an event's name, "Lisbon, Lisbon"
    photos: int
    cover_photo_id: int | None
    cover_version: str
    url: str


def _versions(session: Session, photo_ids: list[int]) -> dict[int, str]:
    rows = session.execute(select(Photo.id, Photo.content_hash).where(Photo.id.in_(photo_ids))) if photo_ids else []
    return {pid: queries.version_of(h) for pid, h in rows}


def _code(code: str) -> str:
    if len(code) != 2 or not code.isalpha():
        abort(404)
    return code.upper()


@bp.get("/places/")
def index() -> ResponseReturnValue:
    found = queries.library_cache.get(("places",), lambda: browse.countries(db()))
    versions = _versions(db(), [c.cover_photo_id for c in found])
    cards = [Card(c.name, f"{c.cities} {'city' if c.cities == 1 else 'cities'}", c.name, c.photos, c.cover_photo_id,
                  versions.get(c.cover_photo_id, "none"), url_for("places.country", code=c.code)) for c in found]
    return render_template("places.html", cards=cards)


@bp.get("/places/<code>/")
def country(code: str) -> ResponseReturnValue:
    code = _code(code)
    name = browse.country_name(db(), code)
    found = queries.library_cache.get(("places", code), lambda: browse.cities(db(), code))
    if name is None or not found:
        abort(404)
    versions = _versions(db(), [c.cover_photo_id for c in found])
    cards = [Card(c.city, c.region or "", ", ".join(filter(None, (c.city, c.region))), c.photos, c.cover_photo_id,
                  versions.get(c.cover_photo_id, "none"), url_for("places.city", code=code, name=c.city,
                                                                  region=c.region or "")) for c in found]
    return render_template("place_country.html", code=code, name=name, cards=cards)


def _city_args(code: str) -> tuple[str, str, str | None]:
    name = request.args.get("name", "").strip()
    if not name:
        abort(404)
    return _code(code), name, request.args.get("region") or None


def _city_page(code: str, name: str, region: str | None) -> queries.Page:
    if holds_nul(name, region):
        return queries.Page([], None)
    query = select(Photo.id, Photo.relpath, Photo.content_hash, Photo.taken_at).where(
        readable_in_library(), Photo.place_country_code == code, Photo.place_city == name,
        Photo.place_region.is_(None) if region is None else Photo.place_region == region)
    return queries.newest_first_page(db(), query, cursor_arg(), services().settings.ui.page_size)


@bp.get("/places/<code>/city")
def city(code: str) -> ResponseReturnValue:
    code, name, region = _city_args(code)
    page = _city_page(code, name, region)
    if not page.tiles and cursor_arg() is None:
        abort(404)
    country_name = browse.country_name(db(), code) or code
    more = url_for("places.city_tiles", code=code, name=name, region=region or "", cursor=page.next_cursor)
    return render_template("place_city.html", code=code, country=country_name, name=name, region=region,
                           page=page, more_url=more)


@bp.get("/places/<code>/city/tiles")
def city_tiles(code: str) -> ResponseReturnValue:
    """The next page of a city's grid, as HTML to append (infinite scroll)."""
    code, name, region = _city_args(code)
    page = _city_page(code, name, region)
    return render_template("_tiles.html", page=page, more_url=url_for(
        "places.city_tiles", code=code, name=name, region=region or "", cursor=page.next_cursor))


# -- events -----------------------------------------------------------------------------------------


def _event_cards(cursor: int | None, limit: int) -> tuple[list[Card], int | None]:
    """A keyset page of events, newest first (ix_events_start_at)."""
    query = (select(Event.id, Event.name, Event.place, Event.size, Event.cover_photo_id, Photo.content_hash,
                    Event.start_at, Event.end_at)
             .outerjoin(Photo, Photo.id == Event.cover_photo_id))
    if cursor is not None:
        last = db().scalar(select(Event.start_at).where(Event.id == cursor))
        if last is not None:
            query = query.where(or_(Event.start_at < last, and_(Event.start_at == last, Event.id < cursor)))
    rows = db().execute(query.order_by(Event.start_at.desc(), Event.id.desc()).limit(limit + 1)).all()
    # Events are recomputed on a schedule; photos trashed or gone since must not show in the count or as the
    # cover. One grouped query over ix_photos_event_id for the page's events.
    ids = [row[0] for row in rows[:limit]]
    present = {eid: (n, newest) for eid, n, newest in db().execute(
        select(Photo.event_id, func.count(), func.max(Photo.id))
        .where(Photo.event_id.in_(ids), readable_in_library()).group_by(Photo.event_id))}
    readable_covers = set(db().scalars(select(Photo.id).where(
        Photo.id.in_([row[4] for row in rows[:limit] if row[4]]), readable_in_library())))
    cards = []
    for eid, name, place, _size, cover, h, start, end in rows[:limit]:
        if eid not in present:
            continue  # every photo of it was trashed since: gone at the next recomputation
        count, newest = present[eid]
        if cover not in readable_covers:
            cover = newest
            h = db().scalar(select(Photo.content_hash).where(Photo.id == newest))
        # Two short lines a phone's card can show: the place and the dates, or the dates and the hours.
        dates = date_range(start, end)
        title, subtitle = (place, dates) if place else (dates, _span(start, end))
        cards.append(Card(title, subtitle, name, count, cover, queries.version_of(h),
                          url_for("places.event", event_id=eid)))
    return cards, (rows[limit - 1][0] if len(rows) > limit else None)


def _span(start: datetime, end: datetime) -> str:
    if start.date() == end.date():
        first, last = f"{start:%H:%M}", f"{end:%H:%M}"
        return first if first == last else f"{first}-{last}"
    days = (end.date() - start.date()).days + 1
    return f"{days} days"


@bp.get("/events/")
def events() -> ResponseReturnValue:
    cards, next_cursor = _event_cards(cursor_arg(), services().settings.ui.page_size)
    more = url_for("places.event_cards", cursor=next_cursor) if next_cursor else None
    return render_template("events.html", cards=cards, more_url=more,
                           gap_h=f"{services().settings.places.event_gap_h:g}")


@bp.get("/events/cards")
def event_cards() -> ResponseReturnValue:
    """The next page of events, as HTML to append (infinite scroll)."""
    cards, next_cursor = _event_cards(cursor_arg(), services().settings.ui.page_size)
    more = url_for("places.event_cards", cursor=next_cursor) if next_cursor else None
    return render_template("_place_cards.html", cards=cards, more_url=more)


def _event_page(event_id: int, cursor: int | None, limit: int) -> queries.Page:
    """The event's photos in the order they were taken (a keyset page over ix_photos_event_id)."""
    query = select(Photo.id, Photo.relpath, Photo.content_hash, Photo.taken_at).where(
        Photo.event_id == event_id, readable_in_library())
    if cursor is not None:
        last = db().scalar(select(Photo.taken_at).where(Photo.id == cursor))
        if last is not None:
            query = query.where(or_(Photo.taken_at > last, and_(Photo.taken_at == last, Photo.id > cursor)))
    rows = db().execute(query.order_by(Photo.taken_at, Photo.id).limit(limit + 1)).all()
    tiles = [queries.Tile(pid, rel.rpartition("/")[2], queries.version_of(h),
                          taken.strftime("%d %b %H:%M") if taken else rel.rpartition("/")[2])
             for pid, rel, h, taken in rows[:limit]]
    return queries.Page(tiles, tiles[-1].photo_id if len(rows) > limit else None)


@bp.get("/events/<int:event_id>")
def event(event_id: int) -> ResponseReturnValue:
    found = db().get(Event, event_id)
    if found is None:
        abort(404)
    page = _event_page(event_id, cursor_arg(), services().settings.ui.page_size)
    more = url_for("places.event_tiles", event_id=event_id, cursor=page.next_cursor)
    return render_template("event.html", event=found, page=page, more_url=more)


@bp.get("/events/<int:event_id>/tiles")
def event_tiles(event_id: int) -> ResponseReturnValue:
    page = _event_page(event_id, cursor_arg(), services().settings.ui.page_size)
    return render_template("_tiles.html", page=page, more_url=url_for(
        "places.event_tiles", event_id=event_id, cursor=page.next_cursor))


@bp.app_template_global()
def photo_event(photo: Photo) -> Event | None:
    """The event a photo is in (for the photo page), or None."""
    return db().get(Event, photo.event_id) if photo.event_id is not None else None


@bp.app_template_global()
def photo_place(photo: Photo) -> tuple[str, str] | None:
    """A photo's place as the photo page shows it ('Lisbon, Lisbon, Portugal') and its city's page, or None."""
    if not (photo.place_country_code and photo.place_city):
        return None
    label = ", ".join(p for p in (photo.place_city, photo.place_region, photo.place_country) if p)
    return label, url_for("places.city", code=photo.place_country_code, name=photo.place_city,
                          region=photo.place_region or "")
