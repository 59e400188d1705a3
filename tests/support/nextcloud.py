"""A small Nextcloud stand-in: real WebDAV files with file ids, collaborative (system) tags and a trash bin.

Built from these Nextcloud pages and sources, so the tests speak to what a real server answers:

* Developer manual, "WebDAV: Basic APIs"
  (https://docs.nextcloud.com/server/latest/developer_manual/client_apis/WebDAV/basic.html):
  files live at ``/remote.php/dav/files/<user>/``; PROPFIND may ask for ``oc:fileid``.
* Developer manual, "WebDAV: Trashbin"
  (https://docs.nextcloud.com/server/latest/developer_manual/client_apis/WebDAV/trashbin.html):
  PROPFIND ``/remote.php/dav/trashbin/<user>/trash`` lists ``nc:trashbin-filename``,
  ``nc:trashbin-original-location`` and ``nc:trashbin-deletion-time``; a MOVE into
  ``/remote.php/dav/trashbin/<user>/restore/`` puts the item back where it was.
* ownCloud developer manual, "Tags API" (https://doc.owncloud.com/server/developer_manual/webdav_api/tags.html),
  the API Nextcloud inherited; Nextcloud has no page of its own, so the details come from its sources:
  ``apps/dav/lib/SystemTag/SystemTagPlugin.php`` (POST answers 201 with ``Content-Location``, 409 when the
  name exists, 400 when a non-admin asks for an invisible or restricted tag, 403 when tag creation is
  restricted to admins), ``SystemTagsObjectMappingCollection.php`` (PUT of an unknown tag is 412, of a
  tag the user may not assign 403), ``SystemTagMappingNode.php`` (DELETE), ``lib/private/SystemTag/
  SystemTagManager.php`` (names are unique without regard to case, 64 bytes at most) and
  ``apps/files_trashbin/lib/Trashbin.php`` (trash items are ``<name>.d<timestamp>``; a restore whose
  place is taken becomes ``name (restored).ext``, then ``name (restored 2).ext``; a restore whose folder
  is gone goes to the root). Sabre answers a PUT onto an existing mapping with 409.

The user is a plain user, not an admin: invisible tags are not listed, and tags the user may not assign
answer 403. ``add_tag`` and ``assign_tag`` change the state the way an admin or the user in the web page
would, for the tests to set the scene.

File ids are inode numbers, so they survive a MOVE (a rename) and a trip through the trash bin, as
Nextcloud's do. The trash folder is a sibling of ``root`` so that renames into it keep the inode.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit
from xml.sax.saxutils import escape

from defusedxml import ElementTree as SafeET
from wsgidav.dav_error import DAVError
from wsgidav.fs_dav_provider import FileResource, FilesystemProvider, FolderResource
from wsgidav.wsgidav_app import WsgiDAVApp

from tests.support.davserver import PASSWORD, USER

DAV_ROOT = "/remote.php/dav"
OC = "http://owncloud.org/ns"
NC = "http://nextcloud.org/ns"
FILEID = f"{{{OC}}}fileid"
TAG_NAME_MAX_BYTES = 64  # the width of Nextcloud's systemtag.name column

StartResponse = Callable[..., Any]
_SABRE_EXCEPTIONS = {400: "BadRequest", 403: "Forbidden", 404: "NotFound", 405: "MethodNotAllowed",
                     409: "Conflict", 412: "PreconditionFailed", 415: "UnsupportedMediaType",
                     401: "NotAuthenticated", 502: "BadGateway"}
_REASONS = {200: "OK", 201: "Created", 204: "No Content", 207: "Multi-Status", 400: "Bad Request",
            401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed", 409: "Conflict",
            412: "Precondition Failed", 415: "Unsupported Media Type", 502: "Bad Gateway"}


@dataclass
class Tag:
    id: int
    name: str
    user_visible: bool = True
    user_assignable: bool = True

    @property
    def can_assign(self) -> bool:
        # SystemTagManager::canUserAssignTag for a user who is no admin and in no tag group
        return self.user_visible and self.user_assignable


@dataclass
class TrashEntry:
    key: str  # "<filename>.d<deletion time>", the item's name in the trash listing
    filename: str
    original_location: str  # "Photos/a.jpg", relative to the user's files; "a.jpg" for the root
    deletion_time: int
    path: Path  # where it lies in the trash folder
    fileid: int


@dataclass(frozen=True)
class Request:
    method: str
    path: str  # unquoted, after the web root
    status: int


@dataclass(eq=False)
class NextcloudApp:
    """The WSGI app; its state is open to the tests (read it under ``lock`` while a server runs)."""

    root: Path
    user: str = USER
    password: str = PASSWORD
    restrict_tag_creation: bool = False
    trashbin: bool = True
    web_root: str = ""  # "/nextcloud" for a server installed below the host's root
    tags: dict[int, Tag] = field(default_factory=dict)
    relations: dict[int, set[int]] = field(default_factory=dict)  # file id -> tag ids
    trash: dict[str, TrashEntry] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list, repr=False)
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    def __post_init__(self) -> None:
        if self.user != self.user.lower():
            raise ValueError("WsgiDAV looks shares up in lower case: give the stand-in a lower-case user name")
        self.root = self.root.resolve()
        self.web_root = self.web_root.rstrip("/")
        self.trash_dir = self.root.parent / f".{self.root.name}-trashbin"
        self.trash_dir.mkdir(exist_ok=True)
        self._files_share = f"{self.web_root}{DAV_ROOT}/files/{self.user}"
        self._dav = _files_dav(self)

    # --- the scene, as an admin or the user in the web page would set it -------------------------------

    def add_tag(self, name: str, *, user_visible: bool = True, user_assignable: bool = True) -> int:
        with self.lock:
            if self._tag_named(name) is not None:
                raise ValueError(f"tag {name!r} exists")
            tag_id = max(self.tags, default=0) + 1
            self.tags[tag_id] = Tag(tag_id, name, user_visible, user_assignable)
            return tag_id

    def assign_tag(self, fileid: int, tag_id: int) -> None:
        with self.lock:
            self.relations.setdefault(fileid, set()).add(tag_id)

    def fileid(self, relpath: str) -> int:
        """The file id of a file or folder under ``root``."""
        return os.stat(self.root / relpath).st_ino

    def tag_names(self, relpath: str) -> set[str]:
        """The names of the tags on a file under ``root``."""
        with self.lock:
            return {self.tags[t].name for t in self.relations.get(self.fileid(relpath), set())}

    def tag_by_name(self, name: str) -> Tag | None:
        with self.lock:
            return self._tag_named(name)

    def count(self, method: str, path_start: str = "") -> int:
        """How many requests of this method to paths starting so the server has seen."""
        with self.lock:
            return sum(1 for r in self.requests if r.method == method and r.path.startswith(path_start))

    # --- WSGI -------------------------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        method = environ["REQUEST_METHOD"].upper()
        # PEP 3333: PATH_INFO holds the unquoted bytes as latin-1; names are UTF-8.
        path = environ.get("PATH_INFO", "").encode("latin-1").decode("utf-8", "replace")
        if self.web_root:
            if not (path == self.web_root or path.startswith(self.web_root + "/")):
                return self._record(method, path, start_response, _error(404, "Not below the web root"))
            path = path[len(self.web_root):] or "/"

        def recording_start_response(status: str, headers: list[tuple[str, str]], *exc: Any) -> Any:
            with self.lock:
                self.requests.append(Request(method, path, int(status.split()[0])))
            return start_response(status, headers, *exc)

        if not self._authorised(environ):
            return self._record(method, path, start_response, _error(
                401, "No public access to this resource., Username or password was incorrect",
                [("WWW-Authenticate", 'Basic realm="Nextcloud", charset="UTF-8"')]))
        if path == f"{DAV_ROOT}/files/{self.user}" or path.startswith(f"{DAV_ROOT}/files/{self.user}/"):
            return self._dav(environ, recording_start_response)
        with self.lock:
            answer = self._route(method, path, environ)
        return self._record(method, path, start_response, answer)

    def _record(self, method: str, path: str, start_response: StartResponse, answer: Answer) -> Iterable[bytes]:
        with self.lock:
            self.requests.append(Request(method, path, answer.status))
        return answer.send(start_response)

    def _authorised(self, environ: dict[str, Any]) -> bool:
        header = environ.get("HTTP_AUTHORIZATION", "")
        if not header.lower().startswith("basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:].strip()).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        return hmac.compare_digest(user.encode(), self.user.encode()) and hmac.compare_digest(
            password.encode(), self.password.encode())

    def _route(self, method: str, path: str, environ: dict[str, Any]) -> Answer:
        parts = [p for p in path.split("/") if p]
        dav = [p for p in DAV_ROOT.split("/") if p]
        if parts[:len(dav)] != dav:
            return _error(404, "Not a DAV path")
        rest = parts[len(dav):]
        if rest[:1] == ["systemtags"]:
            return self._systemtags(method, rest[1:], environ)
        if rest[:2] == ["systemtags-relations", "files"] and len(rest) in (3, 4):
            return self._relations(method, rest[2:], environ)
        if rest[:3] == ["trashbin", self.user, "trash"] and self.trashbin:
            return self._trash(method, rest[3:], environ)
        return _error(404, f"File with name {'/'.join(rest)} could not be located")

    # --- /systemtags ------------------------------------------------------------------------------------

    def _systemtags(self, method: str, rest: list[str], environ: dict[str, Any]) -> Answer:
        base = f"{self.web_root}{DAV_ROOT}/systemtags/"
        if not rest and method == "PROPFIND":
            wanted = _requested_props(environ)
            responses = [(base, _COLLECTION)]
            if _depth(environ) != "0":
                responses += [(f"{base}{t.id}", _tag_props(t)) for t in self._visible_tags()]
            return _multistatus(responses, wanted)
        if not rest and method == "POST":
            return self._create_tag(environ, base)
        if len(rest) == 1 and method == "PROPFIND":
            tag = self._visible_tag(rest[0])
            if tag is None:
                return _error(404, f"Tag with id {rest[0]} not found")
            return _multistatus([(f"{base}{tag.id}", _tag_props(tag))], _requested_props(environ))
        return _error(405, f"{method} is not allowed here")

    def _create_tag(self, environ: dict[str, Any], base: str) -> Answer:
        if environ.get("CONTENT_TYPE", "").split(";")[0].strip() != "application/json":
            return _error(415, "")
        try:
            data = json.loads(_body(environ) or b"null")
        except ValueError:
            return _error(400, "Invalid JSON")
        if not isinstance(data, dict) or "name" not in data:
            return _error(400, 'Missing "name" attribute')
        if not data.get("userVisible", True) or not data.get("userAssignable", True) or data.get("groups"):
            return _error(400, "Not sufficient permissions")  # only admins make restricted tags
        if self.restrict_tag_creation:
            return _error(403, "You don’t have permissions to create tags")
        name = str(data["name"]).encode("utf-8")[:TAG_NAME_MAX_BYTES].decode("utf-8", "ignore")
        if self._tag_named(name) is not None:
            return _error(409, "Tag already exists")
        tag_id = self.add_tag(name)
        return Answer(201, [("Content-Location", f"{base}{tag_id}")])

    def _tag_named(self, name: str) -> Tag | None:
        # Nextcloud refuses a second tag that differs only in case.
        return next((t for t in self.tags.values() if t.name.lower() == name.lower()), None)

    def _visible_tags(self) -> list[Tag]:
        return sorted((t for t in self.tags.values() if t.user_visible), key=lambda t: t.name)

    def _visible_tag(self, text: str) -> Tag | None:
        tag = self.tags.get(int(text)) if text.isdigit() else None
        return tag if tag is not None and tag.user_visible else None

    # --- /systemtags-relations/files/<fileid>[/<tagid>] ------------------------------------------------

    def _relations(self, method: str, rest: list[str], environ: dict[str, Any]) -> Answer:
        fileid = int(rest[0]) if rest[0].isdigit() else -1
        if self._path_of(fileid) is None:
            return _error(404, "Entity does not exist or is not available")
        assigned = self.relations.setdefault(fileid, set())
        base = f"{self.web_root}{DAV_ROOT}/systemtags-relations/files/{fileid}/"
        if len(rest) == 1:
            if method != "PROPFIND":
                return _error(405, f"{method} is not allowed here")
            responses = [(base, _COLLECTION)]
            if _depth(environ) != "0":
                responses += [(f"{base}{t.id}", _tag_props(t)) for t in self._visible_tags() if t.id in assigned]
            return _multistatus(responses, _requested_props(environ))
        tag = self._visible_tag(rest[1])
        if method == "PUT":
            if tag is not None and tag.id in assigned:
                return _error(409, "PUT is not allowed on non-files.")
            if tag is None:
                return _error(412, f"Tag with id {rest[1]} does not exist, cannot assign")
            if not tag.can_assign:
                return _error(403, f"No permission to assign tag {tag.id}")
            assigned.add(tag.id)
            return Answer(201)
        if method == "DELETE":
            if tag is None or tag.id not in assigned:
                return _error(404, f"Tag with id {rest[1]} not present for object {fileid}")
            if not tag.can_assign:
                return _error(403, f"No permission to unassign tag {tag.id}")
            assigned.discard(tag.id)
            return Answer(204)
        if method == "PROPFIND" and tag is not None and tag.id in assigned:
            return _multistatus([(f"{base}{tag.id}", _tag_props(tag))], _requested_props(environ))
        return _error(404 if method == "PROPFIND" else 405, f"{method} is not allowed here")

    def _path_of(self, fileid: int) -> Path | None:
        for folder, dirs, files in os.walk(self.root):
            for name in (*dirs, *files):
                path = Path(folder) / name
                if os.lstat(path).st_ino == fileid:
                    return path
        return None

    # --- the trash bin ----------------------------------------------------------------------------------

    def move_to_trash(self, file_path: str) -> None:
        """What Nextcloud does on DELETE: the file or folder goes to the trash, keeping its file id."""
        with self.lock:
            source = Path(file_path)
            relpath = source.relative_to(self.root).as_posix()
            deleted_at = int(time.time())
            while f"{source.name}.d{deleted_at}" in self.trash:
                deleted_at += 1  # Trashbin::move2trash nudges the time when the name is taken
            key = f"{source.name}.d{deleted_at}"
            fileid = os.lstat(source).st_ino
            os.rename(source, self.trash_dir / key)
            self.trash[key] = TrashEntry(key, source.name, relpath, deleted_at, self.trash_dir / key, fileid)

    def delete_for_good(self, file_path: str) -> None:
        """DELETE without a trash bin: gone, with its tags (a new file may get the inode again)."""
        with self.lock:
            path = Path(file_path)
            inodes = {os.lstat(path).st_ino}
            if path.is_dir():
                inodes |= {os.lstat(Path(d) / n).st_ino for d, ds, fs in os.walk(path) for n in (*ds, *fs)}
                shutil.rmtree(path)
            else:
                path.unlink()
            for inode in inodes:
                self.relations.pop(inode, None)

    def _trash(self, method: str, rest: list[str], environ: dict[str, Any]) -> Answer:
        base = f"{self.web_root}{DAV_ROOT}/trashbin/{self.user}/trash/"
        if not rest:
            if method == "PROPFIND":
                responses = [(base, _COLLECTION)]
                if _depth(environ) != "0":
                    responses += [(base + quote(e.key), self._trash_props(e)) for e in self.trash.values()]
                return _multistatus(responses, _requested_props(environ))
            if method == "DELETE":  # empty the trash bin
                for key in list(self.trash):
                    self._purge(key)
                return Answer(204)
            return _error(405, f"{method} is not allowed here")
        entry = self.trash.get(rest[0]) if len(rest) == 1 else None
        if entry is None:
            return _error(404, f"File {'/'.join(rest)} not found in the trash bin")
        if method == "PROPFIND":
            return _multistatus([(base + quote(entry.key), self._trash_props(entry))], _requested_props(environ))
        if method == "DELETE":
            self._purge(entry.key)
            return Answer(204)
        if method == "MOVE":
            destination = unquote(urlsplit(environ.get("HTTP_DESTINATION", "")).path)
            restore = f"{self.web_root}{DAV_ROOT}/trashbin/{self.user}/restore/"
            if not destination.startswith(restore) or destination == restore:
                return _error(403, "Items in the trash bin can only be moved to the restore folder")
            self._restore(entry)
            return Answer(201)
        return _error(405, f"{method} is not allowed here")

    def _trash_props(self, entry: TrashEntry) -> dict[str, str]:
        is_dir = entry.path.is_dir()
        props = {
            f"{{{NC}}}trashbin-filename": escape(entry.filename),
            f"{{{NC}}}trashbin-original-location": escape(entry.original_location),
            f"{{{NC}}}trashbin-deletion-time": str(entry.deletion_time),
            FILEID: str(entry.fileid),
            "{DAV:}displayname": escape(entry.filename),
            "{DAV:}resourcetype": "<d:collection/>" if is_dir else "",
        }
        if not is_dir:
            props["{DAV:}getcontentlength"] = str(entry.path.stat().st_size)
        return props

    def _restore(self, entry: TrashEntry) -> None:
        location = Path(entry.original_location).parent.as_posix()
        folder = self.root / location
        if location != "." and not folder.is_dir():
            folder = self.root  # Trashbin::restore: a folder that is gone means the root
        os.rename(entry.path, folder / _unique_name(folder, entry.filename))
        del self.trash[entry.key]

    def _purge(self, key: str) -> None:
        entry = self.trash.pop(key)
        inodes = {entry.fileid}
        if entry.path.is_dir():
            inodes |= {os.lstat(Path(d) / n).st_ino for d, ds, fs in os.walk(entry.path) for n in (*ds, *fs)}
            shutil.rmtree(entry.path)
        else:
            entry.path.unlink()
        for inode in inodes:
            self.relations.pop(inode, None)


def nextcloud_app(root: Path, user: str = USER, password: str = PASSWORD, *, restrict_tag_creation: bool = False,
                  trashbin: bool = True, web_root: str = "") -> NextcloudApp:
    """A Nextcloud stand-in serving ``root`` as ``user``'s files; serve it with ``DavServer(app).start()``."""
    return NextcloudApp(root, user, password, restrict_tag_creation=restrict_tag_creation, trashbin=trashbin,
                        web_root=web_root)


