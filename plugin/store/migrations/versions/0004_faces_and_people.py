"""faces and people: faces (box, landmarks, score, sharpness, embedding, person), people, face_rejections

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # people.cover_face_id and faces.person_id point at each other: people first, its cover key added after.
    op.create_table(
        "people",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(length=128), nullable=True),
        sa.Column("hidden", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("origin", sa.String(length=16), nullable=False, server_default="cluster"),
        sa.Column("embed_model", sa.String(length=64), nullable=True),
        sa.Column("centroid", sa.LargeBinary(), nullable=True),
        sa.Column("face_count", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("photo_count", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("cover_face_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_people_name", "people", ["name"])
    op.create_table(
        "faces",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("photo_id", sa.Integer(), sa.ForeignKey("photos.id", ondelete="CASCADE"), nullable=False),
        sa.Column("idx", sa.Integer(), nullable=False),
        sa.Column("x", sa.Float(), nullable=False),
        sa.Column("y", sa.Float(), nullable=False),
        sa.Column("w", sa.Float(), nullable=False),
        sa.Column("h", sa.Float(), nullable=False),
        sa.Column("landmarks", sa.JSON(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("sharpness", sa.Float(), nullable=False, server_default="0"),
        sa.Column("quality", sa.String(length=8), nullable=False, server_default="ok"),
        sa.Column("embed_model", sa.String(length=64), nullable=True),
        sa.Column("embedding", sa.LargeBinary(), nullable=True),
        sa.Column("person_id", sa.Integer(), sa.ForeignKey("people.id", ondelete="SET NULL"), nullable=True),
        sa.Column("confirmed", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("assigned_by", sa.String(length=8), nullable=True),
        sa.Column("not_a_face", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_faces_photo", "faces", ["photo_id"])
    op.create_index("ix_faces_person", "faces", ["person_id"])
    op.create_index("ix_faces_unassigned", "faces", ["person_id", "quality", "not_a_face"])
    with op.batch_alter_table("people") as batch:
        batch.create_foreign_key("fk_people_cover_face", "faces", ["cover_face_id"], ["id"], ondelete="SET NULL")
    op.create_table(
        "face_rejections",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("face_id", sa.Integer(), sa.ForeignKey("faces.id", ondelete="CASCADE"), nullable=False),
        sa.Column("person_id", sa.Integer(), sa.ForeignKey("people.id", ondelete="CASCADE"), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("face_id", "person_id", name="uq_face_rejections_face_person"),
    )


def downgrade() -> None:
    op.drop_table("face_rejections")
    with op.batch_alter_table("people") as batch:
        batch.drop_constraint("fk_people_cover_face", type_="foreignkey")
    op.drop_index("ix_faces_unassigned", table_name="faces")
    op.drop_index("ix_faces_person", table_name="faces")
    op.drop_index("ix_faces_photo", table_name="faces")
    op.drop_table("faces")
    op.drop_index("ix_people_name", table_name="people")
    op.drop_table("people")
