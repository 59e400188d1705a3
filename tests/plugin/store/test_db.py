"""The store: migrations, WAL, and PostgreSQL where one is available."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from plugin.config import Settings
from plugin.scan import Scanner
from plugin.store.db import make_engine, migrate, open_database
from tests.conftest import PhotoFactory


def test_sqlite_is_migrated_to_head_in_wal_mode(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    migrate(engine)
    migrate(engine)  # idempotent
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0001"
    tables = set(inspect(engine).get_table_names())
    assert {"libraries", "photos", "analyses", "recommendations", "decisions", "scan_runs"} <= tables


def test_postgresql_works(tmp_path: Path, make_photo: PhotoFactory) -> None:
    url = os.environ.get("PICCL_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("PICCL_TEST_POSTGRES_URL is not set (.ci/run starts a PostgreSQL server and sets it)")
    # GIVEN an empty PostgreSQL database
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()
    library = tmp_path / "lib"
    make_photo(library / "a.jpg", 800, 600)
    make_photo(library / "b.jpg", 800, 600, blur=8)
    # WHEN piccl migrates it and scans into it
    settings = Settings(library=[library], data_dir=tmp_path / "data", database_url=url,
                        workers={"kind": "thread", "count": 2})
    sessions = open_database(url)
    summary = Scanner(settings, sessions).scan(library)
    # THEN it works as with SQLite, rescans included
    assert (summary.new, summary.ok) == (2, 2)
    assert Scanner(settings, sessions).scan(library).unchanged == 2
