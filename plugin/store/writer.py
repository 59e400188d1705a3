"""Write one photo's outcome onto its row: facts, analyses, recommendation. Never the user's decision."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from plugin.analysis import PhotoOutcome
from plugin.analyzers.hashes import to_signed
from plugin.people.service import FaceChanges, drop_faces, sync_faces
from plugin.recommend import REASON_BY_ANALYZER, Advice, Verdict, advise
from plugin.store.models import Analysis, Photo, PhotoFeature, PhotoHash, PhotoTag, Recommendation, utcnow
from plugin.tagging import tags_by_class

# Failures that say nothing about the file's content (it was not, or not fully, read): the photo
# keeps what piccl knew about it, and the next scan tries again.
TRANSIENT_REASONS = frozenset({"unreadable", "out_of_memory"})

# Reasons that come from per-photo analyzers (grouping stages own the others, e.g. 'similar').
ANALYZER_REASONS = frozenset(REASON_BY_ANALYZER.values())

_TEXT_LIMIT = 128  # camera make/model columns; corrupt EXIF can hold kilobytes of garbage


def _clip(text: str | None, limit: int = _TEXT_LIMIT) -> str | None:
    return text[:limit] if text else text


def file_time(mtime_ns: int) -> tuple[datetime, int | None]:
    """The file's modification time as local wall-clock time with its UTC offset (the fallback date)."""
    local = datetime.fromtimestamp(mtime_ns / 1e9).astimezone()
    offset = local.utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset is not None else None
    return local.replace(tzinfo=None, microsecond=0), minutes


def store_outcome(photo: Photo, outcome: PhotoOutcome, wanted: dict[str, str]) -> FaceChanges:
    """Write ``outcome`` onto ``photo`` (a new or loaded row, analyses and recommendation loaded).

    Returns what happened to faces: the new ones (assigned to people once they have ids) and the people
    who lost one (recounted).
    """
    changes = FaceChanges()
    content_changed = bool(photo.content_hash and outcome.content_hash and photo.content_hash != outcome.content_hash)
    photo.size, photo.mtime_ns = outcome.size, outcome.mtime_ns
    photo.gone_at = None
    photo.analysed_at = utcnow()
    if outcome.failure is not None:
        photo.status = outcome.failure.status
        photo.error_reason = outcome.failure.reason
        photo.error_detail = outcome.failure.detail[:2000]
        if outcome.content_hash is None and photo.id is not None:
            # Not read at all (an I/O error, a timeout): what we knew of the content still holds.
            return changes
        photo.content_hash = outcome.content_hash
        # Analyses of what the file used to contain say nothing about what it is now.
        photo.analyses.clear()
        photo.recommendations.clear()
        photo.tags.clear()
        photo.feature = None
        photo.hashes = None
        drop_faces(photo, changes)
        return changes

    facts = outcome.facts
    assert facts is not None
    photo.content_hash = outcome.content_hash
    photo.status, photo.error_reason, photo.error_detail = "ok", None, None
    photo.format, photo.width, photo.height, photo.frames = facts.format, facts.width, facts.height, facts.frames
    photo.decoded_from = facts.decoded_from
    exif = facts.exif
    photo.orientation = exif.orientation
    photo.camera_make, photo.camera_model = _clip(exif.make), _clip(exif.model)
    if (photo.gps_lat, photo.gps_lon) != (exif.gps_lat, exif.gps_lon):
        photo.place_version = None  # its place is looked up again after the scan (plugin.places.service)
    photo.gps_lat, photo.gps_lon, photo.gps_alt = exif.gps_lat, exif.gps_lon, exif.gps_alt
    photo.exif_warnings = exif.warnings[:20] or None
    if exif.taken_at is not None:
        photo.taken_at, photo.taken_at_offset_min, photo.taken_at_source = (
            exif.taken_at, exif.taken_at_offset_min, "exif")
    else:
        photo.taken_at, photo.taken_at_offset_min = file_time(outcome.mtime_ns)
        photo.taken_at_source = "file_mtime"

    ran = {result.analyzer for result in outcome.results}
    if content_changed:
        # A partial re-run (one analyzer's settings changed) met new content: the others are stale now.
        for stale in [a for a in photo.analyses if a.analyzer not in ran]:
            photo.analyses.remove(stale)
        if "faces" not in ran:
            drop_faces(photo, changes)
    current = {a.analyzer: a for a in photo.analyses}
    for result in outcome.results:
        row = current.get(result.analyzer)
        if row is None:
            row = Analysis(analyzer=result.analyzer)
            photo.analyses.append(row)
            current[result.analyzer] = row
        row.version, row.score, row.flagged = result.version, result.score, result.flagged
        row.params = wanted.get(result.analyzer, f"{result.version}|").split("|", 1)[1]
        row.evidence = result.evidence
        row.created_at = utcnow()
        if result.analyzer == "faces":
            sync_faces(photo, result, changes)
        elif result.analyzer == "hash":
            store_hashes(photo, result.evidence)
        elif result.vector is not None:
            store_feature(photo, result.analyzer, result.vector)
    if "scene" in ran and not any(r.vector for r in outcome.results if r.analyzer == "scene"):
        photo.feature = None  # the classifier is gone (not installed): its old vector no longer matches

    sync_tags(photo, list(current.values()))

    sync_recommendations(photo, advise([Verdict(a.analyzer, a.flagged, a.score, a.evidence)
                                        for a in current.values()]))
    return changes


