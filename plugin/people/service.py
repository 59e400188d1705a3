"""Faces and people in the database: store a photo's faces, assign new ones, re-cluster, and the user's fixes.

The user's word always wins and is never undone by piccl:

- a face the user put somewhere (named, moved, merged, confirmed) is ``confirmed``: assignment and
  re-clustering never move it, and it anchors its person (it counts twice in the representative vector);
- "not this person" is a :class:`FaceRejection`: that face never goes back to that person;
- a person the user named or made is never merged into another by re-clustering; two such people are never
  merged with each other (only the user merges people);
- "not a face" takes the detection out of every person and every clustering for good.

Every function here changes rows in the caller's session and leaves the commit to the caller, so that a web
request or CLI command is one transaction.
"""

from __future__ import annotations

import logging
import time
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from plugin.analyzers.base import AnalyzerResult
from plugin.config import FaceSettings
from plugin.people.clustering import average_linkage
from plugin.people.matching import PeopleIndex, decode_vector, encode_vector, match_threshold, representative
from plugin.store.db import chunks
from plugin.store.models import Face, FaceRejection, Person, Photo

log = logging.getLogger(__name__)

# A stored face and a newly found one are the same face when their boxes overlap this much (IoU).
SAME_FACE_IOU = 0.5
# Re-clustering lets go of an unconfirmed face whose similarity to its person falls this far below the
# clustering threshold (a face an earlier, smaller person took by mistake).
OUTLIER_MARGIN = 0.10


class PeopleError(ValueError):
    """A correction that cannot be made (an unknown person or face, an empty name)."""


def _iou(a: Sequence[float], b: Sequence[float]) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    iw = max(0.0, min(ax + aw, bx + bw) - max(ax, bx))
    ih = max(0.0, min(ay + ah, by + bh) - max(ay, by))
    inter = iw * ih
    union = aw * ah + bw * bh - inter
    return inter / union if union > 0 else 0.0


# --- storing a photo's faces ---------------------------------------------------------------------------------

@dataclass(slots=True)
class FaceChanges:
    """What storing photos did to faces: new faces (to assign) and people who lost faces (to recount)."""

    new: list[Face] = field(default_factory=list)
    people: set[int] = field(default_factory=set)

    def __iadd__(self, other: FaceChanges) -> FaceChanges:
        self.new += other.new
        self.people |= other.people
        return self


def drop_faces(photo: Photo, changes: FaceChanges, faces: Iterable[Face] | None = None) -> None:
    """Remove ``faces`` (all of the photo's by default), noting whose they were."""
    for row in list(photo.faces if faces is None else faces):
        if row.person_id is not None:
            changes.people.add(row.person_id)
        photo.faces.remove(row)


def sync_faces(photo: Photo, result: AnalyzerResult, changes: FaceChanges) -> None:
    """Make ``photo``'s face rows those ``result`` found, noting new faces and people who lost one.

    A face found again (same place) keeps its row, so its person, confirmation and the user's rejections
    survive a re-analysis; a face no longer found goes, with what the user said about it.
    """
    found = result.evidence.get("faces")
    if found is None:  # not installed or failed: what was found before still stands
        return
    dim = int(result.evidence.get("dim") or 0)
    vectors: list[bytes | None] = [None] * len(found)
    if result.vector and dim:
        step = dim * 2
        vectors = [result.vector[i * step:(i + 1) * step] for i in range(len(found))]
    embed_model = result.evidence.get("embed_model")

    old = list(photo.faces)
    pairs = sorted(((_iou(f["box"], o.box), n, o) for n, f in enumerate(found) for o in old),
                   key=lambda item: -item[0])
    matched: dict[int, Face] = {}
    used: set[int] = set()
    for iou, n, row in pairs:
        if iou < SAME_FACE_IOU:
            break
        if n in matched or id(row) in used:
            continue
        matched[n] = row
        used.add(id(row))
    drop_faces(photo, changes, [row for row in old if id(row) not in used])
    for n, face in enumerate(found):
        row = matched.get(n)
        if row is None:
            row = Face(confirmed=False, not_a_face=False)
            photo.faces.append(row)
            changes.new.append(row)
        row.idx = n
        row.x, row.y, row.w, row.h = face["box"]
        row.landmarks, row.score = face["landmarks"], face["score"]
        row.sharpness, row.quality = face["sharpness"], face["quality"]
        if vectors[n] is not None:
            row.embedding, row.embed_model = vectors[n], embed_model
        elif row.embed_model != embed_model:
            row.embedding, row.embed_model = None, None


