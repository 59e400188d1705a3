"""Read-side queries of the UI. Every list is a keyset page over an index: no page loads all rows.

Cursors in URLs are photo or entry ids (never paths); the position they stand for is looked up.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Select, and_, case, extract, func, or_, select
from sqlalchemy.orm import Session, selectinload

from plugin import search
from plugin.grouping.service import GROUP_REASONS, group_of
from plugin.inference.yolox import COCO_CLASSES
from plugin.recommend import REASONS
from plugin.scenes import SCENES
from plugin.store.db import holds_nul
from plugin.store.models import (
    Analysis,
    Decision,
    Face,
    Library,
    Person,
    Photo,
    PhotoGroup,
    PhotoGroupMember,
    PhotoTag,
    Recommendation,
    TrashEntry,
)
from plugin.tagging import PICCL_TAGS

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Tile:
    photo_id: int
    name: str
    version: str  # changes with the content: thumbnail URLs carry it so browsers may cache them for good
    caption: str
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Page:
    tiles: list[Tile]
    next_cursor: int | None


class TTLCache:
    """A few seconds of memory for aggregate counts, which cost a range scan each.

    When a value expires, one thread recomputes it while the others keep serving the old one: with
    many clients, letting every request thread recompute at once cost up to a second each.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._items: dict[Any, tuple[float, Any]] = {}
        self._lock = threading.Lock()
        self._computing: dict[Any, threading.Lock] = {}

    def get(self, key: Any, compute: Callable[[], T]) -> T:
        with self._lock:
            hit = self._items.get(key)
            gate = self._computing.setdefault(key, threading.Lock())
        if hit is not None and time.monotonic() - hit[0] < self.seconds:
            return hit[1]
        if hit is not None and not gate.acquire(blocking=False):
            return hit[1]  # someone is recomputing it: the old value is a few seconds old
        if hit is None:
            gate.acquire()
        try:
            with self._lock:
                fresh = self._items.get(key)
            if fresh is not None and time.monotonic() - fresh[0] < self.seconds:
                return fresh[1]
            value = compute()
            with self._lock:
                self._items[key] = (time.monotonic(), value)
            return value
        finally:
            gate.release()

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


counts_cache = TTLCache(5.0)
library_cache = TTLCache(30.0)


def _present() -> Any:
    return and_(Photo.gone_at.is_(None), Photo.trashed_at.is_(None))


def version_of(content_hash: str | None) -> str:
    return (content_hash or "none")[:12]


def caption(reason: str, severity: float, evidence: dict[str, Any]) -> str:
    """A tile's one-line evidence."""
    if reason == "blurry":
        if "edge_width_px" in evidence:
            # The number first: a phone's narrow tile cuts the end of the line.
            kind = {"motion": "shake", "defocus": "focus"}.get(evidence.get("kind") or "", "blur")
            return f"{evidence['edge_width_px']:.1f}px edges · {kind}"
        if "laplacian_variance" in evidence:
            return f"{evidence['laplacian_variance']:.0f} LoG var · blur"
    if reason == "dark" and evidence.get("score") is not None:
        return f"{float(evidence['score']):.2f} dark"
    return f"{reason} · {severity:.2f}"


# -- review queue ---------------------------------------------------------------------------------

def _queue(columns: Any, reason: str) -> Select[Any]:
    return (select(*columns).select_from(Recommendation)
            .join(Photo, Photo.id == Recommendation.photo_id)
            .outerjoin(Decision, Decision.photo_id == Photo.id)
            .where(Recommendation.reason == reason, _present(), Decision.id.is_(None)))


def queue_counts(session: Session) -> dict[str, int]:
    def compute() -> dict[str, int]:
        query = (select(Recommendation.reason, func.count()).select_from(Recommendation)
                 .join(Photo, Photo.id == Recommendation.photo_id)
                 .outerjoin(Decision, Decision.photo_id == Photo.id)
                 .where(_present(), Decision.id.is_(None)).group_by(Recommendation.reason))
        found = dict(session.execute(query).all())
        return {reason: int(found.get(reason, 0)) for reason in REASONS}
    return counts_cache.get("queue", compute)


