"""review UI: one recommendation per reason, trash entries, the household account, folders

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _severity(reason: str, ev: dict) -> float:
    # Frozen copy of plugin.recommend.severity as of this revision (migrations never import app code).
    score = ev.get("score")
    if reason == "blurry":
        if ev.get("edge_width_px") and ev.get("threshold_px"):
            return round(float(ev["edge_width_px"]) / float(ev["threshold_px"]), 4)
        if ev.get("threshold") and score is not None:
            return round(float(ev["threshold"]) / max(float(score), 1.0), 4)
    if reason == "dark" and ev.get("threshold") and score is not None:
        return round(float(score) / float(ev["threshold"]), 4)
    return 1.0


def upgrade() -> None:
    with op.batch_alter_table("photos") as batch:
        batch.add_column(sa.Column("folder", sa.String(length=2048), nullable=False, server_default=""))
        batch.add_column(sa.Column("trashed_at", sa.DateTime(), nullable=True))
        batch.create_index("ix_photos_library_folder", ["library_id", "folder"])
        batch.create_index("ix_photos_library_taken_at", ["library_id", "taken_at"])
    conn = op.get_bind()
    photos = sa.table("photos", sa.column("id", sa.Integer), sa.column("relpath", sa.String),
                      sa.column("folder", sa.String))
    rows = conn.execute(sa.select(photos.c.id, photos.c.relpath).where(photos.c.relpath.like("%/%"))).all()
    for start in range(0, len(rows), 1000):
        conn.execute(photos.update().where(photos.c.id == sa.bindparam("pid")).values(folder=sa.bindparam("f")),
                     [{"pid": pid, "f": rel.rpartition("/")[0]} for pid, rel in rows[start:start + 1000]])

    old = sa.table("recommendations", sa.column("photo_id", sa.Integer), sa.column("reasons", sa.JSON),
                   sa.column("evidence", sa.JSON), sa.column("updated_at", sa.DateTime))
    carried = conn.execute(sa.select(old.c.photo_id, old.c.reasons, old.c.evidence, old.c.updated_at)).all()
    op.drop_table("recommendations")
    new = op.create_table(
        "recommendations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("photo_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("severity", sa.Float(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("keep_photo_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["photo_id"], ["photos.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["keep_photo_id"], ["photos.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("photo_id", "reason", name="uq_recommendations_photo_reason"),
    )
    op.create_index("ix_recommendations_reason_severity", "recommendations", ["reason", "severity", "photo_id"])
    values = []
    for photo_id, reasons, evidence, updated_at in carried:
        for reason in reasons or []:
            ev = (evidence or {}).get(reason, {})
            values.append({"photo_id": photo_id, "reason": reason, "severity": _severity(reason, ev),
                           "evidence": ev, "updated_at": updated_at})
    if values:
        op.bulk_insert(new, values)

    op.create_table(
        "trash_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("library_id", sa.Integer(), nullable=False),
        sa.Column("photo_id", sa.Integer(), nullable=True),
        sa.Column("original_relpath", sa.String(length=2048), nullable=False),
        sa.Column("trash_relpath", sa.String(length=2048), nullable=False),
        sa.Column("sidecars", sa.JSON(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("trashed_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("restored_relpath", sa.String(length=2048), nullable=True),
        sa.ForeignKeyConstraint(["library_id"], ["libraries.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["photo_id"], ["photos.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_trash_entries_state_trashed_at", "trash_entries", ["state", "trashed_at"])
    op.create_table(
        "accounts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("password_hash", sa.String(length=256), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("username"),
    )
    op.create_table(
        "app_state",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )


def downgrade() -> None:
    op.drop_table("app_state")
    op.drop_table("accounts")
    op.drop_index("ix_trash_entries_state_trashed_at", table_name="trash_entries")
    op.drop_table("trash_entries")
    op.drop_index("ix_recommendations_reason_severity", table_name="recommendations")
    op.drop_table("recommendations")
    op.create_table(
        "recommendations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("photo_id", sa.Integer(), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["photo_id"], ["photos.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("photo_id"),
    )
    with op.batch_alter_table("photos") as batch:
        batch.drop_index("ix_photos_library_taken_at")
        batch.drop_index("ix_photos_library_folder")
        batch.drop_column("trashed_at")
        batch.drop_column("folder")
