"""Gateway keys scoped to plants: `api_key_plants` lists the plants each gateway key may write.

Existing gateway keys are given every plant that exists when this migration runs: they could write to all of them
before, so nothing that worked stops working; plants loaded later are out of their reach. Replace them with keys
made for their plant (`baseload keys create --role gateway --plant P`) and revoke the old ones.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_key_plants",
        sa.Column("api_key_id", sa.Integer, sa.ForeignKey("api_keys.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("plant_id", sa.Integer, sa.ForeignKey("plants.id", ondelete="CASCADE"), primary_key=True),
    )
    op.execute("""INSERT INTO api_key_plants (api_key_id, plant_id)
                  SELECT k.id, p.id FROM api_keys AS k CROSS JOIN plants AS p WHERE k.role = 'gateway'""")


def downgrade() -> None:
    op.drop_table("api_key_plants")
