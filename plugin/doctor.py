"""`piccl doctor`: check that everything piccl needs is in place, and say what is not."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import func, select, text

from models.fetch import ModelState, load_manifest, locate
from plugin.config import ConfigError, Settings, safe_database_url
from plugin.inference.models import model_search_dirs, resolve_face_models, runtime_options
from plugin.inference.runtime import choose_providers
from plugin.store.db import alembic_config, make_engine
from plugin.store.models import Photo

Level = Literal["ok", "warn", "fail"]


@dataclass(frozen=True, slots=True)
class Check:
    area: str
    level: Level
    message: str


# Which analyzers each model serves (what a missing file turns off).
ANALYZERS_BY_MODEL: dict[str, tuple[str, ...]] = {
    "yolox_nano": ("objects", "scene"), "efficientnet_lite0": ("scene",), "yunet": ("faces",),
    "mobilefacenet": ("faces: grouping into people",)}


def run_checks(settings: Settings) -> list[Check]:
    checks: list[Check] = [Check("config", "ok", "configuration is valid")]
    checks += _check_folders(settings)
    checks += _check_database(settings)
    checks += _check_decoders()
    checks += _check_onnxruntime(settings)
    checks += _check_models(settings)
    return checks


def _check_webdav(settings: Settings, url: str) -> Check:
    from plugin.sources.webdav import SourceUnavailable, open_webdav

    try:
        remote = open_webdav(settings, url)
    except (ValueError, ConfigError) as exc:
        return Check("library", "fail", f"{url}: {exc}")
    try:
        items = remote.children("")
    except SourceUnavailable as exc:
        return Check("library", "fail", str(exc))
    except Exception as exc:
        return Check("library", "fail", f"{remote.key}: {type(exc).__name__}: {exc}")
    finally:
        remote.close()
    who = f" as {remote.user}" if remote.user else " without a user (webdav_user)"
    return Check("library", "ok", f"{remote.key}: WebDAV folder readable{who} ({len(items)} entries at the top)")


def _check_folders(settings: Settings) -> list[Check]:
    checks = []
    if not settings.library:
        checks.append(Check("library", "warn", "no library configured (PICCL_LIBRARY or `piccl scan PATH`)"))
    for root in settings.library:
        if not isinstance(root, Path):
            checks.append(_check_webdav(settings, root))
        elif not root.is_dir():
            checks.append(Check("library", "fail", f"{root}: not a folder"))
        elif not os.access(root, os.R_OK | os.X_OK):
            checks.append(Check("library", "fail", f"{root}: not readable by uid {os.getuid()}"))
        else:
            checks.append(Check("library", "ok", f"{root}: readable"))
    data_dir = settings.data_dir
    for root in settings.library:
        if isinstance(root, Path) and data_dir.resolve().is_relative_to(root.resolve()):
            checks.append(Check("data_dir", "warn", f"{data_dir.resolve()} is inside the library {root}: piccl "
                                "never scans it, but the library is meant to stay as you keep it"))
    fs_type = _filesystem_type(data_dir)
    if fs_type in _NETWORK_FILESYSTEMS and settings.resolved_database_url.startswith("sqlite"):
        checks.append(Check("data_dir", "warn", f"{data_dir} is on {fs_type}: SQLite's WAL mode needs a local "
                            "disk; put the data folder on one, or use PostgreSQL"))
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        probe = data_dir / ".piccl-write-test"
        probe.write_text("ok")
        probe.unlink()
        checks.append(Check("data_dir", "ok", f"{data_dir.resolve()}: writable"))
    except OSError as exc:
        checks.append(Check("data_dir", "fail", f"{data_dir}: not writable ({exc.strerror or exc})"))
    return checks


_NETWORK_FILESYSTEMS = frozenset({"nfs", "nfs4", "cifs", "smb3", "smbfs", "fuse.sshfs", "9p", "davfs"})


def _filesystem_type(path: Path) -> str | None:
    """The type of the file system holding ``path`` (Linux: the longest matching /proc/mounts entry)."""
    try:
        target = path.resolve()
        best, fs_type = -1, None
        for line in Path("/proc/mounts").read_text().splitlines():
            parts = line.split()
            if len(parts) >= 3 and target.is_relative_to(parts[1]) and len(parts[1]) > best:
                best, fs_type = len(parts[1]), parts[2]
        return fs_type
    except OSError:
        return None


def _check_database(settings: Settings) -> list[Check]:
    """Connect and compare the schema with the latest migration; doctor changes nothing."""
    url = settings.resolved_database_url
    try:
        engine = make_engine(url)
        head = ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
        with engine.connect() as conn:
            revision = MigrationContext.configure(conn).get_current_revision()
            photos = conn.execute(select(func.count()).select_from(Photo)).scalar() if revision else 0
            mode = conn.execute(text("PRAGMA journal_mode")).scalar() if engine.dialect.name == "sqlite" else ""
        engine.dispose()
    except Exception as exc:
        return [Check("database", "fail", f"{safe_database_url(url)}: {type(exc).__name__}: {exc}")]
    extra = f", journal {mode}" if mode else ""
    if revision is None:
        return [Check("database", "ok", f"{safe_database_url(url)}: empty; the first scan creates the schema ({head})")]
    if revision != head:
        return [Check("database", "warn",
                      f"{safe_database_url(url)}: schema {revision}, the next scan migrates it to {head}")]
    return [Check("database", "ok", f"{safe_database_url(url)}: schema {revision}, {photos} photos{extra}")]


def _check_decoders() -> list[Check]:
    import PIL
    import pillow_heif
    from PIL import features

    turbo = features.version_feature("libjpeg_turbo")
    jpeg = f"libjpeg-turbo {turbo}" if turbo else f"libjpeg {features.version('jpg')} (not turbo: slower)"
    avif = "AVIF" if features.check("avif") else "no AVIF"
    return [Check("decoders", "ok", f"Pillow {PIL.__version__} with {jpeg}, {avif}; "
                  f"libheif {pillow_heif.libheif_version()}")]


def _check_onnxruntime(settings: Settings) -> list[Check]:
    from importlib import metadata

    installed = []
    for dist in ("onnxruntime", "onnxruntime-gpu"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            installed.append(f"{dist} {metadata.version(dist)}")
    try:
        import onnxruntime
    except ImportError:
        return [Check("onnxruntime", "warn", "not installed: model-based analyzers are off "
                      "(pip install 'piccl[cpu]' or 'piccl[gpu]')")]
    checks = []
    if len(installed) > 1:
        # Both install the same module; whichever was installed last wins, often the CPU one.
        checks.append(Check("onnxruntime", "warn", f"both {' and '.join(installed)} are installed: uninstall "
                            "both, then install exactly one"))
    providers = onnxruntime.get_available_providers()
    choice = choose_providers(runtime_options(settings), providers)
    checks.append(Check("onnxruntime", "ok", f"{onnxruntime.__version__}, providers: {', '.join(providers)}; "
                        f"models will run on {choice.names[0]} ({choice.reason})"))
    return checks


def _check_models(settings: Settings) -> list[Check]:
    checks = []
    dirs = model_search_dirs(settings)
    for spec in load_manifest().values():
        status = locate(spec, dirs)
        if status.state is ModelState.OK:
            checks.append(Check("models", "ok", f"{spec.name}: {status.path}"))
        elif status.state is ModelState.CORRUPT:
            checks.append(Check("models", "fail", f"{spec.name}: {status.path} has the wrong sha256"))
        else:
            users = ", ".join(ANALYZERS_BY_MODEL.get(spec.name, ())) or "a later feature"
            checks.append(Check("models", "warn", f"{spec.name}: not installed, so '{users}' will report "
                                f"'model not installed' ({spec.purpose}); looked in "
                                f"{', '.join(str(d) for d in dirs)}; `piccl models fetch` downloads it"
                                if spec.url else
                                f"{spec.name}: not installed, so '{users}' will report 'model not installed' "
                                f"({spec.purpose}); looked in {', '.join(str(d) for d in dirs)}; place "
                                f"{spec.file} there (source: {spec.source})"))
    if settings.faces.embedder == "insightface":
        embedder = resolve_face_models(settings).embedder
        checks.append(Check("models", "ok", f"faces: InsightFace {embedder.path}") if embedder.path else
                      Check("models", "warn", f"faces: embedder 'insightface' chosen but {embedder.problem}; "
                            "faces will be found but not grouped"))
    return checks
