"""Packed 1-minute rollups (issue 14): rollup_days holds a compressed day's rollups_1m rows as one row per signal-day
(shared/history/minutes_codec.py), so closed data costs a few bytes per reading with what its minute rollups need.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

TSTZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "rollup_days",
        sa.Column("signal_id", sa.Integer, nullable=False),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("minutes", sa.Integer, nullable=False),
        sa.Column("first_bucket", TSTZ, nullable=False),
        sa.Column("last_bucket", TSTZ, nullable=False),
        sa.Column("last_ts", TSTZ, nullable=False),
        sa.Column("last_value", sa.Float, nullable=False),
        sa.Column("good_last_ts", TSTZ, nullable=True),
        sa.Column("good_last_value", sa.Float, nullable=True),
        sa.Column("payload", sa.LargeBinary, nullable=False),
        sa.PrimaryKeyConstraint("signal_id", "day", name="rollup_days_pkey"),
        sa.CheckConstraint("minutes >= 1 AND first_bucket <= last_bucket", name="rollup_days_span"),
    )
    # Payloads are zstd already: no second compression by TOAST.
    op.execute("ALTER TABLE rollup_days ALTER COLUMN payload SET STORAGE EXTERNAL")


def downgrade() -> None:
    # Packed days go back to rows of rollups_1m only through the application (services/ingest/blocks.py unpack):
    # refuse to drop data.
    op.execute(
        "DO $$ BEGIN IF EXISTS (SELECT 1 FROM rollup_days) THEN "
        "RAISE EXCEPTION 'rollup_days holds packed minutes: unpack them before downgrading'; END IF; END $$"
    )
    op.drop_table("rollup_days")
