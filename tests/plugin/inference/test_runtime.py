"""Provider choice and the session wrapper (there is no GPU here: the provider list is faked)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from plugin.inference.runtime import CPU, CUDA, TENSORRT, OnnxModel, RuntimeOptions, choose_providers

GPU_BUILD = ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]
CPU_BUILD = ["AzureExecutionProvider", "CPUExecutionProvider"]


def test_auto_prefers_cuda_when_the_build_has_it() -> None:
    choice = choose_providers(RuntimeOptions(device="auto"), GPU_BUILD)
    assert choice.names == [CUDA, CPU]
    assert choice.providers[0][1] == {"device_id": 0}
    assert choice.device == "gpu"


def test_auto_on_a_cpu_build_runs_on_the_cpu_and_says_why() -> None:
    choice = choose_providers(RuntimeOptions(device="auto"), CPU_BUILD)
    assert choice.names == [CPU]
    assert "no CUDA provider" in choice.reason


def test_cpu_setting_ignores_a_present_gpu() -> None:
    assert choose_providers(RuntimeOptions(device="cpu"), GPU_BUILD).names == [CPU]


def test_cuda_n_picks_that_gpu() -> None:
    choice = choose_providers(RuntimeOptions(device="cuda:1"), GPU_BUILD)
    assert choice.names == [CUDA, CPU]
    assert choice.providers[0][1]["device_id"] == 1


def test_cuda_asked_for_without_a_gpu_build_falls_back_to_the_cpu() -> None:
    choice = choose_providers(RuntimeOptions(device="cuda:0"), CPU_BUILD)
    assert choice.names == [CPU]
    assert "running on the CPU" in choice.reason


def test_tensorrt_only_when_asked_with_its_cache_in_the_data_dir(tmp_path: Path) -> None:
    assert TENSORRT not in choose_providers(RuntimeOptions(), GPU_BUILD).names
    choice = choose_providers(RuntimeOptions(tensorrt=True, cache_dir=str(tmp_path)), GPU_BUILD)
    assert choice.names == [TENSORRT, CUDA, CPU]
    trt = choice.providers[0][1]
    assert trt["trt_engine_cache_enable"] is True
    assert trt["trt_engine_cache_path"] == str(tmp_path / "tensorrt")


def test_tensorrt_asked_for_but_missing_keeps_cuda() -> None:
    choice = choose_providers(RuntimeOptions(tensorrt=True), [CUDA, CPU])
    assert choice.names == [CUDA, CPU]


def test_device_setting_is_validated() -> None:
    from plugin.config import ConfigError, load_settings

    for good in ("auto", "cpu", "cuda", "cuda:0", "cuda:3"):
        assert load_settings(inference={"device": good}).inference.device == good
    with pytest.raises(ConfigError, match=r"inference\.device"):
        load_settings(inference={"device": "gpu"})


def test_a_model_loads_lazily_warms_up_once_and_unloads_when_idle(models_dir: Path) -> None:
    # GIVEN the real classifier with a short idle time, on a build that only has the CPU provider
    warmups = []

    def warmup() -> dict[str, np.ndarray]:
        warmups.append(1)
        return {"input": np.zeros((1, 3, 224, 224), np.float32)}

    model = OnnxModel(models_dir / "efficientnet_lite0_imagenet.onnx", RuntimeOptions(idle_unload_s=0.3),
                      warmup=warmup, providers=CPU_BUILD)
    assert not model.loaded
    # WHEN it runs a batch of two
    logits, features = model.run({"input": np.zeros((2, 3, 224, 224), np.float32)})
    # THEN it loaded once, warmed up once, and batched
    assert model.loaded and warmups == [1]
    assert logits.shape == (2, 1000) and features.shape == (2, 1280)
    assert model.choice is not None and model.choice.names == [CPU]
    model.run({"input": np.zeros((1, 3, 224, 224), np.float32)})
    assert warmups == [1]
    # AND after the idle time it lets go of the session, and loads again on the next use
    deadline = time.monotonic() + 5
    while model.loaded and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not model.loaded
    model.run({"input": np.zeros((1, 3, 224, 224), np.float32)})
    assert model.loaded and warmups == [1, 1]
    model.unload()
