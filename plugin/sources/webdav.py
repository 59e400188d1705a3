"""A photo library in a WebDAV folder (Nextcloud, ownCloud, a NAS's WebDAV server), built on webdav4.

Listing is one ``PROPFIND Depth: 1`` per folder asking only for what decides whether a file changed
(size, last-modified, ETag, and Nextcloud's ``oc:fileid``, which survives renames and moves), so an
unchanged library costs no download. Photos are streamed into private temporary files (with a size
limit) and go through the same pipeline as local ones. Every request has timeouts, is retried with a
doubling pause on 5xx answers and dropped connections, and waits for one of ``parallel`` slots; a
refused password or a server that stays down becomes :class:`SourceUnavailable`, a message for a
person, never a traceback. The password is never logged and never part of the library's key.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import logging
import os
import ssl
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from pathlib import Path, PurePosixPath
from typing import TypeVar
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import httpx
from defusedxml import ElementTree
from webdav4.client import BadGatewayError, Client, ClientError, HTTPError, InsufficientStorage, ResourceNotFound

from plugin.config import Settings, WebDavSettings
from plugin.sources.local import FileEntry, Listing, ignored_kind, is_junk_dir

log = logging.getLogger(__name__)

T = TypeVar("T")

_DAV, _OC = "{DAV:}", "{http://owncloud.org/ns}"
_PROPFIND = (
    '<?xml version="1.0" encoding="utf-8"?>'
    '<d:propfind xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns"><d:prop>'
    "<d:resourcetype/><d:getcontentlength/><d:getlastmodified/><d:getetag/><oc:fileid/>"
    "</d:prop></d:propfind>"
)
_CHUNK = 1 << 20


class SourceUnavailable(Exception):
    """The library cannot be reached now (down, refusing the password, not a folder); a message for a person."""


class FetchFailed(Exception):
    """One file could not be read; ``reason`` is a short key, the message says why."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class RemoteItem:
    """One child of a folder as the server described it."""

    relpath: str
    is_dir: bool
    size: int
    mtime_ns: int
    etag: str | None
    fileid: str | None


