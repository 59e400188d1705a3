"""Nextcloud collaborative (system) tags on the user's photos, over WebDAV.

Followed, as of Nextcloud 31:

* Developer manual, "WebDAV: Basic APIs"
  (https://docs.nextcloud.com/server/latest/developer_manual/client_apis/WebDAV/basic.html):
  a PROPFIND with ``Depth: 1`` on ``/remote.php/dav/files/<user>/<folder>/`` asking for ``oc:fileid`` lists
  the folder's files with their ids.
* ownCloud developer manual, "Tags API" (https://doc.owncloud.com/server/developer_manual/webdav_api/tags.html),
  the API Nextcloud inherited and documents nowhere itself, checked against Nextcloud's sources
  (``apps/dav/lib/SystemTag/SystemTagPlugin.php``, ``SystemTagsObjectMappingCollection.php``,
  ``SystemTagMappingNode.php``, ``lib/private/SystemTag/SystemTagManager.php``):

  - PROPFIND ``/remote.php/dav/systemtags/`` lists the tags the user can see, with ``oc:id``,
    ``oc:display-name``, ``oc:user-visible``, ``oc:user-assignable`` and ``oc:can-assign``;
  - POST there with JSON ``{"name", "userVisible", "userAssignable"}`` creates one: 201 with
    ``Content-Location: .../systemtags/<id>``; 409 when the name exists (compared without regard to case,
    also against tags this user cannot see); 403 when the admin restricted tag creation to admins (the
    ``systemtags`` app setting ``restrict_creation_to_admin``, Nextcloud 31); 400 for restricted tags;
    names are cut at 64 bytes;
  - PROPFIND ``/remote.php/dav/systemtags-relations/files/<fileid>`` lists a file's tags; PUT
    ``.../<fileid>/<tagid>`` assigns (201; 409 when already there; 412 for a tag that does not exist;
    403 when the user may not assign it); DELETE unassigns (204; 404 when not assigned).

What piccl may remove is what it assigned itself (``owned``): a tag the user put on a photo, even one piccl
would also have chosen, is never taken off.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import httpx
from defusedxml import ElementTree as SafeET

OC = "http://owncloud.org/ns"
_DAV = "DAV:"
TAG_NAME_MAX_BYTES = 64  # Nextcloud's systemtag.name column; longer names are cut, and then never match

_PROPFIND_FILES = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<d:propfind xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns">'
    "<d:prop><d:resourcetype/><oc:fileid/></d:prop></d:propfind>"
)
_PROPFIND_TAGS = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<d:propfind xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns">'
    "<d:prop><oc:id/><oc:display-name/><oc:user-visible/><oc:user-assignable/><oc:can-assign/></d:prop>"
    "</d:propfind>"
)
_XML = {"Content-Type": "application/xml; charset=utf-8"}


class NextcloudTagError(Exception):
    """Something went wrong talking to Nextcloud; the message is meant for a person."""


class NextcloudUnavailable(NextcloudTagError):
    """Nothing will work for now (unreachable, the password refused, maintenance, too many requests)."""


class UnknownFileId(NextcloudTagError):
    """Nextcloud does not know the file id (the file was deleted, or this user cannot see it)."""


class TagCreationRefused(NextcloudTagError):
    """Nextcloud would not let this user create a tag."""

    def __init__(self, name: str, status: int, detail: str = "") -> None:
        self.name, self.status, self.detail = name, status, detail
        super().__init__(
            f"Nextcloud refused to create the tag '{name}' ({status}{': ' + detail if detail else ''}): "
            f"creating tags needs an admin on this server; create '{name}' in Nextcloud, or set "
            "webdav.create_tags to false (PICCL_WEBDAV__CREATE_TAGS=false) to use only the tags that exist")


@dataclass(frozen=True, slots=True)
class SystemTag:
    id: int
    name: str  # as Nextcloud has it, prefix included
    user_visible: bool
    user_assignable: bool
    can_assign: bool = True  # whether this user may put it on files (false for restricted tags)


@dataclass(slots=True)
class TagSync:
    """What ``sync_file`` did; names are piccl's, without the prefix."""

    assigned: set[str] = field(default_factory=set)  # put on the file now
    removed: set[str] = field(default_factory=set)  # taken off (piccl had put them there)
    owned: set[str] = field(default_factory=set)  # on the file because of piccl: remember for the next sync
    missing: set[str] = field(default_factory=set)  # wanted, but no tag piccl may use (see NextcloudTags.problems)


