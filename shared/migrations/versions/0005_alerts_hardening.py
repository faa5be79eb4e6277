"""Alerts hardening: delivery leases on the outbox (the POST is sent with no transaction open) and the last
load/evaluation error of each rule (one broken rule is marked and skipped, the others keep running).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TSTZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column("webhook_outbox", sa.Column("leased_until", TSTZ, nullable=True))
    op.add_column("webhook_outbox", sa.Column("lease_token", sa.Text, nullable=True))
    op.add_column("alert_rules", sa.Column("last_error", sa.Text, nullable=True))
    op.add_column("alert_rules", sa.Column("last_error_at", TSTZ, nullable=True))


def downgrade() -> None:
    op.drop_column("alert_rules", "last_error_at")
    op.drop_column("alert_rules", "last_error")
    op.drop_column("webhook_outbox", "lease_token")
    op.drop_column("webhook_outbox", "leased_until")