def face_is_groupable(face: Face, embed_model: str | None) -> bool:
    return (face.quality == "ok" and not face.not_a_face and face.embedding is not None
            and embed_model is not None and face.embed_model == embed_model)


# --- assignment of new faces ---------------------------------------------------------------------------------

class Assigner:
    """Joins new faces to existing people as they are stored (the smart-album paper's incremental rule).

    The index of representative vectors is loaded once and kept; new people come from re-clustering.
    """

    def __init__(self, settings: FaceSettings, embed_model: str | None) -> None:
        self.settings, self.embed_model = settings, embed_model
        self._index: PeopleIndex | None = None

    def forget(self) -> None:
        """Drop the loaded index (after re-clustering or the user's changes made or changed people)."""
        self._index = None

    def _load(self, session: Session) -> PeopleIndex:
        rows = session.execute(select(Person.id, Person.centroid)
                               .where(Person.embed_model == self.embed_model, Person.centroid.is_not(None)))
        return PeopleIndex.build(((pid, decode_vector(blob)) for pid, blob in rows))

    def assign(self, session: Session, faces: Iterable[Face]) -> int:
        candidates = [f for f in faces if f.person_id is None and face_is_groupable(f, self.embed_model)]
        if not candidates:
            return 0
        if self._index is None:
            self._index = self._load(session)
        if not len(self._index):
            return 0
        threshold = match_threshold(self.settings)
        session.flush()  # face ids, for the rejections
        rejected = _rejections(session, [f.id for f in candidates])
        touched: set[int] = set()
        for face in candidates:
            match = self._index.match(decode_vector(face.embedding or b""), threshold, self.settings.match_margin,
                                      rejected.get(face.id, ()))
            if match.person_id is not None:
                face.person_id, face.assigned_by = match.person_id, "auto"
                touched.add(match.person_id)
        if touched:
            session.flush()
            refresh_people(session, touched)
        return sum(1 for f in candidates if f.person_id is not None)


def _rejections(session: Session, face_ids: Sequence[int]) -> dict[int, set[int]]:
    out: dict[int, set[int]] = defaultdict(set)
    for chunk_start in range(0, len(face_ids), 500):
        chunk = face_ids[chunk_start:chunk_start + 500]
        for face_id, person_id in session.execute(
                select(FaceRejection.face_id, FaceRejection.person_id).where(FaceRejection.face_id.in_(chunk))):
            out[face_id].add(person_id)
    return out


# --- people's derived fields ---------------------------------------------------------------------------------

def refresh_people(session: Session, person_ids: Iterable[int], delete_empty: bool = True) -> None:
    """Recompute counts, representative vector and cover face of ``person_ids`` from their faces."""
    ids = sorted(set(person_ids))
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        rows = session.execute(
            select(Face.person_id, Face.id, Face.photo_id, Face.confirmed, Face.embedding, Face.embed_model,
                   Face.score, Face.w, Face.h, Face.quality,
                   (Photo.gone_at.is_(None) & Photo.trashed_at.is_(None)).label("present"))
            .join(Photo, Photo.id == Face.photo_id)
            .where(Face.person_id.in_(chunk), Face.not_a_face.is_(False))).all()
        by_person: dict[int, list[Any]] = defaultdict(list)
        with_faces: set[int] = set()
        for row in rows:
            with_faces.add(row.person_id)
            # Photos gone from the library or in piccl's trash do not count (they may come back).
            if row.present:
                by_person[row.person_id].append(row)
        for person in session.scalars(select(Person).where(Person.id.in_(chunk))):
            faces = by_person.get(person.id, [])
            if person.id not in with_faces and delete_empty and not person.name:
                session.delete(person)
                continue
            person.face_count = len(faces)
            person.photo_count = len({f.photo_id for f in faces})
            with_vectors = [f for f in faces if f.embedding is not None]
            if with_vectors:
                model = max({f.embed_model for f in with_vectors},
                            key=lambda m: sum(1 for f in with_vectors if f.embed_model == m))
                usable = [f for f in with_vectors if f.embed_model == model]
                vectors = np.stack([decode_vector(f.embedding) for f in usable])
                person.centroid = encode_vector(representative(vectors, np.array([f.confirmed for f in usable])))
                person.embed_model = model
            else:
                person.centroid, person.embed_model = None, None
            # The cover: a face the user confirmed if any, else the clearest (detector score x size).
            person.cover_face_id = max(faces, key=lambda f: (f.confirmed, f.quality == "ok",
                                                             f.score * min(f.w, f.h))).id if faces else None


