"""Compressed history (issue 14): reading_blocks holds closed days of readings as per-signal blocks
(shared/history/codec.py), compressed_days says which UTC days live there, and ensure_readings_partitions() no
longer creates a partition for a compressed day (a late reading into one merges into its block instead).

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

TSTZ = sa.DateTime(timezone=True)

_ENSURE_PARTITIONS = """
CREATE OR REPLACE FUNCTION ensure_readings_partitions(from_ts timestamptz, to_ts timestamptz)
RETURNS integer LANGUAGE plpgsql AS $$
<<fn>>
DECLARE
    day date := (from_ts AT TIME ZONE 'UTC')::date;
    last_day date := (to_ts AT TIME ZONE 'UTC')::date;
    created integer := 0;
    partition_name text;
BEGIN
    IF last_day - day > 4000 THEN
        RAISE EXCEPTION 'refusing to create % daily partitions at once', last_day - day;
    END IF;
    PERFORM pg_advisory_xact_lock(hashtext('baseload.readings_partitions'));
    WHILE day <= last_day LOOP
        partition_name := 'readings_' || to_char(day, 'YYYYMMDD');
        IF to_regclass(quote_ident(partition_name)) IS NULL
           AND NOT EXISTS (SELECT 1 FROM compressed_days AS c WHERE c.day = fn.day) THEN
            EXECUTE format(
                'CREATE TABLE %I PARTITION OF readings FOR VALUES FROM (%L) TO (%L)',
                partition_name,
                day::timestamp AT TIME ZONE 'UTC',
                (day + 1)::timestamp AT TIME ZONE 'UTC'
            );
            created := created + 1;
        END IF;
        day := day + 1;
    END LOOP;
    RETURN created;
END $$;
"""

_ENSURE_PARTITIONS_0001 = _ENSURE_PARTITIONS.replace(
    """
           AND NOT EXISTS (SELECT 1 FROM compressed_days AS c WHERE c.day = fn.day)""",
    "",
).replace("<<fn>>\n", "")


def upgrade() -> None:
    op.create_table(
        "reading_blocks",
        sa.Column("signal_id", sa.Integer, nullable=False),
        sa.Column("block_start", TSTZ, nullable=False),
        sa.Column("block_end", TSTZ, nullable=False),
        sa.Column("first_ts", TSTZ, nullable=False),
        sa.Column("last_ts", TSTZ, nullable=False),
        sa.Column("count", sa.Integer, nullable=False),
        sa.Column("payload", sa.LargeBinary, nullable=False),
        sa.PrimaryKeyConstraint("signal_id", "block_start", name="reading_blocks_pkey"),
        sa.CheckConstraint(
            "block_start <= first_ts AND first_ts <= last_ts AND last_ts < block_end AND count >= 1",
            name="reading_blocks_span",
        ),
    )
    # Payloads are zstd already: no second compression by TOAST; rows up to a page stay inline (one heap read).
    op.execute("ALTER TABLE reading_blocks ALTER COLUMN payload SET STORAGE EXTERNAL")
    op.execute("ALTER TABLE reading_blocks SET (toast_tuple_target = 8160)")
    op.create_table(
        "compressed_days",
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("compressed_at", TSTZ, nullable=False, server_default=sa.text("now()")),
        sa.Column("readings", sa.BigInteger, nullable=False),
        sa.Column("blocks", sa.Integer, nullable=False),
        sa.Column("payload_bytes", sa.BigInteger, nullable=False),
    )
    op.execute(_ENSURE_PARTITIONS)


def downgrade() -> None:
    op.execute(_ENSURE_PARTITIONS_0001)
    op.drop_table("compressed_days")
    op.drop_table("reading_blocks")
