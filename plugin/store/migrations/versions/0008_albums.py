"""albums: each photo's place (offline reverse geocoding) and event; events; the user's albums and favourites

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("start_at", sa.DateTime(), nullable=False),
        sa.Column("end_at", sa.DateTime(), nullable=False),
        sa.Column("name", sa.String(length=256), nullable=False),
        sa.Column("place", sa.String(length=256), nullable=True),
        sa.Column("size", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("cover_photo_id", sa.Integer(), nullable=True),
        sa.Column("key", sa.String(length=64), nullable=False),
    )
    op.create_index("ix_events_start_at", "events", ["start_at"])
    op.create_index("ix_events_key", "events", ["key"], unique=True)
    with op.batch_alter_table("photos") as batch:
        batch.add_column(sa.Column("place_country_code", sa.String(length=2), nullable=True))
        batch.add_column(sa.Column("place_country", sa.String(length=128), nullable=True))
        batch.add_column(sa.Column("place_region", sa.String(length=128), nullable=True))
        batch.add_column(sa.Column("place_city", sa.String(length=128), nullable=True))
        batch.add_column(sa.Column("place_version", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("event_id", sa.Integer(), nullable=True))
    op.create_index("ix_photos_place", "photos", ["place_country_code", "place_city"])
    # The search box finds a place by any of its names.
    op.create_index("ix_photos_place_city", "photos", ["place_city"])
    op.create_index("ix_photos_place_region", "photos", ["place_region"])
    op.create_index("ix_photos_place_country", "photos", ["place_country"])
    op.create_index("ix_photos_event_id", "photos", ["event_id"])
    # The timeline and search across libraries go by date alone (ix_photos_library_taken_at needs a library).
    op.create_index("ix_photos_taken_at", "photos", ["taken_at"])
    op.create_table(
        "albums",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(length=256), nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
    )
    op.create_table(
        "album_photos",
        sa.Column("album_id", sa.Integer(), sa.ForeignKey("albums.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("photo_id", sa.Integer(), sa.ForeignKey("photos.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("added_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_album_photos_photo_id", "album_photos", ["photo_id"])
    op.create_table(
        "favorites",
        sa.Column("photo_id", sa.Integer(), sa.ForeignKey("photos.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("favorites")
    op.drop_index("ix_album_photos_photo_id", table_name="album_photos")
    op.drop_table("album_photos")
    op.drop_table("albums")
    op.drop_index("ix_photos_taken_at", table_name="photos")
    op.drop_index("ix_photos_event_id", table_name="photos")
    for name in ("ix_photos_place_country", "ix_photos_place_region", "ix_photos_place_city", "ix_photos_place"):
        op.drop_index(name, table_name="photos")
    with op.batch_alter_table("photos") as batch:
        for column in ("event_id", "place_version", "place_city", "place_region", "place_country",
                       "place_country_code"):
            batch.drop_column(column)
    op.drop_index("ix_events_key", table_name="events")
    op.drop_index("ix_events_start_at", table_name="events")
    op.drop_table("events")
