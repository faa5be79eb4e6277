"""Acknowledging a firing alert: the one write that the alerts service and the dashboard both make.

The alerts service owns alert state (services/alerts/lifecycle.py); an acknowledgement is the only change another
service may make to it, because it is an operator's statement, not an evaluation. It must leave the database exactly
as the alerts service's own `POST /v1/alerts/{id}/ack` leaves it, so both run `set_ack` below: `acked_by`,
`ack_comment` and `acked_at = now()` on a row that is firing, nothing on any other row. The evaluator then stops
reminders for the incident (`lifecycle._notify_while_firing` reads `acked_at`) and clears the ack when the incident
ends. The functions take a connection inside the caller's transaction and never commit.
"""

from __future__ import annotations

from typing import Literal

import asyncpg

AckOutcome = Literal["acknowledged", "not_firing", "unknown_alert"]

# The one statement that sets (who given) or withdraws (who NULL) an acknowledgement, on a firing alert only.
ACK_SQL = """
UPDATE alerts SET acked_by = $2, ack_comment = $3, acked_at = CASE WHEN $2::text IS NULL THEN NULL ELSE now() END
WHERE id = $1 AND state = 'firing'
RETURNING id
"""


async def set_ack(conn: asyncpg.Connection, alert_id: int, who: str | None, comment: str | None) -> bool:
    """Acknowledge as `who` (or, with `who` None, withdraw the acknowledgement); False if the alert is not firing."""
    return await conn.fetchval(ACK_SQL, alert_id, who, comment) is not None


async def acknowledge(conn: asyncpg.Connection, alert_id: int, who: str, comment: str | None) -> AckOutcome:
    """Acknowledge a firing alert as `who`; say why not when it is unknown or not firing."""
    state = await conn.fetchval("SELECT state FROM alerts WHERE id = $1 FOR UPDATE", alert_id)
    if state is None:
        return "unknown_alert"
    if not await set_ack(conn, alert_id, who, comment):
        return "not_firing"
    return "acknowledged"
