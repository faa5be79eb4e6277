"""The one place statements get their numbers: the api's settlement code path, same function and inputs as
`GET /v1/plants/{plant}/compliance`. Statements never compute a settlement number themselves."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

from services.api import store as api_store
from services.api.buckets import Bucketing
from services.api.catalog import Plant, Signal
from services.api.compliance import Exclusion, PeriodResult, assess, committed_at, period_length, period_starts, totals
from services.api.reports import _commitments, _compliance_method
from services.api.settings import Settings
from shared.ledger.canonical import timestamp
from shared.ledger.payload import PeriodNumbers


async def settle(conn: asyncpg.Connection, plant: Plant, net: Signal, start: datetime, end: datetime,
                 settings: Settings) -> tuple[list[PeriodNumbers], dict[str, Any], dict[str, str]]:
    """Periods covering [start, end) with their numbers, the totals and the method block."""
    flat, schedule, excl = await api_store.commitment_rows(conn, plant.id, start, end)
    commitments = _commitments(flat)
    period = period_length(commitments, settings.settlement_period_s)
    starts = period_starts(start, end, period)
    if not starts:
        return [], totals([], period), _compliance_method(settings)
    b = Bucketing(period, starts[0], starts[-1] + period)
    ints = await api_store.integrals(conn, [net.id], b, good=True, method=settings.integration,
                                     max_gap_s=settings.max_gap_s)
    overrides = {r["period_start"]: r["committed_mw"] for r in schedule}
    results = assess(starts, period, commitments, overrides,
                     [Exclusion(r["starts_at"], r["ends_at"], r["reason"]) for r in excl],
                     {k[1]: v for k, v in ints.items()}, settings.compliance_min_coverage)
    numbers = [_numbers(r, committed_at(r.start, commitments, overrides), r.start in overrides) for r in results]
    return numbers, totals(results, period), _compliance_method(settings)


def _numbers(r: PeriodResult, commitment: Any, scheduled: bool) -> PeriodNumbers:
    version = None
    if commitment is not None:
        c = commitment[1]
        version = {"commitment_id": None, "valid_from": timestamp(c.valid_from), "committed_mw": r.committed_mw,
                   "tolerance_mw": r.tolerance_mw, "period_s": c.settlement_period_s,
                   "source": "schedule" if scheduled else "commitment"}
    return PeriodNumbers(r.start, r.end, r.status, r.committed_mw, r.tolerance_mw, r.delivered_mw, r.deviation_mw,
                         r.deviation_mwh, r.delivered_mwh, r.coverage, version, r.note)
