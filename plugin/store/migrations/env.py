"""Alembic environment: runs against the engine piccl hands over (see plugin.store.db)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from plugin.store.models import Base

config = context.config
engine = config.attributes.get("engine") or create_engine(config.get_main_option("sqlalchemy.url") or "")

with engine.connect() as connection:
    # render_as_batch lets ALTERs run on SQLite, which cannot alter most columns in place.
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
