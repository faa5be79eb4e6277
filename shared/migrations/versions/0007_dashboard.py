"""Dashboard: browser sign-in sessions, and a read-only database role for Grafana.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27

Sessions: one row per signed-in browser, keyed by the SHA-256 of a random session id (the cookie holds the id, the
database only its hash), pointing at the API key that signed in. Revoking the key ends its sessions (the lookup joins
`api_keys.revoked_at`); deleting it deletes them.

`baseload_readonly` is a NOLOGIN group role with SELECT on the telemetry, commitment and alert tables (not on keys,
sessions or idempotency records). A Grafana login role is made a member of it (deploy/grafana/README.md). Roles
belong to the whole PostgreSQL cluster, not to one database: creating it tolerates an existing role (and a concurrent
creator), and the downgrade only revokes this database's grants, since other databases may still use the role.
Without the CREATEROLE privilege the role is skipped with a NOTICE; the grants follow only if the role exists.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

TSTZ = sa.DateTime(timezone=True)
READONLY_ROLE = "baseload_readonly"
READABLE_TABLES = (
    "plants",
    "plant_partners",
    "signals",
    "readings",
    "rollups_1m",
    "commitments",
    "commitment_schedule",
    "commitment_exclusions",
    "alert_rules",
    "alerts",
    "alert_transitions",
)


def _grant_sql(verb: str) -> str:
    tables = ", ".join(READABLE_TABLES)
    action = (
        f"GRANT SELECT ON {tables} TO {READONLY_ROLE}"
        if verb == "grant"
        else f"REVOKE SELECT ON {tables} FROM {READONLY_ROLE}"
    )
    schema = (
        f"GRANT USAGE ON SCHEMA public TO {READONLY_ROLE}"
        if verb == "grant"
        else f"REVOKE USAGE ON SCHEMA public FROM {READONLY_ROLE}"
    )
    return f"""
DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = '{READONLY_ROLE}') THEN
        EXECUTE '{schema}';
        EXECUTE '{action}';
    END IF;
END $$"""


CREATE_ROLE = f"""
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{READONLY_ROLE}') THEN
        CREATE ROLE {READONLY_ROLE} NOLOGIN;
    END IF;
EXCEPTION
    WHEN duplicate_object OR unique_violation THEN NULL;  -- created meanwhile by a migration of another database
    WHEN insufficient_privilege THEN RAISE NOTICE 'no CREATEROLE privilege: role {READONLY_ROLE} not created';
END $$"""


def upgrade() -> None:
    op.create_table(
        "ui_sessions",
        sa.Column("id_hash", sa.LargeBinary, primary_key=True),
        sa.Column("api_key_id", sa.Integer, sa.ForeignKey("api_keys.id", ondelete="CASCADE"), nullable=False),
        sa.Column("created_at", TSTZ, nullable=False, server_default=sa.text("now()")),
        sa.Column("expires_at", TSTZ, nullable=False),
    )
    op.create_index("ui_sessions_expires_at", "ui_sessions", ["expires_at"])
    op.execute(CREATE_ROLE)
    op.execute(_grant_sql("grant"))


def downgrade() -> None:
    op.execute(_grant_sql("revoke"))
    op.drop_table("ui_sessions")
