"""docker/unraid/*.xml: Community Applications templates in the format Unraid's Docker tab writes."""

from __future__ import annotations

import re
from pathlib import Path
from xml.etree.ElementTree import Element

import pytest
from defusedxml import ElementTree

from tests.docker.files import DOCKER, NON_SETTINGS, dockerfile_instructions, exposed_ports, settings_from, volumes

UNRAID = DOCKER / "unraid"
TEMPLATES = sorted(UNRAID.glob("*.xml"))
INSTRUCTIONS = dockerfile_instructions()
# The elements of a template as Unraid's Docker tab (dockerMan) saves it and Community Applications reads it;
# ExtraParams, PostArgs and Requires may be empty.
ELEMENTS = ("Name", "Repository", "Registry", "Network", "Shell", "Privileged", "Support", "Project", "Overview",
            "Category", "WebUI", "TemplateURL", "Icon", "ExtraParams", "PostArgs", "Requires")
MAY_BE_EMPTY = {"ExtraParams", "PostArgs"}
# The attributes of a Config entry, in dockerMan's order (CA's parser is known to trip over anything else).
CONFIG_ATTRIBUTES = ("Name", "Target", "Default", "Mode", "Description", "Type", "Display", "Required", "Mask")
NVIDIA = {"NVIDIA_VISIBLE_DEVICES", "NVIDIA_DRIVER_CAPABILITIES"}


def _root(path: Path) -> Element:
    root = ElementTree.parse(path).getroot()
    assert isinstance(root, Element)
    return root


def _configs(root: Element, kind: str) -> list[Element]:
    return [c for c in root.findall("Config") if c.get("Type") == kind]


def test_there_is_a_cpu_and_a_gpu_template() -> None:
    # GIVEN the templates
    # WHEN their names are read
    # THEN there is one for each image, with its icon beside them
    assert [p.name for p in TEMPLATES] == ["piccl-gpu.xml", "piccl.xml"]
    assert (UNRAID / "piccl.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.name)
def test_every_element_ca_needs_is_there(path: Path) -> None:
    # GIVEN a template
    root = _root(path)
    # WHEN its elements are read
    # THEN it is a version 2 container with every element filled in, a bridge network, not privileged, the
    # web UI on the container's port, and its own raw URL as TemplateURL
    assert root.tag == "Container" and root.get("version") == "2"
    for name in ELEMENTS:
        element = root.find(name)
        assert element is not None, name
        assert name in MAY_BE_EMPTY or (element.text or "").strip(), name
    assert root.findtext("Network") == "bridge"
    assert root.findtext("Privileged") == "false"
    assert root.findtext("WebUI") == "http://[IP]:[PORT:8080]/"
    assert (root.findtext("TemplateURL") or "").endswith(f"/docker/unraid/{path.name}")
    assert re.match(r"https://\S+\.png$", root.findtext("Icon") or "")
    assert re.match(r"^[a-z0-9.]+/[a-z0-9/-]+:[\w.-]+$", root.findtext("Repository") or "")


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.name)
def test_config_entries_are_written_as_dockerman_writes_them(path: Path) -> None:
    # GIVEN the template's raw text
    lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if "<Config " in line]
    # WHEN each Config line is read
    # THEN it is one line with the attributes in dockerMan's order, single-spaced, with known values
    assert lines
    pattern = re.compile("<Config " + " ".join(f'{a}="[^"]*"' for a in CONFIG_ATTRIBUTES) + "(/>|>[^<]*</Config>)$")
    for line in lines:
        assert pattern.match(line), line
    for config in _root(path).findall("Config"):
        assert config.get("Type") in {"Path", "Port", "Variable", "Device", "Label"}
        assert config.get("Display") in {"always", "advanced", "always-hide", "advanced-hide"}
        assert config.get("Required") in {"true", "false"} and config.get("Mask") in {"true", "false"}
        assert (config.text or "") == (config.get("Default") or "") or "|" in (config.get("Default") or "")


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.name)
def test_paths_and_ports_are_the_images(path: Path) -> None:
    # GIVEN the template's paths and ports
    root = _root(path)
    paths = {c.get("Target"): c for c in _configs(root, "Path")}
    ports = {c.get("Target"): c for c in _configs(root, "Port")}
    # WHEN they are compared with the Dockerfile's VOLUME and EXPOSE
    # THEN they are the same, read-write, with appdata as the config folder
    assert set(paths) == volumes(INSTRUCTIONS)
    assert {int(p) for p in ports if p} == exposed_ports(INSTRUCTIONS)
    assert all(c.get("Mode") == "rw" for c in paths.values())
    assert all(c.get("Mode") == "tcp" for c in ports.values())
    assert paths["/config"].get("Default") == "/mnt/user/appdata/piccl"


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.name)
def test_variables_are_settings_or_the_containers_own(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN the template's variables
    variables = {c.get("Target") or "": c for c in _configs(_root(path), "Variable")}
    # WHEN piccl reads them, at their defaults and as left empty in the form (Unraid passes an empty value)
    defaults = {name: c.get("Default") or "" for name, c in variables.items()}
    settings = settings_from(defaults, monkeypatch)
    empty_ok = {name: "" for name, c in variables.items() if not c.get("Default")}
    settings_from(empty_ok, monkeypatch)
    # THEN every PICCL_* name is a setting, the rest is PUID/PGID/UMASK/NVIDIA_*, Unraid's nobody:users is the
    # default, and what may hold a password is masked
    assert {n for n in variables if not n.startswith("PICCL_")} <= NON_SETTINGS | NVIDIA
    assert (defaults["PUID"], defaults["PGID"]) == ("99", "100")
    # a UMASK that leaves piccl's database and thumbnails writable by others is no default
    assert defaults.get("UMASK", "") == "" or int(defaults["UMASK"], 8) & 0o002
    assert settings.household_password() is None
    for name, config in variables.items():
        if "PASSWORD" in name or name == "PICCL_DATABASE_URL":
            assert config.get("Mask") == "true", name


def test_the_gpu_template_uses_the_nvidia_runtime() -> None:
    # GIVEN both templates
    cpu, gpu = _root(UNRAID / "piccl.xml"), _root(UNRAID / "piccl-gpu.xml")
    gpu_vars = {c.get("Target"): c.get("Default") for c in _configs(gpu, "Variable")}
    # WHEN the GPU one is compared with the CPU one
    # THEN it runs the CUDA image with --runtime=nvidia and says which GPU and driver parts it gets;
    # the CPU one has nothing of NVIDIA
    assert gpu.findtext("Repository") == "ghcr.io/piccl/piccl:latest-cuda"
    assert cpu.findtext("Repository") == "ghcr.io/piccl/piccl:latest"
    assert "--runtime=nvidia" in (gpu.findtext("ExtraParams") or "")
    assert "nvidia" not in (cpu.findtext("ExtraParams") or "")
    assert gpu_vars["NVIDIA_VISIBLE_DEVICES"] == "all"
    assert "compute" in (gpu_vars["NVIDIA_DRIVER_CAPABILITIES"] or "")
    assert gpu_vars["PICCL_INFERENCE__DEVICE"] == "cuda"
    assert "Nvidia-Driver" in (gpu.findtext("Requires") or "")
    assert not NVIDIA & {c.get("Target") for c in cpu.findall("Config")}