# --- re-clustering -------------------------------------------------------------------------------------------

@dataclass(slots=True)
class ClusterReport:
    faces: int = 0
    people_before: int = 0
    people_after: int = 0
    new_people: int = 0
    assigned: int = 0
    released: int = 0  # unconfirmed faces let go as outliers
    merged: int = 0  # unnamed people merged into another
    unassigned: int = 0
    seconds: float = 0.0
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ("faces", "people_before", "people_after", "new_people", "assigned",
                                              "released", "merged", "unassigned")} | {
            "seconds": round(self.seconds, 2)}


def recluster(session: Session, settings: FaceSettings, embed_model: str | None) -> ClusterReport:
    """Assign unassigned faces, let go of outliers, form new people; the user's corrections stay as they are."""
    started = time.perf_counter()
    report = ClusterReport()
    report.people_before = session.scalar(select(func.count()).select_from(Person)) or 0
    if embed_model is None:
        report.seconds = time.perf_counter() - started
        report.details["skipped"] = "no face embedding model"
        return report
    rows = session.execute(
        select(Face.id, Face.person_id, Face.confirmed, Face.embedding)
        .join(Photo, Photo.id == Face.photo_id)
        .where(Face.quality == "ok", Face.not_a_face.is_(False), Face.embed_model == embed_model,
               Face.embedding.is_not(None), Photo.status == "ok", Photo.gone_at.is_(None),
               Photo.trashed_at.is_(None))
        .order_by(Face.id)).all()
    report.faces = len(rows)
    if not rows:
        report.people_after = report.people_before
        report.seconds = time.perf_counter() - started
        return report
    face_ids = np.array([r.id for r in rows], np.int64)
    person_of = np.array([r.person_id if r.person_id is not None else -1 for r in rows], np.int64)
    confirmed = np.array([bool(r.confirmed) for r in rows])
    vectors = np.stack([decode_vector(r.embedding) for r in rows])

    people = {p.id: p for p in session.scalars(select(Person))}
    has_confirmed = set(person_of[confirmed & (person_of >= 0)].tolist())
    fixed = {pid: (p.user_touched or pid in has_confirmed) for pid, p in people.items()}

    # 1. Let go of unconfirmed faces that no longer resemble their person (never confirmed ones).
    outlier_below = settings.cluster_threshold - OUTLIER_MARGIN
    released: list[int] = []
    for pid, members in _groups(person_of):
        if pid < 0:
            continue
        centre = representative(vectors[members], confirmed[members])
        sims = vectors[members] @ centre
        loose = members[(sims < outlier_below) & ~confirmed[members]]
        if len(loose) and len(loose) < len(members):
            released.extend(loose.tolist())
    if released:
        person_of[released] = -1
    report.released = len(released)

    # 2. Cluster everything at once, people as pre-formed groups, with the user's constraints.
    index_of_face = {int(fid): i for i, fid in enumerate(face_ids.tolist())}
    cannot_link: dict[int, set[int]] = defaultdict(set)
    for face_id, person_id in session.execute(select(FaceRejection.face_id, FaceRejection.person_id)):
        if face_id in index_of_face:
            cannot_link[index_of_face[face_id]].add(person_id)
    labels = average_linkage(vectors, settings.cluster_threshold, groups=person_of, fixed=fixed,
                             cannot_link=cannot_link)

    # 3. Read the clusters back into people.
    changes: dict[int, int | None] = {}  # face index -> person id
    touched: set[int] = set()
    new_clusters: list[np.ndarray] = []
    for _label, members in _groups(labels):
        pids = sorted(set(person_of[members].tolist()) - {-1})
        if not pids:
            if len(members) >= settings.min_faces:
                new_clusters.append(members)
            continue
        # Only unfixed (unnamed, untouched) people can be merged here, into the fixed one if there is one.
        counts = {pid: int((person_of[members] == pid).sum()) for pid in pids}
        target = max(pids, key=lambda pid: (fixed.get(pid, False), counts[pid], -pid))
        for i in members.tolist():
            if person_of[i] != target:
                changes[i] = target
        for pid in pids:
            if pid != target:
                report.merged += 1
                touched.add(pid)
        touched.add(target)
    for i in released:
        changes.setdefault(i, None)

    by_face = {int(face_ids[i]): pid for i, pid in changes.items()}
    faces = {f.id: f for f in _load_faces(session, list(by_face))}
    for face_id, pid in by_face.items():
        face = faces[face_id]
        if face.confirmed:
            continue  # belt and braces: clustering never moves what the user confirmed
        if face.person_id is not None:
            touched.add(face.person_id)
        face.person_id = pid
        face.assigned_by = "cluster" if pid is not None else None
        if pid is not None:
            report.assigned += 1
    new_people = [Person(origin="cluster", embed_model=embed_model) for _ in new_clusters]
    session.add_all(new_people)
    session.flush()  # one flush for their ids, then one UPDATE per chunk of faces (not one round trip each)
    rows = [{"id": int(face_ids[i]), "person_id": person.id, "assigned_by": "cluster"}
            for person, members in zip(new_people, new_clusters, strict=True) for i in members.tolist()
            if not confirmed[i]]
    for start in range(0, len(rows), 5000):
        session.execute(update(Face), rows[start:start + 5000])
    touched.update(person.id for person in new_people)
    report.new_people += len(new_people)
    session.flush()
    # Everyone, not only the people touched: photos that went or came back since change counts too.
    refresh_people(session, touched | set(session.scalars(select(Person.id))))
    session.flush()
    report.people_after = session.scalar(select(func.count()).select_from(Person)) or 0
    report.unassigned = session.scalar(
        select(func.count()).select_from(Face)
        .where(Face.person_id.is_(None), Face.not_a_face.is_(False), Face.quality == "ok")) or 0
    report.seconds = time.perf_counter() - started
    log.info("faces re-clustered: %s", report.as_dict())
    return report


