"""The database schema (SQLAlchemy 2, typed). Changes go through an Alembic migration.

A photo is identified by (library, relative path) and carries its content
hash, so a moved or renamed photo keeps its id, its analyses and the user's
decision. Analyses record the analyzer's name and version; the user's
decision lives in its own table and no re-analysis ever writes to it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    and_,
    event,
    func,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.sql.elements import ColumnElement


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, list[str]: JSON}


class Library(Base):
    __tablename__ = "libraries"

    id: Mapped[int] = mapped_column(primary_key=True)
    root: Mapped[str] = mapped_column(String(1024), unique=True)
    kind: Mapped[str] = mapped_column(String(16), default="local")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    photos: Mapped[list[Photo]] = relationship(back_populates="library")


class Photo(Base):
    __tablename__ = "photos"
    __table_args__ = (
        UniqueConstraint("library_id", "relpath", name="uq_photos_library_relpath"),
        Index("ix_photos_content_hash", "content_hash"),
        Index("ix_photos_status", "status"),
        Index("ix_photos_library_folder", "library_id", "folder"),
        Index("ix_photos_library_taken_at", "library_id", "taken_at"),
        Index("ix_photos_library_remote_id", "library_id", "remote_id"),
        Index("ix_photos_place", "place_country_code", "place_city"),
        Index("ix_photos_place_city", "place_city"),
        Index("ix_photos_place_region", "place_region"),
        Index("ix_photos_place_country", "place_country"),
        Index("ix_photos_event_id", "event_id"),
        Index("ix_photos_taken_at", "taken_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    library_id: Mapped[int] = mapped_column(ForeignKey("libraries.id", ondelete="CASCADE"))
    relpath: Mapped[str] = mapped_column(String(2048))
    # The relpath's folder ('' at the root), kept in step by _keep_folder: the library view lists by it.
    folder: Mapped[str] = mapped_column(String(2048), default="")
    size: Mapped[int] = mapped_column(BigInteger)
    mtime_ns: Mapped[int] = mapped_column(BigInteger)
    content_hash: Mapped[str | None] = mapped_column(String(64))
    etag: Mapped[str | None] = mapped_column(String(256))  # WebDAV libraries: the file's ETag when last read
    remote_id: Mapped[str | None] = mapped_column(String(64))  # Nextcloud's oc:fileid (kept through renames)
    # Where it was taken, by offline reverse geocoding of its GPS (None without GPS: never guessed).
    place_country_code: Mapped[str | None] = mapped_column(String(2))
    place_country: Mapped[str | None] = mapped_column(String(128))
    place_region: Mapped[str | None] = mapped_column(String(128))
    place_city: Mapped[str | None] = mapped_column(String(128))
    place_version: Mapped[int | None] = mapped_column(Integer)  # the geocoder data it came from
    event_id: Mapped[int | None] = mapped_column(Integer)  # events are recomputed; no foreign key to keep

    status: Mapped[str] = mapped_column(String(16))  # ok | error | skipped
    error_reason: Mapped[str | None] = mapped_column(String(64))
    error_detail: Mapped[str | None] = mapped_column(Text)

    format: Mapped[str | None] = mapped_column(String(16))
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    frames: Mapped[int | None] = mapped_column(Integer)
    orientation: Mapped[int | None] = mapped_column(Integer)
    decoded_from: Mapped[str | None] = mapped_column(String(32))

    taken_at: Mapped[datetime | None] = mapped_column(DateTime)  # wall-clock time where it was taken
    taken_at_offset_min: Mapped[int | None] = mapped_column(Integer)
    taken_at_source: Mapped[str | None] = mapped_column(String(16))  # exif | file_mtime
    gps_lat: Mapped[float | None] = mapped_column(Float)
    gps_lon: Mapped[float | None] = mapped_column(Float)
    gps_alt: Mapped[float | None] = mapped_column(Float)
    camera_make: Mapped[str | None] = mapped_column(String(128))
    camera_model: Mapped[str | None] = mapped_column(String(128))
    exif_warnings: Mapped[list[str] | None] = mapped_column(JSON)

    first_seen_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    analysed_at: Mapped[datetime | None] = mapped_column(DateTime)
    gone_at: Mapped[datetime | None] = mapped_column(DateTime)  # set when the file disappeared
    # Set while the file sits in piccl's trash (relpath then points into the trash folder); scans leave it be.
    trashed_at: Mapped[datetime | None] = mapped_column(DateTime)

    library: Mapped[Library] = relationship(back_populates="photos")
    analyses: Mapped[list[Analysis]] = relationship(
        back_populates="photo", cascade="all, delete-orphan", passive_deletes=True
    )
    recommendations: Mapped[list[Recommendation]] = relationship(
        back_populates="photo", cascade="all, delete-orphan", passive_deletes=True,
        foreign_keys="Recommendation.photo_id",
    )
    decision: Mapped[Decision | None] = relationship(
        back_populates="photo", cascade="all, delete-orphan", passive_deletes=True
    )
    tags: Mapped[list[PhotoTag]] = relationship(
        back_populates="photo", cascade="all, delete-orphan", passive_deletes=True
    )
    feature: Mapped[PhotoFeature | None] = relationship(
        back_populates="photo", cascade="all, delete-orphan", passive_deletes=True
    )
    faces: Mapped[list[Face]] = relationship(
        back_populates="photo", cascade="all, delete-orphan", passive_deletes=True, order_by="Face.idx"
    )
    hashes: Mapped[PhotoHash | None] = relationship(
        back_populates="photo", cascade="all, delete-orphan", passive_deletes=True
    )

    def set_decision(self, choice: str | None) -> None:
        """Record the user's decision ('keep' / 'trash'), or take it back with None."""
        if choice is None:
            self.decision = None
        elif self.decision is None:
            self.decision = Decision(decision=choice)
        else:
            self.decision.decision, self.decision.decided_at = choice, utcnow()


