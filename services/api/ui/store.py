"""SQL of the dashboard: sign-in sessions and the alerts it shows. Functions take a connection and never commit."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from shared.auth import Principal


async def create_session(conn: asyncpg.Connection, id_hash: bytes, key_id: int, expires_at: datetime) -> None:
    await conn.execute(
        "INSERT INTO ui_sessions (id_hash, api_key_id, expires_at) VALUES ($1, $2, $3)", id_hash, key_id, expires_at
    )


async def session_principal(conn: asyncpg.Connection, id_hash: bytes, now: datetime) -> Principal | None:
    """The key behind a live session: unexpired, and the key not revoked."""
    row = await conn.fetchrow(
        """SELECT k.id, k.name, k.role, k.partner FROM ui_sessions s JOIN api_keys k ON k.id = s.api_key_id
           WHERE s.id_hash = $1 AND s.expires_at > $2 AND k.revoked_at IS NULL""",
        id_hash,
        now,
    )
    return Principal(row["id"], row["name"], row["role"], row["partner"]) if row else None


async def delete_session(conn: asyncpg.Connection, id_hash: bytes) -> None:
    await conn.execute("DELETE FROM ui_sessions WHERE id_hash = $1", id_hash)


async def delete_expired_sessions(conn: asyncpg.Connection, now: datetime) -> int:
    result = await conn.execute("DELETE FROM ui_sessions WHERE expires_at <= $1", now)
    return int(result.split()[-1])


@dataclass(frozen=True, slots=True)
class AlertView:
    id: int
    rule: str
    severity: str
    state: str
    summary_value: float | None
    labels: dict[str, Any]
    evidence: dict[str, Any]
    pending_since: datetime | None
    firing_since: datetime | None
    resolved_at: datetime | None
    evaluated_at: datetime | None
    acked_by: str | None
    acked_at: datetime | None
    ack_comment: str | None


ALERTS_SQL = """
SELECT a.id, r.name AS rule, r.severity, a.state, a.value, a.labels::text AS labels, a.evidence::text AS evidence,
       a.pending_since, a.firing_since, a.resolved_at, a.evaluated_at, a.acked_by, a.acked_at, a.ack_comment
FROM alerts a JOIN alert_rules r ON r.id = a.rule_id
WHERE (a.labels->>'plant' = $1 OR ($2 AND a.labels->>'plant' IS NULL))
  AND (a.state IN ('firing', 'pending') OR (a.state = 'resolved' AND a.resolved_at >= $3))
ORDER BY (a.state = 'firing') DESC, (a.state = 'pending') DESC,
         coalesce(a.resolved_at, a.firing_since, a.pending_since) DESC NULLS LAST, a.id DESC
LIMIT $4
"""


async def plant_alerts(
    conn: asyncpg.Connection,
    plant: str,
    *,
    with_unlabelled: bool,
    resolved_since: datetime,
    limit: int = 100,
) -> list[AlertView]:
    """Firing and pending alerts of a plant, and those resolved since `resolved_since`; firing first."""
    rows = await conn.fetch(ALERTS_SQL, plant, with_unlabelled, resolved_since, limit)
    return [
        AlertView(
            r["id"],
            r["rule"],
            r["severity"],
            r["state"],
            r["value"],
            json.loads(r["labels"]),
            json.loads(r["evidence"]),
            r["pending_since"],
            r["firing_since"],
            r["resolved_at"],
            r["evaluated_at"],
            r["acked_by"],
            r["acked_at"],
            r["ack_comment"],
        )
        for r in rows
    ]


async def alert_plant(conn: asyncpg.Connection, alert_id: int) -> tuple[bool, str | None]:
    """(exists, the plant label) of an alert."""
    row = await conn.fetchrow("SELECT labels->>'plant' AS plant FROM alerts WHERE id = $1", alert_id)
    return (row is not None, row["plant"] if row else None)