def _groups(labels: np.ndarray) -> Iterable[tuple[int, np.ndarray]]:
    """(label, indices) for each distinct label: one sort, not one scan of every face per label."""
    order = np.argsort(labels, kind="stable")
    values, starts = np.unique(labels[order], return_index=True)
    return zip(values.tolist(), np.split(order, starts[1:]), strict=True)


def _load_faces(session: Session, ids: list[int]) -> list[Face]:
    return [f for chunk in chunks(ids) for f in session.scalars(select(Face).where(Face.id.in_(chunk)))]


# --- the user's corrections ----------------------------------------------------------------------------------

def _person(session: Session, person_id: int) -> Person:
    person = session.get(Person, person_id)
    if person is None:
        raise PeopleError(f"no person {person_id}")
    return person


def _faces(session: Session, face_ids: Iterable[int]) -> list[Face]:
    ids = sorted(set(face_ids))
    faces = _load_faces(session, ids)
    if len(faces) != len(ids):
        missing = sorted(set(ids) - {f.id for f in faces})
        raise PeopleError(f"no face {', '.join(map(str, missing[:5]))}")
    return faces


def _clean_name(name: str) -> str:
    cleaned = " ".join(name.split())
    if not cleaned:
        raise PeopleError("a name cannot be empty")
    if any(unicodedata.category(c) == "Cc" for c in cleaned):  # as album names; PostgreSQL refuses a NUL
        raise PeopleError("a name cannot hold control characters")
    return cleaned[:128]


def name_person(session: Session, person_id: int, name: str) -> Person:
    """Name or rename a person. A named person is the user's: never merged into another by piccl."""
    person = _person(session, person_id)
    person.name = _clean_name(name)
    return person


def find_person_by_name(session: Session, name: str) -> Person | None:
    """The person called ``name`` whatever its case and spacing (the first made, should two share it)."""
    key = " ".join(name.split())[:128].casefold()
    # Compared in Python, as album names are: SQLite's lower() knows only ASCII letters (Élodie would stay apart
    # from ÉLODIE) and PostgreSQL's follows the database's locale. A household names a few hundred people at most.
    named = session.execute(select(Person.id, Person.name).where(Person.name.is_not(None)).order_by(Person.id))
    found = next((pid for pid, stored in named if stored.casefold() == key), None)
    return session.get(Person, found) if found is not None else None