@dataclass(frozen=True, slots=True)
class _Entry:
    href: str  # unquoted path
    props: dict[str, Any]  # Clark name -> Element, only those the server answered 200 for


class NextcloudTags:
    """System tags of one Nextcloud user.

    ``http`` comes set up by the caller: ``base_url`` is the server's address, with its sub-path if it has
    one ("https://host/nextcloud"); auth (user name and app password), timeouts and TLS verification.
    ``prefix`` goes verbatim before every tag name piccl uses ("piccl: " makes "dog" the tag "piccl: dog");
    the names given to and returned by this class are without it. ``min_interval_s`` spaces all requests,
    from all threads, at least that far apart.
    """

    def __init__(self, http: httpx.Client, *, user: str, dav_root: str = "/remote.php/dav", prefix: str = "",
                 create_missing: bool = True, min_interval_s: float = 0.0) -> None:
        self.http = http
        self.user = user
        self.prefix = prefix
        self.create_missing = create_missing
        self.min_interval_s = min_interval_s
        self.refused: TagCreationRefused | None = None  # set once Nextcloud refused to create a tag
        self.problems: dict[str, str] = {}  # piccl tag name -> why it is missing, for a person
        self._dav = "/" + dav_root.strip("/")
        self._tags: dict[str, SystemTag] | None = None
        self._throttle_lock = threading.Lock()
        self._next_request_at = 0.0
        self._cache_lock = threading.RLock()

    @property
    def refused_reason(self) -> str | None:
        return str(self.refused) if self.refused else None

    def full_name(self, name: str) -> str:
        return self.prefix + name

    # --- files ----------------------------------------------------------------------------------------

    def file_ids(self, folder: str) -> dict[str, int]:
        """The ids of the files (not folders) directly in ``folder`` (relative to the user's root, "" = root)."""
        path = f"{self._dav}/files/{_seg(self.user)}/" + "".join(f"{_seg(p)}/" for p in folder.split("/") if p)
        response = self._request("PROPFIND", path, {207}, headers={"Depth": "1", **_XML}, content=_PROPFIND_FILES,
                                 not_found=NextcloudTagError(
                                     f"the folder '{folder or '/'}' is not in {self.user}'s Nextcloud files"))
        ids: dict[str, int] = {}
        for entry in _multistatus(response):
            resourcetype = entry.props.get(f"{{{_DAV}}}resourcetype")
            if resourcetype is not None and resourcetype.find(f"{{{_DAV}}}collection") is not None:
                continue  # the folder itself and its sub-folders
            fileid = _text(entry.props.get(f"{{{OC}}}fileid"))
            if fileid.isdigit():
                ids[entry.href.rstrip("/").rsplit("/", 1)[-1]] = int(fileid)
        return ids

    # --- tags -----------------------------------------------------------------------------------------

    def tags(self, refresh: bool = False) -> dict[str, SystemTag]:
        """All tags this user can see, by their name in Nextcloud; fetched once, then kept."""
        with self._cache_lock:
            if self._tags is None or refresh:
                response = self._request("PROPFIND", f"{self._dav}/systemtags/", {207},
                                         headers={"Depth": "1", **_XML}, content=_PROPFIND_TAGS)
                self._tags = {tag.name: tag for tag in map(_tag, _multistatus(response)) if tag is not None}
            return dict(self._tags)

    def find_tag(self, name: str) -> SystemTag | None:
        """The existing tag for piccl's ``name`` (matched as Nextcloud does: without regard to case)."""
        full = self.full_name(name)
        tags = self.tags()
        return tags.get(full) or next((t for t in tags.values() if t.name.casefold() == full.casefold()), None)

    def create_tag(self, name: str) -> SystemTag | None:
        """Create the tag for piccl's ``name``, visible and assignable by everyone.

        None when it exists already (someone made it since the list was fetched) and this user cannot see it.
        Raises ``TagCreationRefused`` when Nextcloud does not let this user create tags.
        """
        full = self.full_name(name)
        response = self._request("POST", f"{self._dav}/systemtags/", {201, 409, 400, 403},
                                 headers={"Content-Type": "application/json"},
                                 content=json.dumps({"name": full, "userVisible": True, "userAssignable": True}))
        if response.status_code in (400, 403):
            raise TagCreationRefused(full, response.status_code, _sabre_message(response))
        if response.status_code == 409:
            self.tags(refresh=True)
            return self.find_tag(name)
        tag_id = urlsplit(response.headers.get("Content-Location", "")).path.rstrip("/").rsplit("/", 1)[-1]
        if not tag_id.isdigit():
            self.tags(refresh=True)  # no id to read: the listing has it
            return self.find_tag(name)
        tag = SystemTag(int(tag_id), full, user_visible=True, user_assignable=True, can_assign=True)
        with self._cache_lock:
            self.tags()
            assert self._tags is not None
            self._tags[full] = tag
        return tag

    def ensure_tag(self, name: str) -> SystemTag | None:
        """The tag for piccl's ``name`` (the prefix is added here), created when missing and allowed to.

        None when it is missing and may not or could not be created, or this user may not assign it;
        ``problems[name]`` then says why. A refusal to create is remembered (``refused``): no other tag is
        tried after it.
        """
        tag = self.find_tag(name)
        if tag is None:
            full = self.full_name(name)
            if len(full.encode("utf-8")) > TAG_NAME_MAX_BYTES:
                return self._missing(name, f"'{full}' is longer than the {TAG_NAME_MAX_BYTES} bytes Nextcloud keeps")
            if not self.create_missing:
                return self._missing(name, f"there is no tag '{full}' in Nextcloud and creating tags is off")
            if self.refused is not None:
                return self._missing(name, str(self.refused))
            try:
                tag = self.create_tag(name)
            except TagCreationRefused as refused:
                self.refused = refused
                return self._missing(name, str(refused))
            if tag is None:
                return self._missing(name, f"a tag '{full}' exists in Nextcloud but this user cannot see it")
        if not tag.can_assign:
            return self._missing(name, f"the tag '{tag.name}' is restricted: this user may not assign it")
        return tag

    def _missing(self, name: str, why: str) -> None:
        self.problems[name] = why
        return None

    # --- a file's tags --------------------------------------------------------------------------------

    def tags_of(self, fileid: int) -> set[int]:
        """The ids of the tags on a file (those this user can see)."""
        response = self._request("PROPFIND", f"{self._dav}/systemtags-relations/files/{fileid}", {207},
                                 headers={"Depth": "1", **_XML}, content=_PROPFIND_TAGS,
                                 not_found=UnknownFileId(_unknown(fileid)))
        return {tag.id for tag in map(_tag, _multistatus(response)) if tag is not None}

    def assign(self, fileid: int, tag_id: int) -> bool:
        """Put a tag on a file; False when it was there already."""
        response = self._request("PUT", f"{self._dav}/systemtags-relations/files/{fileid}/{tag_id}",
                                 {201, 409, 412, 403}, content=b"", not_found=UnknownFileId(_unknown(fileid)))
        if response.status_code == 412:
            self._forget_tags()  # the tag was deleted since the list was fetched
            raise NextcloudTagError(f"the tag {self._tag_label(tag_id)} does not exist in Nextcloud any more")
        if response.status_code == 403:
            raise NextcloudTagError(f"this user may not assign the tag {self._tag_label(tag_id)}")
        return response.status_code == 201

    def unassign(self, fileid: int, tag_id: int) -> bool:
        """Take a tag off a file; False when it was not there."""
        response = self._request("DELETE", f"{self._dav}/systemtags-relations/files/{fileid}/{tag_id}",
                                 {204, 404, 403})
        if response.status_code == 403:
            raise NextcloudTagError(f"this user may not take off the tag {self._tag_label(tag_id)}")
        return response.status_code == 204

    def sync_file(self, fileid: int, wanted: set[str], owned: set[str]) -> TagSync:
        """Make the file carry ``wanted``; take off the tags in ``owned`` (piccl's earlier ones) not wanted now.

        A tag on the file that piccl did not put there is never removed, and stays not owned even when piccl
        wants it too: the user chose it. Tags that cannot be had go to ``missing`` (see ``problems``).
        Raises ``UnknownFileId`` when Nextcloud no longer has the file.
        """
        result = TagSync()
        current = self.tags_of(fileid)
        for name in sorted(wanted):
            tag = self.ensure_tag(name)
            if tag is None:
                result.missing.add(name)
            elif tag.id in current:
                if name in owned:
                    result.owned.add(name)
            elif self.assign(fileid, tag.id):
                result.assigned.add(name)
                result.owned.add(name)
            elif name in owned:
                result.owned.add(name)  # assigned between our look and our PUT, and it was ours before
        for name in sorted(owned - wanted):
            tag = self.find_tag(name)
            if tag is not None and tag.id in current and self.unassign(fileid, tag.id):
                result.removed.add(name)
        return result

    # --- HTTP -----------------------------------------------------------------------------------------

    def _request(self, method: str, path: str, expected: set[int], *, headers: dict[str, str] | None = None,
                 content: str | bytes | None = None, not_found: NextcloudTagError | None = None) -> httpx.Response:
        self._throttle()
        try:
            response = self.http.request(method, path, headers=headers, content=content)
        except httpx.TimeoutException as exc:
            raise NextcloudUnavailable(
                f"Nextcloud at {self._server()} did not answer in time ({method} {path})") from exc
        except httpx.HTTPError as exc:
            raise NextcloudUnavailable(
                f"could not reach Nextcloud at {self._server()}: {type(exc).__name__}: {exc}") from exc
        status = response.status_code
        if status in expected:
            return response
        if status == 401:
            raise NextcloudUnavailable(
                f"Nextcloud at {self._server()} refused the user name or app password (user '{self.user}')")
        if status == 404 and not_found is not None:
            raise not_found
        if status == 503:
            raise NextcloudUnavailable(f"Nextcloud at {self._server()} is unavailable (503), maybe in maintenance mode")
        if status == 429:
            raise NextcloudUnavailable(f"Nextcloud at {self._server()} asks piccl to slow down (429); "
                                       "lower webdav.requests_per_s")
        detail = _sabre_message(response)
        raise NextcloudTagError(f"Nextcloud answered {status} {response.reason_phrase} to {method} {path}"
                                + (f": {detail}" if detail else ""))

    def _throttle(self) -> None:
        if self.min_interval_s <= 0:
            return
        # Sleeping under the lock is the point: other threads queue behind and keep their spacing.
        with self._throttle_lock:
            wait = self._next_request_at - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            self._next_request_at = time.monotonic() + self.min_interval_s

    def _server(self) -> str:
        # A base_url may carry user:password; a message must not.
        return str(self.http.base_url.copy_with(username=None, password=None)).rstrip("/")

    def _forget_tags(self) -> None:
        with self._cache_lock:
            self._tags = None

    def _tag_label(self, tag_id: int) -> str:
        with self._cache_lock:
            name = next((t.name for t in (self._tags or {}).values() if t.id == tag_id), None)
        return f"'{name}'" if name else f"with id {tag_id}"


