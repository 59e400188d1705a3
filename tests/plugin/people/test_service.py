"""People in the database: re-clustering, incremental assignment and the user's corrections (real SQLite)."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from plugin.config import FaceSettings
from plugin.people.matching import encode_vector
from plugin.people.service import (
    Assigner,
    PeopleError,
    confirm_faces,
    find_person_by_name,
    hide_person,
    list_people,
    mark_not_a_face,
    merge_people,
    move_faces,
    name_person,
    recluster,
    remove_faces,
)
from plugin.store.models import Face, FaceRejection, Library, Person, Photo
from tests.plugin.people.conftest import identities

MODEL = "mobilefacenet:test"
SETTINGS = FaceSettings()


def _add_faces(session: Session, vectors: np.ndarray, start: int = 0) -> list[int]:
    """One photo per face (status ok), each face groupable; returns the face ids in order."""
    library = session.scalars(select(Library)).first()
    if library is None:
        library = Library(root="/photos")
        session.add(library)
        session.flush()
    ids = []
    for n, vector in enumerate(vectors, start=start):
        photo = Photo(library_id=library.id, relpath=f"p{n}.jpg", size=1, mtime_ns=0, status="ok", width=400,
                      height=300)
        photo.faces.append(Face(idx=0, x=10, y=10, w=100, h=100, landmarks=[], score=0.9, sharpness=500,
                                quality="ok", embed_model=MODEL, embedding=encode_vector(vector)))
        session.add(photo)
        session.flush()
        ids.append(photo.faces[0].id)
    return ids


def _people_of(session: Session, face_ids: list[int]) -> list[int | None]:
    by_id = dict(session.execute(select(Face.id, Face.person_id).where(Face.id.in_(face_ids))).all())
    return [by_id[i] for i in face_ids]


def _every_face_once(session: Session) -> None:
    """Each face has at most one person and each person's counts are its faces."""
    for person in session.scalars(select(Person)):
        faces = session.scalar(select(func.count()).select_from(Face).where(Face.person_id == person.id,
                                                                           Face.not_a_face.is_(False)))
        assert person.face_count == faces


@pytest.fixture
def db(sessions: sessionmaker[Session]) -> Session:
    with sessions() as session:
        yield session


def test_reclustering_forms_people_and_leaves_singletons_alone(db: Session) -> None:
    # GIVEN 5 people with 6 faces each and 4 people seen once, none grouped yet
    vectors, truth = identities(5, 6)
    singles, _ = identities(4, 1, seed=3)
    ids = _add_faces(db, vectors)
    single_ids = _add_faces(db, singles, start=100)
    # WHEN re-clustered
    report = recluster(db, SETTINGS, MODEL)
    db.commit()
    # THEN five people are formed, one per identity, and the singletons wait unassigned
    assert report.new_people == 5
    people = _people_of(db, ids)
    for identity in range(5):
        assert len({people[i] for i in np.flatnonzero(truth == identity)}) == 1
    assert len(set(people)) == 5
    assert _people_of(db, single_ids) == [None] * 4
    _every_face_once(db)


def test_new_faces_join_known_people_incrementally(db: Session) -> None:
    # GIVEN people formed from the first 5 faces of each of 4 identities
    vectors, truth = identities(4, 7)
    first = np.concatenate([np.flatnonzero(truth == p)[:5] for p in range(4)])
    later = np.concatenate([np.flatnonzero(truth == p)[5:] for p in range(4)])
    _add_faces(db, vectors[first])
    recluster(db, SETTINGS, MODEL)
    db.commit()
    # WHEN the remaining faces arrive one scan later
    new_ids = _add_faces(db, vectors[later], start=1000)
    faces = list(db.scalars(select(Face).where(Face.id.in_(new_ids)).order_by(Face.id)))
    assigned = Assigner(SETTINGS, MODEL).assign(db, faces)
    db.commit()
    # THEN they join their own person at once (the smart-album paper's incremental rule)
    assert assigned == len(new_ids)
    people = _people_of(db, new_ids)
    assert all(people[i] == people[i ^ 1] for i in range(0, len(people), 2))
    assert len(set(people)) == 4


