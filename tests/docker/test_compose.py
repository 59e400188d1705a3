"""docker/compose*.yml: valid compose files that name only what exists and only settings piccl knows."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from tests.docker.files import (
    DOCKER,
    NON_SETTINGS,
    dockerfile_args,
    dockerfile_instructions,
    environment,
    exposed_ports,
    load_compose,
    settings_from,
    tool,
    volumes,
)

FILES = ("compose.yml", "compose.postgres.yml", "compose.gpu.yml")
# The ways the files are meant to be combined (docker/README.md).
STACKS = (("compose.yml",), ("compose.yml", "compose.postgres.yml"), ("compose.yml", "compose.gpu.yml"),
          ("compose.yml", "compose.postgres.yml", "compose.gpu.yml"))
# What a user puts in docker/.env; everything else keeps the default written in the file.
USER_ENV = {"POSTGRES_PASSWORD": "s3cretpw", "PICCL_PASSWORD": "family-password"}
INSTRUCTIONS = dockerfile_instructions()
SECONDS = {"s": 1, "m": 60, "h": 3600}


def _duration_s(value: str) -> float:
    return sum(float(n) * SECONDS[unit] for n, unit in re.findall(r"(\d+(?:\.\d+)?)([smh])", value))


def _container_side(mapping: str) -> str:
    """The container's side of a short-syntax port or volume: 'host:container[:mode]'."""
    parts = mapping.split(":")
    return parts[1] if len(parts) > 1 else parts[0]


