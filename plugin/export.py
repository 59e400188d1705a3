"""Everything known about each photo, one JSON object per line.

The record's keys are a contract (scripts and later issues build on them):
add keys, never rename or drop them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta, timezone
from pathlib import PurePosixPath
from typing import Any, TextIO

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased, selectinload

from plugin.albums import album_names_by_photo, favorite_ids
from plugin.store.models import Analysis, Event, Face, Library, Photo, PhotoGroup, PhotoGroupMember


def photo_record(photo: Photo, library: Library, groups: list[dict[str, Any]] | None = None,
                 albums: list[str] | None = None, favorite: bool = False,
                 events: dict[int, str] | None = None) -> dict[str, Any]:
    analyses = {a.analyzer: a for a in photo.analyses}
    blur, exposure = analyses.get("blur"), analyses.get("exposure")
    taken_at = None
    if photo.taken_at is not None:
        stamp = photo.taken_at
        if photo.taken_at_offset_min is not None:
            stamp = stamp.replace(tzinfo=timezone(timedelta(minutes=photo.taken_at_offset_min)))
        taken_at = stamp.isoformat()
    return {
        "path": str(PurePosixPath(library.root) / photo.relpath),
        "library": library.root,
        "relpath": photo.relpath,
        "status": photo.status,
        "error": f"{photo.error_reason}: {photo.error_detail}" if photo.error_reason else None,
        "error_reason": photo.error_reason,
        "gone": photo.gone_at is not None,
        "content_hash": photo.content_hash,
        "format": photo.format,
        "width": photo.width,
        "height": photo.height,
        "taken_at": taken_at,
        "taken_at_source": photo.taken_at_source,
        "gps": (
            {"lat": photo.gps_lat, "lon": photo.gps_lon, "alt": photo.gps_alt}
            if photo.gps_lat is not None and photo.gps_lon is not None else None
        ),
        "camera": {"make": photo.camera_make, "model": photo.camera_model},
        "quality": {
            "blur": None if blur is None else {
                "score": blur.score,
                "blurry": blur.flagged,
                "kind": blur.evidence.get("kind"),
                "method": blur.evidence.get("method"),
                "evidence": blur.evidence,
            },
            "exposure": None if exposure is None else {
                "score": exposure.score,
                "dark": exposure.flagged,
                "method": exposure.evidence.get("method"),
                "evidence": exposure.evidence,
            },
        },
        "recommendation": {
            "reasons": [r.reason for r in sorted(photo.recommendations, key=lambda r: r.reason)],
            "evidence": {r.reason: dict(r.evidence) for r in photo.recommendations},
        },
        "decision": photo.decision.decision if photo.decision else None,
        **vision_record(analyses.get("objects"), analyses.get("scene")),
        "faces": faces_record(photo, analyses.get("faces")),
        # The groups (copies, edits, bursts) the photo is in: id, kind, keeper (path), reason, relation.
        "groups": groups or [],
        # The user's albums it is in (names, sorted) and whether it has the heart.
        "albums": albums or [],
        "favorite": favorite,
        # Where it was taken (offline reverse geocoding of its GPS) and the event it belongs to; None when unknown.
        "place": place_record(photo),
        "event": ({"id": photo.event_id, "name": events[photo.event_id]}
                  if events is not None and photo.event_id in events else None),
    }


def place_record(photo: Photo) -> dict[str, str | None] | None:
    if not photo.place_country_code:
        return None
    return {"country": photo.place_country, "country_code": photo.place_country_code,
            "region": photo.place_region, "city": photo.place_city}


def faces_record(photo: Photo, analysis: Analysis | None) -> list[dict[str, Any]] | dict[str, str] | None:
    """Each face (not those the user said are not faces): box in upright photo pixels, person, confirmed.

    None when faces were not analysed, a ``not_installed`` (or ``error``) note when there is no result.
    """
    if analysis is None:
        return None
    if (problem := _problem(analysis)) is not None:
        return problem
    return [{
        "box": [round(f.x, 1), round(f.y, 1), round(f.w, 1), round(f.h, 1)],
        "landmarks": f.landmarks,
        "score": f.score,
        "sharpness": f.sharpness,
        "quality": f.quality,
        "person_id": f.person_id,
        "person_name": f.person.name if f.person is not None else None,
        "confirmed": f.confirmed,
    } for f in photo.faces if not f.not_a_face]


def _problem(analysis: Analysis) -> dict[str, str] | None:
    """Why a model analyzer has no result (model not installed, or it failed), else None."""
    for key in ("not_installed", "error"):
        if key in analysis.evidence:
            return {key: analysis.evidence[key]}
    return None


def vision_record(objects: Analysis | None, scene: Analysis | None) -> dict[str, Any]:
    """``objects``, ``tags`` and ``scene``; each None when not analysed, a ``not_installed`` (or ``error``)
    note when there is no result."""
    record: dict[str, Any] = {"objects": None, "tags": None, "scene": None}
    if objects is not None:
        ev = objects.evidence
        if (problem := _problem(objects)) is not None:
            record["objects"] = record["tags"] = problem
        else:
            record["objects"] = [{"label": o["label"], "score": o["score"], "box": o["box"]}
                                 for o in ev.get("objects", [])]
            record["tags"] = {"piccl": ev.get("tags", []), "objects": ev.get("classes", []),
                              "mapping": ev.get("mapping")}
    if scene is not None:
        ev = scene.evidence
        record["scene"] = _problem(scene) or {"label": ev.get("scene"), "why": ev.get("why"),
                                              "groups": ev.get("groups"), "method": ev.get("method")}
    return record


def iter_records(session: Session, include_gone: bool = False) -> Iterator[dict[str, Any]]:
    query = (
        select(Photo, Library).join(Library)
        .options(selectinload(Photo.analyses), selectinload(Photo.recommendations), selectinload(Photo.decision),
                 selectinload(Photo.faces).joinedload(Face.person))
        .order_by(Library.root, Photo.relpath)
    )
    if not include_gone:
        query = query.where(Photo.gone_at.is_(None))
    memberships = group_memberships(session)
    in_albums, hearted = album_names_by_photo(session), favorite_ids(session)
    events: dict[int, str] = dict(session.execute(select(Event.id, Event.name)).all())  # few next to photos
    for photo, library in session.execute(query.execution_options(yield_per=500)):
        yield photo_record(photo, library, memberships.get(photo.id), in_albums.get(photo.id),
                           photo.id in hearted, events)


def group_memberships(session: Session) -> dict[int, list[dict[str, Any]]]:
    """photo id -> the groups it is in, as exported (groups are few next to photos: one query)."""
    keeper = aliased(Photo)
    rows = session.execute(
        select(PhotoGroupMember.photo_id, PhotoGroupMember.relation, PhotoGroup.id, PhotoGroup.kind,
               PhotoGroup.keeper_photo_id, keeper.relpath, PhotoGroup.keeper_reason, PhotoGroup.keeper_by,
               PhotoGroup.method)
        .join(PhotoGroup, PhotoGroup.id == PhotoGroupMember.group_id)
        .outerjoin(keeper, keeper.id == PhotoGroup.keeper_photo_id))
    found: dict[int, list[dict[str, Any]]] = {}
    for photo_id, relation, group_id, kind, keeper_id, keeper_path, reason, keeper_by, method in rows:
        found.setdefault(photo_id, []).append({
            "id": group_id, "kind": kind, "keeper": keeper_path, "keeper_id": keeper_id, "reason": reason,
            "keeper_by": keeper_by, "relation": relation, "method": method})
    return found


def write_jsonl(session: Session, out: TextIO, include_gone: bool = False) -> int:
    count = 0
    for record in iter_records(session, include_gone):
        out.write(json.dumps(record, ensure_ascii=False, default=str))
        out.write("\n")
        count += 1
    return count
