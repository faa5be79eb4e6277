"""Signed statements (per-plant hash chain), published signing keys, ingest batch provenance, issuer watermark.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

TSTZ = sa.DateTime(timezone=True)
NOW = sa.text("now()")
JSONB = postgresql.JSONB(astext_type=sa.Text())


def upgrade() -> None:
    op.create_table(
        "signing_keys",
        sa.Column("kid", sa.Text, primary_key=True),
        sa.Column("jwk", JSONB, nullable=False),
        sa.Column("created_at", TSTZ, nullable=False, server_default=NOW),
    )
    op.create_table(
        "statements",
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
    op.create_table(
        "statement_issuer",
        sa.Column("plant_id", sa.Integer, sa.ForeignKey("plants.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("batches_seen_until", TSTZ, nullable=False),
    )
    op.create_table(
        "ingest_batches",
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


def downgrade() -> None:
    for table in ("ingest_batches", "statement_issuer", "statements", "signing_keys"):
        op.drop_table(table)
