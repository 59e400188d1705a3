"""The store side of grouping: keeper choices that last, presence, and writing only what changed.

Each test runs on SQLite and, where PICCL_TEST_POSTGRES_URL is set (.ci/run sets it), on PostgreSQL:
the writes are Core bulk statements (INSERT ... RETURNING, executemany UPDATE), and hashes are signed
BIGINTs, where the two databases could differ.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from plugin.config import SimilarSettings
from plugin.grouping.service import GroupError, export_groups, group_photos, set_keeper
from plugin.store.models import Library, Photo, PhotoGroup, PhotoHash, Recommendation
from tests.conftest import store_on

# One hash with the top bit set: stored as a negative BIGINT.
HASH_A, HASH_B = -0x0123_4567_89AB_CDEF, 0x7EDC_BA98_7654_3210


@pytest.fixture(params=["sqlite", "postgresql"])
def sessions(request: pytest.FixtureRequest, tmp_path: Path) -> sessionmaker[Session]:
    return store_on(request.param, tmp_path)


def add_photos(sessions: sessionmaker[Session], hashes: list[int]) -> list[int]:
    """Photos 1..n, each with its own content, no camera date (copies made at various times)."""
    with sessions() as session:
        library = Library(root="/photos")
        session.add(library)
        session.flush()
        photos = [Photo(library_id=library.id, relpath=f"p{i}.jpg", size=1000 + i, mtime_ns=0, content_hash=f"{i:064x}",
                        status="ok", width=4000, height=3000, taken_at=datetime(2020, 1, 1) + timedelta(days=i),
                        taken_at_source="file_mtime") for i in range(len(hashes))]
        session.add_all(photos)
        session.flush()
        for photo, value in zip(photos, hashes, strict=True):
            session.add(PhotoHash(photo_id=photo.id, phash=value, phash_mirror=~value, mono=False))
        session.commit()
        return [p.id for p in photos]


def groups_of(sessions: sessionmaker[Session]) -> list[dict]:
    with sessions() as session:
        return export_groups(session)


def test_the_users_keeper_survives_when_groups_merge(sessions: sessionmaker[Session]) -> None:
    # GIVEN two groups of copies, and the user's keeper in the second
    ids = add_photos(sessions, [HASH_A, HASH_A, HASH_B, HASH_B])
    group_photos(sessions, SimilarSettings())
    second = next(g for g in groups_of(sessions) if ids[3] in {m["photo_id"] for m in g["members"]})
    set_keeper(sessions, second["id"], ids[3])
    # WHEN a re-scan finds that photo 2 is a copy of the second picture too, and the groups merge
    with sessions() as session:
        session.execute(update(PhotoHash).where(PhotoHash.photo_id == ids[1]).values(phash=HASH_B))
        session.execute(update(PhotoHash).where(PhotoHash.photo_id == ids[0]).values(phash=HASH_B))
        session.commit()
    group_photos(sessions, SimilarSettings())
    # THEN the one group keeps the user's choice
    [merged] = groups_of(sessions)
    assert merged["keeper_id"] == ids[3] and merged["keeper_by"] == "user" and merged["reason"] == "your choice"


def test_a_trashed_photo_cannot_be_kept_and_piccl_chooses_among_present_ones(sessions: sessionmaker[Session]) -> None:
    ids = add_photos(sessions, [HASH_A, HASH_A, HASH_A])
    group_photos(sessions, SimilarSettings())
    [group] = groups_of(sessions)
    # GIVEN the keeper went to the trash (the group is not regrouped yet)
    with sessions() as session:
        session.execute(update(Photo).where(Photo.id == group["keeper_id"]).values(trashed_at=datetime(2024, 1, 1)))
        session.commit()
    # THEN it cannot be chosen, and letting piccl choose picks a photo still in the library
    with pytest.raises(GroupError, match="no longer in the library"):
        set_keeper(sessions, group["id"], group["keeper_id"])
    chosen = set_keeper(sessions, group["id"], None)
    assert chosen.keeper_photo_id != group["keeper_id"] and chosen.keeper_photo_id in ids
    with sessions() as session:
        recs = session.scalars(select(Recommendation)).all()
        assert {r.keep_photo_id for r in recs} == {chosen.keeper_photo_id}


def test_regrouping_an_unchanged_library_writes_nothing(sessions: sessionmaker[Session]) -> None:
    add_photos(sessions, [HASH_A, HASH_A, HASH_B, HASH_B, HASH_B])
    group_photos(sessions, SimilarSettings())
    with sessions() as session:
        before = {(g.id, g.updated_at) for g in session.scalars(select(PhotoGroup))}
        recs = {(r.id, r.updated_at) for r in session.scalars(select(Recommendation))}
    group_photos(sessions, SimilarSettings())
    with sessions() as session:
        assert {(g.id, g.updated_at) for g in session.scalars(select(PhotoGroup))} == before
        assert {(r.id, r.updated_at) for r in session.scalars(select(Recommendation))} == recs
