"""The one place where an applied correction restates its settlement period.

The statements service recomputes the period (and its plant-local day) through the same settlement path the
compliance endpoint serves — which consults applied corrections (`corrected.corrected_integrals`) — and issues new
signed revisions, with `statement.restated` to both partners' endpoints, in the caller's transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

from services.api.disputes.workflow import Refusal
from services.api.statements.service import Issuing, IssuingError, restate


async def restate_period(
    conn: asyncpg.Connection,
    ctx: Issuing,
    plant_key: str,
    period_start: datetime,
    *,
    reason: str,
    now: datetime,
    details: dict[str, Any],
) -> list[dict[str, Any]]:
    """New revisions of the period's statements (JSON-able); none if the period has no statement yet (its first
    statement will carry the correction). Refused, and the approval rolled back, if it cannot be signed."""
    try:
        issued = await restate(conn, ctx, plant_key, period_start, reason, now=now, details=details)
    except IssuingError as exc:
        if exc.code == "unknown_period":
            return []
        raise Refusal(
            503 if exc.code == "no_signing_key" else 409,
            f"restatement_{exc.code}",
            f"The correction was not applied: the period cannot be restated ({exc.message})",
            {"reason": exc.code},
        ) from exc
    return [
        {
            "kind": s.kind,
            "period_start": s.period_start.isoformat(),
            "period_end": s.period_end.isoformat(),
            "revision": s.revision,
            "hash": s.hash,
        }
        for s in issued
    ]
