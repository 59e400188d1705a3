"""One photo: its page with the evidence, its thumbnails, its original; keep or trash it from there.

A photo's file is found only through its database row (library root + stored relative path), must
resolve inside the library, and is opened without following a final symlink: no request can make
piccl read a file outside the library.
"""

from __future__ import annotations

import errno
import io
import mimetypes
import os
import stat
from pathlib import Path
from typing import IO

import httpx
from flask import Blueprint, abort, flash, redirect, render_template, request, send_file, url_for
from flask.typing import ResponseReturnValue
from PIL import Image
from webdav4.client import HTTPError

from plugin.config import Settings
from plugin.reading.decode import ReadFailure
from plugin.reading.exif import ExifFacts, read_exif
from plugin.recommend import REASONS
from plugin.sources.local import FileEntry
from plugin.sources.webdav import FetchFailed, SourceUnavailable, describe_failure, open_webdav, safe_relpath
from plugin.store.models import Photo
from plugin.thumbnails import SIZES, Thumbnail
from plugin.trash import UnsafePath, inside_library
from webui import queries
from webui.extensions import db, services
from webui.forms import form_ids

bp = Blueprint("photos", __name__, url_prefix="/photos")

# A grey square for photos that cannot be shown (broken files, files gone since the scan).
PLACEHOLDER_SVG = (b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10">'
                   b'<rect width="10" height="10" fill="#3a3f47"/></svg>')


class RemotePhoto:
    """A photo of a WebDAV library as the thumbnail caches read it: downloaded only when a thumbnail is made."""

    def __init__(self, settings: Settings, url: str, relpath: str, size: int) -> None:
        self.settings, self.url, self.relpath, self.size = settings, url, relpath, size

    def stat(self) -> os.stat_result:
        return os.stat_result((stat.S_IFREG | 0o644, 0, 0, 1, 0, 0, self.size, 0, 0, 0))

    def read_bytes(self) -> bytes:
        remote = open_webdav(self.settings, self.url, interactive=True)
        try:
            found = remote.read_bytes(safe_relpath(self.relpath), limit=self.settings.max_file_bytes)
        except (SourceUnavailable, FetchFailed, HTTPError, httpx.HTTPError, ValueError) as exc:
            raise OSError(errno.EIO, describe_failure(exc)) from None
        finally:
            remote.close()
        if found is None:
            raise FileNotFoundError(errno.ENOENT, "gone from the server", self.relpath)
        return found[0]

    def head(self, length: int = 256 * 1024) -> IO[bytes] | None:
        """The start of the file, where its EXIF is (a photo page need not download the whole photo)."""
        remote = open_webdav(self.settings, self.url, interactive=True)
        try:
            data = remote.read_head(self.relpath, length)
        except (SourceUnavailable, HTTPError, httpx.HTTPError, ValueError):
            return None
        finally:
            remote.close()
        return io.BytesIO(data) if data is not None else None


def photo_file(photo: Photo) -> Path | RemotePhoto | None:
    """The photo's file, when it is a regular file inside its library; None otherwise."""
    if photo.library.kind == "webdav":
        return RemotePhoto(services().settings, photo.library.root, photo.relpath, photo.size)
    try:
        path = inside_library(Path(photo.library.root), photo.relpath)
        info = path.lstat()
    except (UnsafePath, OSError):
        return None
    return path if stat.S_ISREG(info.st_mode) else None


def open_photo_file(photo: Photo) -> IO[bytes] | None:
    path = photo_file(photo)
    if isinstance(path, RemotePhoto):
        return _fetched(photo)
    if path is None:
        return None
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        return None
    return os.fdopen(fd, "rb")


def _fetched(photo: Photo) -> IO[bytes] | None:
    """A WebDAV photo downloaded into an unnamed temporary file (gone when closed)."""
    settings = services().settings
    remote = open_webdav(settings, photo.library.root, interactive=True)
    entry = FileEntry(photo.relpath, "", photo.size, photo.mtime_ns)
    try:
        path = remote.fetch(entry, settings.data_dir / "tmp" / "ui")
    except (SourceUnavailable, FetchFailed, ValueError):
        return None
    finally:
        remote.close()
    handle = path.open("rb")
    path.unlink()
    return handle


def _photo(photo_id: int) -> Photo:
    photo = queries.photo_detail(db(), photo_id)
    if photo is None:
        abort(404)
    return photo


def _exif(photo: Photo) -> ExifFacts | None:
    """Exposure details for the evidence panel, read from the file's header on demand."""
    source = photo_file(photo)
    handle = source.head() if isinstance(source, RemotePhoto) else open_photo_file(photo)
    if handle is None:
        return None
    # Pillow reads only the header here (and pillow_heif, registered by the decoder, HEIC's metadata).
    try:
        with handle, Image.open(handle) as image:
            return read_exif(image)
    except Exception:  # EXIF is garnish on this page: a broken block must not break it
        return None