@pytest.mark.parametrize("name", FILES)
def test_each_file_is_valid_against_the_compose_spec(name: str) -> None:
    # GIVEN check-jsonschema (dev extra), which ships the Compose Specification's JSON schema
    checker = tool("check-jsonschema")
    if checker is None:
        pytest.skip("check-jsonschema is not installed (pip install -e '.[dev]')")
    # WHEN it validates the file
    result = subprocess.run([checker, "--builtin-schema", "vendor.compose-spec", str(DOCKER / name)],
                            capture_output=True, text=True, timeout=120)
    # THEN the file is valid
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("stack", STACKS, ids="+".join)
def test_every_piccl_variable_is_a_setting(stack: tuple[str, ...], monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN piccl's environment in that combination of files, with the defaults the files give
    service = load_compose(*stack, environ=USER_ENV)["services"]["piccl"]
    env = environment(service)
    # WHEN piccl builds its settings from it (it refuses an unknown PICCL_* name or a bad value)
    settings = settings_from(env, monkeypatch)
    # THEN it accepts them, and every other variable is one the entrypoint, the C library or NVIDIA reads
    assert settings.household_password() == "family-password"
    assert {k for k in env if not k.startswith("PICCL_")} <= NON_SETTINGS | {"NVIDIA_VISIBLE_DEVICES",
                                                                              "NVIDIA_DRIVER_CAPABILITIES"}


def test_the_defaults_alone_are_accepted_too(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN compose.yml with nothing set by the user (no docker/.env)
    env = environment(load_compose("compose.yml")["services"]["piccl"])
    # WHEN piccl reads it
    settings = settings_from(env, monkeypatch)
    # THEN there is no password yet (chosen in the browser) and the ids are the usual first user's
    assert settings.household_password() is None
    assert (env["PUID"], env["PGID"]) == ("1000", "1000")


def test_the_build_points_at_the_dockerfile_with_its_own_args() -> None:
    # GIVEN the build section of each stack
    args = dockerfile_args(INSTRUCTIONS)
    for stack in STACKS:
        build = load_compose(*stack, environ=USER_ENV)["services"]["piccl"]["build"]
        # WHEN its context and Dockerfile are resolved from docker/
        context = (DOCKER / build["context"]).resolve()
        # THEN they are this repository and its Dockerfile, and every build arg is one of its ARGs
        assert context == DOCKER.parent
        assert (context / build["dockerfile"]).resolve() == (DOCKER / "Dockerfile").resolve()
        assert set(build["args"]) <= set(args)
        assert build["args"]["DEVICE"] in {"cpu", "cuda"} and build["args"]["MODELS"] in {"bundled", "none"}


def test_ports_volumes_and_stopping_match_the_image() -> None:
    # GIVEN compose.yml's piccl service
    service = load_compose("compose.yml")["services"]["piccl"]
    # WHEN its ports and volumes are compared with the Dockerfile
    # THEN it publishes the exposed UI port, mounts both volumes, restarts unless stopped, and gives piccl
    # more time to stop than its own stop timeout (service.stop_timeout_s)
    assert {int(_container_side(p)) for p in service["ports"]} == exposed_ports(INSTRUCTIONS)
    assert {_container_side(v) for v in service["volumes"]} == volumes(INSTRUCTIONS)
    assert service["restart"] == "unless-stopped"
    assert _duration_s(service["stop_grace_period"]) >= 20


def test_the_gpu_file_reserves_an_nvidia_gpu_for_the_cuda_image() -> None:
    # GIVEN compose.yml with compose.gpu.yml
    cpu = load_compose("compose.yml")["services"]["piccl"]
    gpu = load_compose("compose.yml", "compose.gpu.yml")["services"]["piccl"]
    # WHEN its build and deploy sections are read
    devices = gpu["deploy"]["resources"]["reservations"]["devices"]
    # THEN the CUDA image is built under its own tag and an NVIDIA GPU is reserved for it
    assert gpu["build"]["args"]["DEVICE"] == "cuda"
    assert gpu["image"] != cpu["image"]
    assert any(d["driver"] == "nvidia" and "gpu" in d["capabilities"] and d.get("count") for d in devices)


def test_postgres_is_reached_by_its_service_name_once_healthy() -> None:
    # GIVEN compose.yml with compose.postgres.yml
    config: dict[str, Any] = load_compose("compose.yml", "compose.postgres.yml", environ=USER_ENV)
    piccl, postgres = config["services"]["piccl"], config["services"]["postgres"]
    # WHEN piccl's database URL is read
    url = make_url(environment(piccl)["PICCL_DATABASE_URL"])
    pg_env = environment(postgres)
    # THEN it names the postgres service, its user, password and database; piccl waits for its health
    # check; the image is pinned by digest and its data is in a volume
    assert url.drivername == "postgresql+psycopg2"
    assert url.host in config["services"] and url.host == "postgres"
    assert (url.username, url.password, url.database) == (
        pg_env["POSTGRES_USER"], pg_env["POSTGRES_PASSWORD"], pg_env["POSTGRES_DB"])
    assert piccl["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])
    assert re.search(r"^postgres:\d+\.\d+[\w.-]*@sha256:[0-9a-f]{64}$", postgres["image"])
    volume = postgres["volumes"][0].split(":")
    assert volume[1] == "/var/lib/postgresql/data" and volume[0] in config["volumes"]


def test_postgres_needs_a_password() -> None:
    # GIVEN no POSTGRES_PASSWORD
    # WHEN the postgres stack is read
    # THEN compose stops with the reason instead of starting a database without a password
    with pytest.raises(KeyError, match="POSTGRES_PASSWORD"):
        load_compose("compose.yml", "compose.postgres.yml")


def test_env_example_names_every_variable_the_files_ask_for() -> None:
    # GIVEN .env.example and the ${NAME} of every compose file
    names = set(re.findall(r"^([A-Z_]+)=", (DOCKER / ".env.example").read_text(encoding="utf-8"), re.M))
    code = [line for name in FILES for line in (DOCKER / name).read_text(encoding="utf-8").splitlines()
            if not line.lstrip().startswith("#")]
    wanted = {m for line in code for m in re.findall(r"\$\{([A-Z_]+)", line)}
    # WHEN they are compared
    # THEN each is explained there, except the rare ones whose default is right for everyone
    assert wanted - names <= {"PICCL_WATCH_POLLING"}, wanted - names


def test_env_example_mounts_no_nas_path_by_default() -> None:
    # GIVEN .env.example's library path
    text = (DOCKER / ".env.example").read_text(encoding="utf-8")
    photos = re.findall(r"^PHOTOS=(.*)$", text, re.M)
    # WHEN it is read
    # THEN it is a folder beside the compose files (Docker would make a NAS path like /volume1/photo, owned by
    # root, on any other host), and the comment names the Synology and Unraid paths
    assert photos == ["./photos"]
    assert "/volume1/photo" in text and "/mnt/user/" in text
    assert Path(DOCKER / ".gitignore").read_text(encoding="utf-8").count("/.env") == 1