def library_key(url: str) -> str:
    """The URL that names the library in the database: no user name or password, no trailing slash."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme.lower(), host, parts.path.rstrip("/"), "", ""))


def safe_relpath(relpath: str) -> str:
    """``relpath`` when it names something inside the library; ValueError otherwise."""
    rel = PurePosixPath(relpath)
    if (not relpath or rel.is_absolute() or any(p in {"..", "."} for p in rel.parts) or "\\" in relpath
            or "\x00" in relpath):  # no file name holds a NUL (%00), and PostgreSQL would refuse the row
        raise ValueError(f"not a path inside the library: {relpath!r}")
    return rel.as_posix()


class WebDavLibrary:
    """One WebDAV folder: list it, read its files, and (for the trash and sidecars) move and write."""

    kind = "webdav"

    def __init__(self, url: str, settings: WebDavSettings, credentials: tuple[str, str] | None,
                 max_file_bytes: int = 1_000_000_000) -> None:
        self.key = library_key(url)
        self.settings, self.max_file_bytes = settings, max_file_bytes
        self.base_path = unquote(urlsplit(self.key).path)  # what hrefs in answers start with (decoded)
        self.user = credentials[0] if credentials else None
        timeout = http_timeout(settings)
        limits = httpx.Limits(max_connections=settings.parallel, max_keepalive_connections=settings.parallel)
        self.client = Client(self.key + "/", auth=credentials, retry=self._retry, timeout=timeout,
                             verify=tls_verification(settings),
                             limits=limits, follow_redirects=False)
        self._slots = threading.Semaphore(settings.parallel)

    def __repr__(self) -> str:  # never the password
        return f"WebDavLibrary({self.key!r}, user={self.user!r})"

    def close(self) -> None:
        self.client.http.close()

    # -- requests -------------------------------------------------------------------------------

    def _retry(self, call: Callable[[], T]) -> T:
        """Run one request, retrying what the network or an overloaded server got wrong."""
        tries = 1 + self.settings.retries
        for attempt in range(tries):
            try:
                with self._slots:
                    return call()
            except httpx.TransportError as exc:
                problem: Exception = exc
            except HTTPError as exc:
                if exc.status_code == 401:
                    raise SourceUnavailable(f"{self.key}: the server refused the user name or password "
                                            f"(401){'' if self.user else '; no user is set (webdav_user)'}") from None
                if exc.status_code < 500 and exc.status_code != 429:
                    raise
                problem = exc
            except (BadGatewayError, InsufficientStorage) as exc:  # webdav4's own 502 and 507
                problem = exc
            if attempt + 1 == tries:
                if isinstance(problem, httpx.TransportError | BadGatewayError):
                    # Nothing answers, or only a proxy in front of a backend that does not.
                    raise SourceUnavailable(f"{self.key}: {describe_failure(problem)}") from None
                raise problem
            pause = min(self.settings.backoff_s * 2 ** attempt, 60.0)
            log.info("%s: %s; trying again in %.1f s", self.key, describe_failure(problem), pause)
            time.sleep(pause)
        raise AssertionError("unreachable")

    def _request(self, method: str, relpath: str, **kwargs: object) -> httpx.Response:
        return self._retry(lambda: self.client.request(method, self._quoted(relpath), **kwargs))

    @staticmethod
    def _quoted(relpath: str) -> str:
        return quote(relpath, safe="/")

    def url_of(self, relpath: str) -> str:
        return f"{self.key}/{self._quoted(relpath)}" if relpath else self.key

    # -- listing --------------------------------------------------------------------------------

    def children(self, folder: str) -> list[RemoteItem]:
        """The files and folders directly inside ``folder`` ('' is the library's root)."""
        path = f"{folder}/" if folder else ""
        response = self._request("PROPFIND", path, content=_PROPFIND.encode(),
                                 headers={"Depth": "1", "Content-Type": "application/xml; charset=utf-8"})
        items = []
        for item in self._parse(response.content):
            if item.relpath.rstrip("/") != folder:  # the folder itself is the first answer
                items.append(item)
        return items

    def _parse(self, body: bytes) -> list[RemoteItem]:
        try:
            root = ElementTree.fromstring(body)
        except Exception as exc:  # defusedxml refusals and ParseError alike: the answer is not usable
            raise FetchFailed("bad_answer", f"the server's PROPFIND answer is not XML: {exc}") from None
        items = []
        prefix = self.base_path.rstrip("/") + "/"
        for response in root.iter(f"{_DAV}response"):
            href = unquote(urlsplit(response.findtext(f"{_DAV}href") or "").path)
            if not (href + "/").startswith(prefix):
                continue
            rel = href[len(prefix):].strip("/")
            if rel:
                try:
                    rel = safe_relpath(rel)
                except ValueError:  # "..", ".", a backslash or a NUL from the server: never followed
                    log.warning("%s: ignored an entry outside the library: %r", self.key, href)
                    continue
            props: dict[str, object] = {}
            for propstat in response.iter(f"{_DAV}propstat"):
                if " 200 " not in f"{propstat.findtext(f'{_DAV}status') or ''} ":
                    continue
                for prop in propstat.iter(f"{_DAV}prop"):
                    for child in prop:
                        props[child.tag] = child
            rtype = props.get(f"{_DAV}resourcetype")
            is_dir = rtype is not None and rtype.find(f"{_DAV}collection") is not None  # type: ignore[attr-defined]
            items.append(RemoteItem(
                relpath=rel, is_dir=is_dir, size=int(_text(props, f"{_DAV}getcontentlength") or 0),
                mtime_ns=_http_date_ns(_text(props, f"{_DAV}getlastmodified")),
                etag=_stored_etag((_text(props, f"{_DAV}getetag") or "").strip('"') or None),
                fileid=_stored_fileid(_text(props, f"{_OC}fileid") or None)))
        return items

    def list(self, trash_dir_name: str = ".piccl-trash", skip: Callable[[str], bool] | None = None) -> Listing:
        """Walk the library, ``parallel`` folders at a time.

        The root failing raises :class:`SourceUnavailable`; a folder below it failing is reported in
        ``unreadable_dirs``, so nothing under it is taken for deleted.
        """
        listing = Listing()
        frontier = [self._checked_root()]
        with ThreadPoolExecutor(max_workers=self.settings.parallel, thread_name_prefix="piccl-dav-list") as pool:
            while frontier:
                results = list(pool.map(self._children_or_reason, frontier))
                folders, frontier = frontier, []
                for folder, (items, reason) in zip(folders, results, strict=True):
                    if reason is not None:
                        listing.unreadable_dirs[folder or "."] = reason
                        continue
                    for item in items or []:
                        name = PurePosixPath(item.relpath).name
                        if item.is_dir:
                            if not is_junk_dir(name, trash_dir_name) and not (skip and skip(item.relpath)):
                                frontier.append(item.relpath)
                            continue
                        kind = ignored_kind(name)
                        if kind is not None:
                            listing.ignored[kind] = listing.ignored.get(kind, 0) + 1
                            continue
                        listing.files.append(FileEntry(item.relpath, "", item.size, item.mtime_ns,
                                                       etag=item.etag, remote_id=item.fileid))
        listing.files.sort(key=lambda f: f.relpath)
        return listing

    def _checked_root(self) -> str:
        try:
            self.children("")
        except SourceUnavailable:
            raise
        except ResourceNotFound:
            raise SourceUnavailable(f"{self.key}: no such folder on the server (404)") from None
        except HTTPError as exc:
            raise SourceUnavailable(f"{self.key}: the server answered {exc.status_code} "
                                    f"({exc.response.reason_phrase})") from None
        except (httpx.HTTPError, ClientError, FetchFailed) as exc:
            raise SourceUnavailable(f"{self.key}: {describe_failure(exc)}") from None
        return ""

    def _children_or_reason(self, folder: str) -> tuple[list[RemoteItem] | None, str | None]:
        try:
            return self.children(folder), None
        except SourceUnavailable as exc:
            return None, str(exc)
        except ResourceNotFound:
            return None, "gone while listing (404)"
        except (httpx.HTTPError, ClientError, FetchFailed) as exc:
            return None, describe_failure(exc)

    # -- reading --------------------------------------------------------------------------------

    def fetch(self, entry: FileEntry, folder: Path) -> Path:
        """Stream ``entry`` into a new private file in ``folder``; raises :class:`FetchFailed`.

        The file gets the listed modification time, so the pipeline sees what a local scan would.
        """
        if entry.size > self.max_file_bytes:
            raise FetchFailed("too_large", f"{entry.size} bytes is over max_file_bytes ({self.max_file_bytes})")
        folder.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=folder, suffix=PurePosixPath(entry.relpath).suffix.lower()[:16])
        path = Path(name)
        try:
            with os.fdopen(fd, "wb") as handle:
                self._retry(lambda: self._download(entry, handle))
            os.utime(path, ns=(entry.mtime_ns, entry.mtime_ns))
        except BaseException as exc:
            path.unlink(missing_ok=True)
            if isinstance(exc, FetchFailed | SourceUnavailable):
                raise
            if isinstance(exc, ResourceNotFound):
                raise FetchFailed("vanished", "gone from the server since the listing") from None
            if isinstance(exc, HTTPError) and exc.status_code < 500:
                reason = {403: "refused", 423: "locked"}.get(exc.status_code, "refused")
                raise FetchFailed(reason, describe_failure(exc)) from None
            if isinstance(exc, httpx.HTTPError | ClientError):
                raise FetchFailed("server_error", describe_failure(exc)) from None
            if isinstance(exc, OSError):  # our side: the data folder's disk is full or not writable
                reason = "no_space" if exc.errno == errno.ENOSPC else "local_io"
                raise FetchFailed(reason, f"writing the download failed: {exc.strerror or exc}") from None
            raise
        return path

    def _download(self, entry: FileEntry, handle: object) -> None:
        written = 0
        handle.seek(0)  # type: ignore[attr-defined]
        handle.truncate()  # type: ignore[attr-defined]
        with self.client.http.stream("GET", self.client.join_url(self._quoted(entry.relpath))) as response:
            if response.status_code == 404:
                raise ResourceNotFound(entry.relpath)
            if response.status_code != 200:
                # A redirect (a login page, a proxy) or a partial answer is not the photo: never analyse its body.
                response.read()
                if response.status_code < 400:
                    raise FetchFailed("refused", f"the server answered {response.status_code} instead of the file")
                raise HTTPError(response)
            for chunk in response.iter_bytes(_CHUNK):
                written += len(chunk)
                if written > self.max_file_bytes:
                    raise FetchFailed("too_large", f"more than max_file_bytes ({self.max_file_bytes}) bytes")
                handle.write(chunk)  # type: ignore[attr-defined]
        if written != entry.size:
            # Replaced while being read, or cut short: the next scan lists it again and reads it whole.
            raise FetchFailed("changed_while_reading", f"{written} bytes read, {entry.size} listed")

    def content_hash(self, entry: FileEntry, folder: Path) -> str | None:
        """sha256 of the file's bytes (to recognise a renamed photo); None when it cannot be read."""
        try:
            path = self.fetch(entry, folder)
        except (FetchFailed, SourceUnavailable):
            return None
        try:
            digest = hashlib.sha256()
            with path.open("rb") as handle:
                for block in iter(lambda: handle.read(_CHUNK), b""):
                    digest.update(block)
            return digest.hexdigest()
        finally:
            path.unlink(missing_ok=True)

    def read_bytes(self, relpath: str, limit: int = 16 << 20) -> tuple[bytes, str | None] | None:
        """A small file's bytes (a sidecar) and its strong ETag as sent (None when the server gives a weak one,
        which ``If-Match`` cannot use), or None when there is no such file."""
        try:
            response = self._request("GET", safe_relpath(relpath))
        except ResourceNotFound:
            return None
        if response.status_code != 200:
            raise FetchFailed("refused", f"the server answered {response.status_code} instead of {relpath}")
        if len(response.content) > limit:
            raise FetchFailed("too_large", f"{relpath} is over {limit} bytes")
        etag = response.headers.get("ETag")
        return response.content, etag if etag and not etag.startswith("W/") else None

    def read_head(self, relpath: str, length: int) -> bytes | None:
        """The first ``length`` bytes of a file (a Range request; a server that ignores it is cut off)."""
        url = self.client.join_url(self._quoted(safe_relpath(relpath)))

        def get() -> bytes | None:
            with self.client.http.stream("GET", url, headers={"Range": f"bytes=0-{length - 1}"}) as response:
                if response.status_code == 404:
                    return None
                if response.status_code >= 400:
                    response.read()
                    raise HTTPError(response)
                data = bytearray()
                for chunk in response.iter_bytes(min(length, _CHUNK)):
                    data += chunk
                    if len(data) >= length:
                        break
                return bytes(data[:length])

        return self._retry(get)

    # -- changing (only the trash and sidecars call these) --------------------------------------

    def info(self, relpath: str) -> RemoteItem | None:
        """What the server says of one path, or None when nothing is there."""
        try:
            response = self._request("PROPFIND", safe_relpath(relpath), content=_PROPFIND.encode(),
                                     headers={"Depth": "0", "Content-Type": "application/xml; charset=utf-8"})
        except ResourceNotFound:
            return None
        items = self._parse(response.content)
        return items[0] if items else None

    def exists(self, relpath: str) -> bool:
        return self.info(relpath) is not None

    def makedirs(self, folder: str) -> None:
        """Create ``folder`` and any missing parents (MKCOL answers 405 where one exists)."""
        done = ""
        for part in PurePosixPath(safe_relpath(folder)).parts:
            done = f"{done}/{part}" if done else part
            try:
                self._request("MKCOL", done + "/")
            except HTTPError as exc:
                if exc.status_code != 405:
                    raise

    def move(self, src: str, dst: str) -> None:
        """MOVE without ever replacing: raises FileExistsError when ``dst`` is taken (412)."""
        src, dst = safe_relpath(src), safe_relpath(dst)
        parent = str(PurePosixPath(dst).parent)
        if parent != ".":
            self.makedirs(parent)
        destination = str(self.client.join_url(self._quoted(dst)))
        try:
            self._request("MOVE", src, headers={"Destination": destination, "Overwrite": "F"})
        except HTTPError as exc:
            if exc.status_code == 412:
                raise FileExistsError(dst) from None
            raise

    def delete(self, relpath: str) -> None:
        """DELETE one file (in Nextcloud it goes to the user's trash bin)."""
        with contextlib.suppress(ResourceNotFound):
            self._request("DELETE", safe_relpath(relpath))

    def upload(self, relpath: str, data: bytes, if_match: str | None = None, if_none_match: bool = False) -> str | None:
        """PUT ``data`` at ``relpath`` (replacing it only if its ETag is still ``if_match``); the new ETag.

        ``if_none_match``: create it only if there is none yet.

        Raises FileExistsError when the file changed or appeared since it was read (412).
        """
        headers = {"Content-Type": "application/rdf+xml"}
        if if_match:
            headers["If-Match"] = if_match  # exactly as the server sent it
        elif if_none_match:
            headers["If-None-Match"] = "*"
        try:
            response = self._request("PUT", safe_relpath(relpath), content=data, headers=headers)
        except HTTPError as exc:
            if exc.status_code == 412:
                raise FileExistsError(relpath) from None
            raise
        return (response.headers.get("ETag") or "").strip('"') or None


