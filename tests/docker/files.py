"""Readers of docker/: the Dockerfile's instructions, compose files with their ${...} values, and the settings
check every PICCL_* variable there must pass."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from plugin.config import Settings, load_settings

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
DOCKERFILE = DOCKER / "Dockerfile"

# Variables the container reads that are not piccl settings: the entrypoint's, the C library's, the NVIDIA
# Container Toolkit's.
NON_SETTINGS = {"PUID", "PGID", "UMASK", "MODELS_FETCH_TIMEOUT", "TZ"}


def tool(name: str) -> str | None:
    """A linter of the dev extra: beside this Python (the venv's bin, not always on PATH), else on PATH."""
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.is_file() else shutil.which(name)


@dataclass(frozen=True)
class Instruction:
    keyword: str
    args: str
    line: int


def dockerfile_instructions(path: Path = DOCKERFILE) -> list[Instruction]:
    """The instructions of a Dockerfile, continuation lines joined and comments left out."""
    out: list[Instruction] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        stripped = raw.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if pending and stripped.startswith("#"):
            continue  # a comment inside a continued instruction is dropped by Docker too
        if not pending:
            start = number
        if stripped.endswith("\\"):
            pending.append(stripped[:-1].strip())
            continue
        pending.append(stripped)
        keyword, _, args = " ".join(p for p in pending if p).partition(" ")
        out.append(Instruction(keyword.upper(), args.strip(), start))
        pending = []
    return out


def dockerfile_args(instructions: list[Instruction]) -> dict[str, str | None]:
    """Every ARG with its default (None when it has none); a later default does not replace an earlier one."""
    args: dict[str, str | None] = {}
    for ins in instructions:
        if ins.keyword == "ARG":
            name, sep, default = ins.args.partition("=")
            if args.get(name) is None:
                args[name] = default if sep else None
    return args


def dockerfile_env(instructions: list[Instruction], stage: str) -> dict[str, str]:
    """The ENV of one stage (the instructions after its FROM ... AS stage)."""
    env: dict[str, str] = {}
    current = None
    for ins in instructions:
        if ins.keyword == "FROM":
            parts = ins.args.split()
            current = parts[-1] if len(parts) >= 3 and parts[-2].upper() == "AS" else None
        elif ins.keyword == "ENV" and current == stage:
            for token in shlex.split(ins.args):
                name, _, value = token.partition("=")
                env[name] = value
    return env


def dockerfile_json_list(instructions: list[Instruction], keyword: str) -> list[str]:
    """The exec-form (JSON) argument of the last instruction KEYWORD."""
    args = [ins.args for ins in instructions if ins.keyword == keyword][-1]
    if keyword == "HEALTHCHECK":
        args = args[args.index("CMD") + 3:].strip()
    value = json.loads(args)
    assert isinstance(value, list)
    return [str(v) for v in value]


def exposed_ports(instructions: list[Instruction]) -> set[int]:
    return {int(p.split("/")[0]) for ins in instructions if ins.keyword == "EXPOSE" for p in ins.args.split()}


def volumes(instructions: list[Instruction]) -> set[str]:
    out: set[str] = set()
    for ins in instructions:
        if ins.keyword == "VOLUME":
            out |= set(json.loads(ins.args)) if ins.args.startswith("[") else set(ins.args.split())
    return out


_VAR = re.compile(r"\$(?:\$|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}"
                  r"|(?P<plain>[A-Za-z_][A-Za-z0-9_]*))")


def interpolate(value: str, environ: dict[str, str]) -> str:
    """A compose file's ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error} and $$, as Compose reads them."""

    def one(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group("braced") or match.group("plain")
        op, arg = match.group("op"), match.group("arg") or ""
        have = environ.get(name)
        unset = have is None or (op is not None and op.startswith(":") and have == "")
        if op in (":-", "-"):
            return arg if unset else str(have)
        if op in (":?", "?"):
            if unset:
                raise KeyError(f"{name} is required: {arg}")
            return str(have)
        return "" if have is None else have

    return _VAR.sub(one, value)


def load_compose(*names: str, environ: dict[str, str] | None = None) -> dict[str, Any]:
    """Compose files of docker/, interpolated and merged the way `docker compose -f A -f B` merges them
    (mappings merged key by key, later files winning; lists of ports and volumes appended)."""
    merged: dict[str, Any] = {}
    for name in names:
        data = yaml.safe_load((DOCKER / name).read_text(encoding="utf-8"))
        merged = _merge(merged, _interpolated(data, environ or {}))
    return merged


def _interpolated(node: Any, environ: dict[str, str]) -> Any:
    if isinstance(node, dict):
        return {k: _interpolated(v, environ) for k, v in node.items()}
    if isinstance(node, list):
        return [_interpolated(v, environ) for v in node]
    if isinstance(node, str):
        return interpolate(node, environ)
    return node


def _merge(base: Any, over: Any) -> Any:
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for key, value in over.items():
            out[key] = _merge(base[key], value) if key in base else value
        return out
    if isinstance(base, list) and isinstance(over, list):
        return base + [v for v in over if v not in base]
    return over


def environment(service: dict[str, Any]) -> dict[str, str]:
    """A service's environment as a mapping (compose takes a mapping or a list of NAME=value)."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {str(k): "" if v is None else str(v) for k, v in env.items()}


def settings_from(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings built by piccl itself from exactly these variables (PICCL_* only), as in the container:
    an unknown name or a bad value raises ConfigError."""
    for name in list(os.environ):
        if name.startswith("PICCL_"):
            monkeypatch.delenv(name)
    for name, value in env.items():
        if name.startswith("PICCL_"):
            monkeypatch.setenv(name, value)
    return load_settings()