@bp.get("/<int:photo_id>")
def view(photo_id: int) -> ResponseReturnValue:
    photo = _photo(photo_id)
    reason = request.args.get("reason")
    reason = reason if reason in REASONS else None
    before, after = queries.queue_neighbours(db(), reason, photo_id) if reason else (None, None)
    recommendations = {r.reason: r for r in photo.recommendations}
    analyses = queries.analyses_by_name(photo)
    return render_template(
        "photo.html", photo=photo, reason=reason, before=before, after=after, recommendations=recommendations,
        analyses=analyses, contents=queries.photo_contents(analyses), exif=_exif(photo),
        faces=queries.photo_faces(db(), photo), group=queries.photo_group_line(db(), photo_id),
        version=queries.version_of(photo.content_hash),
        entry=queries.trash_entry_of(db(), photo_id) if photo.trashed_at else None,
        name=photo.relpath.rpartition("/")[2])


@bp.post("/<int:photo_id>/decide")
def decide(photo_id: int) -> ResponseReturnValue:
    """One tap on Keep or Trash (a plain form, so it works without JavaScript); goes on to the next photo."""
    choice = request.form.get("decision")
    if choice not in ("keep", "trash"):
        abort(400)
    photo = _photo(photo_id)
    reason = request.form.get("reason")
    reason = reason if reason in REASONS else None
    before, after = queries.queue_neighbours(db(), reason, photo_id) if reason else (None, None)
    db().rollback()  # the reviewer writes in its own session
    result = services().reviewer.decide([photo_id], choice)
    queries.counts_cache.clear()
    name = photo.relpath.rpartition("/")[2]
    if result.failed:
        flash(f"Could not {choice} {name}: {result.failed[photo_id].replace('_', ' ')}.", "error")
        return redirect(url_for("photos.view", photo_id=photo_id, reason=reason))
    flash({"text": f"{'Trashed' if choice == 'trash' else 'Kept'} {name}.", "photo_id": photo_id,
           "reason": reason}, "undo")
    target = after or before
    if reason and target:
        return redirect(url_for("photos.view", photo_id=target, reason=reason))
    if reason:
        return redirect(url_for("review.queue", reason=reason))
    return redirect(url_for("photos.view", photo_id=photo_id))


@bp.post("/undo")
def undo() -> ResponseReturnValue:
    ids = form_ids("photo_id")
    if not ids:
        abort(400)
    result = services().reviewer.undo(ids)
    queries.counts_cache.clear()
    if result.failed:
        flash("Could not undo: " + ", ".join(sorted(set(result.failed.values()))).replace("_", " "), "error")
    reason = request.form.get("reason")
    return redirect(url_for("photos.view", photo_id=ids[0], reason=reason if reason in REASONS else None))


@bp.get("/<int:photo_id>/thumb/<size>")
def thumbnail(photo_id: int, size: str) -> ResponseReturnValue:
    if size not in SIZES:
        abort(404)
    photo = db().get(Photo, photo_id)
    if photo is None:
        abort(404)
    source = photo_file(photo) if photo.content_hash and photo.status == "ok" else None
    made = services().thumbnails.get(source, photo.content_hash, size) if source and photo.content_hash else None
    return image_response(made, queries.version_of(photo.content_hash))


def image_response(made: Thumbnail | ReadFailure | None, version: str) -> ResponseReturnValue:
    """A cached JPEG with its ETag (the placeholder when there is none); a URL whose ?v= is ``version`` is
    cached for good, since URLs carry the content version."""
    if made is None or isinstance(made, ReadFailure):
        return send_file(_placeholder(), mimetype="image/svg+xml", max_age=60)
    response = send_file(made.path, mimetype="image/jpeg", etag=made.etag, conditional=True, max_age=0)
    versioned = request.args.get("v") == version
    response.cache_control.private = True
    response.cache_control.no_cache = None
    response.cache_control.max_age = 31_536_000 if versioned else 3600
    response.cache_control.immutable = versioned
    return response


def _placeholder() -> IO[bytes]:
    return io.BytesIO(PLACEHOLDER_SVG)


@bp.get("/<int:photo_id>/original")
def original(photo_id: int) -> ResponseReturnValue:
    """The original file, by id only; as a download unless ?inline=1."""
    photo = _photo(photo_id)
    handle = open_photo_file(photo)
    if handle is None:
        abort(404)
    name = photo.relpath.rpartition("/")[2]
    if photo.trashed_at is not None:
        entry = queries.trash_entry_of(db(), photo_id)
        name = entry.original_relpath.rpartition("/")[2] if entry else name
    mimetype = mimetypes.guess_type(name)[0] or "application/octet-stream"
    info = os.fstat(handle.fileno())
    response = send_file(handle, mimetype=mimetype, as_attachment=request.args.get("inline") != "1",
                         download_name=name, conditional=True, etag=f"{photo.content_hash or info.st_mtime_ns}",
                         last_modified=info.st_mtime, max_age=0)
    response.cache_control.private = True
    # An SVG or HTML "photo" must never run as a page of this site.
    response.headers["Content-Security-Policy"] = "default-src 'none'; img-src 'self'; sandbox"
    return response
