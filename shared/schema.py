"""The database schema, described with SQLAlchemy Core. Alembic migrations create it; a test checks they agree.

Readings and rollups are keyed by signal first, so they could be distributed by signal (Citus) unchanged.
Readings are range-partitioned by day on `ts`; partitions come from `ensure_readings_partitions()`.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

TSTZ = sa.DateTime(timezone=True)
NOW = sa.text("now()")

ROLES = ("gateway", "partner", "operator", "admin")

plants = sa.Table(
    "plants",
    metadata,
    sa.Column("id", sa.Integer, sa.Identity(), primary_key=True),
    sa.Column("key", sa.Text, nullable=False, unique=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("capacity_mw", sa.Float, nullable=False),
    sa.Column("timezone", sa.Text, nullable=False, server_default="Europe/Belgrade"),
    sa.Column("created_at", TSTZ, nullable=False, server_default=NOW),
)

plant_partners = sa.Table(
    "plant_partners",
    metadata,
    sa.Column("plant_id", sa.Integer, sa.ForeignKey("plants.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("partner", sa.Text, primary_key=True),
)

signals = sa.Table(
    "signals",
    metadata,
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

api_keys = sa.Table(
    "api_keys",
    metadata,
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

readings = sa.Table(
    "readings",
    metadata,
    sa.Column("signal_id", sa.Integer, nullable=False),
    sa.Column("ts", TSTZ, nullable=False),
    sa.Column("value", sa.Float, nullable=False),
    sa.Column("quality", sa.Integer, nullable=False, server_default="0"),
    sa.PrimaryKeyConstraint("signal_id", "ts", name="readings_pkey"),
    postgresql_partition_by="RANGE (ts)",
)

# One row per signal and UTC minute. Plain columns cover every reading; good_* only Good-quality ones.
rollups_1m = sa.Table(
    "rollups_1m",
    metadata,
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

idempotency_keys = sa.Table(
    "idempotency_keys",
    metadata,
    sa.Column("api_key_id", sa.Integer, sa.ForeignKey("api_keys.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("key", sa.Text, primary_key=True),
    sa.Column("request_hash", sa.LargeBinary, nullable=False),
    sa.Column("status_code", sa.Integer, nullable=False),
    sa.Column("content_type", sa.Text, nullable=False),
    sa.Column("body", sa.LargeBinary, nullable=False),
    sa.Column("created_at", TSTZ, nullable=False, server_default=NOW),
    sa.Index("idempotency_keys_created_at", "created_at"),
)

# Baseload commitments (managed by the alerts service, read by the api service).
commitments = sa.Table(
    "commitments",
    metadata,
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

# Per-period overrides of the flat commitment (a schedule), keyed by period start.
commitment_schedule = sa.Table(
    "commitment_schedule",
    metadata,
    sa.Column("plant_id", sa.Integer, sa.ForeignKey("plants.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("period_start", TSTZ, primary_key=True),
    sa.Column("committed_mw", sa.Float, nullable=False),
)

# Windows (planned outages, grid-operator instructions) in which the commitment does not apply.
commitment_exclusions = sa.Table(
    "commitment_exclusions",
    metadata,
    sa.Column("id", sa.Integer, sa.Identity(), primary_key=True),
    sa.Column("plant_id", sa.Integer, sa.ForeignKey("plants.id", ondelete="CASCADE"), nullable=False),
    sa.Column("starts_at", TSTZ, nullable=False),
    sa.Column("ends_at", TSTZ, nullable=False),
    sa.Column("reason", sa.Text, nullable=False, server_default=""),
    sa.CheckConstraint("ends_at > starts_at", name="commitment_exclusions_interval_ordered"),
)

__all__ = [
    "ROLES",
    "api_keys",
    "commitment_exclusions",
    "commitment_schedule",
    "commitments",
    "idempotency_keys",
    "metadata",
    "plant_partners",
    "plants",
    "readings",
    "rollups_1m",
    "signals",
]
