"""Line-protocol signal maps: templates and key-mapping tables from plant files, per plant or per gateway key.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

JSONB = postgresql.JSONB(astext_type=sa.Text())


def upgrade() -> None:
    op.create_table(
        "line_protocol_maps",
        sa.Column("scope", sa.Text, primary_key=True),
        sa.Column("plant_id", sa.Integer, sa.ForeignKey("plants.id", ondelete="CASCADE"), nullable=False),
        sa.Column("templates", postgresql.ARRAY(sa.Text), nullable=False),
        sa.Column("aliases", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
        sa.CheckConstraint("scope LIKE 'plant:%' OR scope LIKE 'key:%'", name="line_protocol_maps_scope_known"),
    )


def downgrade() -> None:
    op.drop_table("line_protocol_maps")