def http_timeout(settings: WebDavSettings) -> httpx.Timeout:
    """The configured timeout; connecting gets at most 10 s (a server that is down should be said quickly)."""
    return httpx.Timeout(settings.timeout_s, connect=min(settings.timeout_s, 10.0))


def tls_verification(settings: WebDavSettings) -> ssl.SSLContext | bool:
    """What httpx checks the server's certificate against: the system's CAs, the given CA file, or nothing."""
    if settings.ca_file:
        return ssl.create_default_context(cafile=str(settings.ca_file))
    return settings.verify_tls


def open_webdav(settings: Settings, url: str, interactive: bool = False) -> WebDavLibrary:
    """The WebDAV library at ``url`` with the configured credentials and network settings.

    ``interactive``: someone is waiting on a page, so one quick retry at most rather than a minute of them.
    """
    webdav = settings.webdav
    if interactive:
        webdav = webdav.model_copy(update={"retries": min(webdav.retries, 1), "backoff_s": min(webdav.backoff_s, 0.5),
                                           "timeout_s": min(webdav.timeout_s, 15.0)})
    return WebDavLibrary(url, webdav, settings.webdav_credentials(), settings.max_file_bytes)


# What the columns hold (photos.etag, photos.remote_id). SQLite stores longer text anyway; PostgreSQL refuses it.
_ETAG_MAX, _FILEID_MAX = 256, 64


