"""Exact rollups: rollups_1m keeps what the exact held integral needs; existing rows are recomputed from readings.

Per minute and over its consecutive readings: area Σ vᵢ·(tᵢ₊₁ − tᵢ) (all qualities), good_area and good_held_s
(pairs whose first reading is Good), max_step_s (longest step) and last_step_s (the step into the last reading;
NULL with one reading). See shared/settlement/rollup.py.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

COLUMNS = ("area", "good_area", "good_held_s", "max_step_s")

RECOMPUTE_ALL = """
WITH steps AS (
    SELECT signal_id, date_bin('1 minute', ts, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS bucket, ts, value,
        quality BETWEEN 0 AND 1073741823 AS good,
        CASE WHEN lead(ts) OVER w < date_bin('1 minute', ts, TIMESTAMPTZ '2000-01-01 00:00:00+00')
                 + interval '1 minute'
             THEN date_part('epoch', lead(ts) OVER w - ts) END AS step
    FROM readings WINDOW w AS (PARTITION BY signal_id ORDER BY ts)
), minutes AS (
    SELECT signal_id, bucket, coalesce(sum(value * step), 0) AS area,
        coalesce(sum(value * step) FILTER (WHERE good), 0) AS good_area,
        coalesce(sum(step) FILTER (WHERE good), 0) AS good_held_s, coalesce(max(step), 0) AS max_step_s,
        (array_agg(step ORDER BY ts DESC) FILTER (WHERE step IS NOT NULL))[1] AS last_step_s
    FROM steps GROUP BY 1, 2
)
UPDATE rollups_1m AS r SET area = m.area, good_area = m.good_area, good_held_s = m.good_held_s,
    max_step_s = m.max_step_s, last_step_s = m.last_step_s
FROM minutes AS m WHERE r.signal_id = m.signal_id AND r.bucket = m.bucket
"""


def upgrade() -> None:
    for name in COLUMNS:
        op.add_column("rollups_1m", sa.Column(name, sa.Float, nullable=False, server_default="0"))
    op.add_column("rollups_1m", sa.Column("last_step_s", sa.Float, nullable=True))
    op.execute(RECOMPUTE_ALL)


def downgrade() -> None:
    for name in (*COLUMNS, "last_step_s"):
        op.drop_column("rollups_1m", name)