class Analysis(Base):
    """One analyzer's latest result for one photo."""

    __tablename__ = "analyses"
    __table_args__ = (UniqueConstraint("photo_id", "analyzer", name="uq_analyses_photo_analyzer"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    photo_id: Mapped[int] = mapped_column(ForeignKey("photos.id", ondelete="CASCADE"))
    analyzer: Mapped[str] = mapped_column(String(32))
    version: Mapped[int] = mapped_column(Integer)
    # The analyzer's settings (method, thresholds) as canonical JSON: a change re-runs it.
    params: Mapped[str] = mapped_column(String(512), default="")
    score: Mapped[float | None] = mapped_column(Float)
    flagged: Mapped[bool] = mapped_column(default=False)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    photo: Mapped[Photo] = relationship(back_populates="analyses")


class Recommendation(Base):
    """piccl's advice to delete a photo for one reason, with the numbers behind it.

    One row per (photo, reason) so that each review tab is an index range ordered by severity.
    """

    __tablename__ = "recommendations"
    __table_args__ = (
        UniqueConstraint("photo_id", "reason", name="uq_recommendations_photo_reason"),
        Index("ix_recommendations_reason_severity", "reason", "severity", "photo_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    photo_id: Mapped[int] = mapped_column(ForeignKey("photos.id", ondelete="CASCADE"))
    reason: Mapped[str] = mapped_column(String(16))  # blurry | dark | similar | ...
    # How sure / how bad, comparable within a reason: the review queue shows the worst first.
    severity: Mapped[float] = mapped_column(Float, default=0.0)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # For 'similar' and 'burst': the photo piccl would keep instead.
    keep_photo_id: Mapped[int | None] = mapped_column(ForeignKey("photos.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)

    photo: Mapped[Photo] = relationship(back_populates="recommendations", foreign_keys=[photo_id])


class PhotoTag(Base):
    """What is in a photo, one row per tag, for search and albums (derived from the analyses).

    ``kind`` is 'piccl' (the nine tags of the PICCL paper's Table 1), 'object' (a COCO class
    name, the finer tag) or 'scene' (people, animal, landscape, vehicle, building, other).
    """

    __tablename__ = "photo_tags"
    __table_args__ = (
        UniqueConstraint("photo_id", "kind", "tag", name="uq_photo_tags_photo_kind_tag"),
        Index("ix_photo_tags_tag_photo", "tag", "photo_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    photo_id: Mapped[int] = mapped_column(ForeignKey("photos.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(8))
    tag: Mapped[str] = mapped_column(String(64))
    score: Mapped[float | None] = mapped_column(Float)

    photo: Mapped[Photo] = relationship(back_populates="tags")


class PhotoFeature(Base):
    """A photo's image feature vector (EfficientNet-Lite0, 1280 x float16, L2-normalised)."""

    __tablename__ = "photo_features"

    photo_id: Mapped[int] = mapped_column(ForeignKey("photos.id", ondelete="CASCADE"), primary_key=True)
    model: Mapped[str] = mapped_column(String(32))
    dim: Mapped[int] = mapped_column(Integer)
    vector: Mapped[bytes] = mapped_column(LargeBinary)

    photo: Mapped[Photo] = relationship(back_populates="feature")


class PhotoHash(Base):
    """A photo's perceptual hashes (64-bit DCT hash of the upright picture and of its mirror image).

    Stored as signed 64-bit integers (what BIGINT holds); grouping reads the whole table in one query.
    """

    __tablename__ = "photo_hashes"

    photo_id: Mapped[int] = mapped_column(ForeignKey("photos.id", ondelete="CASCADE"), primary_key=True)
    phash: Mapped[int] = mapped_column(BigInteger)
    phash_mirror: Mapped[int] = mapped_column(BigInteger)
    mono: Mapped[bool] = mapped_column(default=False)  # no colour (a black-and-white version)

    photo: Mapped[Photo] = relationship(back_populates="hashes")


class PhotoGroup(Base):
    """Photos that are copies or shots of one moment: piccl keeps one (the keeper) and recommends the rest.

    ``kind`` is 'duplicate' (the same picture: identical bytes, or another size, quality, format or
    orientation), 'near_duplicate' (an edit: mirrored, black and white, cropped, rotated) or 'similar'
    (other shots of one moment: a burst, a bracket). ``keeper_by`` is 'auto' or 'user'; the user's
    choice survives re-grouping while that photo stays in the group.
    """

    __tablename__ = "photo_groups"
    __table_args__ = (Index("ix_photo_groups_reason_taken_at", "reason", "taken_at", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    # The review tab it is in: 'duplicate' when any photo is advised as a copy or edit, else 'similar'.
    reason: Mapped[str] = mapped_column(String(16), default="similar")
    method: Mapped[str] = mapped_column(String(16), default="default")
    keeper_photo_id: Mapped[int | None] = mapped_column(ForeignKey("photos.id", ondelete="SET NULL"))
    keeper_reason: Mapped[str] = mapped_column(String(128), default="")
    keeper_by: Mapped[str] = mapped_column(String(8), default="auto")
    size: Mapped[int] = mapped_column(Integer, default=0)
    taken_at: Mapped[datetime | None] = mapped_column(DateTime)  # the earliest member's, for ordering
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)

    members: Mapped[list[PhotoGroupMember]] = relationship(
        back_populates="group", cascade="all, delete-orphan", passive_deletes=True)


class PhotoGroupMember(Base):
    """One photo of a group and how it relates to the group (see :data:`plugin.grouping.RELATIONS`)."""

    __tablename__ = "photo_group_members"
    __table_args__ = (Index("ix_photo_group_members_photo", "photo_id"),)

    group_id: Mapped[int] = mapped_column(ForeignKey("photo_groups.id", ondelete="CASCADE"), primary_key=True)
    photo_id: Mapped[int] = mapped_column(ForeignKey("photos.id", ondelete="CASCADE"), primary_key=True)
    relation: Mapped[str] = mapped_column(String(16))

    group: Mapped[PhotoGroup] = relationship(back_populates="members")


class WritebackItem(Base):
    """What piccl last wrote back for one photo (its XMP sidecar): the content's digest and how it went.

    The write-back job compares each photo's wanted content with ``digest``: a change (a new tag, a person
    named or renamed) writes the sidecar again; a failure is kept with its reason and retried later.
    """

    __tablename__ = "writeback_items"
    __table_args__ = (Index("ix_writeback_items_state", "state"),)

    photo_id: Mapped[int] = mapped_column(ForeignKey("photos.id", ondelete="CASCADE"), primary_key=True)
    target: Mapped[str] = mapped_column(String(16), default="xmp")
    digest: Mapped[str] = mapped_column(String(64), default="")
    state: Mapped[str] = mapped_column(String(16))  # written | failed | empty (nothing to write)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    sidecar: Mapped[str | None] = mapped_column(String(2048))  # relative to the library root
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)


class NextcloudTagItem(Base):
    """The collaborative tags piccl last assigned to one photo in Nextcloud (``owned``), and how it went.

    Only tags in ``owned`` are ever removed by piccl: a tag the household assigned stays theirs.
    """

    __tablename__ = "nextcloud_tag_items"
    __table_args__ = (Index("ix_nextcloud_tag_items_state", "state"),)

    photo_id: Mapped[int] = mapped_column(ForeignKey("photos.id", ondelete="CASCADE"), primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), default="")
    state: Mapped[str] = mapped_column(String(16))  # written | failed | empty
    owned: Mapped[list[str] | None] = mapped_column(JSON)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)


class Person(Base):
    """A person: a group of faces, named by the user or still unnamed (formed by re-clustering).

    ``centroid`` is the person's representative vector (the normalised mean of its faces' embeddings,
    confirmed faces counted twice), kept for fast assignment; :mod:`plugin.people` keeps it current.
    """

    __tablename__ = "people"
    __table_args__ = (Index("ix_people_name", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str | None] = mapped_column(String(128))
    hidden: Mapped[bool] = mapped_column(default=False)
    # 'cluster' (formed by re-clustering) or 'user' (made by a move to a new person).
    origin: Mapped[str] = mapped_column(String(16), default="cluster")
    embed_model: Mapped[str | None] = mapped_column(String(64))
    centroid: Mapped[bytes | None] = mapped_column(LargeBinary)
    face_count: Mapped[int] = mapped_column(Integer, default=0)
    photo_count: Mapped[int] = mapped_column(Integer, default=0)
    cover_face_id: Mapped[int | None] = mapped_column(
        ForeignKey("faces.id", ondelete="SET NULL", use_alter=True, name="fk_people_cover_face"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)

    faces: Mapped[list[Face]] = relationship(back_populates="person", foreign_keys="Face.person_id")

    @property
    def user_touched(self) -> bool:
        """Named, or made by the user: re-clustering never merges such a person into another."""
        return bool(self.name) or self.origin == "user"


class Face(Base):
    """One face found in a photo: where (upright photo pixels), how sure, how sharp, its embedding, whose.

    ``confirmed`` is set only by the user (named, moved, kept): a confirmed face never moves by itself and
    anchors its person. ``quality`` says whether re-clustering may use it ('ok') or it is too small or too
    blurry to judge ('small', 'blurry'); ``not_a_face`` is the user's word that the detection is wrong.
    """

    __tablename__ = "faces"
    __table_args__ = (
        Index("ix_faces_photo", "photo_id"),
        Index("ix_faces_person", "person_id"),
        Index("ix_faces_unassigned", "person_id", "quality", "not_a_face"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    photo_id: Mapped[int] = mapped_column(ForeignKey("photos.id", ondelete="CASCADE"))
    idx: Mapped[int] = mapped_column(Integer)  # order in the photo (highest detector score first)
    x: Mapped[float] = mapped_column(Float)
    y: Mapped[float] = mapped_column(Float)
    w: Mapped[float] = mapped_column(Float)
    h: Mapped[float] = mapped_column(Float)
    landmarks: Mapped[list[Any]] = mapped_column(JSON, default=list)  # 5 x [x, y], upright photo pixels
    score: Mapped[float] = mapped_column(Float)
    sharpness: Mapped[float] = mapped_column(Float, default=0.0)
    quality: Mapped[str] = mapped_column(String(8), default="ok")  # ok | small | blurry
    embed_model: Mapped[str | None] = mapped_column(String(64))
    embedding: Mapped[bytes | None] = mapped_column(LargeBinary)  # float16, L2-normalised
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    confirmed: Mapped[bool] = mapped_column(default=False)
    # How the face got its person: 'auto' (assignment), 'cluster' (re-clustering) or 'user'.
    assigned_by: Mapped[str | None] = mapped_column(String(8))
    not_a_face: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    photo: Mapped[Photo] = relationship(back_populates="faces")
    person: Mapped[Person | None] = relationship(back_populates="faces", foreign_keys=[person_id])
    rejections: Mapped[list[FaceRejection]] = relationship(
        back_populates="face", cascade="all, delete-orphan", passive_deletes=True)

    @property
    def box(self) -> list[float]:
        return [self.x, self.y, self.w, self.h]


class FaceRejection(Base):
    """The user said: this face is not this person. Assignment and re-clustering never put it back."""

    __tablename__ = "face_rejections"
    __table_args__ = (UniqueConstraint("face_id", "person_id", name="uq_face_rejections_face_person"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    face_id: Mapped[int] = mapped_column(ForeignKey("faces.id", ondelete="CASCADE"))
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    face: Mapped[Face] = relationship(back_populates="rejections")


class Event(Base):
    """Photos taken close together in time (and place): a day out, a trip. Recomputed from the photos;
    ``key`` (the first photo's id and the start) keeps an event's id while it stays the same."""

    __tablename__ = "events"
    __table_args__ = (Index("ix_events_start_at", "start_at"), Index("ix_events_key", "key", unique=True))

    id: Mapped[int] = mapped_column(primary_key=True)
    start_at: Mapped[datetime] = mapped_column(DateTime)
    end_at: Mapped[datetime] = mapped_column(DateTime)
    name: Mapped[str] = mapped_column(String(256))  # "12-14 Aug 2023, Lisbon"
    place: Mapped[str | None] = mapped_column(String(256))
    size: Mapped[int] = mapped_column(Integer, default=0)
    cover_photo_id: Mapped[int | None] = mapped_column(Integer)
    key: Mapped[str] = mapped_column(String(64))


class Album(Base):
    """An album the user made. Albums are piccl's views: adding a photo never moves or copies its file."""

    __tablename__ = "albums"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(256), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)


class AlbumPhoto(Base):
    __tablename__ = "album_photos"
    __table_args__ = (Index("ix_album_photos_photo_id", "photo_id"),)

    album_id: Mapped[int] = mapped_column(ForeignKey("albums.id", ondelete="CASCADE"), primary_key=True)
    photo_id: Mapped[int] = mapped_column(ForeignKey("photos.id", ondelete="CASCADE"), primary_key=True)
    added_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Favorite(Base):
    """A photo the user marked with the heart. Written only by the user's actions, like a decision."""

    __tablename__ = "favorites"

    photo_id: Mapped[int] = mapped_column(ForeignKey("photos.id", ondelete="CASCADE"), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Decision(Base):
    """What the user decided (keep / trash). Written only by the user's actions."""

    __tablename__ = "decisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    photo_id: Mapped[int] = mapped_column(ForeignKey("photos.id", ondelete="CASCADE"), unique=True)
    decision: Mapped[str] = mapped_column(String(16))  # keep | trash
    decided_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    photo: Mapped[Photo] = relationship(back_populates="decision")


class ScanRun(Base):
    """One scan of one library: when, and what it found."""

    __tablename__ = "scan_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    library_id: Mapped[int] = mapped_column(ForeignKey("libraries.id", ondelete="CASCADE"))
    started_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)
    state: Mapped[str] = mapped_column(String(16), default="running")  # running | done | failed
    counts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class TrashEntry(Base):
    """One photo moved into piccl's trash folder, with its sidecars: how to put it back.

    ``state`` makes a move crash-safe: the row is written as 'moving' before the file moves, and
    :func:`plugin.trash.TrashBin.reconcile` settles rows a crash left half-way.
    """

    __tablename__ = "trash_entries"
    __table_args__ = (Index("ix_trash_entries_state_trashed_at", "state", "trashed_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    library_id: Mapped[int] = mapped_column(ForeignKey("libraries.id", ondelete="CASCADE"))
    photo_id: Mapped[int | None] = mapped_column(ForeignKey("photos.id", ondelete="SET NULL"))
    original_relpath: Mapped[str] = mapped_column(String(2048))
    trash_relpath: Mapped[str] = mapped_column(String(2048))
    # [original relpath, relpath in the trash] of each sidecar that moved with the photo.
    sidecars: Mapped[list[Any]] = mapped_column(JSON, default=list)
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    state: Mapped[str] = mapped_column(String(16))  # moving | trashed | restoring | restored | purged
    trashed_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)  # restored or purged
    restored_relpath: Mapped[str | None] = mapped_column(String(2048))

    library: Mapped[Library] = relationship()


class Account(Base):
    """The household account of the review UI (one row)."""

    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)


class Setting(Base):
    """Small state piccl keeps for itself (the UI's session signing key), shared by every process."""

    __tablename__ = "app_state"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


def readable_in_library() -> ColumnElement[bool]:
    """A photo that was read (status ok) and is in the library now: not vanished, not in piccl's trash.

    The status is compared through coalesce() so that SQLite never chooses ix_photos_status for it: nearly
    every photo is 'ok', so that index selects everything and forces a sort of the whole library where a
    walk of the date index would stop at a page (measured: 94 ms for a broad search, 33 ms for a month of the
    timeline at 100,000 photos, against 1-9 ms).
    """
    return and_(func.coalesce(Photo.status, "") == "ok", Photo.gone_at.is_(None), Photo.trashed_at.is_(None))


def folder_of(relpath: str) -> str:
    return relpath.rpartition("/")[0]


@event.listens_for(Photo.relpath, "set")
def _keep_folder(target: Photo, value: str, _old: Any, _initiator: Any) -> None:
    target.folder = folder_of(value)
