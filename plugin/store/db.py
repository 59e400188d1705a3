"""Engine, sessions and migrations.

SQLite runs in WAL mode so the review UI can read while a scan writes; a
PostgreSQL URL works unchanged. The schema is always brought to the latest
Alembic revision before use, so an upgraded container migrates its own data.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# Ids per IN (...) query: under SQLite's bound-parameter limit, and a round trip worth its cost.
IN_CHUNK = 500

T = TypeVar("T")


def chunks(items: list[T], size: int = IN_CHUNK) -> Iterator[list[T]]:
    """``items`` in slices of ``size`` (for IN (...) queries over many ids)."""
    for start in range(0, len(items), size):
        yield items[start:start + size]


def holds_nul(*texts: str | None) -> bool:
    """True when any of ``texts`` holds a NUL character, which no row holds: file names cannot, piccl refuses it
    in names, and PostgreSQL refuses it in text and in a query's parameters (SQLite would take it). A filter on
    such text matches nothing, and is answered without asking the database."""
    return any(text and "\x00" in text for text in texts)


def make_engine(url: str) -> Engine:
    kwargs: dict[str, Any] = {"future": True}
    if url.startswith("sqlite"):
        # Scan workers hand results to one writer; the UI reads concurrently.
        kwargs["connect_args"] = {"timeout": 30, "check_same_thread": False}
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    # NORMAL is durable across application crashes in WAL mode (only a power cut can lose
    # the last commits), which is what resumable scans need.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    config.attributes["engine"] = engine
    return config


def migrate(engine: Engine) -> None:
    """Bring the schema to the latest revision (idempotent)."""
    command.upgrade(alembic_config(engine), "head")


def open_database(url: str) -> sessionmaker[Session]:
    engine = make_engine(url)
    migrate(engine)
    return sessionmaker(engine, expire_on_commit=False)