def _severity_of(session: Session, reason: str, photo_id: int) -> float | None:
    return session.scalar(select(Recommendation.severity).where(Recommendation.reason == reason,
                                                                Recommendation.photo_id == photo_id))


def queue_page(session: Session, reason: str, cursor: int | None, limit: int) -> Page:
    """The worst first: by severity, then newest id."""
    columns = (Photo.id, Photo.relpath, Photo.content_hash, Recommendation.severity, Recommendation.evidence)
    query = _queue(columns, reason)
    if cursor is not None:
        sev = _severity_of(session, reason, cursor)
        if sev is not None:
            query = query.where(or_(Recommendation.severity < sev,
                                    and_(Recommendation.severity == sev, Recommendation.photo_id < cursor)))
    rows = session.execute(query.order_by(Recommendation.severity.desc(), Recommendation.photo_id.desc())
                           .limit(limit + 1)).all()
    tiles = [Tile(pid, rel.rpartition("/")[2], version_of(h), caption(reason, sev, ev or {}), reason)
             for pid, rel, h, sev, ev in rows[:limit]]
    return Page(tiles, tiles[-1].photo_id if len(rows) > limit else None)


def queue_neighbours(session: Session, reason: str, photo_id: int) -> tuple[int | None, int | None]:
    """(previous, next) photo ids around ``photo_id`` in the queue of ``reason``."""
    sev = _severity_of(session, reason, photo_id)
    if sev is None:
        return None, None
    after = session.scalar(_queue((Photo.id,), reason).where(or_(
        Recommendation.severity < sev, and_(Recommendation.severity == sev, Recommendation.photo_id < photo_id)))
        .order_by(Recommendation.severity.desc(), Recommendation.photo_id.desc()).limit(1))
    before = session.scalar(_queue((Photo.id,), reason).where(or_(
        Recommendation.severity > sev, and_(Recommendation.severity == sev, Recommendation.photo_id > photo_id)))
        .order_by(Recommendation.severity.asc(), Recommendation.photo_id.asc()).limit(1))
    return before, after


# -- groups (the Duplicates and Similar tabs) -----------------------------------------------------

# How a member relates to the keeper, in words; the order is the review's (copies first, other shots last).
RELATION_TITLES = {"keeper": "keeper", "identical": "identical file", "copy": "copy", "mirrored": "mirrored copy",
                   "mono": "black and white copy", "colour": "colour original", "edited": "edited copy",
                   "similar": "similar shot"}
KIND_TITLES = {"duplicate": "copies of one photo", "near_duplicate": "copies and edits of one photo",
               "similar": "similar shots"}


@dataclass(frozen=True, slots=True)
class GroupMemberView:
    photo_id: int
    name: str
    version: str
    relation: str
    keeper: bool
    state: str | None  # None while it waits for review; else 'kept', 'trashed' or 'gone'
    taken_at: datetime | None
    width: int | None
    height: int | None
    size: int | None

    @property
    def relation_title(self) -> str:
        return RELATION_TITLES.get(self.relation, self.relation)


@dataclass(frozen=True, slots=True)
class GroupView:
    group_id: int
    kind: str
    reason: str  # the review tab it is in
    keeper_photo_id: int | None
    keeper_reason: str
    keeper_by: str
    taken_at: datetime | None
    members: list[GroupMemberView]  # the keeper first, then in capture order

    @property
    def kind_title(self) -> str:
        return KIND_TITLES.get(self.kind, self.kind)

    @property
    def keeper(self) -> GroupMemberView | None:
        return next((m for m in self.members if m.keeper), None)

    @property
    def present(self) -> list[GroupMemberView]:
        return [m for m in self.members if m.state != "trashed" and m.state != "gone"]

    @property
    def pending(self) -> list[GroupMemberView]:
        """The members still to review: in the library and not decided (the keeper among them)."""
        return [m for m in self.members if m.state is None]