def test_corrections_survive_reclustering(db: Session) -> None:
    # GIVEN two identities grouped into two people
    vectors, truth = identities(2, 8)
    ids = np.array(_add_faces(db, vectors))
    recluster(db, SETTINGS, MODEL)
    db.commit()
    a_faces, b_faces = ids[truth == 0].tolist(), ids[truth == 1].tolist()
    person_a, person_b = _people_of(db, a_faces[:1])[0], _people_of(db, b_faces[:1])[0]
    assert person_a and person_b and person_a != person_b
    # WHEN the user names A, moves one of B's faces to A (a wrong but deliberate choice), says one of A's faces
    # is not A, splits two of B's faces into a new person "B2", and marks one face as not a face
    name_person(db, person_a, "Alice")
    move_faces(db, [b_faces[0]], person_a)
    remove_faces(db, [a_faces[1]])
    b2 = move_faces(db, b_faces[1:3], None, new_name="B2")
    mark_not_a_face(db, [a_faces[2]])
    db.commit()
    before = _people_of(db, list(map(int, ids)))
    # AND re-clustering runs twice
    recluster(db, SETTINGS, MODEL)
    recluster(db, SETTINGS, MODEL)
    db.commit()
    after = dict(zip(map(int, ids), _people_of(db, list(map(int, ids))), strict=True))
    # THEN every correction holds
    assert db.get(Person, person_a).name == "Alice"
    assert after[b_faces[0]] == person_a  # the moved face stays (confirmed)
    assert after[a_faces[1]] != person_a  # "not Alice" is remembered
    assert after[b_faces[1]] == after[b_faces[2]] == b2.id  # the split is not merged back into B
    assert after[b_faces[3]] != b2.id
    assert after[a_faces[2]] is None  # not a face: in no person
    # AND the rest did not move
    unchanged = [f for f in map(int, ids) if f not in (b_faces[0], a_faces[1], b_faces[1], b_faces[2], a_faces[2])]
    assert all(after[f] == before[list(map(int, ids)).index(f)] for f in unchanged)
    _every_face_once(db)


def test_merge_move_and_remove_keep_every_face_exactly_once(db: Session) -> None:
    # GIVEN three people
    vectors, truth = identities(3, 5)
    ids = np.array(_add_faces(db, vectors))
    recluster(db, SETTINGS, MODEL)
    db.commit()
    p = [_people_of(db, [int(ids[truth == k][0])])[0] for k in range(3)]
    total = db.scalar(select(func.count()).select_from(Face))
    # WHEN the user merges 1 into 0, moves 2 faces of 2 to 0, and removes one face of 0
    merge_people(db, [p[1]], p[0])
    move_faces(db, ids[truth == 2][:2].tolist(), p[0])
    remove_faces(db, [int(ids[truth == 0][0])])
    db.commit()
    # THEN no face was lost or duplicated, the counts add up, and the merged person is gone
    assert db.scalar(select(func.count()).select_from(Face)) == total
    counts = Counter(_people_of(db, list(map(int, ids))))
    assert counts[p[0]] == 5 + 5 + 2 - 1
    assert counts[p[2]] == 3 and counts[None] == 1 and p[1] not in counts
    assert db.get(Person, p[1]) is None
    assert db.get(Person, p[0]).face_count == 11
    assert db.scalar(select(func.count()).select_from(FaceRejection)) == 3  # 2 moved out of p2, 1 removed
    _every_face_once(db)


def test_a_removed_face_never_rejoins_by_assignment(db: Session) -> None:
    vectors, _truth = identities(1, 6)
    ids = _add_faces(db, vectors)
    recluster(db, SETTINGS, MODEL)
    _people_of(db, ids[:1])[0]
    remove_faces(db, [ids[0]])
    db.commit()
    face = db.get(Face, ids[0])
    assert Assigner(SETTINGS, MODEL).assign(db, [face]) == 0
    assert face.person_id is None


def test_named_people_are_not_merged_but_unnamed_halves_are(db: Session) -> None:
    # GIVEN one identity the user split by hand into two people: one named, one made by a move
    vectors, _ = identities(1, 10)
    ids = _add_faces(db, vectors)
    first = move_faces(db, ids[:5], None, new_name="Kim")
    second = move_faces(db, ids[5:], None)
    db.commit()
    # WHEN re-clustered
    recluster(db, SETTINGS, MODEL)
    db.commit()
    # THEN they stay two people (only the user merges people they made)
    assert set(_people_of(db, ids)) == {first.id, second.id}


def test_corrections_refuse_unknown_ids_and_empty_names(db: Session) -> None:
    vectors, _ = identities(1, 3)
    ids = _add_faces(db, vectors)
    person = move_faces(db, ids, None)
    with pytest.raises(PeopleError):
        name_person(db, person.id, "   ")
    with pytest.raises(PeopleError):
        move_faces(db, [999_999], person.id)
    with pytest.raises(PeopleError):
        merge_people(db, [person.id], person.id)


def test_listing_puts_unnamed_people_first_and_hides_hidden_ones(db: Session) -> None:
    vectors, truth = identities(3, 4)
    ids = np.array(_add_faces(db, vectors))
    big = move_faces(db, ids[truth == 0].tolist(), None)
    named = move_faces(db, ids[truth == 1].tolist(), None, new_name="Zoe")
    hidden = move_faces(db, ids[truth == 2].tolist(), None)
    hide_person(db, hidden.id)
    confirm_faces(db, ids[truth == 0].tolist())
    db.commit()
    assert [p.id for p in list_people(db)] == [big.id, named.id]
    assert hidden.id in [p.id for p in list_people(db, include_hidden=True)]
    assert find_person_by_name(db, "  zoe ").id == named.id
