"""The file operations of the trash, for each kind of library.

:class:`plugin.trash.TrashBin` decides what moves where and records it; the classes here carry the
moves out. :class:`LocalFiles` works on a folder, :class:`WebDavFiles` on a WebDAV folder (the same
operations as WebDAV requests), and :class:`NextcloudBin` speaks to Nextcloud's own trash bin, for
``webdav.trash = "nextcloud"``. Whatever the kind, a move never replaces anything, and a server that
cannot be reached raises :class:`ServerUnreachable` (an ``OSError``), never an HTTP library's error.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Protocol, TypeVar
from urllib.parse import quote, unquote, urlsplit

import httpx
from defusedxml import ElementTree
from webdav4.client import ClientError, HTTPError, ResourceNotFound

from plugin.sources.nextcloud import NextcloudLocation
from plugin.sources.webdav import FetchFailed, SourceUnavailable, WebDavLibrary, describe_failure, safe_relpath

T = TypeVar("T")

# Sidecar kinds that belong to one photo and travel with it (XMP, Apple edits, Google Takeout JSON,
# RawTherapee, DxO, ON1, camera thumbnails).
SIDECAR_SUFFIXES = frozenset({".xmp", ".aae", ".json", ".pp3", ".dop", ".on1", ".thm"})

# A TrashEntry.trash_relpath that starts so names an item of Nextcloud's trash bin, not a path.
NEXTCLOUD_TRASH = "nextcloud-trash:"


class UnsafePath(Exception):
    """A path that would leave the library (a symlink pointing out, a crafted name)."""


class ServerUnreachable(OSError):
    """The library's server cannot be reached now (down, refusing the password); a message for a person."""


class NoTrashBin(OSError):
    """Nextcloud's trash bin is off: a DELETE there would delete for good."""


# -- local folders ---------------------------------------------------------------------------------


def inside_library(root: Path, relpath: str) -> Path:
    """``root/relpath``, provided that it stays inside ``root`` after resolving symlinks."""
    rel = PurePosixPath(relpath)
    if rel.is_absolute() or ".." in rel.parts or not rel.parts:
        raise UnsafePath(relpath)
    real_root = root.resolve()
    path = real_root.joinpath(*rel.parts)
    if not path.parent.resolve().is_relative_to(real_root):
        raise UnsafePath(relpath)
    return path


