"""similar photos: photo_hashes (perceptual hashes), photo_groups and their members

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "photo_hashes",
        sa.Column("photo_id", sa.Integer(), sa.ForeignKey("photos.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("phash", sa.BigInteger(), nullable=False),
        sa.Column("phash_mirror", sa.BigInteger(), nullable=False),
        sa.Column("mono", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.create_table(
        "photo_groups",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=False, server_default="similar"),
        sa.Column("method", sa.String(length=16), nullable=False, server_default="default"),
        sa.Column("keeper_photo_id", sa.Integer(), sa.ForeignKey("photos.id", ondelete="SET NULL"), nullable=True),
        sa.Column("keeper_reason", sa.String(length=128), nullable=False, server_default=""),
        sa.Column("keeper_by", sa.String(length=8), nullable=False, server_default="auto"),
        sa.Column("size", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("taken_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_photo_groups_reason_taken_at", "photo_groups", ["reason", "taken_at", "id"])
    op.create_table(
        "photo_group_members",
        sa.Column("group_id", sa.Integer(), sa.ForeignKey("photo_groups.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("photo_id", sa.Integer(), sa.ForeignKey("photos.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("relation", sa.String(length=16), nullable=False),
    )
    op.create_index("ix_photo_group_members_photo", "photo_group_members", ["photo_id"])


def downgrade() -> None:
    op.drop_index("ix_photo_group_members_photo", table_name="photo_group_members")
    op.drop_table("photo_group_members")
    op.drop_index("ix_photo_groups_reason_taken_at", table_name="photo_groups")
    op.drop_table("photo_groups")
    op.drop_table("photo_hashes")