def _has_pending_member() -> Any:
    """A group has a photo advised for deletion that is still in the library and undecided (correlated EXISTS:
    a few index lookups per group, so walking the groups in order stops at the first pending one)."""
    return (select(PhotoGroupMember.photo_id)
            .join(Recommendation, and_(Recommendation.photo_id == PhotoGroupMember.photo_id,
                                       Recommendation.reason.in_(GROUP_REASONS)))
            .join(Photo, Photo.id == PhotoGroupMember.photo_id)
            .outerjoin(Decision, Decision.photo_id == Photo.id)
            .where(PhotoGroupMember.group_id == PhotoGroup.id, _present(), Decision.id.is_(None))
            .exists())


def _group_queue(columns: Any, reason: str) -> Select[Any]:
    return select(*columns).where(PhotoGroup.reason == reason, _has_pending_member())


def _newest_first(query: Select[Any]) -> Select[Any]:
    # Undated groups last, on PostgreSQL too (its NULLs sort first in a descending order; SQLite's last, which
    # is why saying so costs SQLite nothing: it still walks ix_photo_groups_reason_taken_at).
    return query.order_by(PhotoGroup.taken_at.desc().nulls_last(), PhotoGroup.id.desc())


def _oldest_first(query: Select[Any]) -> Select[Any]:
    return query.order_by(PhotoGroup.taken_at.asc().nulls_first(), PhotoGroup.id.asc())


def _newer_and_older(taken_at: datetime | None, group_id: int) -> tuple[Any, Any]:
    """Conditions for the groups before and after one in the queue's order (newest first, by id when undated)."""
    if taken_at is None:
        return PhotoGroup.id > group_id, PhotoGroup.id < group_id
    before = or_(PhotoGroup.taken_at > taken_at, and_(PhotoGroup.taken_at == taken_at, PhotoGroup.id > group_id))
    after = or_(PhotoGroup.taken_at < taken_at, and_(PhotoGroup.taken_at == taken_at, PhotoGroup.id < group_id))
    return before, after


def group_queue_first(session: Session, reason: str) -> int | None:
    """The newest group still to review in the tab of ``reason``."""
    return session.scalar(_newest_first(_group_queue((PhotoGroup.id,), reason)).limit(1))


def group_neighbours(session: Session, reason: str, group_id: int) -> tuple[int | None, int | None]:
    """(previous, next) group ids around ``group_id`` in the queue of ``reason``, whether or not it is still
    in the queue itself (a group just reviewed still has its place)."""
    taken_at = session.scalar(select(PhotoGroup.taken_at).where(PhotoGroup.id == group_id))
    before, after = _newer_and_older(taken_at, group_id)
    previous = session.scalar(_oldest_first(_group_queue((PhotoGroup.id,), reason).where(before)).limit(1))
    following = session.scalar(_newest_first(_group_queue((PhotoGroup.id,), reason).where(after)).limit(1))
    return previous, following


def group_queue_size(session: Session, reason: str) -> int:
    """Groups still to review in the tab of ``reason`` (cached a few seconds, like the tab counts)."""
    def compute() -> int:
        return int(session.scalar(select(func.count()).select_from(
            _group_queue((PhotoGroup.id,), reason).subquery())) or 0)
    return counts_cache.get(("groups", reason), compute)


def group_view(session: Session, group_id: int) -> GroupView | None:
    """A group with its members (one query for the members, their files and decisions)."""
    group = session.get(PhotoGroup, group_id)
    if group is None:
        return None
    rows = session.execute(
        select(PhotoGroupMember.photo_id, PhotoGroupMember.relation, Photo.relpath, Photo.content_hash,
               Photo.taken_at, Photo.width, Photo.height, Photo.size, Photo.gone_at, Photo.trashed_at,
               Decision.decision)
        .join(Photo, Photo.id == PhotoGroupMember.photo_id)
        .outerjoin(Decision, Decision.photo_id == Photo.id)
        .where(PhotoGroupMember.group_id == group_id)).all()
    members = []
    for pid, relation, rel, h, taken, w, hh, size, gone, trashed, decision in rows:
        state = ("trashed" if trashed is not None else "gone" if gone is not None
                 else "kept" if decision == "keep" else None)
        members.append(GroupMemberView(pid, rel.rpartition("/")[2], version_of(h), relation,
                                       pid == group.keeper_photo_id, state, taken, w, hh, size))
    members.sort(key=lambda m: (not m.keeper, m.taken_at or datetime.max, m.name, m.photo_id))
    return GroupView(group.id, group.kind, group.reason, group.keeper_photo_id, group.keeper_reason, group.keeper_by,
                     group.taken_at, members)