def move_no_replace(src: Path, dst: Path) -> None:
    """Move ``src`` to ``dst`` without ever replacing an existing ``dst``; the bytes and mtime stay."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        # link() fails if dst exists, which rename() would silently replace.
        os.link(src, dst, follow_symlinks=False)
    except FileExistsError:
        raise
    except OSError as exc:
        # SMB/FUSE shares often refuse hard links: check, then rename (a narrow race with other writers).
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK, errno.EACCES):
            raise
        if os.path.lexists(dst):
            raise FileExistsError(errno.EEXIST, "destination exists", str(dst)) from None
        os.rename(src, dst)
        return
    os.unlink(src)


def own_sidecars(name: str, siblings: list[str]) -> list[str]:
    """Which of ``siblings`` (the other files of the folder) are sidecars of the photo ``name`` alone.

    ``IMG_1.jpg.xmp`` (darktable, digiKam, Takeout's ``IMG_1.jpg.json``) always is. ``IMG_1.xmp``
    (Lightroom, Apple's ``IMG_1.AAE``) is only when no other photo shares the stem: in a RAW+JPEG
    pair it describes the raw file too, and must stay with it.
    """
    stem = PurePosixPath(name).stem.lower()
    siblings = [s for s in siblings if s != name]
    own = [s for s in siblings if s.lower().startswith(name.lower() + ".")
           and PurePosixPath(s).suffix.lower() in SIDECAR_SUFFIXES]
    shared_stem = [s for s in siblings if PurePosixPath(s).stem.lower() == stem
                   and PurePosixPath(s).suffix.lower() in SIDECAR_SUFFIXES]
    other_photos = [s for s in siblings if PurePosixPath(s).stem.lower() == stem
                    and PurePosixPath(s).suffix.lower() not in SIDECAR_SUFFIXES]
    return sorted(own + ([] if other_photos else shared_stem))


def sidecars_of(photo_path: Path) -> list[str]:
    """Names of the sidecars beside ``photo_path`` that belong to it alone (see :func:`own_sidecars`)."""
    try:
        with os.scandir(photo_path.parent) as entries:
            siblings = [e.name for e in entries if e.is_file(follow_symlinks=False)]
    except OSError:
        return []
    return own_sidecars(photo_path.name, siblings)


class LibraryFiles(Protocol):
    """The file operations the trash needs, on paths relative to one library's root.

    Each raises :class:`UnsafePath` for a path that would leave the library, and
    :class:`ServerUnreachable` when the library cannot be reached.
    """

    def check_path(self, relpath: str) -> None:
        """Raise :class:`UnsafePath` unless ``relpath`` names a place inside the library."""

    def size(self, relpath: str) -> int:
        """The size of the regular file there; FileNotFoundError when none, UnsafePath when no regular file."""

    def exists(self, relpath: str) -> bool:
        """Whether anything (a file, a folder, a link) is there."""

    def sidecars(self, relpath: str) -> list[str]:
        """Names of the photo's own sidecars, in its folder."""

    def move(self, src: str, dst: str) -> None:
        """Move a file, creating ``dst``'s folders; FileExistsError rather than replacing ``dst``."""

    def makedirs(self, folder: str) -> None:
        """Create ``folder`` and its parents where missing."""

    def delete(self, relpath: str) -> None:
        """Delete one file (never a folder); FileNotFoundError when there is none."""

    def close(self) -> None:
        """Let go of connections."""


class LocalFiles:
    """A library in a folder of this machine."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def check_path(self, relpath: str) -> None:
        inside_library(self.root, relpath)

    def size(self, relpath: str) -> int:
        info = inside_library(self.root, relpath).lstat()
        if not stat.S_ISREG(info.st_mode):
            raise UnsafePath(relpath)  # a symlink could point anywhere; a folder is no photo
        return info.st_size

    def exists(self, relpath: str) -> bool:
        return os.path.lexists(inside_library(self.root, relpath))

    def sidecars(self, relpath: str) -> list[str]:
        return sidecars_of(inside_library(self.root, relpath))

    def move(self, src: str, dst: str) -> None:
        move_no_replace(inside_library(self.root, src), inside_library(self.root, dst))

    def makedirs(self, folder: str) -> None:
        inside_library(self.root, folder).mkdir(parents=True, exist_ok=True)

    def delete(self, relpath: str) -> None:
        inside_library(self.root, relpath).unlink()

    def close(self) -> None:
        pass


# -- WebDAV folders --------------------------------------------------------------------------------


def _unreachable(where: str, exc: BaseException) -> ServerUnreachable:
    return ServerUnreachable(f"{where}: {describe_failure(exc)}")


def dav_call(where: str, call: Callable[[], T]) -> T:
    """Run a WebDAV request, turning the client's errors into the trash's: UnsafePath, ServerUnreachable
    (down, refused password, 5xx after the retries), FileNotFoundError (404) or OSError (other answers)."""
    try:
        return call()
    except ValueError as exc:  # safe_relpath's refusal
        raise UnsafePath(str(exc)) from None
    except SourceUnavailable as exc:
        raise ServerUnreachable(str(exc)) from None
    except httpx.HTTPError as exc:
        raise _unreachable(where, exc) from None
    except ResourceNotFound:
        raise FileNotFoundError(errno.ENOENT, "not on the server", where) from None
    except HTTPError as exc:
        if exc.status_code >= 500 or exc.status_code == 429:
            raise _unreachable(where, exc) from None
        raise OSError(errno.EIO, f"the server answered {exc.status_code}", where) from None
    except (ClientError, FetchFailed) as exc:
        raise OSError(errno.EIO, str(exc) or type(exc).__name__, where) from None


class WebDavFiles:
    """A library in a WebDAV folder: the same operations as requests (MOVE with ``Overwrite: F``)."""

    def __init__(self, remote: WebDavLibrary) -> None:
        self.remote = remote

    def _call(self, call: Callable[[], T]) -> T:
        return dav_call(self.remote.key, call)

    def check_path(self, relpath: str) -> None:
        self._call(lambda: safe_relpath(relpath))

    def size(self, relpath: str) -> int:
        item = self._call(lambda: self.remote.info(relpath))
        if item is None:
            raise FileNotFoundError(errno.ENOENT, "not on the server", relpath)
        if item.is_dir:
            raise UnsafePath(relpath)
        return item.size

    def exists(self, relpath: str) -> bool:
        return self._call(lambda: self.remote.exists(relpath))

    def sidecars(self, relpath: str) -> list[str]:
        rel = PurePosixPath(self._call(lambda: safe_relpath(relpath)))
        folder = "" if str(rel.parent) == "." else str(rel.parent)
        try:
            items = self._call(lambda: self.remote.children(folder))
        except ServerUnreachable:
            raise
        except OSError:
            return []
        return own_sidecars(rel.name, [PurePosixPath(i.relpath).name for i in items if not i.is_dir])

    def move(self, src: str, dst: str) -> None:
        self._call(lambda: self.remote.move(src, dst))

    def makedirs(self, folder: str) -> None:
        self._call(lambda: self.remote.makedirs(folder))

    def delete(self, relpath: str) -> None:
        # A DELETE of a folder takes everything in it: make sure it is one file first.
        self.size(relpath)
        self._call(lambda: self.remote.delete(relpath))

    def close(self) -> None:
        self.remote.close()


# -- Nextcloud's trash bin -------------------------------------------------------------------------

_NC, _OC, _DAV = "{http://nextcloud.org/ns}", "{http://owncloud.org/ns}", "{DAV:}"
_BIN_PROPFIND = (
    b'<?xml version="1.0" encoding="utf-8"?>'
    b'<d:propfind xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns" xmlns:nc="http://nextcloud.org/ns"><d:prop>'
    b"<nc:trashbin-filename/><nc:trashbin-original-location/><nc:trashbin-deletion-time/><oc:fileid/>"
    b"<d:getcontentlength/><d:resourcetype/>"
    b"</d:prop></d:propfind>"
)


@dataclass(frozen=True, slots=True)
class BinItem:
    """One item of Nextcloud's trash bin, as its listing describes it."""

    key: str  # "<filename>.d<deletion time>", its name in the bin
    original_location: str
    deletion_time: int
    fileid: str | None


class NextcloudBin:
    """The trash bin of the Nextcloud user whose files hold one library.

    Nextcloud's DELETE puts a file into this bin under the name ``<filename>.d<deletion time>``; a MOVE
    of that item to ``restore/<name>`` puts it back at its original place, or beside it as
    ``name (restored).ext`` when the place is taken (in the user's root when its folder is gone).
    """

    def __init__(self, location: NextcloudLocation, dav: WebDavLibrary) -> None:
        self.location, self.dav = location, dav

    def _request(self, method: str, path: str, **kwargs: object) -> httpx.Response:
        client = self.dav.client
        return dav_call(self.dav.key, lambda: client.with_retry(lambda: client.request(method, path, **kwargs)))

    def check(self) -> None:
        """Raise :class:`NoTrashBin` unless the user has a trash bin (the trash bin app may be off)."""
        try:
            self._request("PROPFIND", "trash/", content=_BIN_PROPFIND,
                          headers={"Depth": "0", "Content-Type": "application/xml; charset=utf-8"})
        except FileNotFoundError:
            raise NoTrashBin(errno.ENOENT, "Nextcloud's trash bin is off", self.dav.key) from None

    def items(self) -> dict[str, BinItem]:
        """Everything in the bin, by key."""
        response = self._request("PROPFIND", "trash/", content=_BIN_PROPFIND,
                                 headers={"Depth": "1", "Content-Type": "application/xml; charset=utf-8"})
        return {item.key: item for item in _parse_bin(response.content)}

    def find(self, items: dict[str, BinItem], relpath: str, fileid: str | None = None,
             exclude: frozenset[str] = frozenset()) -> BinItem | None:
        """The item that the library's ``relpath`` became when it was deleted last (the one with
        ``fileid`` when known; never one of ``exclude``, the items other entries hold)."""
        location = self.location.original_location(relpath)
        matches = [i for i in items.values() if i.original_location.strip("/") == location and i.key not in exclude]
        if fileid is not None and any(i.fileid == fileid for i in matches):
            matches = [i for i in matches if i.fileid == fileid]
        return max(matches, key=lambda i: i.deletion_time, default=None)

    def restore(self, key: str) -> None:
        """Put the item back where Nextcloud recorded it was."""
        destination = str(self.dav.client.join_url(f"restore/{quote(key, safe='')}"))
        self._request("MOVE", f"trash/{quote(key, safe='')}", headers={"Destination": destination})

    def close(self) -> None:
        self.dav.close()


def _parse_bin(body: bytes) -> list[BinItem]:
    try:
        root = ElementTree.fromstring(body)
    except Exception as exc:  # defusedxml refusals and ParseError alike: the answer is not usable
        raise OSError(errno.EIO, f"Nextcloud's trash listing is not XML: {exc}") from None
    items = []
    for response in root.iter(f"{_DAV}response"):
        props: dict[str, str] = {}
        for propstat in response.iter(f"{_DAV}propstat"):
            if " 200 " not in f"{propstat.findtext(f'{_DAV}status') or ''} ":
                continue
            for prop in propstat.iter(f"{_DAV}prop"):
                props.update({child.tag: (child.text or "").strip() for child in prop})
        location = props.get(f"{_NC}trashbin-original-location")
        href = unquote(urlsplit(response.findtext(f"{_DAV}href") or "").path).rstrip("/")
        if not location or not href:
            continue  # the bin itself
        deleted = props.get(f"{_NC}trashbin-deletion-time", "")
        items.append(BinItem(key=href.rsplit("/", 1)[-1], original_location=location,
                             deletion_time=int(deleted) if deleted.isdigit() else 0,
                             fileid=props.get(f"{_OC}fileid") or None))
    return items
