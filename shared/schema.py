"""The database schema, described with SQLAlchemy Core. Alembic migrations create it; a test checks they agree.

Readings and rollups are keyed by signal first, so they could be distributed by signal (Citus) unchanged.
Readings are range-partitioned by day on `ts`; partitions come from `ensure_readings_partitions()`.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

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

# The plants a gateway key may write (migration 0009 gave pre-existing gateway keys every plant then known).
api_key_plants = sa.Table(
    "api_key_plants",
    metadata,
    sa.Column("api_key_id", sa.Integer, sa.ForeignKey("api_keys.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("plant_id", sa.Integer, sa.ForeignKey("plants.id", ondelete="CASCADE"), primary_key=True),
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


# Compressed history (shared/history; migration 0011_reading_blocks): a closed UTC day's readings leave `readings` for
# per-signal blocks of one UTC hour (block_start ≤ ts < block_end), encoded by shared/history/codec.py, in the same
# transaction; every (signal_id, ts) is in exactly one of the two. `compressed_days` lists the days moved (their
# partition is gone; ensure_readings_partitions() will not recreate it). The payload column is stored EXTERNAL
# (no TOAST compression of zstd output) with toast_tuple_target 8160 (set by the migration).
reading_blocks = sa.Table(
    "reading_blocks",
    metadata,
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

compressed_days = sa.Table(
    "compressed_days",
    metadata,
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("compressed_at", TSTZ, nullable=False, server_default=NOW),
    sa.Column("readings", sa.BigInteger, nullable=False),
    sa.Column("blocks", sa.Integer, nullable=False),
    sa.Column("payload_bytes", sa.BigInteger, nullable=False),
)


# One row per signal and UTC minute. Plain columns cover every reading; good_* only Good-quality ones.
# rollups_15m and rollups_1h have the same shape over their buckets (derived from the finer table in the write
# transaction); their area columns also join consecutive readings across the minutes inside them.
# Every batch of a quarter-hour or hour updates its coarse row (migration 0012): half of each page left free keeps
# those updates heap-only (no new index entry, the old version pruned in the page). Minutes keep full pages.
ROLLUP_FILLFACTOR = {"rollups_15m": 50, "rollups_1h": 50}


def _rollup_table(name: str) -> sa.Table:
    return sa.Table(
        name,
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
        # What the exact held integral needs (shared/settlement/rollup.py), over consecutive readings of the bucket:
        # Σ vᵢ·(tᵢ₊₁ − tᵢ) for all and for Good first readings, the Good held seconds, the longest step and the step
        # into the last reading (NULL with one reading).
        sa.Column("area", sa.Float, nullable=False, server_default="0"),
        sa.Column("good_area", sa.Float, nullable=False, server_default="0"),
        sa.Column("good_held_s", sa.Float, nullable=False, server_default="0"),
        sa.Column("max_step_s", sa.Float, nullable=False, server_default="0"),
        sa.Column("last_step_s", sa.Float, nullable=True),
        sa.PrimaryKeyConstraint("signal_id", "bucket", name=f"{name}_pkey"),
        postgresql_with={"fillfactor": ROLLUP_FILLFACTOR[name]} if name in ROLLUP_FILLFACTOR else None,
    )


rollups_1m = _rollup_table("rollups_1m")
rollups_15m = _rollup_table("rollups_15m")
rollups_1h = _rollup_table("rollups_1h")

# Packed 1-minute rollups (issue 14; migration 0013_rollup_days): once a UTC day's readings are compressed, each
# signal's rollups_1m rows of that day leave rollups_1m for one row here, in the same transaction; every (signal_id,
# minute) is in exactly one of the two (shared/history/__init__.py). The payload holds every rollups_1m column
# (shared/history/minutes_codec.py); the other columns describe it: its row count, first and last bucket, and its
# newest reading (of any quality, and Good) so "the newest reading" needs no decoding. Payload stored EXTERNAL.
rollup_days = sa.Table(
    "rollup_days",
    metadata,
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

# ---------------------------------------------------------------------------------------------------------------------
# alerts (owned by services/alerts; migration 0002_alerts): rules, alert instances and their transitions, silences,
# webhook endpoints, the notification outbox and its delivery log.
# ---------------------------------------------------------------------------------------------------------------------
JSONB = postgresql.JSONB(astext_type=sa.Text())
EMPTY_JSON = sa.text("'{}'::jsonb")
PENDING = sa.text("status = 'pending'")

alert_rules = sa.Table(
    "alert_rules",
    metadata,
    sa.Column("id", sa.Integer, sa.Identity(), primary_key=True),
    sa.Column("name", sa.Text, nullable=False, unique=True),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("severity", sa.Text, nullable=False),
    sa.Column("labels", JSONB, nullable=False, server_default=EMPTY_JSON),
    sa.Column("params", JSONB, nullable=False, server_default=EMPTY_JSON),
    sa.Column("for_s", sa.Float, nullable=False, server_default="0"),
    sa.Column("keep_firing_for_s", sa.Float, nullable=False, server_default="0"),
    sa.Column("repeat_interval_s", sa.Float, nullable=False, server_default="14400"),
    sa.Column("enabled", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("created_at", TSTZ, nullable=False, server_default=NOW),
    sa.Column("updated_at", TSTZ, nullable=False, server_default=NOW),
    # The last time the rule failed to load or evaluate (0005): it is skipped, the other rules keep running.
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Column("last_error_at", TSTZ, nullable=True),
    sa.CheckConstraint("severity IN ('critical', 'warning', 'info')", name="alert_rules_severity_known"),
)

# One row per fingerprint (rule + labels); its state machine is services/alerts/lifecycle.py.
alerts = sa.Table(
    "alerts",
    metadata,
    sa.Column("id", sa.Integer, sa.Identity(), primary_key=True),
    sa.Column("rule_id", sa.Integer, sa.ForeignKey("alert_rules.id", ondelete="CASCADE"), nullable=False),
    sa.Column("fingerprint", sa.Text, nullable=False, unique=True),
    sa.Column("labels", JSONB, nullable=False, server_default=EMPTY_JSON),
    sa.Column("state", sa.Text, nullable=False, server_default="inactive"),
    sa.Column("pending_since", TSTZ, nullable=True),
    sa.Column("firing_since", TSTZ, nullable=True),
    sa.Column("last_active_at", TSTZ, nullable=True),
    sa.Column("resolved_at", TSTZ, nullable=True),
    sa.Column("last_notified_at", TSTZ, nullable=True),
    sa.Column("notified_firing", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("incident", sa.Integer, nullable=False, server_default="0"),
    sa.Column("acked_by", sa.Text, nullable=True),
    sa.Column("acked_at", TSTZ, nullable=True),
    sa.Column("ack_comment", sa.Text, nullable=True),
    sa.Column("value", sa.Float, nullable=True),
    sa.Column("evidence", JSONB, nullable=False, server_default=EMPTY_JSON),
    sa.Column("evaluated_at", TSTZ, nullable=True),
    sa.CheckConstraint("state IN ('inactive', 'pending', 'firing', 'resolved')", name="alerts_state_known"),
    sa.Index("alerts_rule_id", "rule_id"),
)

alert_transitions = sa.Table(
    "alert_transitions",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("alert_id", sa.Integer, sa.ForeignKey("alerts.id", ondelete="CASCADE"), nullable=False),
    sa.Column("at", TSTZ, nullable=False),
    sa.Column("from_state", sa.Text, nullable=False),
    sa.Column("to_state", sa.Text, nullable=False),
    sa.Column("evidence", JSONB, nullable=False, server_default=EMPTY_JSON),
    sa.Index("alert_transitions_alert_id", "alert_id", "id"),
)

alert_silences = sa.Table(
    "alert_silences",
    metadata,
    sa.Column("id", sa.Integer, sa.Identity(), primary_key=True),
    sa.Column("matchers", JSONB, nullable=False),
    sa.Column("starts_at", TSTZ, nullable=False),
    sa.Column("ends_at", TSTZ, nullable=False),
    sa.Column("created_by", sa.Text, nullable=False),
    sa.Column("comment", sa.Text, nullable=False, server_default=""),
    sa.Column("created_at", TSTZ, nullable=False, server_default=NOW),
    sa.CheckConstraint("ends_at > starts_at", name="alert_silences_interval_ordered"),
)

webhook_endpoints = sa.Table(
    "webhook_endpoints",
    metadata,
    sa.Column("id", sa.Integer, sa.Identity(), primary_key=True),
    sa.Column("name", sa.Text, nullable=False, unique=True),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("secret", sa.Text, nullable=False),
    sa.Column("format", sa.Text, nullable=False, server_default="standard"),
    sa.Column("severities", postgresql.ARRAY(sa.Text), nullable=False, server_default=sa.text("'{}'::text[]")),
    sa.Column("label_filters", JSONB, nullable=False, server_default=EMPTY_JSON),
    sa.Column("options", JSONB, nullable=False, server_default=EMPTY_JSON),
    sa.Column("enabled", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("created_at", TSTZ, nullable=False, server_default=NOW),
    # Partner-owned endpoints (migration 0004): one plant and one partner; NULL for operator endpoints.
    sa.Column("partner", sa.Text, nullable=True),
    sa.Column("plant_id", sa.Integer, sa.ForeignKey("plants.id", ondelete="CASCADE"), nullable=True),
    sa.Column("event_types", postgresql.ARRAY(sa.Text), nullable=False, server_default=sa.text("'{}'::text[]")),
    sa.CheckConstraint("format IN ('standard', 'alertmanager', 'pagerduty', 'slack')", name="webhook_endpoints_format"),
    sa.CheckConstraint("(partner IS NULL) = (plant_id IS NULL)", name="webhook_endpoints_partner_scoped"),
)

# Notifications written in the transaction of the state change; the dispatcher sends them after commit.
webhook_outbox = sa.Table(
    "webhook_outbox",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("endpoint_id", sa.Integer, sa.ForeignKey("webhook_endpoints.id", ondelete="CASCADE"), nullable=False),
    # NULL for settlement events (statement.restated, dispute.*), which are not about an alert.
    sa.Column("alert_id", sa.Integer, sa.ForeignKey("alerts.id", ondelete="CASCADE"), nullable=True),
    sa.Column("event_type", sa.Text, nullable=False),
    sa.Column("webhook_id", sa.Text, nullable=False, unique=True),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False, server_default="pending"),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", TSTZ, nullable=False, server_default=NOW),
    sa.Column("created_at", TSTZ, nullable=False, server_default=NOW),
    sa.Column("delivered_at", TSTZ, nullable=True),
    sa.Column("last_error", sa.Text, nullable=True),
    # A claimed delivery (0005): sent with no transaction open; resent by anyone once the lease has expired.
    sa.Column("leased_until", TSTZ, nullable=True),
    sa.Column("lease_token", sa.Text, nullable=True),
    sa.CheckConstraint("status IN ('pending', 'delivered', 'dead')", name="webhook_outbox_status_known"),
    sa.Index("webhook_outbox_due", "next_attempt_at", "id", postgresql_where=PENDING),
    sa.Index("webhook_outbox_order", "endpoint_id", "alert_id", "id", postgresql_where=PENDING),
)

webhook_attempts = sa.Table(
    "webhook_attempts",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("outbox_id", sa.BigInteger, sa.ForeignKey("webhook_outbox.id", ondelete="CASCADE"), nullable=False),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("at", TSTZ, nullable=False),
    sa.Column("status_code", sa.Integer, nullable=True),
    sa.Column("latency_ms", sa.Float, nullable=False),
    sa.Column("error", sa.Text, nullable=True),
    sa.Index("webhook_attempts_outbox_id", "outbox_id", "id"),
)

# Line-protocol signal maps (shared/signalmap.py), from plant files: scope "plant:<plant key>" (chosen by the
# request's db/bucket) or "key:<gateway key name>".
line_protocol_maps = sa.Table(
    "line_protocol_maps",
    metadata,
    sa.Column("scope", sa.Text, primary_key=True),
    sa.Column("plant_id", sa.Integer, sa.ForeignKey("plants.id", ondelete="CASCADE"), nullable=False),
    sa.Column("templates", postgresql.ARRAY(sa.Text), nullable=False),
    sa.Column("aliases", JSONB, nullable=False, server_default=EMPTY_JSON),
    sa.CheckConstraint("scope LIKE 'plant:%' OR scope LIKE 'key:%'", name="line_protocol_maps_scope_known"),
)

# ---------------------------------------------------------------------------------------------------------------------
# disputes (services/api/disputes; migration 0004_disputes): disputes on a settlement period, every step taken on
# them, two-party corrections with their approvals, and the reading-substitution overlay (originals stay untouched).
# ---------------------------------------------------------------------------------------------------------------------
disputes = sa.Table(
    "disputes",
    metadata,
    sa.Column("id", sa.Integer, sa.Identity(), primary_key=True),
    sa.Column("plant_id", sa.Integer, sa.ForeignKey("plants.id", ondelete="CASCADE"), nullable=False),
    sa.Column("period_start", TSTZ, nullable=False),
    sa.Column("period_end", TSTZ, nullable=False),
    sa.Column("status", sa.Text, nullable=False, server_default="open"),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("evidence", sa.Text, nullable=False, server_default=""),
    sa.Column("attachment_digest", sa.Text, nullable=True),
    sa.Column("opened_by", sa.Text, nullable=False),
    sa.Column("opened_by_partner", sa.Text, nullable=False),
    sa.Column("opened_by_key_id", sa.Integer, sa.ForeignKey("api_keys.id"), nullable=False),
    sa.Column("created_at", TSTZ, nullable=False, server_default=NOW),
    sa.CheckConstraint("period_end > period_start", name="disputes_period_ordered"),
    sa.CheckConstraint("status IN ('open', 'corrected')", name="disputes_status_known"),
    sa.Index("disputes_plant_period", "plant_id", "period_start"),
)

dispute_events = sa.Table(
    "dispute_events",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("dispute_id", sa.Integer, sa.ForeignKey("disputes.id", ondelete="CASCADE"), nullable=False),
    sa.Column("at", TSTZ, nullable=False),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("actor", sa.Text, nullable=False),
    sa.Column("actor_role", sa.Text, nullable=False),
    sa.Column("actor_partner", sa.Text, nullable=True),
    sa.Column("actor_key_id", sa.Integer, sa.ForeignKey("api_keys.id"), nullable=False),
    sa.Column("correction_id", sa.Integer, nullable=True),
    sa.Column("detail", JSONB, nullable=False, server_default=EMPTY_JSON),
    sa.Index("dispute_events_dispute_id", "dispute_id", "id"),
)

corrections = sa.Table(
    "corrections",
    metadata,
    sa.Column("id", sa.Integer, sa.Identity(), primary_key=True),
    sa.Column("dispute_id", sa.Integer, sa.ForeignKey("disputes.id", ondelete="CASCADE"), nullable=False),
    sa.Column("plant_id", sa.Integer, sa.ForeignKey("plants.id", ondelete="CASCADE"), nullable=False),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("signal_id", sa.Integer, sa.ForeignKey("signals.id", ondelete="CASCADE"), nullable=True),
    sa.Column("starts_at", TSTZ, nullable=False),
    sa.Column("ends_at", TSTZ, nullable=False),
    sa.Column("energy_mwh", sa.Float, nullable=True),
    sa.Column("note", sa.Text, nullable=False, server_default=""),
    sa.Column("status", sa.Text, nullable=False, server_default="pending"),
    sa.Column("proposed_by", sa.Text, nullable=False),
    sa.Column("proposed_by_partner", sa.Text, nullable=False),
    sa.Column("proposed_at", TSTZ, nullable=False),
    sa.Column("decided_at", TSTZ, nullable=True),
    sa.CheckConstraint("ends_at > starts_at", name="corrections_interval_ordered"),
    sa.CheckConstraint("kind IN ('readings', 'energy')", name="corrections_kind_known"),
    sa.CheckConstraint("status IN ('pending', 'applied', 'rejected')", name="corrections_status_known"),
    sa.CheckConstraint("(kind = 'energy') = (energy_mwh IS NOT NULL)", name="corrections_energy_value"),
    sa.CheckConstraint("(kind = 'readings') = (signal_id IS NOT NULL)", name="corrections_readings_signal"),
    sa.Index("corrections_plant_interval", "plant_id", "starts_at"),
)

correction_approvals = sa.Table(
    "correction_approvals",
    metadata,
    sa.Column("correction_id", sa.Integer, sa.ForeignKey("corrections.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("partner", sa.Text, primary_key=True),
    sa.Column("approved_by", sa.Text, nullable=False),
    sa.Column("key_id", sa.Integer, sa.ForeignKey("api_keys.id"), nullable=False),
    sa.Column("at", TSTZ, nullable=False),
)

reading_substitutions = sa.Table(
    "reading_substitutions",
    metadata,
    sa.Column("correction_id", sa.Integer, sa.ForeignKey("corrections.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("ts", TSTZ, primary_key=True),
    sa.Column("value", sa.Float, nullable=False),
    sa.Column("quality", sa.Integer, nullable=False),
)

# ---------------------------------------------------------------------------------------------------------------------
# statements (services/api/statements, shared/ledger; migration 0006_statements): signed statements chained per
# plant, the public keys that signed them, the issuer's late-data watermark, and per-batch ingest provenance.
# ---------------------------------------------------------------------------------------------------------------------
signing_keys = sa.Table(
    "signing_keys",
    metadata,
    sa.Column("kid", sa.Text, primary_key=True),
    sa.Column("jwk", JSONB, nullable=False),
    sa.Column("created_at", TSTZ, nullable=False, server_default=NOW),
)

statements = sa.Table(
    "statements",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("plant_id", sa.Integer, sa.ForeignKey("plants.id", ondelete="CASCADE"), nullable=False),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("period_start", TSTZ, nullable=False),
    sa.Column("period_end", TSTZ, nullable=False),
    sa.Column("revision", sa.Integer, nullable=False),
    sa.Column("sequence", sa.BigInteger, nullable=False),
    sa.Column("issued_at", TSTZ, nullable=False),
    sa.Column("kid", sa.Text, sa.ForeignKey("signing_keys.kid"), nullable=False),
    sa.Column("hash", sa.Text, nullable=False, unique=True),
    sa.Column("previous", sa.Text, nullable=True),
    sa.Column("reason", sa.Text, nullable=True),
    sa.Column("jws", sa.Text, nullable=False),
    sa.CheckConstraint("kind IN ('period', 'day')", name="statements_kind_known"),
    sa.CheckConstraint("revision >= 1", name="statements_revision_positive"),
    sa.UniqueConstraint("plant_id", "kind", "period_start", "revision", name="statements_revision_unique"),
    sa.UniqueConstraint("plant_id", "sequence", name="statements_sequence_unique"),
)

statement_issuer = sa.Table(
    "statement_issuer",
    metadata,
    sa.Column("plant_id", sa.Integer, sa.ForeignKey("plants.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("batches_seen_until", TSTZ, nullable=False),
)

# One row per accepted ingest batch: who sent it, when, how many readings were new, and a digest of what was sent.
ingest_batches = sa.Table(
    "ingest_batches",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("api_key_id", sa.Integer, sa.ForeignKey("api_keys.id"), nullable=False),
    sa.Column("received_at", TSTZ, nullable=False),
    sa.Column("count", sa.Integer, nullable=False),
    sa.Column("digest", sa.Text, nullable=False),
    sa.Column("signal_ids", postgresql.ARRAY(sa.Integer), nullable=False),
    sa.Column("first_ts", TSTZ, nullable=False),
    sa.Column("last_ts", TSTZ, nullable=False),
    sa.Index("ingest_batches_received_at", "received_at"),
)

# Browser sessions of the dashboard (services/api/ui; the dashboard migration): the cookie holds a random id, this
# table its SHA-256, the API key that signed in and the expiry. Revoking the key ends the session.
ui_sessions = sa.Table(
    "ui_sessions",
    metadata,
    sa.Column("id_hash", sa.LargeBinary, primary_key=True),
    sa.Column("api_key_id", sa.Integer, sa.ForeignKey("api_keys.id", ondelete="CASCADE"), nullable=False),
    sa.Column("created_at", TSTZ, nullable=False, server_default=NOW),
    sa.Column("expires_at", TSTZ, nullable=False),
    sa.Index("ui_sessions_expires_at", "expires_at"),
)

__all__ = [
    "ROLES",
    "alert_rules",
    "alert_silences",
    "alert_transitions",
    "alerts",
    "api_key_plants",
    "api_keys",
    "commitment_exclusions",
    "commitment_schedule",
    "commitments",
    "compressed_days",
    "correction_approvals",
    "corrections",
    "dispute_events",
    "disputes",
    "idempotency_keys",
    "ingest_batches",
    "line_protocol_maps",
    "metadata",
    "plant_partners",
    "plants",
    "reading_blocks",
    "reading_substitutions",
    "readings",
    "rollup_days",
    "rollups_1h",
    "rollups_1m",
    "rollups_15m",
    "signals",
    "signing_keys",
    "statement_issuer",
    "statements",
    "ui_sessions",
    "webhook_attempts",
    "webhook_endpoints",
    "webhook_outbox",
]