@dataclass(frozen=True, slots=True)
class PhotoGroupLine:
    """The photo page's line about the photo's group."""

    group_id: int
    kind: str
    size: int
    keeper_photo_id: int | None
    keeper_name: str | None
    keeper_reason: str
    reason: str  # the review tab the group is reviewed in

    @property
    def kind_title(self) -> str:
        return {"duplicate": "duplicates", "near_duplicate": "copies and edits"}.get(self.kind, self.kind)


def photo_group_line(session: Session, photo_id: int) -> PhotoGroupLine | None:
    group = group_of(session, photo_id)
    if group is None:
        return None
    keeper = session.scalar(select(Photo.relpath).where(Photo.id == group.keeper_photo_id)) \
        if group.keeper_photo_id is not None else None
    # The photo's own recommendation names the tab; the keeper has none, so it goes by the group's.
    own = session.scalar(select(Recommendation.reason).where(Recommendation.photo_id == photo_id,
                                                             Recommendation.reason.in_(GROUP_REASONS)))
    return PhotoGroupLine(group.id, group.kind, group.size, group.keeper_photo_id,
                          keeper.rpartition("/")[2] if keeper else None, group.keeper_reason,
                          own or group.reason)


# -- one photo ------------------------------------------------------------------------------------

def photo_detail(session: Session, photo_id: int) -> Photo | None:
    return session.scalar(select(Photo).where(Photo.id == photo_id).options(
        selectinload(Photo.analyses), selectinload(Photo.recommendations), selectinload(Photo.decision),
        selectinload(Photo.library)))


def trash_entry_of(session: Session, photo_id: int) -> TrashEntry | None:
    return session.scalar(select(TrashEntry).where(TrashEntry.photo_id == photo_id, TrashEntry.state == "trashed"))


def analyses_by_name(photo: Photo) -> dict[str, Analysis]:
    return {a.analyzer: a for a in photo.analyses}


@dataclass(frozen=True, slots=True)
class Contents:
    """What the objects and scene analyses say is in a photo, for its page.

    ``*_problem`` is why there is nothing to show ('model not installed', 'failed'); None when fine.
    """

    analysed: bool  # either analysis exists (old rows and unreadable photos have neither)
    has_scene: bool = False
    has_objects: bool = False
    scene: str | None = None
    why: str | None = None
    scene_problem: str | None = None
    tags: tuple[str, ...] = ()
    objects: tuple[tuple[str, int, float], ...] = ()  # (label, how many, best score), best first
    objects_problem: str | None = None


def _problem(evidence: dict[str, Any]) -> str | None:
    if evidence.get("not_installed"):
        return "model not installed"
    if evidence.get("error"):
        return "failed"
    return None


def photo_contents(analyses: dict[str, Analysis]) -> Contents:
    """Read defensively: evidence is JSON written by whichever version ran, or an error."""
    objects, scene = analyses.get("objects"), analyses.get("scene")
    if objects is None and scene is None:
        return Contents(analysed=False)
    fields: dict[str, Any] = {"has_scene": scene is not None, "has_objects": objects is not None}
    if scene is not None:
        ev = scene.evidence if isinstance(scene.evidence, dict) else {}
        fields["scene_problem"] = _problem(ev)
        if fields["scene_problem"] is None and ev.get("scene"):
            fields["scene"], fields["why"] = str(ev["scene"]), (str(ev["why"]) if ev.get("why") else None)
    if objects is not None:
        ev = objects.evidence if isinstance(objects.evidence, dict) else {}
        fields["objects_problem"] = _problem(ev)
        found: dict[str, tuple[int, float]] = {}
        for obj in ev.get("objects") or ():
            if isinstance(obj, dict) and obj.get("label"):
                n, best = found.get(str(obj["label"]), (0, 0.0))
                found[str(obj["label"])] = (n + 1, max(best, float(obj.get("score") or 0.0)))
        fields["objects"] = tuple(sorted(((label, n, best) for label, (n, best) in found.items()),
                                         key=lambda o: (-o[2], o[0])))
        tags = set(ev.get("tags") or ())
        fields["tags"] = tuple(tag for tag in PICCL_TAGS if tag in tags)
    return Contents(analysed=True, **fields)