def sync_recommendations(photo: Photo, advice: list[Advice]) -> None:
    """Make ``photo``'s recommendations those of ``advice`` (rows updated in place, so ids stay)."""
    wanted = {a.reason: a for a in advice}
    for row in [r for r in photo.recommendations if r.reason not in wanted and r.reason in ANALYZER_REASONS]:
        photo.recommendations.remove(row)
    have = {r.reason: r for r in photo.recommendations}
    for reason, item in wanted.items():
        row = have.get(reason)
        if row is None:
            photo.recommendations.append(Recommendation(reason=reason, severity=item.severity,
                                                        evidence=item.evidence))
        else:
            row.severity, row.evidence = item.severity, item.evidence


FEATURE_MODELS = {"scene": ("efficientnet_lite0", 1280)}


def store_feature(photo: Photo, analyzer: str, vector: bytes) -> None:
    model, dim = FEATURE_MODELS[analyzer]
    if photo.feature is None:
        photo.feature = PhotoFeature(model=model, dim=dim, vector=vector)
    else:
        photo.feature.model, photo.feature.dim, photo.feature.vector = model, dim, vector


def store_hashes(photo: Photo, evidence: dict[str, Any]) -> None:
    if "phash" not in evidence:  # a flat picture, or the hash failed (see the evidence): no stale hash stays
        photo.hashes = None
        return
    phash, mirror = to_signed(int(evidence["phash"], 16)), to_signed(int(evidence["phash_mirror"], 16))
    mono = bool(evidence.get("mono"))
    if photo.hashes is None:
        photo.hashes = PhotoHash(phash=phash, phash_mirror=mirror, mono=mono)
    else:
        photo.hashes.phash, photo.hashes.phash_mirror, photo.hashes.mono = phash, mirror, mono


def tags_from_analyses(analyses: list[Analysis]) -> dict[tuple[str, str], float | None]:
    """(kind, tag) -> score, from the objects and scene analyses (the store's search index)."""
    wanted: dict[tuple[str, str], float | None] = {}
    by_name = {a.analyzer: a for a in analyses}
    objects = by_name.get("objects")
    if objects is not None and "objects" in objects.evidence:
        by_class = tags_by_class(objects.evidence.get("mapping", "piccl2021"))
        for obj in objects.evidence["objects"]:
            label, score = obj["label"], float(obj["score"])
            for key in [("object", label)] + [("piccl", tag) for tag in by_class.get(label, ())]:
                wanted[key] = max(score, wanted.get(key) or 0.0)
    scene = by_name.get("scene")
    if scene is not None and scene.evidence.get("scene"):
        wanted[("scene", scene.evidence["scene"])] = scene.score
    return wanted


def sync_tags(photo: Photo, analyses: list[Analysis]) -> None:
    """Make ``photo``'s tag rows those its analyses give (rows kept in place when unchanged)."""
    wanted = tags_from_analyses(analyses)
    for row in [t for t in photo.tags if (t.kind, t.tag) not in wanted]:
        photo.tags.remove(row)
    have = {(t.kind, t.tag): t for t in photo.tags}
    for (kind, tag), score in wanted.items():
        row = have.get((kind, tag))
        if row is None:
            photo.tags.append(PhotoTag(kind=kind, tag=tag, score=None if score is None else round(score, 4)))
        elif score is not None and row.score != round(score, 4):
            row.score = round(score, 4)
