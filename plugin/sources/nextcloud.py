"""Where a WebDAV library lies in Nextcloud, read from its URL: the trash bin and the tag job both need it."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, unquote, urlsplit, urlunsplit

_FILES = "/remote.php/dav/files/"


@dataclass(frozen=True, slots=True)
class NextcloudLocation:
    """A library at ``<origin><dav_root>/files/<user>/<folder>``."""

    origin: str  # scheme://host[:port][/sub-path]
    dav_root: str  # /remote.php/dav (under the sub-path)
    user: str
    folder: str  # the library's folder below the user's files, '' for all of them

    @classmethod
    def of(cls, library_url: str) -> NextcloudLocation | None:
        """Read from a library URL ``.../remote.php/dav/files/<user>/...``; None for any other URL."""
        parts = urlsplit(library_url)
        head, marker, tail = parts.path.partition(_FILES)
        user, _, folder = tail.partition("/")
        if not marker or not user:
            return None
        origin = urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], head, "", ""))
        return cls(origin, "/remote.php/dav", unquote(user), unquote(folder).strip("/"))

    @property
    def trashbin_url(self) -> str:
        return f"{self.origin}{self.dav_root}/trashbin/{quote(self.user, safe='')}"

    def original_location(self, relpath: str) -> str:
        """What Nextcloud calls the library's ``relpath`` (relative to the user's files)."""
        return f"{self.folder}/{relpath}" if self.folder else relpath