# -- tags -----------------------------------------------------------------------------------------

TAG_KINDS: tuple[str, ...] = ("piccl", "scene", "object")
KNOWN_TAGS: dict[str, tuple[str, ...]] = {"piccl": PICCL_TAGS, "scene": SCENES, "object": COCO_CLASSES}


def tag_kind(tag: str, kind: str | None = None) -> str | None:
    """The kind of ``tag`` (checked against ``kind`` when given): a PICCL tag before a scene before an object."""
    kinds = (kind,) if kind else TAG_KINDS
    return next((k for k in kinds if tag in KNOWN_TAGS.get(k, ())), None)


def tag_counts(session: Session) -> dict[str, list[tuple[str, int]]]:
    """Photos per tag, by kind: PICCL tags and scenes in their fixed order, objects most common first."""
    def compute() -> dict[str, list[tuple[str, int]]]:
        found: dict[str, dict[str, int]] = {kind: {} for kind in TAG_KINDS}
        for (kind, tag), n in search.tag_counts(session).items():
            found.setdefault(kind, {})[tag] = int(n)
        ordered = {kind: [(tag, found[kind][tag]) for tag in KNOWN_TAGS[kind] if tag in found[kind]]
                   for kind in ("piccl", "scene")}
        ordered["object"] = sorted(found["object"].items(), key=lambda t: (-t[1], t[0]))
        return ordered
    # A scan of every tag row (most of a second at 100,000 photos): kept as long as the folder counts.
    return library_cache.get("tags", compute)


def tag_page(session: Session, kind: str, tag: str, cursor: int | None, limit: int) -> Page:
    """Photos with a tag, newest first (undated ones last); the tag's rows are found by ix_photo_tags_tag_photo."""
    query = (select(Photo.id, Photo.relpath, Photo.content_hash, Photo.taken_at).select_from(PhotoTag)
             .join(Photo, Photo.id == PhotoTag.photo_id)
             .where(PhotoTag.tag == tag, PhotoTag.kind == kind, _present()))
    return newest_first_page(session, query, cursor, limit)


def newest_first_page(session: Session, query: Select[Any], cursor: int | None, limit: int) -> Page:
    """One keyset page of ``query`` (selecting id, relpath, content_hash, taken_at), newest first, undated last."""
    if cursor is not None:
        found = session.execute(select(Photo.id, Photo.taken_at).where(Photo.id == cursor)).first()
        if found is not None and found.taken_at is None:
            query = query.where(Photo.taken_at.is_(None), Photo.id < cursor)
        elif found is not None:
            last = found.taken_at
            query = query.where(or_(Photo.taken_at < last, and_(Photo.taken_at == last, Photo.id < cursor),
                                    Photo.taken_at.is_(None)))
    rows = session.execute(query.order_by(Photo.taken_at.desc().nulls_last(), Photo.id.desc())
                           .limit(limit + 1)).all()
    tiles = [Tile(pid, rel.rpartition("/")[2], version_of(h),
                  taken.strftime("%d %b %Y") if taken else rel.rpartition("/")[2])
             for pid, rel, h, taken in rows[:limit]]
    return Page(tiles, tiles[-1].photo_id if len(rows) > limit else None)


# -- library --------------------------------------------------------------------------------------

def libraries(session: Session) -> list[Library]:
    return list(session.scalars(select(Library).order_by(Library.root)))


@dataclass(frozen=True, slots=True)
class FolderView:
    folder: str
    children: list[tuple[str, str, int]]  # (name, folder, photos under it)
    photos_here: int


