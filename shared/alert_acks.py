"""Acknowledging a firing alert: the one write that the alerts service and the dashboard both make.

The alerts service owns alert state (services/alerts/lifecycle.py); an acknowledgement is the only change another
service may make to it, because it is an operator's statement, not an evaluation. It must leave the database exactly
as the alerts service's own `POST /v1/alerts/{id}/ack` leaves it (`config_store.set_ack`): `acked_by`, `ack_comment`
and `acked_at = now()` on a row that is firing, nothing on any other row. The evaluator then stops reminders for the
incident (`lifecycle._notify_while_firing` reads `acked_at`) and clears the ack when the incident ends. The function
takes a connection inside the caller's transaction and never commits.
"""

from __future__ import annotations

from typing import Literal

import asyncpg

AckOutcome = Literal["acknowledged", "not_firing", "unknown_alert"]

ACK_SQL = """
UPDATE alerts SET acked_by = $2, ack_comment = $3, acked_at = now()
WHERE id = $1 AND state = 'firing'
RETURNING id
"""


async def acknowledge(conn: asyncpg.Connection, alert_id: int, who: str, comment: str | None) -> AckOutcome:
    """Acknowledge a firing alert as `who`; say why not when it is unknown or not firing."""
    state = await conn.fetchval("SELECT state FROM alerts WHERE id = $1 FOR UPDATE", alert_id)
    if state is None:
        return "unknown_alert"
    if await conn.fetchval(ACK_SQL, alert_id, who, comment) is None:
        return "not_firing"
    return "acknowledged"