def _unique_name(folder: Path, filename: str) -> str:
    """Trashbin::getUniqueFilename: "a.jpg", else "a (restored).jpg", then "a (restored 2).jpg", ..."""
    if not (folder / filename).exists():
        return filename
    # PHP's pathinfo: the extension is what follows the last dot; a leading-dot name has no name part.
    stem, dot, ext = filename.rpartition(".")
    name, ext = (stem, f".{ext}") if dot else (filename, "")
    candidate, number = f"{name} (restored){ext}", 2
    while (folder / candidate).exists():
        candidate, number = f"{name} (restored {number}){ext}", number + 1
    return candidate


# --- WebDAV files with oc:fileid, through WsgiDAV ---------------------------------------------------------

class _FileIdProps:
    """Adds Nextcloud's ``oc:fileid`` live property to a WsgiDAV resource (the inode number)."""

    _file_path: str
    provider: Any

    def get_property_names(self, *, is_allprop: bool) -> list[str]:
        return [*super().get_property_names(is_allprop=is_allprop), FILEID]  # type: ignore[misc]

    def get_property_value(self, name: str) -> Any:
        if name == FILEID:
            return str(os.lstat(self._file_path).st_ino)
        return super().get_property_value(name)  # type: ignore[misc]

    def handle_delete(self) -> bool:
        # WsgiDAV lets a resource handle DELETE itself; True means done (204).
        app: NextcloudApp = self.provider.nextcloud
        if app.trashbin:
            app.move_to_trash(self._file_path)
        else:
            app.delete_for_good(self._file_path)
        self.remove_all_locks(recursive=True)  # type: ignore[attr-defined]
        return True


