"""Find a model file: PICCL_MODELS_DIR, then the cache, then a verified download.

A model that cannot be found makes its analyzer report "not installed";
nothing here raises for a missing file.
"""

from __future__ import annotations

import hashlib
import tomllib
import urllib.request
from dataclasses import dataclass
from enum import StrEnum
from importlib import resources
from pathlib import Path


@dataclass(frozen=True, slots=True)
class ModelSpec:
    name: str
    file: str
    sha256: str
    bytes: int
    purpose: str
    license: str
    url: str


class ModelState(StrEnum):
    OK = "ok"
    NOT_INSTALLED = "not installed"
    CORRUPT = "sha256 mismatch"


@dataclass(frozen=True, slots=True)
class ModelStatus:
    spec: ModelSpec
    state: ModelState
    path: Path | None


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
        if not verify or sha256_of(candidate) == spec.sha256:
            return ModelStatus(spec, ModelState.OK, candidate)
        corrupt = corrupt or candidate
    if corrupt is not None:
        return ModelStatus(spec, ModelState.CORRUPT, corrupt)
    return ModelStatus(spec, ModelState.NOT_INSTALLED, None)


def download(spec: ModelSpec, cache_dir: Path, timeout_s: float = 60) -> Path:
    """Fetch ``spec`` into ``cache_dir``; the file appears only once its sha256 matches."""
    if not spec.url:
        raise RuntimeError(f"{spec.name}: no download source; place {spec.file} in PICCL_MODELS_DIR")
    cache_dir.mkdir(parents=True, exist_ok=True)
    target = cache_dir / spec.file
    partial = target.with_suffix(target.suffix + ".part")
    digest = hashlib.sha256()
    with urllib.request.urlopen(spec.url, timeout=timeout_s) as response, partial.open("wb") as out:
        for chunk in iter(lambda: response.read(1 << 20), b""):
            digest.update(chunk)
            out.write(chunk)
    if digest.hexdigest() != spec.sha256:
        partial.unlink(missing_ok=True)
        raise RuntimeError(f"{spec.name}: downloaded file has sha256 {digest.hexdigest()}, expected {spec.sha256}")
    partial.replace(target)
    return target