def _stored_etag(etag: str | None) -> str | None:
    """The listing's ETag as stored and compared: an over-long one by its digest, which changes when it does."""
    if etag is None or len(etag) <= _ETAG_MAX:
        return etag
    return "sha256:" + hashlib.sha256(etag.encode()).hexdigest()


def _stored_fileid(fileid: str | None) -> str | None:
    """Nextcloud's file id (a number); anything longer than the column is no such id, and is not kept."""
    return fileid if fileid is None or len(fileid) <= _FILEID_MAX else None


def _text(props: dict[str, object], tag: str) -> str | None:
    element = props.get(tag)
    text = getattr(element, "text", None)
    return text.strip() if isinstance(text, str) else None


def _http_date_ns(value: str | None) -> int:
    if not value:
        return 0
    try:
        return int(parsedate_to_datetime(value).timestamp()) * 1_000_000_000
    except (TypeError, ValueError):
        return 0


def describe_failure(exc: BaseException) -> str:
    """A short, password-free account of a failed request."""
    if isinstance(exc, httpx.ConnectError) and "CERTIFICATE_VERIFY_FAILED" in str(exc):
        return ("the server's TLS certificate is not trusted (give its CA in webdav.ca_file; on your own LAN, "
                "webdav.verify_tls=false)")
    if isinstance(exc, httpx.ConnectError):
        return "cannot connect to the server (is it running, is the address right?)"
    if isinstance(exc, httpx.TimeoutException):
        return "the server did not answer in time (setting webdav.timeout_s)"
    if isinstance(exc, httpx.RemoteProtocolError):
        return "the server dropped the connection"
    if isinstance(exc, HTTPError):
        return f"the server answered {exc.status_code} ({exc.response.reason_phrase})"
    if isinstance(exc, httpx.HTTPError):
        return f"{type(exc).__name__}: {exc}"
    return str(exc)
