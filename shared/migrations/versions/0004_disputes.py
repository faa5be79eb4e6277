"""Disputes and two-party corrections (with the reading-substitution overlay), and partner-owned webhook endpoints.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TSTZ = sa.DateTime(timezone=True)
NOW = sa.text("now()")
JSONB = postgresql.JSONB(astext_type=sa.Text())
EMPTY_JSON = sa.text("'{}'::jsonb")

TABLES = ("reading_substitutions", "correction_approvals", "corrections", "dispute_events", "disputes")


def upgrade() -> None:
    op.create_table(
        "disputes",
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
    op.create_table(
        "dispute_events",
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
    op.create_table(
        "corrections",
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
    op.create_table(
        "correction_approvals",
        sa.Column("correction_id", sa.Integer, sa.ForeignKey("corrections.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("partner", sa.Text, primary_key=True),
        sa.Column("approved_by", sa.Text, nullable=False),
        sa.Column("key_id", sa.Integer, sa.ForeignKey("api_keys.id"), nullable=False),
        sa.Column("at", TSTZ, nullable=False),
    )
    # The overlay: substitute readings of a correction. Original readings are never changed.
    op.create_table(
        "reading_substitutions",
        sa.Column("correction_id", sa.Integer, sa.ForeignKey("corrections.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("ts", TSTZ, primary_key=True),
        sa.Column("value", sa.Float, nullable=False),
        sa.Column("quality", sa.Integer, nullable=False),
    )
    # Partner-owned endpoints: scoped to one plant and one partner (NULL: an operator endpoint of the alerts service).
    op.add_column("webhook_endpoints", sa.Column("partner", sa.Text, nullable=True))
    op.add_column(
        "webhook_endpoints",
        sa.Column("plant_id", sa.Integer, sa.ForeignKey("plants.id", ondelete="CASCADE"), nullable=True),
    )
    op.add_column(
        "webhook_endpoints",
        sa.Column("event_types", postgresql.ARRAY(sa.Text), nullable=False, server_default=sa.text("'{}'::text[]")),
    )
    op.create_check_constraint(
        "webhook_endpoints_partner_scoped", "webhook_endpoints", "(partner IS NULL) = (plant_id IS NULL)"
    )
    # Settlement events (statement.restated, dispute.*) are not about an alert.
    op.alter_column("webhook_outbox", "alert_id", nullable=True)


def downgrade() -> None:
    op.execute("DELETE FROM webhook_outbox WHERE alert_id IS NULL")
    op.alter_column("webhook_outbox", "alert_id", nullable=False)
    op.drop_constraint("webhook_endpoints_partner_scoped", "webhook_endpoints")
    op.execute("DELETE FROM webhook_endpoints WHERE partner IS NOT NULL")
    for column in ("event_types", "plant_id", "partner"):
        op.drop_column("webhook_endpoints", column)
    for table in TABLES:
        op.drop_table(table)
