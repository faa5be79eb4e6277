"""Alerts: rules, alert instances and transitions, silences, webhook endpoints, the outbox and delivery log.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TSTZ = sa.DateTime(timezone=True)
NOW = sa.text("now()")
JSONB = postgresql.JSONB(astext_type=sa.Text())
EMPTY_JSON = sa.text("'{}'::jsonb")
PENDING = sa.text("status = 'pending'")

TABLES = (
    "webhook_attempts",
    "webhook_outbox",
    "webhook_endpoints",
    "alert_silences",
    "alert_transitions",
    "alerts",
    "alert_rules",
)


def upgrade() -> None:
    op.create_table(
        "alert_rules",
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
        sa.CheckConstraint("severity IN ('critical', 'warning', 'info')", name="alert_rules_severity_known"),
    )
    # One row per fingerprint (rule + labels); its state machine is services/alerts/lifecycle.py.
    op.create_table(
        "alerts",
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
    op.create_table(
        "alert_transitions",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("alert_id", sa.Integer, sa.ForeignKey("alerts.id", ondelete="CASCADE"), nullable=False),
        sa.Column("at", TSTZ, nullable=False),
        sa.Column("from_state", sa.Text, nullable=False),
        sa.Column("to_state", sa.Text, nullable=False),
        sa.Column("evidence", JSONB, nullable=False, server_default=EMPTY_JSON),
        sa.Index("alert_transitions_alert_id", "alert_id", "id"),
    )
    op.create_table(
        "alert_silences",
        sa.Column("id", sa.Integer, sa.Identity(), primary_key=True),
        sa.Column("matchers", JSONB, nullable=False),
        sa.Column("starts_at", TSTZ, nullable=False),
        sa.Column("ends_at", TSTZ, nullable=False),
        sa.Column("created_by", sa.Text, nullable=False),
        sa.Column("comment", sa.Text, nullable=False, server_default=""),
        sa.Column("created_at", TSTZ, nullable=False, server_default=NOW),
        sa.CheckConstraint("ends_at > starts_at", name="alert_silences_interval_ordered"),
    )
    op.create_table(
        "webhook_endpoints",
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
        sa.CheckConstraint(
            "format IN ('standard', 'alertmanager', 'pagerduty', 'slack')", name="webhook_endpoints_format"
        ),
    )
    # Notifications written in the transaction of the state change; the dispatcher sends them after commit.
    op.create_table(
        "webhook_outbox",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("endpoint_id", sa.Integer, sa.ForeignKey("webhook_endpoints.id", ondelete="CASCADE"), nullable=False),
        sa.Column("alert_id", sa.Integer, sa.ForeignKey("alerts.id", ondelete="CASCADE"), nullable=False),
        sa.Column("event_type", sa.Text, nullable=False),
        sa.Column("webhook_id", sa.Text, nullable=False, unique=True),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False, server_default="pending"),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", TSTZ, nullable=False, server_default=NOW),
        sa.Column("created_at", TSTZ, nullable=False, server_default=NOW),
        sa.Column("delivered_at", TSTZ, nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.CheckConstraint("status IN ('pending', 'delivered', 'dead')", name="webhook_outbox_status_known"),
        sa.Index("webhook_outbox_due", "next_attempt_at", "id", postgresql_where=PENDING),
        sa.Index("webhook_outbox_order", "endpoint_id", "alert_id", "id", postgresql_where=PENDING),
    )
    op.create_table(
        "webhook_attempts",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("outbox_id", sa.BigInteger, sa.ForeignKey("webhook_outbox.id", ondelete="CASCADE"), nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("at", TSTZ, nullable=False),
        sa.Column("status_code", sa.Integer, nullable=True),
        sa.Column("latency_ms", sa.Float, nullable=False),
        sa.Column("error", sa.Text, nullable=True),
        sa.Index("webhook_attempts_outbox_id", "outbox_id", "id"),
    )


def downgrade() -> None:
    for table in TABLES:
        op.drop_table(table)