def folder_view(session: Session, library_id: int, folder: str) -> FolderView | None:
    """The subfolders of ``folder`` (a stored folder value, matched in the database only), or None."""
    def counts() -> dict[str, int]:
        query = (select(Photo.folder, func.count()).where(Photo.library_id == library_id, _present())
                 .group_by(Photo.folder))
        return dict(session.execute(query).all())
    per_folder = library_cache.get(("folders", library_id), counts)
    prefix = f"{folder}/" if folder else ""
    children: dict[str, int] = {}
    total = 0
    for name, n in per_folder.items():
        if name == folder or name.startswith(prefix):
            total += n
            rest = name[len(prefix):] if name != folder else ""
            if rest:
                children[rest.split("/", 1)[0]] = children.get(rest.split("/", 1)[0], 0) + n
    if folder and not total:
        return None
    ordered = sorted(children.items(), key=lambda c: c[0].lower())
    return FolderView(folder, [(name, prefix + name, n) for name, n in ordered], per_folder.get(folder, 0))


def folder_page(session: Session, library_id: int, folder: str, cursor: int | None, limit: int,
                tag: tuple[str, str] | None = None) -> Page:
    """The photos in ``folder`` by name; with ``tag`` (kind, tag), only those having it."""
    if holds_nul(folder):
        return Page([], None)
    query = select(Photo.id, Photo.relpath, Photo.content_hash).where(
        Photo.library_id == library_id, Photo.folder == folder, _present())
    if tag is not None:
        # One row at most per photo (unique on photo_id, kind, tag), so the join adds no duplicates.
        query = query.join(PhotoTag, and_(PhotoTag.photo_id == Photo.id, PhotoTag.kind == tag[0],
                                          PhotoTag.tag == tag[1]))
    if cursor is not None:
        last = session.scalar(select(Photo.relpath).where(Photo.id == cursor))
        if last is not None:
            query = query.where(Photo.relpath > last)
    rows = session.execute(query.order_by(Photo.relpath).limit(limit + 1)).all()
    tiles = [Tile(pid, rel.rpartition("/")[2], version_of(h), rel.rpartition("/")[2]) for pid, rel, h in rows[:limit]]
    return Page(tiles, tiles[-1].photo_id if len(rows) > limit else None)


def month_buckets(session: Session, library_id: int) -> list[tuple[int, int, int]]:
    """(year, month, photos) newest first; undated photos are left out."""
    def compute() -> list[tuple[int, int, int]]:
        year, month = extract("year", Photo.taken_at), extract("month", Photo.taken_at)
        query = (select(year, month, func.count()).where(Photo.library_id == library_id, _present(),
                                                         Photo.taken_at.is_not(None))
                 .group_by(year, month).order_by(year.desc(), month.desc()))
        return [(int(y), int(m), int(n)) for y, m, n in session.execute(query).all()]
    return library_cache.get(("months", library_id), compute)


def month_page(session: Session, library_id: int, year: int, month: int, cursor: int | None, limit: int) -> Page:
    start = datetime(year, month, 1)
    end = datetime(year + (month == 12), month % 12 + 1, 1)
    query = select(Photo.id, Photo.relpath, Photo.content_hash, Photo.taken_at).where(
        Photo.library_id == library_id, _present(), Photo.taken_at >= start, Photo.taken_at < end)
    if cursor is not None:
        last = session.scalar(select(Photo.taken_at).where(Photo.id == cursor))
        if last is not None:
            query = query.where(or_(Photo.taken_at < last, and_(Photo.taken_at == last, Photo.id < cursor)))
    rows = session.execute(query.order_by(Photo.taken_at.desc(), Photo.id.desc()).limit(limit + 1)).all()
    tiles = [Tile(pid, rel.rpartition("/")[2], version_of(h), taken.strftime("%d %b %H:%M") if taken else "")
             for pid, rel, h, taken in rows[:limit]]
    return Page(tiles, tiles[-1].photo_id if len(rows) > limit else None)


# -- trash ----------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class TrashTile:
    entry_id: int
    photo_id: int | None
    name: str
    original_relpath: str
    version: str
    trashed_at: datetime
    size: int


