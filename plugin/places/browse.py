"""Read-side queries of places and events, for the CLI and the UI: counts per country and city, with a cover.

Counts cover the photos in the library now (read, not gone, not in piccl's trash). A cover is the newest photo
(by id) that piccl does not advise deleting, or the newest of all when every one is flagged. Both are one
GROUP BY over ix_photos_place; at 100,000 photos they take tens of milliseconds (the UI caches them).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import case, exists, func, select
from sqlalchemy.orm import Session

from plugin.store.models import Event, Photo, Recommendation, readable_in_library


@dataclass(frozen=True, slots=True)
class CountryCount:
    code: str
    name: str
    photos: int
    cities: int
    cover_photo_id: int


@dataclass(frozen=True, slots=True)
class CityCount:
    city: str
    region: str | None
    photos: int
    cover_photo_id: int


def _cover() -> object:
    unflagged = ~exists().where(Recommendation.photo_id == Photo.id)
    return func.coalesce(func.max(case((unflagged, Photo.id))), func.max(Photo.id))


def countries(session: Session) -> list[CountryCount]:
    """Every country with photos, most photos first (then by name)."""
    query = (select(Photo.place_country_code, func.max(Photo.place_country), func.count(),
                    func.count(func.distinct(Photo.place_city)), _cover())
             .where(readable_in_library(), Photo.place_country_code.is_not(None))
             .group_by(Photo.place_country_code))
    found = [CountryCount(code, name or code, int(n), int(c), int(cover))
             for code, name, n, c, cover in session.execute(query).all()]
    return sorted(found, key=lambda c: (-c.photos, c.name))


def cities(session: Session, country_code: str) -> list[CityCount]:
    """A country's cities (a name in two regions is two cities), most photos first."""
    query = (select(Photo.place_city, Photo.place_region, func.count(), _cover())
             .where(readable_in_library(), Photo.place_country_code == country_code, Photo.place_city.is_not(None))
             .group_by(Photo.place_city, Photo.place_region))
    found = [CityCount(city, region, int(n), int(cover)) for city, region, n, cover in session.execute(query).all()]
    return sorted(found, key=lambda c: (-c.photos, c.city, c.region or ""))


def country_name(session: Session, country_code: str) -> str | None:
    return session.scalar(select(Photo.place_country).where(Photo.place_country_code == country_code).limit(1))


def events_newest_first(session: Session, limit: int | None = None) -> list[Event]:
    query = select(Event).order_by(Event.start_at.desc(), Event.id.desc())
    return list(session.scalars(query if limit is None else query.limit(limit)))
