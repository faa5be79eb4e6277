"""Foundation: plants, signals, keys, partitioned readings, 1-minute rollups, idempotency, commitments.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TSTZ = sa.DateTime(timezone=True)
NOW = sa.text("now()")

# Daily UTC partitions of readings, created on demand (backfills) and ahead of time (live data).
# The advisory lock serialises concurrent creators; to_regclass makes repeated calls cheap no-ops.
ENSURE_PARTITIONS = """
CREATE OR REPLACE FUNCTION ensure_readings_partitions(from_ts timestamptz, to_ts timestamptz)
RETURNS integer LANGUAGE plpgsql AS $$
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
        IF to_regclass(quote_ident(partition_name)) IS NULL THEN
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


def upgrade() -> None:
    op.create_table(
        "plants",
        sa.Column("id", sa.Integer, sa.Identity(), primary_key=True),
        sa.Column("key", sa.Text, nullable=False, unique=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("capacity_mw", sa.Float, nullable=False),
        sa.Column("timezone", sa.Text, nullable=False, server_default="Europe/Belgrade"),
        sa.Column("created_at", TSTZ, nullable=False, server_default=NOW),
    )
    op.create_table(
        "plant_partners",
        sa.Column("plant_id", sa.Integer, sa.ForeignKey("plants.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("partner", sa.Text, primary_key=True),
    )
    op.create_table(
        "signals",
        sa.Column("id", sa.Integer, sa.Identity(), primary_key=True),
        sa.Column("key", sa.Text, nullable=False, unique=True),
        sa.Column("plant_id", sa.Integer, sa.ForeignKey("plants.id", ondelete="CASCADE"), nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("unit", sa.Text, nullable=False),
        sa.Column("min_value", sa.Float, nullable=False),
        sa.Column("max_value", sa.Float, nullable=False),
        sa.Column("description", sa.Text, nullable=False, server_default=""),
        sa.Column("created_at", TSTZ, nullable=False, server_default=NOW),
        sa.CheckConstraint("min_value < max_value", name="signals_range_ordered"),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer, sa.Identity(), primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("role", sa.Text, nullable=False),
        sa.Column("partner", sa.Text, nullable=True),
        sa.Column("token_hash", sa.LargeBinary, nullable=False, unique=True),
        sa.Column("token_prefix", sa.Text, nullable=False),
        sa.Column("created_at", TSTZ, nullable=False, server_default=NOW),
        sa.Column("revoked_at", TSTZ, nullable=True),
        sa.Column("last_seen_at", TSTZ, nullable=True),
        sa.CheckConstraint("role IN ('gateway', 'partner', 'operator', 'admin')", name="api_keys_role_known"),
        sa.CheckConstraint("role <> 'partner' OR partner IS NOT NULL", name="api_keys_partner_named"),
    )
    op.create_table(
        "readings",
        sa.Column("signal_id", sa.Integer, nullable=False),
        sa.Column("ts", TSTZ, nullable=False),
        sa.Column("value", sa.Float, nullable=False),
        sa.Column("quality", sa.Integer, nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("signal_id", "ts", name="readings_pkey"),
        postgresql_partition_by="RANGE (ts)",
    )
    op.create_table(
        "rollups_1m",
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
        sa.PrimaryKeyConstraint("signal_id", "bucket", name="rollups_1m_pkey"),
    )
    op.create_table(
        "idempotency_keys",
        sa.Column("api_key_id", sa.Integer, sa.ForeignKey("api_keys.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("key", sa.Text, primary_key=True),
        sa.Column("request_hash", sa.LargeBinary, nullable=False),
        sa.Column("status_code", sa.Integer, nullable=False),
        sa.Column("content_type", sa.Text, nullable=False),
        sa.Column("body", sa.LargeBinary, nullable=False),
        sa.Column("created_at", TSTZ, nullable=False, server_default=NOW),
    )
    op.create_index("idempotency_keys_created_at", "idempotency_keys", ["created_at"])
    op.create_table(
        "commitments",
        sa.Column("id", sa.Integer, sa.Identity(), primary_key=True),
        sa.Column("plant_id", sa.Integer, sa.ForeignKey("plants.id", ondelete="CASCADE"), nullable=False),
        sa.Column("valid_from", TSTZ, nullable=False),
        sa.Column("valid_to", TSTZ, nullable=True),
        sa.Column("committed_mw", sa.Float, nullable=False),
        sa.Column("tolerance_mw", sa.Float, nullable=True),
        sa.Column("tolerance_pct", sa.Float, nullable=True),
        sa.Column("settlement_period_s", sa.Integer, nullable=False, server_default="900"),
        sa.Column("note", sa.Text, nullable=False, server_default=""),
        sa.Column("created_at", TSTZ, nullable=False, server_default=NOW),
        sa.CheckConstraint("valid_to IS NULL OR valid_to > valid_from", name="commitments_interval_ordered"),
        sa.CheckConstraint("(tolerance_mw IS NULL) <> (tolerance_pct IS NULL)", name="commitments_one_tolerance"),
        sa.CheckConstraint(
            "settlement_period_s > 0 AND 86400 % settlement_period_s = 0", name="commitments_period_divides_day"
        ),
        sa.UniqueConstraint("plant_id", "valid_from", name="commitments_plant_valid_from"),
    )
    op.create_table(
        "commitment_schedule",
        sa.Column("plant_id", sa.Integer, sa.ForeignKey("plants.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("period_start", TSTZ, primary_key=True),
        sa.Column("committed_mw", sa.Float, nullable=False),
    )
    op.create_table(
        "commitment_exclusions",
        sa.Column("id", sa.Integer, sa.Identity(), primary_key=True),
        sa.Column("plant_id", sa.Integer, sa.ForeignKey("plants.id", ondelete="CASCADE"), nullable=False),
        sa.Column("starts_at", TSTZ, nullable=False),
        sa.Column("ends_at", TSTZ, nullable=False),
        sa.Column("reason", sa.Text, nullable=False, server_default=""),
        sa.CheckConstraint("ends_at > starts_at", name="commitment_exclusions_interval_ordered"),
    )
    op.execute(ENSURE_PARTITIONS)
    op.execute("SELECT ensure_readings_partitions(now() - interval '1 day', now() + interval '7 days')")


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS ensure_readings_partitions(timestamptz, timestamptz)")
    for table in (
        "commitment_exclusions",
        "commitment_schedule",
        "commitments",
        "idempotency_keys",
        "rollups_1m",
        "readings",
        "api_keys",
        "signals",
        "plant_partners",
        "plants",
    ):
        op.drop_table(table)