class _NcFile(_FileIdProps, FileResource):
    pass


class _NcFolder(_FileIdProps, FolderResource):
    pass


class _NcProvider(FilesystemProvider):
    def __init__(self, app: NextcloudApp) -> None:
        super().__init__(str(app.root), fs_opts={})
        self.nextcloud = app

    def get_resource_inst(self, path: str, environ: dict[str, Any]) -> FileResource | None:
        file_path = self._loc_to_file_path(path, environ)
        if not os.path.exists(file_path):
            return None
        if os.path.islink(file_path):
            raise DAVError(403, f"Symlink support is disabled: {file_path!r}")
        if os.path.isdir(file_path):
            return _NcFolder(path, environ, file_path)  # type: ignore[return-value]
        return _NcFile(path, environ, file_path)


def _files_dav(app: NextcloudApp) -> WsgiDAVApp:
    # The share path carries the web root so that WsgiDAV's hrefs and MOVE destinations both match.
    config = {
        "provider_mapping": {app._files_share: _NcProvider(app)},
        "http_authenticator": {"accept_basic": True, "accept_digest": False, "default_to_digest": False,
                               "trusted_auth_header": None},
        # NextcloudApp checked the password before the request got here.
        "simple_dc": {"user_mapping": {"*": True}},
        "property_manager": True,
        "lock_storage": True,
        "dir_browser": {"enable": False},
        "verbose": 1,
        "logging": {"enable": False},
    }
    # WsgiDAV warns about anonymous access and plain HTTP; both are meant here.
    logging.getLogger("wsgidav").setLevel(logging.ERROR)
    return WsgiDAVApp(config)


