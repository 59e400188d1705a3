"""The store: migrations, WAL, and PostgreSQL where one is available."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import inspect, text

from plugin.config import Settings
from plugin.scan import Scanner
from plugin.store.db import alembic_config, make_engine, migrate, open_database
from tests.conftest import PhotoFactory, empty_postgres


@pytest.mark.sqlite
def test_sqlite_is_migrated_to_head_in_wal_mode(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    migrate(engine)
    migrate(engine)  # idempotent
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0008"
    tables = set(inspect(engine).get_table_names())
    assert {"libraries", "photos", "analyses", "recommendations", "decisions", "scan_runs", "trash_entries",
            "accounts", "app_state"} <= tables


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])  # a deployed database of either kind
def test_upgrade_from_0001_keeps_recommendations_and_fills_folders(tmp_path: Path, dialect: str) -> None:
    # GIVEN a database at revision 0001 with a photo flagged blurry and dark (the old one-row-per-photo shape)
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite3'}" if dialect == "sqlite" else empty_postgres())
    command.upgrade(alembic_config(engine), "0001")
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO libraries (id, root, kind, created_at) "
                          "VALUES (1, '/lib', 'local', '2026-01-01')"))
        conn.execute(text("INSERT INTO photos (id, library_id, relpath, size, mtime_ns, status, first_seen_at) "
                          "VALUES (7, 1, '2024/trip/a.jpg', 1, 1, 'ok', '2026-01-01')"))
        evidence = json.dumps({"blurry": {"score": 0.4, "edge_width_px": 2.48, "threshold_px": 1.24},
                               "dark": {"score": 0.75, "threshold": 0.5}})
        conn.execute(text("INSERT INTO recommendations (photo_id, reasons, evidence, updated_at) "
                          "VALUES (7, :r, :e, '2026-01-01')"), {"r": json.dumps(["blurry", "dark"]), "e": evidence})
    # WHEN it is migrated to the head
    migrate(engine)
    # THEN each reason is its own row with a severity, and the photo knows its folder
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT reason, severity FROM recommendations ORDER BY reason")).all()
        assert [(r, round(s, 2)) for r, s in rows] == [("blurry", 2.0), ("dark", 1.5)]
        assert conn.execute(text("SELECT folder FROM photos WHERE id = 7")).scalar() == "2024/trip"


def test_postgresql_works(tmp_path: Path, make_photo: PhotoFactory) -> None:
    # GIVEN an empty PostgreSQL database
    url = empty_postgres()
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