def merge_people(session: Session, source_ids: Iterable[int], target_id: int) -> Person:
    """Move every face of ``source_ids`` to ``target_id`` and remove the sources (the user says: one person)."""
    target = _person(session, target_id)
    sources = [_person(session, pid) for pid in sorted(set(source_ids) - {target_id})]
    if not sources:
        raise PeopleError("choose at least one other person to merge")
    source_ids_set = {p.id for p in sources}
    rejected_target = set(session.scalars(select(FaceRejection.face_id).where(FaceRejection.person_id == target.id)))
    for face in session.scalars(select(Face).where(Face.person_id.in_(source_ids_set))):
        if face.id in rejected_target:  # the user said "not the target" about this one: it waits unassigned
            face.person_id, face.assigned_by, face.confirmed = None, None, False
        else:
            face.person_id, face.assigned_by = target.id, "user"
    # A face the user had said was not one of the sources may now be the target: the rejection stays with
    # the source, which goes; a rejection of the target stays.
    session.execute(delete(FaceRejection).where(FaceRejection.person_id.in_(source_ids_set)))
    if not target.name:
        target.name = next((p.name for p in sources if p.name), None)
    target.hidden = target.hidden and all(p.hidden for p in sources)
    target.origin = "user" if any(p.user_touched for p in sources) else target.origin
    session.flush()
    for person in sources:
        session.delete(person)
    session.flush()
    refresh_people(session, [target.id])
    return target


def move_faces(session: Session, face_ids: Iterable[int], target_id: int | None = None,
               new_name: str | None = None) -> Person:
    """Put faces on a person (``target_id``, or a new one, named ``new_name`` if given); they become confirmed.

    A face taken from another person also remembers "not that person".
    """
    faces = _faces(session, face_ids)
    if target_id is not None:
        target = _person(session, target_id)
    else:
        target = Person(origin="user", name=_clean_name(new_name) if new_name else None)
        session.add(target)
        session.flush()
    touched = {target.id}
    for face in faces:
        if face.person_id is not None and face.person_id != target.id:
            touched.add(face.person_id)
            _reject(session, face, face.person_id)
        face.person_id, face.confirmed, face.assigned_by, face.not_a_face = target.id, True, "user", False
    session.execute(delete(FaceRejection).where(FaceRejection.person_id == target.id,
                                                FaceRejection.face_id.in_([f.id for f in faces])))
    session.flush()
    refresh_people(session, touched)
    return target


def _reject(session: Session, face: Face, person_id: int) -> None:
    exists = session.scalar(select(FaceRejection.id).where(FaceRejection.face_id == face.id,
                                                            FaceRejection.person_id == person_id))
    if exists is None:
        session.add(FaceRejection(face_id=face.id, person_id=person_id))


def remove_faces(session: Session, face_ids: Iterable[int]) -> int:
    """"Not this person": faces leave their person for the unassigned faces and never go back to it."""
    faces = _faces(session, face_ids)
    touched = set()
    for face in faces:
        if face.person_id is None:
            continue
        touched.add(face.person_id)
        _reject(session, face, face.person_id)
        face.person_id, face.confirmed, face.assigned_by = None, False, None
    session.flush()
    refresh_people(session, touched)
    return len(touched)


def confirm_faces(session: Session, face_ids: Iterable[int]) -> int:
    """The user agrees: these faces are their person (anchors from now on)."""
    faces = [f for f in _faces(session, face_ids) if f.person_id is not None]
    for face in faces:
        face.confirmed, face.assigned_by = True, "user"
    session.flush()
    refresh_people(session, {f.person_id for f in faces if f.person_id is not None})
    return len(faces)


def mark_not_a_face(session: Session, face_ids: Iterable[int], value: bool = True) -> int:
    faces = _faces(session, face_ids)
    touched = {f.person_id for f in faces if f.person_id is not None}
    for face in faces:
        face.not_a_face = value
        if value:
            face.person_id, face.confirmed, face.assigned_by = None, False, None
    session.flush()
    refresh_people(session, touched)
    return len(faces)


def hide_person(session: Session, person_id: int, hidden: bool = True) -> Person:
    """Hide a person from the People page (their faces stay theirs, so they do not come back as new)."""
    person = _person(session, person_id)
    person.hidden = hidden
    return person


def list_people(session: Session, include_hidden: bool = False) -> list[Person]:
    """Unnamed people first, largest first (the ones worth naming), then named people by name."""
    query = select(Person)
    if not include_hidden:
        query = query.where(Person.hidden.is_(False))
    people = list(session.scalars(query))
    return sorted(people, key=lambda p: (p.name is not None, (p.name or "").lower(), -p.photo_count, p.id))


def cluster_faces(sessions: Any, settings: FaceSettings, embed_model: str | None) -> ClusterReport:
    """Re-cluster in a transaction of its own (the scheduled job, ``piccl faces cluster``, after a scan)."""
    with sessions() as session:
        report = recluster(session, settings, embed_model)
        session.commit()
    return report