# --- answers ------------------------------------------------------------------------------------------------

@dataclass
class Answer:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    def send(self, start_response: StartResponse) -> Iterator[bytes]:
        headers = [*self.headers, ("Content-Length", str(len(self.body)))]
        start_response(f"{self.status} {_REASONS.get(self.status, 'Error')}", headers)
        yield self.body


def _error(status: int, message: str, headers: list[tuple[str, str]] | None = None) -> Answer:
    """Sabre's error body, as Nextcloud sends it."""
    body = ('<?xml version="1.0" encoding="utf-8"?>\n<d:error xmlns:d="DAV:" xmlns:s="http://sabredav.org/ns">'
            f"<s:exception>Sabre\\DAV\\Exception\\{_SABRE_EXCEPTIONS.get(status, 'Exception')}</s:exception>"
            f"<s:message>{escape(message)}</s:message></d:error>")
    return Answer(status, [("Content-Type", "application/xml; charset=utf-8"), *(headers or [])], body.encode())


_COLLECTION = {"{DAV:}resourcetype": "<d:collection/>"}
_PREFIXES = {"DAV:": "d", OC: "oc", NC: "nc"}


def _tag_props(tag: Tag) -> dict[str, str]:
    return {
        f"{{{OC}}}id": str(tag.id),
        f"{{{OC}}}display-name": escape(tag.name),
        f"{{{OC}}}user-visible": _bool(tag.user_visible),
        f"{{{OC}}}user-assignable": _bool(tag.user_assignable),
        f"{{{OC}}}can-assign": _bool(tag.can_assign),
        "{DAV:}resourcetype": "",
    }


