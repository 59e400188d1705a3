"""Find a model file: PICCL_MODELS_DIR, then the cache, then a verified download.

A model that cannot be found makes its analyzer report "not installed";
:func:`resolve` never raises for a missing or broken file, it says why in the
returned :class:`ModelStatus`.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import tomllib
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

# (bytes so far, total bytes or None): a progress bar hooks in here.
ProgressHook = Callable[[int, int | None], None]


@dataclass(frozen=True, slots=True)
class ModelSpec:
    name: str
    task: str
    file: str
    sha256: str
    bytes: int
    purpose: str
    license: str
    url: str
    source: str
    input: dict[str, Any] = field(default_factory=dict)


class ModelState(StrEnum):
    OK = "ok"
    NOT_INSTALLED = "not installed"
    CORRUPT = "sha256 mismatch"


@dataclass(frozen=True, slots=True)
class ModelStatus:
    spec: ModelSpec
    state: ModelState
    path: Path | None
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.state is ModelState.OK


def load_manifest() -> dict[str, ModelSpec]:
    text = resources.files("models").joinpath("manifest.toml").read_text(encoding="utf-8")
    return {name: ModelSpec(name=name, **fields) for name, fields in tomllib.loads(text)["models"].items()}


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def locate(spec: ModelSpec, search_dirs: list[Path], verify: bool = True) -> ModelStatus:
    """The first copy of ``spec`` in ``search_dirs`` (whose hash matches, when ``verify``)."""
    corrupt: Path | None = None
    for folder in search_dirs:
        candidate = folder / spec.file
        if not candidate.is_file():
            continue
        # The size check first: a truncated copy is caught without hashing it.
        if not verify or (candidate.stat().st_size == spec.bytes and sha256_of(candidate) == spec.sha256):
            return ModelStatus(spec, ModelState.OK, candidate)
        corrupt = corrupt or candidate
    if corrupt is not None:
        return ModelStatus(spec, ModelState.CORRUPT, corrupt,
                           f"{corrupt} is not the expected file (size or sha256 differs)")
    return ModelStatus(spec, ModelState.NOT_INSTALLED, None,
                       f"{spec.file} not found in {', '.join(str(d) for d in search_dirs)}")


def download(spec: ModelSpec, cache_dir: Path, timeout_s: float = 60, progress: ProgressHook | None = None) -> Path:
    """Fetch ``spec`` into ``cache_dir``; the file appears only once complete and its sha256 matches.

    Raises ``RuntimeError`` with a message for a person (no source, network error, wrong hash).
    """
    if not spec.url:
        raise RuntimeError(f"{spec.name} has no download source ({spec.source}); place {spec.file} in "
                           "PICCL_MODELS_DIR")
    cache_dir.mkdir(parents=True, exist_ok=True)
    target = cache_dir / spec.file
    digest = hashlib.sha256()
    # A temporary file in the same folder, renamed at the end: a crash or a full disk never leaves a
    # half-written model under the real name.
    fd, name = tempfile.mkstemp(dir=cache_dir, prefix=f".{spec.file}.", suffix=".part")
    partial = Path(name)
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(spec.url, timeout=timeout_s) as response:
            total = int(response.headers.get("Content-Length") or 0) or None
            done = 0
            for chunk in iter(lambda: response.read(1 << 20), b""):
                digest.update(chunk)
                out.write(chunk)
                done += len(chunk)
                if progress is not None:
                    progress(done, total)
            out.flush()
            os.fsync(out.fileno())
        if digest.hexdigest() != spec.sha256:
            raise RuntimeError(f"{spec.name}: the download from {spec.url} has sha256 {digest.hexdigest()}, "
                               f"expected {spec.sha256}")
        partial.replace(target)
    except (OSError, urllib.error.URLError) as exc:
        raise RuntimeError(f"{spec.name}: download from {spec.url} failed: {exc}") from None
    finally:
        partial.unlink(missing_ok=True)
    return target


def resolve(spec: ModelSpec, search_dirs: list[Path], cache_dir: Path, allow_download: bool = True,
            progress: ProgressHook | None = None) -> ModelStatus:
    """Find ``spec`` (verified), else fetch it into ``cache_dir`` when allowed. Never raises.

    A corrupt copy in the cache is replaced by a fresh download; a corrupt copy in a folder the user
    manages (PICCL_MODELS_DIR) is reported, never overwritten.
    """
    found = locate(spec, search_dirs)
    if found.ok:
        return found
    if not allow_download:
        return found
    try:
        path = download(spec, cache_dir, progress=progress)
    except RuntimeError as exc:
        log.warning("%s", exc)
        return ModelStatus(spec, found.state, found.path, f"{found.detail}; {exc}")
    log.info("model %s downloaded to %s", spec.name, path)
    return ModelStatus(spec, ModelState.OK, path)
