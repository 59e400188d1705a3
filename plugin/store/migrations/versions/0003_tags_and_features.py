"""objects, tags and scenes: photo_tags (for search and albums) and photo_features (for similar photos)

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "photo_tags",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("photo_id", sa.Integer(), sa.ForeignKey("photos.id", ondelete="CASCADE"), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("tag", sa.String(length=64), nullable=False),
        sa.Column("score", sa.Float(), nullable=True),
        sa.UniqueConstraint("photo_id", "kind", "tag", name="uq_photo_tags_photo_kind_tag"),
    )
    op.create_index("ix_photo_tags_tag_photo", "photo_tags", ["tag", "photo_id"])
    op.create_table(
        "photo_features",
        sa.Column("photo_id", sa.Integer(), sa.ForeignKey("photos.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("model", sa.String(length=32), nullable=False),
        sa.Column("dim", sa.Integer(), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("photo_features")
    op.drop_index("ix_photo_tags_tag_photo", table_name="photo_tags")
    op.drop_table("photo_tags")
