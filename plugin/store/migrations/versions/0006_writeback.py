"""write-back: writeback_items (what was last written into each photo's sidecar, and failures)

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "writeback_items",
        sa.Column("photo_id", sa.Integer(), sa.ForeignKey("photos.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("target", sa.String(length=16), nullable=False, server_default="xmp"),
        sa.Column("digest", sa.String(length=64), nullable=False, server_default=""),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("sidecar", sa.String(length=2048), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_writeback_items_state", "writeback_items", ["state"])


def downgrade() -> None:
    op.drop_index("ix_writeback_items_state", table_name="writeback_items")
    op.drop_table("writeback_items")