def _bool(value: bool) -> str:
    return "true" if value else "false"


def _multistatus(responses: list[tuple[str, dict[str, str]]], wanted: list[str] | None) -> Answer:
    """A 207 listing: ``wanted`` None is allprop; asked-for properties a resource lacks come back 404."""
    out = ['<?xml version="1.0"?>\n<d:multistatus xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns" '
           'xmlns:nc="http://nextcloud.org/ns" xmlns:s="http://sabredav.org/ns">']
    for href, props in responses:
        names = list(props) if wanted is None else wanted
        found = [n for n in names if n in props]
        missing = [n for n in names if n not in props]
        out.append(f"<d:response><d:href>{escape(href)}</d:href>")
        if found:
            out.append("<d:propstat><d:prop>")
            out += [_element(n, props[n]) for n in found]
            out.append("</d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat>")
        if missing:
            out.append("<d:propstat><d:prop>")
            out += [_element(n, "") for n in missing]
            out.append("</d:prop><d:status>HTTP/1.1 404 Not Found</d:status></d:propstat>")
        out.append("</d:response>")
    out.append("</d:multistatus>")
    return Answer(207, [("Content-Type", "application/xml; charset=utf-8")], "".join(out).encode())


def _element(clark: str, inner: str) -> str:
    namespace, _, local = clark[1:].partition("}")
    prefix = _PREFIXES.get(namespace)
    if prefix is None:
        return f'<x:{local} xmlns:x="{escape(namespace)}">{inner}</x:{local}>'
    return f"<{prefix}:{local}>{inner}</{prefix}:{local}>" if inner else f"<{prefix}:{local}/>"


def _requested_props(environ: dict[str, Any]) -> list[str] | None:
    body = _body(environ)
    if not body.strip():
        return None
    root = SafeET.fromstring(body)
    prop = root.find("{DAV:}prop")
    return None if prop is None else [child.tag for child in prop]


def _body(environ: dict[str, Any]) -> bytes:
    if "nextcloud.body" not in environ:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        environ["nextcloud.body"] = environ["wsgi.input"].read(length) if length > 0 else b""
    return bytes(environ["nextcloud.body"])


def _depth(environ: dict[str, Any]) -> str:
    return str(environ.get("HTTP_DEPTH", "infinity")).strip().lower()
