"""Places and events in the store: geocode the photos that need it, recompute the events, keep event ids.

A photo needs geocoding when its ``place_version`` is not the current one: new photos, photos whose GPS changed
(the scan resets it, :func:`plugin.store.writer.store_outcome`), and every photo after the gazetteer, the rule
or ``places.max_distance_km`` changed. Photos without GPS get the version too, with no place, so they are not
looked at again. Events are recomputed from all photos with a camera date; an event keeps its id (and so its
URL) when it keeps its key, or else when most of its photos were in one old event, even as photos join it.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import bindparam, delete, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from plugin.config import PlaceSettings, Settings
from plugin.places.events import EventRules, cover_index, event_key, event_name, event_place, event_starts
from plugin.places.geocode import GazetteerMissing, gazetteer, place_version, valid_gps
from plugin.store.db import chunks
from plugin.store.models import Event, Photo, Recommendation, readable_in_library

log = logging.getLogger(__name__)

_EPOCH = datetime(1970, 1, 1)
BATCH = 5000  # photos geocoded and written per transaction (short write locks: the UI writes meanwhile)


@dataclass(slots=True)
class PlacesReport:
    checked: int = 0  # photos whose place was (re)computed
    placed: int = 0
    no_gps: int = 0  # no GPS, or GPS that says nothing (0,0, out of range)
    too_far: int = 0  # GPS farther than max_distance_km from any populated place
    version: int | None = None
    problem: str | None = None  # the gazetteer is not installed
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"checked": self.checked, "placed": self.placed, "no_gps": self.no_gps, "too_far": self.too_far,
                "version": self.version, "problem": self.problem, "seconds": round(self.seconds, 2)}


def assign_places(sessions: sessionmaker[Session], settings: PlaceSettings, batch: int = BATCH) -> PlacesReport:
    """Geocode, in batches, the photos in the library whose place is missing or out of date."""
    started = time.perf_counter()
    report = PlacesReport()
    try:
        version = place_version(settings.max_distance_km)
    except GazetteerMissing as exc:
        report.problem = str(exc)
        log.warning("places: %s", exc)
        return report
    report.version = version
    table = Photo.__table__
    # Core executemany: the ORM's bulk update by primary key costs five times as much per row.
    # Only if the photo still has the GPS that was looked up: a scan may re-read it meanwhile.
    write = (update(table).where(table.c.id == bindparam("pid"),
                                 table.c.gps_lat.is_not_distinct_from(bindparam("lat")),
                                 table.c.gps_lon.is_not_distinct_from(bindparam("lon")))
             .values(place_version=bindparam("version"), place_country_code=bindparam("code"),
                     place_country=bindparam("country"), place_region=bindparam("region"),
                     place_city=bindparam("city")))
    with sessions() as session:
        todo = session.connection().execute(
            select(table.c.id, table.c.gps_lat, table.c.gps_lon)
            .where(readable_in_library(), (table.c.place_version.is_(None)) | (table.c.place_version != version))
            .order_by(table.c.id)).all()
        for start in range(0, len(todo), batch):
            rows = todo[start:start + batch]
            lat = np.fromiter((np.nan if r[1] is None else r[1] for r in rows), dtype=np.float64, count=len(rows))
            lon = np.fromiter((np.nan if r[2] is None else r[2] for r in rows), dtype=np.float64, count=len(rows))
            has_gps = valid_gps(lat, lon)
            chosen = np.full(len(rows), -1, dtype=np.int64)
            if has_gps.any():  # the gazetteer is loaded only for photos that have somewhere to be
                chosen, _ = gazetteer().locate(lat, lon, settings.max_distance_km)
            values = [{"pid": row[0], "lat": row[1], "lon": row[2], "version": version, **_place_values(int(i))}
                      for row, i in zip(rows, chosen.tolist(), strict=True)]
            session.connection().execute(write, values)
            session.commit()
            report.checked += len(rows)
            report.placed += int((chosen >= 0).sum())
            report.no_gps += int((~has_gps).sum())
            report.too_far += int((has_gps & (chosen < 0)).sum())
    report.seconds = time.perf_counter() - started
    return report


def _place_values(index: int) -> dict[str, str | None]:
    """The columns of gazetteer place ``index`` (-1: no place), as stored."""
    if index < 0:
        return {"code": None, "country": None, "region": None, "city": None}
    code, country, region, city = gazetteer().parts(index)
    return {"code": code, "country": country[:128], "region": region[:128] if region else None, "city": city[:128]}


# -- events -----------------------------------------------------------------------------------------


@dataclass(slots=True)
class EventsReport:
    events: int = 0
    photos: int = 0  # photos in an event (those with a camera date)
    created: int = 0
    updated: int = 0  # kept their id, something about them changed
    removed: int = 0
    photos_moved: int = 0  # photos whose event changed
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"events": self.events, "photos": self.photos, "created": self.created, "updated": self.updated,
                "removed": self.removed, "photos_moved": self.photos_moved, "seconds": round(self.seconds, 2)}


def rules_from(settings: PlaceSettings) -> EventRules:
    return EventRules(gap_s=settings.event_gap_h * 3600.0, split_km=settings.event_split_km,
                      split_gap_s=settings.event_split_gap_h * 3600.0)


@dataclass(slots=True)
class _Wanted:
    key: str
    members: slice
    fields: dict[str, Any] = field(default_factory=dict)
    row: Event | None = None


def compute_events(sessions: sessionmaker[Session], settings: PlaceSettings) -> EventsReport:
    """Recompute the events of the photos in the library that have a camera date, and each photo's event.

    Photos dated by their file's time are left out: a file date says when a file was copied, not when the
    photo was taken, and a folder copied at once would make one huge event.
    """
    started = time.perf_counter()
    report = EventsReport()
    table = Photo.__table__
    with sessions() as session:
        conn = session.connection()  # Core for the photos: ORM rows cost several times as much at 100,000
        rows = conn.execute(
            select(table.c.id, table.c.taken_at, table.c.gps_lat, table.c.gps_lon, table.c.place_city,
                   table.c.place_region, table.c.place_country, table.c.event_id)
            .where(readable_in_library(), table.c.taken_at.is_not(None), table.c.taken_at_source == "exif")
            .order_by(table.c.taken_at, table.c.id)).all()
        flagged_ids = set(conn.scalars(select(Recommendation.photo_id).distinct()))
        n = len(rows)
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=n)
        taken = [r[1] for r in rows]
        seconds = np.fromiter(((t - _EPOCH).total_seconds() for t in taken), dtype=np.float64, count=n)
        lat = np.fromiter((np.nan if r[2] is None else r[2] for r in rows), dtype=np.float64, count=n)
        lon = np.fromiter((np.nan if r[3] is None else r[3] for r in rows), dtype=np.float64, count=n)
        old_event = np.fromiter((-1 if r[7] is None else r[7] for r in rows), dtype=np.int64, count=n)
        flagged = np.fromiter((pid in flagged_ids for pid in ids.tolist()), dtype=bool, count=n)
        starts = event_starts(seconds, lat, lon, rules_from(settings))
        ends = np.append(starts[1:], n) if n else starts

        wanted: list[_Wanted] = []
        for a, b in zip(starts.tolist(), ends.tolist(), strict=True):
            first, last = taken[a], taken[b - 1]
            place = event_place([(r[4], r[5], r[6]) for r in rows[a:b]])
            cover = int(ids[a + cover_index(flagged[a:b])])
            wanted.append(_Wanted(event_key(int(ids[a]), first), slice(a, b), {
                "start_at": first, "end_at": last, "name": event_name(first, last, place)[:256],
                "place": place[:256] if place else None, "size": b - a, "cover_photo_id": cover}))

        existing = {e.id: e for e in session.scalars(select(Event))}
        _match(wanted, existing, old_event, starts)
        kept = {w.row.id for w in wanted if w.row is not None}
        gone = [eid for eid in existing if eid not in kept]
        for chunk in chunks(gone):
            session.execute(delete(Event).where(Event.id.in_(chunk)))
        report.removed = len(gone)
        # A kept row may take a key another kept row still has: park changed keys first (the key is unique).
        renamed = [w for w in wanted if w.row is not None and w.row.key != w.key]
        for w in renamed:
            assert w.row is not None
            w.row.key = f"~{w.row.id}"
        session.flush()
        for w in wanted:
            if w.row is None:
                w.row = Event(key=w.key, **w.fields)
                session.add(w.row)
                report.created += 1
            else:
                changes = {k: v for k, v in (("key", w.key), *w.fields.items()) if getattr(w.row, k) != v}
                for k, v in changes.items():  # only what differs: an unchanged event costs no UPDATE
                    setattr(w.row, k, v)
                report.updated += bool(changes)
        session.flush()

        new_event = np.full(n, -1, dtype=np.int64)
        for w in wanted:
            assert w.row is not None
            new_event[w.members] = w.row.id
        moved = np.flatnonzero(new_event != old_event)
        values = [{"pid": int(ids[i]), "event": int(new_event[i])} for i in moved.tolist()]
        # Photos that left every event (gone, trashed, error, their camera date lost) let go of theirs.
        values += [{"pid": pid, "event": None} for pid in conn.scalars(select(table.c.id).where(
            table.c.event_id.is_not(None),
            or_(table.c.status != "ok", table.c.gone_at.is_not(None), table.c.trashed_at.is_not(None),
                table.c.taken_at.is_(None), table.c.taken_at_source.is_(None), table.c.taken_at_source != "exif")))]
        write = update(table).where(table.c.id == bindparam("pid")).values(event_id=bindparam("event"))
        for part in chunks(values, BATCH):
            conn.execute(write, part)
        session.commit()
        report.events, report.photos, report.photos_moved = len(wanted), n, len(values)
    report.seconds = time.perf_counter() - started
    return report


def _match(wanted: list[_Wanted], existing: dict[int, Event], old_event: np.ndarray, starts: np.ndarray) -> None:
    """Give each wanted event the old row it continues: the one with its key, else the one most of its photos
    were in (each old row to one new event at most, the largest overlaps first)."""
    by_key = {e.key: e for e in existing.values()}
    taken: set[int] = set()
    for w in wanted:
        row = by_key.get(w.key)
        if row is not None:
            w.row = row
            taken.add(row.id)
    known = old_event >= 0
    if not known.any():
        return
    label = np.repeat(np.arange(len(wanted)), np.diff(np.append(starts, len(old_event))))
    pairs, counts = np.unique(np.column_stack((label[known], old_event[known])), axis=0, return_counts=True)
    for i in np.lexsort((pairs[:, 0], -counts)).tolist():
        new, old = int(pairs[i, 0]), int(pairs[i, 1])
        if wanted[new].row is None and old not in taken and old in existing:
            wanted[new].row = existing[old]
            taken.add(old)


def refresh_places(sessions: sessionmaker[Session], settings: Settings) -> dict[str, Any]:
    """Places for the photos that need one: what a scan that changed anything ends with (cheap when nothing
    is new). Never fails the scan: a problem is logged, and the next scan or ``piccl places`` tries again."""
    try:
        return assign_places(sessions, settings.places).as_dict()
    except Exception:  # logged; the photos keep no version and are tried again next time
        log.exception("assigning places failed")
        return {}


def refresh_events(sessions: sessionmaker[Session], settings: Settings) -> dict[str, Any]:
    """The events, recomputed (about a second at 100,000 photos): after a CLI scan, and on the watcher's
    grouping schedule rather than after every photo that arrives. Never fails its caller."""
    try:
        return compute_events(sessions, settings.places).as_dict()
    except Exception:
        log.exception("computing events failed")
        return {}


def events_needed(sessions: sessionmaker[Session]) -> bool:
    """Whether a photo with a camera date has no event yet (a library scanned before events existed)."""
    table = Photo.__table__
    with sessions() as session:
        return session.execute(
            select(table.c.id).where(readable_in_library(), table.c.taken_at.is_not(None),
                                     table.c.taken_at_source == "exif", table.c.event_id.is_(None)).limit(1)
        ).first() is not None
