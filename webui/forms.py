"""What the pages' forms post, read one way everywhere."""

from __future__ import annotations

from flask import request


def number(value: str) -> int | None:
    """``value`` as an id, a cursor or an offset: ASCII digits that fit in a 64-bit integer, else None.

    A longer number names no row, and the databases differ over it: SQLite cannot bind it at all, PostgreSQL
    compares it but refuses it as an OFFSET. ('²' is a digit to str.isdigit(), and no number to int().)
    """
    return int(value) if value.isascii() and value.isdigit() and len(value) <= 18 else None


def form_ids(name: str) -> list[int]:
    """The ids a form posted under ``name`` (each once, in order; anything not a number is ignored)."""
    return list(dict.fromkeys(n for v in request.form.getlist(name) if (n := number(v)) is not None))
