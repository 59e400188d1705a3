"""Find photos by what is in them (the photo_tags index)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, selectinload

from plugin.store.models import Library, Photo, PhotoTag


def tagged(tags: Sequence[str], scene: str | None = None) -> Select[tuple[Photo, Library]]:
    """Photos (present, not trashed) that have every one of ``tags`` (a PICCL tag or a COCO class) and ``scene``."""
    query = (select(Photo, Library).join(Library, Photo.library_id == Library.id)
             .where(Photo.gone_at.is_(None), Photo.trashed_at.is_(None)))
    wanted = [(None, tag.strip().lower()) for tag in tags if tag.strip()]
    if scene:
        wanted.append(("scene", scene.strip().lower()))
    for kind, tag in wanted:
        # One EXISTS per term: each is an index range scan on (tag, photo_id).
        condition = (PhotoTag.photo_id == Photo.id) & (PhotoTag.tag == tag)
        if kind is not None:
            condition &= PhotoTag.kind == kind
        else:
            condition &= PhotoTag.kind != "scene"
        query = query.where(select(PhotoTag.id).where(condition).exists())
    return query.order_by(Photo.taken_at.desc(), Photo.id.desc())


def find_photos(session: Session, tags: Sequence[str], scene: str | None = None,
                limit: int | None = None) -> Iterator[Any]:
    query = tagged(tags, scene).options(selectinload(Photo.tags))
    if limit:
        query = query.limit(limit)
    yield from session.execute(query.execution_options(yield_per=500))  # rows unpack as (photo, library)


def tag_counts(session: Session) -> dict[tuple[str, str], int]:
    """(kind, tag) -> number of present photos with it."""
    rows = session.execute(
        select(PhotoTag.kind, PhotoTag.tag, func.count()).join(Photo, PhotoTag.photo_id == Photo.id)
        .where(Photo.gone_at.is_(None), Photo.trashed_at.is_(None))
        .group_by(PhotoTag.kind, PhotoTag.tag))
    return {(kind, tag): count for kind, tag, count in rows}