def trash_page(session: Session, cursor: int | None, limit: int) -> tuple[list[TrashTile], int | None]:
    query = (select(TrashEntry.id, TrashEntry.photo_id, TrashEntry.original_relpath, Photo.content_hash,
                    TrashEntry.trashed_at, TrashEntry.size)
             .outerjoin(Photo, Photo.id == TrashEntry.photo_id).where(TrashEntry.state == "trashed"))
    if cursor is not None:
        query = query.where(TrashEntry.id < cursor)
    rows = session.execute(query.order_by(TrashEntry.id.desc()).limit(limit + 1)).all()
    tiles = [TrashTile(eid, pid, rel.rpartition("/")[2], rel, version_of(h), at, size)
             for eid, pid, rel, h, at, size in rows[:limit]]
    return tiles, (tiles[-1].entry_id if len(rows) > limit else None)


def trash_totals(session: Session, cutoff: datetime) -> dict[str, int]:
    """Entries and bytes in the trash, all of them and those older than ``cutoff``."""
    def totals(*extra: Any) -> tuple[int, int]:
        n, size = session.execute(select(func.count(), func.coalesce(func.sum(TrashEntry.size), 0))
                                  .where(TrashEntry.state == "trashed", *extra)).one()
        return int(n), int(size)
    all_n, all_bytes = totals()
    old_n, old_bytes = totals(TrashEntry.trashed_at <= cutoff)
    return {"all": all_n, "all_bytes": all_bytes, "expired": old_n, "expired_bytes": old_bytes}


# -- people ---------------------------------------------------------------------------------------

def face_version(content_hash: str | None, box: tuple[float, float, float, float]) -> str:
    """Changes with the photo's content and the face's box: face crop URLs carry it, like thumbnails do."""
    return "-".join([version_of(content_hash), *(str(round(v)) for v in box)])


@dataclass(frozen=True, slots=True)
class PersonCard:
    person_id: int
    name: str | None
    photo_count: int
    face_count: int
    hidden: bool
    cover_face_id: int | None
    cover_version: str


def people_cards(session: Session, hidden: bool, offset: int, limit: int) -> tuple[list[PersonCard], int | None]:
    """One page of the People grid in the order of :func:`plugin.people.service.list_people`: unnamed people
    first, most photos first (the ones worth naming), then named ones by name; hidden ones only when ``hidden``.

    One query: the counts and the cover face are columns of the person, the cover's box and photo a join away.
    """
    query = (select(Person.id, Person.name, Person.photo_count, Person.face_count, Person.hidden,
                    Person.cover_face_id, Photo.content_hash, Face.x, Face.y, Face.w, Face.h)
             .outerjoin(Face, Face.id == Person.cover_face_id).outerjoin(Photo, Photo.id == Face.photo_id)
             .where(Person.hidden.is_(hidden))
             .order_by(Person.name.is_not(None), func.lower(Person.name), Person.photo_count.desc(), Person.id)
             .offset(offset).limit(limit + 1))
    rows = session.execute(query).all()
    cards = [PersonCard(pid, name, photos, faces, bool(is_hidden), cover,
                        face_version(h, (x, y, w, hh)) if cover is not None else "")
             for pid, name, photos, faces, is_hidden, cover, h, x, y, w, hh in rows[:limit]]
    return cards, (offset + limit if len(rows) > limit else None)


def hidden_people_count(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(Person).where(Person.hidden.is_(True))) or 0)


def people_names(session: Session) -> list[str]:
    """Every named person's name, for the name pickers (a household names dozens, not thousands)."""
    names = session.scalars(select(Person.name).where(Person.name.is_not(None)).distinct())
    return sorted((n for n in names if n), key=str.lower)


def person_photo_page(session: Session, person_id: int, cursor: int | None, limit: int) -> Page:
    """The photos with a face of the person, newest first (undated ones last), like a tag's grid."""
    with_person = select(Face.photo_id).where(Face.person_id == person_id, Face.not_a_face.is_(False))
    query = select(Photo.id, Photo.relpath, Photo.content_hash, Photo.taken_at).where(
        Photo.id.in_(with_person), _present())
    return newest_first_page(session, query, cursor, limit)


@dataclass(frozen=True, slots=True)
class FaceTile:
    face_id: int
    photo_id: int
    version: str
    confirmed: bool
    quality: str


