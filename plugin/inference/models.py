"""Which model files this installation uses, and how sessions are made, from the settings."""

from __future__ import annotations

import importlib.util
import logging
import os
import threading
import time
from pathlib import Path

from models.fetch import ModelState, ModelStatus, ProgressHook, load_manifest, resolve
from plugin.analyzers.faces import FaceModels
from plugin.analyzers.objects import ModelRef
from plugin.config import Settings
from plugin.inference.faces import find_insightface_model
from plugin.inference.runtime import RuntimeOptions

log = logging.getLogger(__name__)

# A download that failed (no network, server down) is not retried on every scan the watcher
# starts, only after this long; `piccl models fetch` always tries.
_RETRY_DOWNLOAD_S = 3600.0
_failed_downloads: dict[str, float] = {}
_failed_lock = threading.Lock()


def model_search_dirs(settings: Settings) -> list[Path]:
    dirs = [settings.models_dir] if settings.models_dir else []
    return [*dirs, model_cache_dir(settings)]


def model_cache_dir(settings: Settings) -> Path:
    return settings.data_dir / "models"


def runtime_options(settings: Settings) -> RuntimeOptions:
    threads = settings.inference.threads or max(1, (os.cpu_count() or 1) // settings.worker_count)
    return RuntimeOptions(
        device=settings.inference.device,
        tensorrt=settings.inference.tensorrt,
        threads=threads,
        idle_unload_s=settings.inference.idle_unload_s,
        cache_dir=str(model_cache_dir(settings)),
    )


def model_status(name: str, settings: Settings, allow_download: bool | None = None,
                 progress: ProgressHook | None = None) -> ModelStatus:
    spec = load_manifest()[name]
    download = settings.inference.download if allow_download is None else allow_download
    if download and allow_download is None:
        with _failed_lock:
            failed_at = _failed_downloads.get(name)
        download = failed_at is None or time.monotonic() - failed_at > _RETRY_DOWNLOAD_S
    status = resolve(spec, model_search_dirs(settings), model_cache_dir(settings), download, progress)
    if download and not status.ok:
        with _failed_lock:
            _failed_downloads[name] = time.monotonic()
    return status


def resolve_model(name: str, settings: Settings, needs_onnxruntime: bool = True) -> ModelRef:
    """The model file for ``name``, or a reference that says why there is none. Never raises.

    ``needs_onnxruntime`` is False for models OpenCV runs itself (YuNet through cv2.FaceDetectorYN).
    """
    if needs_onnxruntime and importlib.util.find_spec("onnxruntime") is None:
        return ModelRef(name, None, problem="onnxruntime is not installed (pip install 'piccl[cpu]' or 'piccl[gpu]')")
    try:
        status = model_status(name, settings)
    except OSError as exc:  # an unreadable models folder must not stop a scan
        return ModelRef(name, None, problem=f"{type(exc).__name__}: {exc}")
    if status.ok and status.path is not None:
        return ModelRef(name, str(status.path), status.spec.sha256)
    problem = status.detail or str(status.state)
    if status.state is ModelState.CORRUPT:
        log.warning("model %s: %s", name, problem)
    return ModelRef(name, None, problem=problem)


def resolve_face_models(settings: Settings) -> FaceModels:
    """YuNet and the chosen embedding backend's model (an InsightFace pack is looked for, never downloaded)."""
    detector = resolve_model("yunet", settings, needs_onnxruntime=False)
    kind = settings.faces.embedder
    if kind == "mobilefacenet":
        return FaceModels(detector, resolve_model("mobilefacenet", settings), kind)
    name = f"insightface/{settings.faces.insightface_pack}"
    if importlib.util.find_spec("insightface") is None:
        return FaceModels(detector, ModelRef(name, None, problem="the insightface package is not installed "
                                             "(pip install insightface)"), kind)
    path = find_insightface_model(model_search_dirs(settings), settings.faces.insightface_pack)
    if path is None:
        return FaceModels(detector, ModelRef(name, None, problem=f"no w600k_*.onnx in a folder named "
                                             f"{settings.faces.insightface_pack!r} in the models folder"), kind)
    stat = path.stat()
    return FaceModels(detector, ModelRef(name, str(path), f"{stat.st_size:x}{stat.st_mtime_ns:x}"), kind)
