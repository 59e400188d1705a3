"""Where sidecars are written: beside a local photo (atomic rename) or beside a WebDAV photo (PUT).

Both merge into an existing sidecar of either name and keep every field piccl does not own; a WebDAV
sidecar is replaced only if nobody changed it since piccl read it (``If-Match``), and created only if
nobody created it meanwhile (``If-None-Match: *``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Protocol

from plugin.sources.webdav import RemoteItem, WebDavLibrary
from plugin.trash import inside_library
from plugin.writeback.xmp import (
    Naming,
    SidecarContent,
    SidecarError,
    holds_piccl_fields,
    merged_sidecar,
    says_something,
    sidecar_name,
    write_sidecar,
)


@dataclass(frozen=True, slots=True)
class Written:
    sidecar: str | None  # relative to the library root; None when the photo has no sidecar (nothing to say)
    changed: bool  # written (or, in a dry run, would be)


class SidecarTarget(Protocol):
    def write(self, relpath: str, content: SidecarContent, naming: Naming, dry_run: bool) -> Written: ...

    def present(self, sidecar: str) -> bool: ...


class LocalSidecars:
    def __init__(self, root: Path) -> None:
        self.root = root

    def write(self, relpath: str, content: SidecarContent, naming: Naming, dry_run: bool) -> Written:
        result = write_sidecar(inside_library(self.root, relpath), content, naming, dry_run=dry_run)
        exists = result.path.exists() or (dry_run and result.changed)
        return Written(result.path.relative_to(self.root.resolve()).as_posix() if exists else None, result.changed)

    def present(self, sidecar: str) -> bool:
        return (self.root / sidecar).is_file()


class RemoteSidecars:
    """Sidecars on a WebDAV server; each folder is listed once per run."""

    def __init__(self, remote: WebDavLibrary) -> None:
        self.remote = remote
        self._folders: dict[str, dict[str, RemoteItem]] = {}

    def _folder(self, folder: str) -> dict[str, RemoteItem]:
        if folder not in self._folders:
            self._folders[folder] = {PurePosixPath(i.relpath).name: i for i in self.remote.children(folder)}
        return self._folders[folder]

    def write(self, relpath: str, content: SidecarContent, naming: Naming, dry_run: bool) -> Written:
        photo = PurePosixPath(relpath)
        folder = "" if str(photo.parent) == "." else str(photo.parent)
        items = self._folder(folder)
        name = sidecar_name(photo.name, list(items), naming)
        sidecar = f"{folder}/{name}" if folder else name
        if name in items and items[name].is_dir:
            raise SidecarError(f"{name}: not a regular file; left as it is")
        found = self.remote.read_bytes(sidecar) if name in items else None
        old, etag = found if found is not None else (None, None)
        if not says_something(content) and (old is None or not holds_piccl_fields(old, name)):
            return Written(sidecar if old is not None else None, False)
        data, _removed = merged_sidecar((old, name) if old is not None else None, content)
        if data == old:
            return Written(sidecar, False)
        if not dry_run:
            if old is not None and etag is None:
                # No strong ETag to make the PUT conditional: look again right before it (a narrow window).
                again = self.remote.read_bytes(sidecar)
                if again is None or again[0] != old:
                    raise SidecarError(f"{name}: changed on the server while piccl wrote it; tried again later")
            try:
                new_etag = self.remote.upload(sidecar, data, if_match=etag, if_none_match=old is None)
            except FileExistsError:
                raise SidecarError(f"{name}: changed on the server while piccl wrote it; tried again later") from None
            items[name] = RemoteItem(sidecar, False, len(data), 0, new_etag, None)
        return Written(sidecar, True)

    def present(self, sidecar: str) -> bool:
        path = PurePosixPath(sidecar)
        folder = "" if str(path.parent) == "." else str(path.parent)
        return path.name in self._folder(folder)
