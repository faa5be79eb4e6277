"""Where settlement consults approved corrections: the integral of each corrected period, from the overlay.

`plant_settlement` (services/api/service.py) asks `corrected_integrals` for its periods and uses the returned
integral in place of the rollup one, so the compliance endpoint and the statements settle corrected periods alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import asyncpg

from services.api.disputes import store
from shared.settlement.corrections import EnergyOverride, corrected_integral, correction_for, correction_margin
from shared.settlement.integral import Integral, Reading


async def corrected_integrals(
    conn: asyncpg.Connection,
    plant_id: int,
    signal_id: int,
    periods: Sequence[tuple[datetime, datetime]],
    *,
    max_gap_s: float,
) -> dict[datetime, Integral]:
    """{period start: integral} for the periods an applied correction touches, or reaches within one hold (a
    substitute just before a period holds into it); other periods are absent."""
    if not periods:
        return {}
    margin = correction_margin(max_gap_s)
    lo, hi = min(p[0] for p in periods), max(p[1] for p in periods)
    applied = await store.applied_corrections(conn, plant_id, signal_id, lo - margin, hi + margin)
    if not applied:
        return {}
    out: dict[datetime, Integral] = {}
    for start, end in periods:
        correction = correction_for(applied, start, end, max_gap_s=max_gap_s)
        if correction is None:
            continue
        readings = (
            []
            if isinstance(correction, EnergyOverride)
            else [
                Reading(ts, value, quality)
                for ts, value, quality in await store.raw_readings(conn, signal_id, start - margin, end + margin)
            ]
        )
        out[start] = corrected_integral(readings, correction, start, end, max_gap_s=max_gap_s)
    return out
