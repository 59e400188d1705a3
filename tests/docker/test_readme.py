"""docker/README.md names only real settings, files and build args."""

from __future__ import annotations

import re

import pytest

from plugin.config import Settings
from tests.docker.files import DOCKER, ROOT, dockerfile_args, dockerfile_instructions

README = (DOCKER / "README.md").read_text(encoding="utf-8")


def _is_setting(name: str) -> bool:
    """PICCL_A or PICCL_A__B...: a field of Settings, and of its nested model for each further part."""
    parts = name.removeprefix("PICCL_").lower().split("__")
    model: type = Settings
    for part in parts:
        fields = getattr(model, "model_fields", None)
        if fields is None or part not in fields:
            return False
        model = fields[part].annotation  # a nested settings model, or a plain type that ends the walk
    return True


def test_every_piccl_name_is_a_setting() -> None:
    # GIVEN every PICCL_* name in the README
    names = set(re.findall(r"\bPICCL_[A-Z0-9_]*[A-Z0-9]", README))
    # WHEN each is looked up in piccl's settings
    unknown = sorted(n for n in names if not _is_setting(n))
    # THEN all exist (piccl would refuse the others)
    assert names and unknown == []


def test_the_files_and_build_args_it_names_exist() -> None:
    # GIVEN the files of this repository and the build args the README names
    files = set(re.findall(r"`(\w[\w.-]*(?:/[\w.-]+)*\.(?:yml|xml|sh|example))`", README))
    build_table = README.split("| build arg |")[1].split("\n\n")[0]
    args = set(re.findall(r"`([A-Z][A-Z_]+)`", build_table))
    # WHEN they are looked for
    # THEN every file is there (beside the README, or from the repository root) and every build arg is an
    # ARG of the Dockerfile
    assert {"compose.yml", "compose.postgres.yml", "compose.gpu.yml", "unraid/piccl.xml"} <= files
    for name in files:
        assert (DOCKER / name).is_file() or (ROOT / name).is_file(), name
    assert {"DEVICE", "MODELS"} <= args <= set(dockerfile_args(dockerfile_instructions())), args


@pytest.mark.parametrize("section", ["Quick start: Docker Compose", "Synology", "Unraid", "NVIDIA GPU",
                                     "PostgreSQL", "Nextcloud", "Upgrading", "Building the image"])
def test_it_covers_each_way_of_running_piccl(section: str) -> None:
    # GIVEN the README's sections
    # WHEN one is looked for
    # THEN it is there (the top-level README sends readers here for these)
    assert re.search(rf"^## {re.escape(section)}", README, re.M)
