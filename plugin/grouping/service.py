"""Group the library's photos, keep the best of each group, recommend the rest; the user's keeper choice.

:func:`group_photos` reads what grouping needs from the store into a :class:`PhotoTable`, runs
:func:`plugin.grouping.groups.find_groups`, chooses each group's keeper and writes the groups and the
'duplicate' / 'similar' recommendations. It regroups the whole library each time (sorting makes that
linear), keeping group ids and the user's keeper choices where the groups are still there.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session, selectinload, sessionmaker

from plugin.config import SimilarSettings
from plugin.grouping.groups import FoundGroup, PhotoTable, find_groups, relation_to
from plugin.grouping.keeper import ShotQuality, choose_keeper
from plugin.grouping.pairs import DUPLICATE_RELATIONS, RELATION_RANK
from plugin.store.db import chunks
from plugin.store.models import (
    Analysis,
    Face,
    Photo,
    PhotoFeature,
    PhotoGroup,
    PhotoGroupMember,
    PhotoHash,
    PhotoTag,
    Recommendation,
    readable_in_library,
)

GROUP_REASONS = ("duplicate", "similar")
USER_REASON = "your choice"
_EPOCH = datetime(1970, 1, 1)


class GroupError(ValueError):
    """A request about groups that cannot be done (no such group, the photo is not in it)."""


@dataclass(slots=True)
class GroupReport:
    method: str
    photos: int = 0
    groups: Counter[str] = field(default_factory=Counter)  # kind -> groups
    recommended: int = 0  # photos recommended for deletion (all but the keepers)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"method": self.method, "photos": self.photos, "groups": dict(self.groups),
                "recommended": self.recommended, "seconds": round(self.seconds, 2)}


def _seconds(values: list[datetime | None]) -> np.ndarray:
    out = np.full(len(values), np.nan)
    for i, value in enumerate(values):
        if value is not None:
            out[i] = (value - _EPOCH).total_seconds()
    return out


def _unsigned(values: list[int | None]) -> np.ndarray:
    return np.array([v or 0 for v in values], dtype=np.int64).view(np.uint64)


def load_table(session: Session, with_tags: bool = False) -> PhotoTable:
    """Every present photo that was read, with what grouping needs (one query)."""
    rows = session.execute(
        select(Photo.id, Photo.content_hash, Photo.width, Photo.height, Photo.taken_at,
               Photo.taken_at_source, Photo.gps_lat, Photo.gps_lon, PhotoHash.phash, PhotoHash.phash_mirror,
               PhotoHash.mono)
        .outerjoin(PhotoHash, PhotoHash.photo_id == Photo.id).where(readable_in_library()).order_by(Photo.id)).all()
    columns = list(zip(*rows, strict=True)) if rows else [[] for _ in range(11)]
    ids, content, width, height, taken, source, lat, lon, phash, mirror, mono = columns
    _, content_codes = np.unique(np.array([c or "" for c in content], dtype=object), return_inverse=True)
    content_codes = np.where(np.array([bool(c) for c in content], bool), content_codes, -1).astype(np.int64)
    table = PhotoTable(
        ids=np.array(ids, np.int64), content=content_codes,
        phash=_unsigned(list(phash)), mirror=_unsigned(list(mirror)),
        has_hash=np.array([p is not None for p in phash], bool), mono=np.array([bool(m) for m in mono], bool),
        # The photo's width and height are upright already (the decoder applied the EXIF orientation).
        width=np.array([v or 0 for v in width], np.int64), height=np.array([v or 0 for v in height], np.int64),
        times=_seconds(list(taken)), camera_time=np.array([s == "exif" for s in source], bool),
        lat=np.array([np.nan if v is None else v for v in lat], np.float64),
        lon=np.array([np.nan if v is None else v for v in lon], np.float64),
    )
    if with_tags:
        tags: dict[int, list[str]] = defaultdict(list)
        for photo_id, tag in session.execute(select(PhotoTag.photo_id, PhotoTag.tag).where(PhotoTag.kind == "piccl")):
            tags[photo_id].append(tag)
        keys = ["|".join(sorted(tags.get(pid, ()))) for pid in table.ids.tolist()]
        _, codes = np.unique(np.array(keys, dtype=object), return_inverse=True) if keys else (None, np.empty(0))
        table.tag_keys = np.asarray(codes, np.int64)
    return table


class StoredSimilarity:
    """Cosine similarity of stored feature vectors, loading only the photos asked about, a chunk at a time.

    Pairs are taken in chunks of neighbouring rows, so memory stays bounded (a chunk's vectors, float16)
    however many pairs the time windows propose.
    """

    PAIRS_PER_CHUNK = 8000

    def __init__(self, session: Session, ids: np.ndarray) -> None:
        self.session, self.ids = session, ids

    def __call__(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        out = np.full(len(a), np.nan)
        order = np.argsort(np.minimum(a, b), kind="stable")
        for start in range(0, len(order), self.PAIRS_PER_CHUNK):
            chosen = order[start:start + self.PAIRS_PER_CHUNK]
            out[chosen] = self._cosines(a[chosen], b[chosen])
        return out

    def _cosines(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        rows, inverse = np.unique(np.concatenate([a, b]), return_inverse=True)
        index = {int(pid): k for k, pid in enumerate(self.ids[rows].tolist())}
        vectors: np.ndarray | None = None
        models = np.full(len(rows), -1, np.int64)
        model_codes: dict[tuple[str, int], int] = {}
        for chunk in chunks(list(index)):
            for photo_id, model, dim, blob in self.session.execute(
                    select(PhotoFeature.photo_id, PhotoFeature.model, PhotoFeature.dim, PhotoFeature.vector)
                    .where(PhotoFeature.photo_id.in_(chunk))):
                vector = np.frombuffer(blob, np.float16)
                if vectors is None:
                    vectors = np.zeros((len(rows), len(vector)), np.float16)
                if len(vector) != vectors.shape[1]:
                    continue  # another model's vector: never compared across models
                k = index[photo_id]
                vectors[k] = vector
                models[k] = model_codes.setdefault((model, dim), len(model_codes))
        if vectors is None:
            return np.full(len(a), np.nan)
        ia, ib = inverse[:len(a)], inverse[len(a):]
        cosine = np.einsum("ij,ij->i", vectors[ia].astype(np.float32), vectors[ib].astype(np.float32))
        comparable = (models[ia] >= 0) & (models[ia] == models[ib])
        return np.where(comparable, cosine, np.nan)


def load_qualities(session: Session, photo_ids: Iterable[int]) -> dict[int, ShotQuality]:
    """What the keeper choice looks at, for the given photos only."""
    ids = sorted(set(photo_ids))
    facts: dict[int, dict[str, Any]] = {}
    for chunk in chunks(ids):
        for pid, rel, w, h, size, source, mono in session.execute(
                select(Photo.id, Photo.relpath, Photo.width, Photo.height, Photo.size, Photo.taken_at_source,
                       PhotoHash.mono).outerjoin(PhotoHash, PhotoHash.photo_id == Photo.id)
                .where(Photo.id.in_(chunk))):
            facts[pid] = {"relpath": rel, "pixels": (w or 0) * (h or 0), "file_size": size or 0,
                          "camera_time": source == "exif", "mono": bool(mono), "faces": []}
        for pid, analyzer, score, flagged, evidence in session.execute(
                select(Analysis.photo_id, Analysis.analyzer, Analysis.score, Analysis.flagged, Analysis.evidence)
                .where(Analysis.photo_id.in_(chunk), Analysis.analyzer.in_(("blur", "exposure", "hash")))):
            if analyzer == "blur":
                facts[pid]["sharpness"], facts[pid]["blurry"] = score, bool(flagged)
            elif analyzer == "exposure":
                facts[pid]["darkness"], facts[pid]["dark"] = score, bool(flagged)
            else:
                facts[pid]["clipped"] = (evidence or {}).get("clipped")
        # Faces too blurry to group still say how blurred the shot is; faces too small to judge do not.
        for pid, sharpness in session.execute(
                select(Face.photo_id, Face.sharpness)
                .where(Face.photo_id.in_(chunk), Face.quality != "small", Face.not_a_face.is_(False))):
            facts[pid]["faces"].append(float(sharpness))
    return {pid: ShotQuality(
        photo_id=pid, relpath=f["relpath"], pixels=f["pixels"], file_size=f["file_size"], mono=f["mono"],
        sharpness=f.get("sharpness"), blurry=f.get("blurry", False), darkness=f.get("darkness"),
        dark=f.get("dark", False), clipped=f.get("clipped"), face_sharpness=tuple(sorted(f["faces"], reverse=True)),
        camera_time=f["camera_time"]) for pid, f in facts.items()}


def group_photos(sessions: sessionmaker[Session], settings: SimilarSettings, method: str | None = None) -> GroupReport:
    """Regroup the whole library with ``method`` (the configured one by default)."""
    method = method or settings.method
    started = time.monotonic()
    report = GroupReport(method)
    with sessions() as session:
        table = load_table(session, with_tags=method == "piccl2021")
        report.photos = len(table)
        found = find_groups(table, settings, StoredSimilarity(session, table.ids), method)
        persist_groups(session, table, found, method, settings, report)
        session.commit()
    report.seconds = time.monotonic() - started
    return report


GROUP_FIELDS = ("kind", "reason", "method", "keeper_photo_id", "keeper_reason", "keeper_by", "size", "taken_at")


def review_reason(members: dict[int, str]) -> str:
    """The review tab of a group: 'duplicate' when any photo is a copy or edit of the keeper, else 'similar'."""
    return "duplicate" if any(r in DUPLICATE_RELATIONS for r in members.values()) else "similar"


@dataclass(slots=True)
class GroupState:
    """A group as stored (the row's fields and its members' relations), compared to decide what to write."""

    fields: dict[str, Any]
    members: dict[int, str]  # photo id -> relation to the keeper ('keeper' for the keeper)
    id: int | None = None


def _stored_groups(session: Session) -> dict[int, GroupState]:
    """Every stored group, as plain tuples (no ORM objects: a large library has hundreds of thousands)."""
    groups = {row[0]: GroupState(dict(zip(GROUP_FIELDS, row[1:], strict=True)), {}, row[0])
              for row in session.execute(select(PhotoGroup.id, *(getattr(PhotoGroup, f) for f in GROUP_FIELDS)))}
    for group_id, photo_id, relation in session.execute(
            select(PhotoGroupMember.group_id, PhotoGroupMember.photo_id, PhotoGroupMember.relation)):
        if group_id in groups:
            groups[group_id].members[photo_id] = relation
    return groups


def persist_groups(session: Session, table: PhotoTable, found: list[FoundGroup], method: str,
                   settings: SimilarSettings, report: GroupReport) -> None:
    """Write what changed: new, changed and vanished groups, their members, and the recommendations.

    A found group takes the id of the stored group it shares most photos with (so links and the user's
    keeper stay); a user's keeper stays while that photo is in the group. Regrouping an unchanged library
    writes nothing.
    """
    stored = _stored_groups(session)
    group_of_photo = {pid: gid for gid, g in stored.items() for pid in g.members}
    qualities = load_qualities(session, (int(table.ids[r]) for g in found for r in g.rows))
    used: set[int] = set()
    states: list[GroupState] = []
    for item in found:
        photo_ids = [int(table.ids[r]) for r in item.rows]
        overlap = Counter(group_of_photo[p] for p in photo_ids if p in group_of_photo)
        match = next((gid for gid, _ in overlap.most_common() if gid not in used), None)
        old = stored.get(match) if match is not None else None
        if match is not None:
            used.add(match)
        # The user's keeper stays while it is in the group, also when groups merged (the matched one first).
        chosen = [g.fields["keeper_photo_id"] for g in ([old] if old else []) + [stored[gid] for gid in overlap]
                  if g.fields["keeper_by"] == "user" and g.fields["keeper_photo_id"] in photo_ids]
        if chosen:
            keeper, reason, keeper_by = chosen[0], USER_REASON, "user"
        else:
            choice = choose_keeper(item.kind, [qualities[p] for p in photo_ids])
            keeper, reason, keeper_by = choice.photo_id, choice.reason, "auto"
        keeper_row = item.rows[photo_ids.index(keeper)]
        times = table.times[item.rows]
        first = float(np.nanmin(times)) if not np.isnan(times).all() else None
        members = {pid: "keeper" if row == keeper_row else relation_to(table, row, keeper_row, link, settings)
                   for pid, row, link in zip(photo_ids, item.rows, item.links, strict=True)}
        states.append(GroupState(
            {"kind": item.kind, "reason": review_reason(members), "method": method, "keeper_photo_id": keeper,
             "keeper_reason": reason, "keeper_by": keeper_by, "size": len(photo_ids),
             "taken_at": None if first is None else _EPOCH + timedelta(seconds=first)},
            members, match))
        report.groups[item.kind] += 1
        report.recommended += len(photo_ids) - 1
    _write_groups(session, stored, states)
    _apply_recommendations(session, _advice(states, qualities), scope=None)


def _write_groups(session: Session, stored: dict[int, GroupState], states: list[GroupState]) -> None:
    kept = {s.id for s in states if s.id is not None}
    gone = [gid for gid in stored if gid not in kept]
    changed_members = [s.id for s in states if s.id is not None and stored[s.id].members != s.members]
    for chunk in chunks(gone + changed_members):
        session.execute(delete(PhotoGroupMember).where(PhotoGroupMember.group_id.in_(chunk)))
    for chunk in chunks(gone):
        session.execute(delete(PhotoGroup).where(PhotoGroup.id.in_(chunk)))
    updates = [{"id": s.id, **s.fields} for s in states
               if s.id is not None and any(stored[s.id].fields[f] != s.fields[f] for f in GROUP_FIELDS)]
    if updates:
        session.execute(update(PhotoGroup), updates)
    fresh = [s for s in states if s.id is None]
    if fresh:
        ids = session.scalars(insert(PhotoGroup).returning(PhotoGroup.id, sort_by_parameter_order=True),
                              [s.fields for s in fresh]).all()
        for state, group_id in zip(fresh, ids, strict=True):
            state.id = group_id
    rewrite = set(changed_members) | {s.id for s in fresh}
    members = [{"group_id": s.id, "photo_id": pid, "relation": relation}
               for s in states if s.id in rewrite for pid, relation in s.members.items()]
    if members:
        session.execute(insert(PhotoGroupMember), members)


def _swap_keeper(members: dict[int, str], new_keeper: int) -> dict[int, str]:
    """Member relations after the keeper changed: the old keeper relates to the new one as the new one did
    to it (a copy of a copy, an edit of an edit; colour and black and white swap); the others keep theirs."""
    relations = dict(members)
    new_relation = relations.get(new_keeper)
    if new_relation is None or new_relation == "keeper":
        return relations
    for photo_id, relation in members.items():
        if relation == "keeper":
            relations[photo_id] = {"mono": "colour", "colour": "mono"}.get(new_relation, new_relation)
    relations[new_keeper] = "keeper"
    return relations


def _severity(relation: str) -> float:
    # Copies first (the safest to delete), then edits, then other shots.
    return round(2.0 - RELATION_RANK.get(relation, RELATION_RANK["edited"]) * 0.2, 2)


def _advice(states: list[GroupState], qualities: dict[int, ShotQuality]) -> dict[int, dict[str, Any]]:
    """photo id -> its recommendation (reason, severity, keeper, evidence), for every member but the keepers."""
    wanted: dict[int, dict[str, Any]] = {}
    for state in states:
        fields = state.fields
        keeper_id = fields["keeper_photo_id"]
        keeper = qualities.get(keeper_id or -1)
        for photo_id, relation in state.members.items():
            if photo_id == keeper_id:
                continue
            wanted[photo_id] = {
                "reason": "duplicate" if relation in DUPLICATE_RELATIONS else "similar",
                "severity": _severity(relation), "keep_photo_id": keeper_id,
                "evidence": {"group_id": state.id, "kind": fields["kind"], "relation": relation,
                             "method": fields["method"], "group_size": fields["size"], "keeper_id": keeper_id,
                             "keeper_name": keeper.relpath.rpartition("/")[2] if keeper else None,
                             "keeper_reason": fields["keeper_reason"], "keeper_by": fields["keeper_by"]}}
    return wanted


def _apply_recommendations(session: Session, wanted: dict[int, dict[str, Any]], scope: list[int] | None) -> None:
    """Make the duplicate/similar recommendations those of ``wanted`` (all photos, or those in ``scope``);
    rows that already say the same are left alone."""
    query = select(Recommendation.id, Recommendation.photo_id, Recommendation.reason, Recommendation.severity,
                   Recommendation.keep_photo_id, Recommendation.evidence).where(
        Recommendation.reason.in_(GROUP_REASONS))
    rows = []
    for chunk in chunks(scope) if scope is not None else [None]:
        rows += session.execute(query if chunk is None else query.where(Recommendation.photo_id.in_(chunk))).all()
    doomed: list[int] = []
    have: dict[int, tuple[Any, ...]] = {}
    for rec_id, photo_id, reason, severity, keep_id, evidence in rows:
        target = wanted.get(photo_id)
        if target is None or target["reason"] != reason or photo_id in have:
            doomed.append(rec_id)
        else:
            have[photo_id] = (rec_id, severity, keep_id, evidence)
    for chunk in chunks(doomed):
        session.execute(delete(Recommendation).where(Recommendation.id.in_(chunk)))
    updates, inserts = [], []
    for photo_id, target in wanted.items():
        if photo_id not in have:
            inserts.append({"photo_id": photo_id, **target})
            continue
        rec_id, severity, keep_id, evidence = have[photo_id]
        if (severity, keep_id, evidence) != (target["severity"], target["keep_photo_id"], target["evidence"]):
            updates.append({"id": rec_id, "severity": target["severity"], "keep_photo_id": target["keep_photo_id"],
                            "evidence": target["evidence"]})
    if updates:
        session.execute(update(Recommendation), updates)
    if inserts:
        session.execute(insert(Recommendation), inserts)


def set_keeper(sessions: sessionmaker[Session], group_id: int, photo_id: int | None) -> PhotoGroup:
    """The user's keeper for a group (kept across re-grouping); None gives the choice back to piccl."""
    with sessions() as session:
        group = session.get(PhotoGroup, group_id, options=[selectinload(PhotoGroup.members)])
        if group is None:
            raise GroupError(f"no group {group_id}")
        members = {m.photo_id: m.relation for m in group.members}
        qualities = load_qualities(session, members)
        # Only a photo still in the library can be kept (a trashed or vanished member waits for the regrouping).
        present = set(session.scalars(select(Photo.id).where(Photo.id.in_(list(members)), readable_in_library())))
        if photo_id is None:
            if not present:
                raise GroupError(f"no photo of group {group_id} is in the library")
            choice = choose_keeper(group.kind, [qualities[p] for p in members if p in present])
            group.keeper_photo_id, group.keeper_reason, group.keeper_by = choice.photo_id, choice.reason, "auto"
        elif photo_id not in members:
            raise GroupError(f"photo {photo_id} is not in group {group_id}")
        elif photo_id not in present:
            raise GroupError(f"photo {photo_id} is no longer in the library (trashed or gone)")
        else:
            group.keeper_photo_id, group.keeper_reason, group.keeper_by = photo_id, USER_REASON, "user"
        relations = _swap_keeper(members, group.keeper_photo_id)
        for member in group.members:
            member.relation = relations[member.photo_id]
        group.reason = review_reason(relations)
        session.flush()
        state = GroupState({f: getattr(group, f) for f in GROUP_FIELDS}, relations, group.id)
        _apply_recommendations(session, _advice([state], qualities), scope=list(members))
        session.commit()
        session.refresh(group)
        session.expunge(group)
        return group


def group_of(session: Session, photo_id: int) -> PhotoGroup | None:
    return session.scalar(select(PhotoGroup).join(PhotoGroupMember, PhotoGroupMember.group_id == PhotoGroup.id)
                          .where(PhotoGroupMember.photo_id == photo_id).options(selectinload(PhotoGroup.members)))


def export_groups(session: Session) -> list[dict[str, Any]]:
    """Every group: id, kind, keeper, reason, members (for ``piccl export``)."""
    groups = session.scalars(select(PhotoGroup).options(selectinload(PhotoGroup.members)).order_by(PhotoGroup.id))
    paths = dict(session.execute(select(Photo.id, Photo.relpath).join(
        PhotoGroupMember, PhotoGroupMember.photo_id == Photo.id)).all())
    return [{"id": g.id, "kind": g.kind, "method": g.method, "keeper": paths.get(g.keeper_photo_id or -1),
             "keeper_id": g.keeper_photo_id, "reason": g.keeper_reason, "keeper_by": g.keeper_by,
             "members": [{"photo_id": m.photo_id, "path": paths.get(m.photo_id), "relation": m.relation}
                         for m in sorted(g.members, key=lambda m: m.photo_id)]}
            for g in groups]