def _seg(part: str) -> str:
    # One path segment, everything reserved quoted: "#", "?", "%" and "/" are names here, not syntax.
    return quote(part, safe="")


def _unknown(fileid: int) -> str:
    return f"Nextcloud does not know the file id {fileid} (deleted, or not visible to this user)"


def _text(element: Any, *, strip: bool = True) -> str:
    text = (element.text or "") if element is not None else ""
    return text.strip() if strip else text


def _multistatus(response: httpx.Response) -> Iterator[_Entry]:
    try:
        root = SafeET.fromstring(response.content)
    except SafeET.ParseError as exc:
        raise NextcloudTagError(f"Nextcloud's answer to {response.request.method} "
                                f"{response.request.url.path} is not XML: {exc}") from exc
    for item in root.iter(f"{{{_DAV}}}response"):
        props: dict[str, Any] = {}
        for propstat in item.iter(f"{{{_DAV}}}propstat"):
            status = _text(propstat.find(f"{{{_DAV}}}status")).split()
            prop = propstat.find(f"{{{_DAV}}}prop")
            if len(status) > 1 and status[1] == "200" and prop is not None:
                props.update((child.tag, child) for child in prop)
        yield _Entry(unquote(_text(item.find(f"{{{_DAV}}}href"))), props)


def _tag(entry: _Entry) -> SystemTag | None:
    tag_id = _text(entry.props.get(f"{{{OC}}}id"))
    if not tag_id.isdigit():
        return None  # the collection itself

    def flag(name: str, default: bool) -> bool:
        value = _text(entry.props.get(f"{{{OC}}}{name}"))
        return default if not value else value.lower() in ("true", "1")

    return SystemTag(int(tag_id), _text(entry.props.get(f"{{{OC}}}display-name"), strip=False),
                     user_visible=flag("user-visible", True), user_assignable=flag("user-assignable", True),
                     can_assign=flag("can-assign", True))


def _sabre_message(response: httpx.Response) -> str:
    """The ``s:message`` of a Sabre error body, if there is one."""
    try:
        root = SafeET.fromstring(response.content)
    except SafeET.ParseError:
        return ""
    return _text(root.find("{http://sabredav.org/ns}message"))