@dataclass(frozen=True, slots=True)
class FacePage:
    faces: list[FaceTile]
    next_cursor: int | None


def _face_page(session: Session, rank: Any, where: Any, cursor: int | None, limit: int) -> FacePage:
    """Faces matching ``where`` of present photos, by ``rank`` (an expression of the face) then newest first."""
    query = (select(Face.id, Face.photo_id, Photo.content_hash, Face.x, Face.y, Face.w, Face.h, Face.confirmed,
                    Face.quality).join(Photo, Photo.id == Face.photo_id)
             .where(where, Face.not_a_face.is_(False), _present()))
    if cursor is not None:
        last = session.scalar(select(rank).where(Face.id == cursor))
        if last is not None:
            query = query.where(or_(rank > last, and_(rank == last, Face.id < cursor)))
    rows = session.execute(query.order_by(rank, Face.id.desc()).limit(limit + 1)).all()
    faces = [FaceTile(fid, pid, face_version(h, (x, y, w, hh)), bool(confirmed), quality)
             for fid, pid, h, x, y, w, hh, confirmed, quality in rows[:limit]]
    return FacePage(faces, faces[-1].face_id if len(rows) > limit else None)


def person_faces_page(session: Session, person_id: int, cursor: int | None, limit: int) -> FacePage:
    """A person's faces, the ones piccl put there (still to check) before the confirmed ones."""
    rank = case((Face.confirmed.is_(True), 1), else_=0)
    return _face_page(session, rank, Face.person_id == person_id, cursor, limit)


def unassigned_faces_page(session: Session, cursor: int | None, limit: int) -> FacePage:
    """Faces in no one yet, those clear enough to group first (the small and blurry ones after)."""
    rank = case((Face.quality == "ok", 0), else_=1)
    return _face_page(session, rank, Face.person_id.is_(None), cursor, limit)


def unassigned_count(session: Session) -> int:
    def compute() -> int:
        query = (select(func.count()).select_from(Face).join(Photo, Photo.id == Face.photo_id)
                 .where(Face.person_id.is_(None), Face.not_a_face.is_(False), _present()))
        return int(session.scalar(query) or 0)
    return counts_cache.get("unassigned_faces", compute)


def face_photo(session: Session, face_id: int) -> tuple[Face, Photo] | None:
    """A face and its photo (with the library, to find the file), by the face's id."""
    row = session.execute(select(Face, Photo).join(Photo, Photo.id == Face.photo_id).where(Face.id == face_id)
                          .options(selectinload(Photo.library))).first()
    return (row[0], row[1]) if row is not None else None


@dataclass(frozen=True, slots=True)
class FaceBox:
    """A face on the photo page: where, in percent of the upright photo, and whose."""

    face_id: int
    person_id: int | None
    name: str | None
    left: float
    top: float
    width: float
    height: float

    @property
    def label_above(self) -> bool:
        """Near the bottom edge the name goes above the box, where it is not cut off."""
        return self.top + self.height > 85

    @property
    def box(self) -> str:
        return " ".join(f"{v:.2f}" for v in (self.left, self.top, self.width, self.height))


def photo_faces(session: Session, photo: Photo) -> list[FaceBox]:
    """The faces of ``photo`` (not those the user said are none), with their people's names, in the photo's order."""
    if not photo.width or not photo.height:
        return []
    rows = session.execute(select(Face.id, Face.person_id, Person.name, Face.x, Face.y, Face.w, Face.h)
                           .outerjoin(Person, Person.id == Face.person_id)
                           .where(Face.photo_id == photo.id, Face.not_a_face.is_(False)).order_by(Face.idx)).all()
    width, height = float(photo.width), float(photo.height)
    boxes = []
    for fid, pid, name, x, y, w, h in rows:
        left, top = min(max(x / width * 100, 0.0), 100.0), min(max(y / height * 100, 0.0), 100.0)
        boxes.append(FaceBox(fid, pid, name, left, top, min(w / width * 100, 100.0 - left),
                             min(h / height * 100, 100.0 - top)))
    return boxes
