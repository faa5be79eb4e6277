"""The one place statements get their numbers: `services.api.service.plant_settlement`, the function behind
`GET /v1/plants/{plant}/compliance` (same function, same inputs → same numbers). Statements compute none."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

import asyncpg

from services.api.catalog import Plant, Signal
from services.api.service import compliance_method, plant_settlement
from services.api.settings import Settings
from shared.ledger.canonical import timestamp
from shared.ledger.payload import PeriodNumbers
from shared.settlement import PeriodSettlement


async def settle(
    conn: asyncpg.Connection, plant: Plant, net: Signal, start: datetime, end: datetime, settings: Settings
) -> tuple[list[PeriodNumbers], dict[str, Any], dict[str, str]]:
    """Periods overlapping [start, end) with their numbers, the totals and the method block."""
    results, totals = await plant_settlement(conn, plant.key, start, end, settings=settings)
    return [_numbers(r) for r in results], asdict(totals), compliance_method(settings)


def _numbers(r: PeriodSettlement) -> PeriodNumbers:
    c = r.commitment
    version = (
        None
        if c is None
        else {
            "commitment_id": c.commitment_id,
            "valid_from": timestamp(c.valid_from),
            "committed_mw": c.committed_mw,
            "tolerance_mw": c.tolerance_mw,
            "period_s": c.period_s,
            "source": c.source,
        }
    )
    return PeriodNumbers(
        r.start,
        r.end,
        r.status,
        r.committed_mw,
        r.tolerance_mw,
        r.delivered_mw,
        r.deviation_mw,
        r.deviation_mwh,
        r.delivered_mwh,
        r.coverage,
        version,
        r.note,
    )
