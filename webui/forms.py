"""What the pages' forms post, read one way everywhere."""

from __future__ import annotations

from flask import request


def form_ids(name: str) -> list[int]:
    """The ids a form posted under ``name`` (each once, in order; anything not a number is ignored)."""
    return list(dict.fromkeys(int(v) for v in request.form.getlist(name) if v.isdigit()))
