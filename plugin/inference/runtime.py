"""One ONNX Runtime session wrapper for every model piccl runs.

Providers are chosen from a preferred order, keeping only those this
onnxruntime build actually has (TensorRT only when asked, then CUDA, then
CPU), and the choice is logged once. A session is created on first use, warmed
up with one dummy run (so the first photo does not pay for kernel selection),
capped to a number of CPU threads (scan workers already use one core each),
and dropped after an idle time so a NAS that scans once a night does not keep
models in memory all day.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

CPU = "CPUExecutionProvider"
CUDA = "CUDAExecutionProvider"
TENSORRT = "TensorrtExecutionProvider"

ProviderSpec = tuple[str, dict[str, Any]]


@dataclass(frozen=True, slots=True)
class RuntimeOptions:
    """How sessions are made (picklable: scan workers receive it)."""

    device: str = "auto"  # auto | cpu | cuda:N
    tensorrt: bool = False
    threads: int = 1
    idle_unload_s: float = 300.0
    cache_dir: str | None = None  # TensorRT engine cache lives under it


@dataclass(frozen=True, slots=True)
class ProviderChoice:
    providers: tuple[ProviderSpec, ...]
    reason: str

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self.providers]

    @property
    def device(self) -> str:
        return "gpu" if self.names[0] in (CUDA, TENSORRT) else "cpu"


_CUDA_DEVICE = re.compile(r"^cuda(?::(\d+))?$")


def choose_providers(options: RuntimeOptions, available: Sequence[str]) -> ProviderChoice:
    """Providers for ``options.device`` among ``available`` (``onnxruntime.get_available_providers()``).

    Never fails: a GPU that was asked for but is not there falls back to the CPU, and the reason says so.
    """
    cpu: ProviderSpec = (CPU, {})
    if options.device == "cpu":
        return ProviderChoice((cpu,), "device=cpu")
    match = _CUDA_DEVICE.match(options.device)
    device_id = int(match.group(1) or 0) if match else 0
    if CUDA not in available:
        if options.device == "auto":
            return ProviderChoice((cpu,), "no CUDA provider in this onnxruntime build (install the 'gpu' extra)")
        return ProviderChoice((cpu,), f"device={options.device} asked for, but this onnxruntime has no CUDA "
                              "provider: running on the CPU")
    chosen: list[ProviderSpec] = []
    if options.tensorrt:
        if TENSORRT in available:
            trt: dict[str, Any] = {"device_id": device_id, "trt_fp16_enable": True}
            if options.cache_dir:
                trt |= {"trt_engine_cache_enable": True,
                        "trt_engine_cache_path": str(Path(options.cache_dir) / "tensorrt")}
            chosen.append((TENSORRT, trt))
        else:
            log.warning("tensorrt=true, but this onnxruntime has no TensorRT provider; using CUDA")
    chosen += [(CUDA, {"device_id": device_id}), cpu]
    return ProviderChoice(tuple(chosen), f"device={options.device}: GPU {device_id}")


def available_providers() -> list[str]:
    import onnxruntime

    return list(onnxruntime.get_available_providers())


class OnnxModel:
    """A model file, loaded on first use, shared by the threads of one process.

    ``warmup`` builds one dummy batch for the first run. ``run`` returns the
    outputs named ``outputs`` (all when None).
    """

    def __init__(self, path: Path, options: RuntimeOptions, warmup: Callable[[], dict[str, np.ndarray]] | None = None,
                 name: str | None = None, providers: Sequence[str] | None = None) -> None:
        self.path = Path(path)
        self.name = name or self.path.stem
        self.options = options
        self._warmup = warmup
        self._available = providers
        self._session: Any = None
        self._lock = threading.Lock()
        self._last_used = 0.0
        self._timer: threading.Timer | None = None
        self.choice: ProviderChoice | None = None

    @property
    def loaded(self) -> bool:
        return self._session is not None

    def _load(self) -> Any:
        import onnxruntime as ort

        choice = choose_providers(self.options, self._available or available_providers())
        session_options = ort.SessionOptions()
        # Each scan worker is one of N on N cores: more threads per session only contend.
        session_options.intra_op_num_threads = max(1, self.options.threads)
        session_options.inter_op_num_threads = 1
        session_options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        session_options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        session_options.log_severity_level = 3
        started = time.perf_counter()
        session = ort.InferenceSession(str(self.path), session_options, providers=list(choice.providers))
        used = session.get_providers()
        if choice.device == "gpu" and used[0] == CPU:
            choice = ProviderChoice(((CPU, {}),), f"{choice.reason} could not start; running on the CPU")
        self.choice = choice
        if self._warmup is not None:
            session.run(None, self._warmup())
        log.info("model %s loaded on %s (%s; %d CPU thread(s)) in %.0f ms", self.name, used[0], choice.reason,
                 session_options.intra_op_num_threads, (time.perf_counter() - started) * 1000)
        return session

    def run(self, feeds: dict[str, np.ndarray], outputs: list[str] | None = None) -> list[np.ndarray]:
        with self._lock:
            if self._session is None:
                self._session = self._load()
            session = self._session
            self._last_used = time.monotonic()
            self._arm_unload()
        return session.run(outputs, feeds)

    def unload(self) -> None:
        with self._lock:
            if self._session is not None:
                log.info("model %s unloaded after %.0f s idle", self.name, self.options.idle_unload_s)
            self._session = None
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None

    def _arm_unload(self) -> None:
        if self.options.idle_unload_s <= 0 or self._timer is not None:
            return
        self._timer = threading.Timer(self.options.idle_unload_s, self._check_idle)
        self._timer.daemon = True
        self._timer.start()

    def _check_idle(self) -> None:
        with self._lock:
            self._timer = None
            idle = time.monotonic() - self._last_used
            if idle < self.options.idle_unload_s:
                # Used since the timer started: look again when it would have been idle long enough.
                self._timer = threading.Timer(self.options.idle_unload_s - idle, self._check_idle)
                self._timer.daemon = True
                self._timer.start()
                return
        self.unload()
