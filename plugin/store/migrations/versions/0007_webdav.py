"""WebDAV libraries: each photo's ETag and Nextcloud file id; what piccl assigned as Nextcloud tags

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("photos") as batch:
        batch.add_column(sa.Column("etag", sa.String(length=256), nullable=True))
        batch.add_column(sa.Column("remote_id", sa.String(length=64), nullable=True))
    op.create_index("ix_photos_library_remote_id", "photos", ["library_id", "remote_id"])
    op.create_table(
        "nextcloud_tag_items",
        sa.Column("photo_id", sa.Integer(), sa.ForeignKey("photos.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("digest", sa.String(length=64), nullable=False, server_default=""),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("owned", sa.JSON(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_nextcloud_tag_items_state", "nextcloud_tag_items", ["state"])


def downgrade() -> None:
    op.drop_index("ix_nextcloud_tag_items_state", table_name="nextcloud_tag_items")
    op.drop_table("nextcloud_tag_items")
    op.drop_index("ix_photos_library_remote_id", table_name="photos")
    with op.batch_alter_table("photos") as batch:
        batch.drop_column("remote_id")
        batch.drop_column("etag")
