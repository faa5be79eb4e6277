"""Coarse rollups: rollups_15m and rollups_1h, shaped like rollups_1m and derived from it (then 1 h from 15 min),
so long ranges read hundreds of rows. Their inner areas join consecutive readings inside the coarse bucket; readers
use a coarse row only while its max_step_s is within the maximum gap (shared/settlement/rollup.py).

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

TSTZ = sa.DateTime(timezone=True)
COLUMNS = (
    "signal_id",
    "bucket",
    "count",
    "sum",
    "min",
    "max",
    "first_ts",
    "first_value",
    "last_ts",
    "last_value",
    "good_count",
    "good_sum",
    "good_min",
    "good_max",
    "good_first_ts",
    "good_first_value",
    "good_last_ts",
    "good_last_value",
    "area",
    "good_area",
    "good_held_s",
    "max_step_s",
    "last_step_s",
)


def _coarser(source: str, width: str) -> str:
    return f"""SELECT signal_id, b AS bucket, sum(count)::int4, sum(sum), min(min), max(max), min(first_ts),
        (array_agg(first_value ORDER BY bucket))[1], max(last_ts), (array_agg(last_value ORDER BY bucket DESC))[1],
        sum(good_count)::int4, sum(good_sum), min(good_min), max(good_max), min(good_first_ts),
        (array_agg(good_first_value ORDER BY bucket) FILTER (WHERE good_count > 0))[1], max(good_last_ts),
        (array_agg(good_last_value ORDER BY bucket DESC) FILTER (WHERE good_count > 0))[1],
        sum(area + coalesce(prev_value * pair, 0)),
        sum(good_area + CASE WHEN prev_good THEN prev_value * pair ELSE 0 END),
        sum(good_held_s + CASE WHEN prev_good THEN pair ELSE 0 END),
        max(greatest(max_step_s, coalesce(pair, 0))),
        (array_agg(coalesce(last_step_s, pair) ORDER BY bucket DESC))[1]
    FROM (SELECT *, date_part('epoch', first_ts - lag(last_ts) OVER w) AS pair, lag(last_value) OVER w AS prev_value,
                 lag(good_last_ts IS NOT DISTINCT FROM last_ts) OVER w AS prev_good
          FROM (SELECT *, date_bin('{width}', bucket, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS b FROM {source}) AS s
          WINDOW w AS (PARTITION BY signal_id, b ORDER BY bucket)) AS x
    GROUP BY signal_id, b"""


def _table(name: str) -> None:
    op.create_table(
        name,
        sa.Column("signal_id", sa.Integer, nullable=False),
        sa.Column("bucket", TSTZ, nullable=False),
        sa.Column("count", sa.Integer, nullable=False),
        sa.Column("sum", sa.Float, nullable=False),
        sa.Column("min", sa.Float, nullable=False),
        sa.Column("max", sa.Float, nullable=False),
        sa.Column("first_ts", TSTZ, nullable=False),
        sa.Column("first_value", sa.Float, nullable=False),
        sa.Column("last_ts", TSTZ, nullable=False),
        sa.Column("last_value", sa.Float, nullable=False),
        sa.Column("good_count", sa.Integer, nullable=False),
        sa.Column("good_sum", sa.Float, nullable=False),
        sa.Column("good_min", sa.Float, nullable=True),
        sa.Column("good_max", sa.Float, nullable=True),
        sa.Column("good_first_ts", TSTZ, nullable=True),
        sa.Column("good_first_value", sa.Float, nullable=True),
        sa.Column("good_last_ts", TSTZ, nullable=True),
        sa.Column("good_last_value", sa.Float, nullable=True),
        sa.Column("area", sa.Float, nullable=False, server_default="0"),
        sa.Column("good_area", sa.Float, nullable=False, server_default="0"),
        sa.Column("good_held_s", sa.Float, nullable=False, server_default="0"),
        sa.Column("max_step_s", sa.Float, nullable=False, server_default="0"),
        sa.Column("last_step_s", sa.Float, nullable=True),
        sa.PrimaryKeyConstraint("signal_id", "bucket", name=f"{name}_pkey"),
    )


def upgrade() -> None:
    _table("rollups_15m")
    _table("rollups_1h")
    op.execute(f"INSERT INTO rollups_15m ({', '.join(COLUMNS)}) {_coarser('rollups_1m', '15 minutes')}")
    op.execute(f"INSERT INTO rollups_1h ({', '.join(COLUMNS)}) {_coarser('rollups_15m', '1 hour')}")


def downgrade() -> None:
    op.drop_table("rollups_1h")
    op.drop_table("rollups_15m")
