"""The api's service layer: settlement numbers and bucket columns, each computed through shared.settlement.

`plant_settlement` is THE function behind `GET /v1/plants/{plant}/compliance`; statements call it too, so the
same inputs always give the same numbers.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from services.api import queries, store
from services.api.aggregates import shape_grid
from services.api.buckets import Bucketing
from services.api.cache import BucketCache
from services.api.catalog import Signal
from services.api.disputes.corrected import corrected_integrals
from services.api.settings import Settings
from shared.commitments import Commitment
from shared.errors import ApiError
from shared.settlement import (
    Exclusion,
    Integral,
    PeriodSettlement,
    Totals,
    excluded_by,
    settle_period,
    settlement_periods,
    totals,
)
from shared.settlement import method as settlement_method


def commitments_from(rows: Sequence[Any]) -> list[Commitment]:
    return [
        Commitment(
            r["valid_from"],
            r["valid_to"],
            r["committed_mw"],
            r["tolerance_mw"],
            r["tolerance_pct"],
            r["settlement_period_s"],
            r["id"],
        )
        for r in rows
    ]


async def plant_settlement(
    conn: store.Conn,
    plant_key: str,
    start: datetime,
    end: datetime,
    *,
    settings: Settings,
    cache: BucketCache | None = None,
    closed_before: datetime | None = None,
) -> tuple[list[PeriodSettlement], Totals]:
    """Every settlement period of the plant overlapping [start, end) with its verdict, and the totals.

    Delivered numbers come from the held integral of the plant's Good net-output readings (exact, from the rollups
    or raw readings); raises `shared.settlement.TooManyPeriods` beyond `settings.max_buckets` periods and ApiError
    404 for an unknown plant or one without a net-output signal. `cache` only serves closed periods.
    """
    found = await store.plant_net_output(conn, plant_key)
    if found is None:
        raise ApiError(404, "unknown_plant", f"No plant {plant_key!r} with a net_output signal.", {"plant": plant_key})
    plant_id, net_id = found
    flat, schedule, excl = await store.commitment_rows(conn, plant_id, start, end)
    periods = settlement_periods(
        start,
        end,
        commitments_from(flat),
        {r["period_start"]: r["committed_mw"] for r in schedule},
        settings.settlement_period_s,
        limit=settings.max_buckets,
    )
    if not periods:
        return [], totals([])
    held = await _period_integrals(
        conn,
        net_id,
        [p.start for p in periods] + [periods[-1].end],
        settings=settings,
        cache=cache,
        closed_before=closed_before,
    )
    # Periods with an applied two-party correction (issue 11.5) are settled from the corrected integral.
    corrected = await corrected_integrals(
        conn, plant_id, net_id, [(p.start, p.end) for p in periods], max_gap_s=settings.max_gap_s
    )
    held = [corrected.get(p.start, h) for p, h in zip(periods, held, strict=True)]
    exclusions = [Exclusion(r["starts_at"], r["ends_at"], r["reason"]) for r in excl]
    results = [
        settle_period(
            p.start,
            p.end,
            p.commitment,
            excluded_by(p.start, p.end, exclusions),
            h,
            min_coverage=settings.compliance_min_coverage,
        )
        for p, h in zip(periods, held, strict=True)
    ]
    return results, totals(results)


async def _period_integrals(
    conn: store.Conn,
    signal_id: int,
    edges: list[datetime],
    *,
    settings: Settings,
    cache: BucketCache | None,
    closed_before: datetime | None,
) -> list[Integral]:
    """Good held integral per period; regular periods go through the bucket cache."""
    width = edges[1] - edges[0]
    regular = all(b - a == width for a, b in itertools.pairwise(edges))
    if cache is not None and closed_before is not None and regular:
        b = Bucketing(width, edges[0], edges[-1])
        got = await queries.integral_arrays(
            conn, cache, [signal_id], b, good=True, max_gap_s=settings.max_gap_s, closed_before=closed_before
        )
        return got[signal_id].to_list()
    exact = await queries.exact_integrals(conn, [signal_id], edges, good=True, max_gap_s=settings.max_gap_s)
    return exact[signal_id].to_list()


def compliance_method(settings: Settings) -> dict[str, str]:
    return settlement_method(
        max_gap_s=settings.max_gap_s,
        min_coverage=settings.compliance_min_coverage,
        default_period_s=settings.settlement_period_s,
    )


async def bucket_columns(
    conn: store.Conn,
    cache: BucketCache | None,
    signals: Sequence[Signal],
    b: Bucketing,
    fns: Sequence[str],
    fill_mode: str,
    *,
    good: bool,
    settings: Settings,
    closed_before: datetime,
) -> dict[int, dict[str, list[Any]]]:
    """Per signal, the aggregate arrays of `fns` with count and held coverage (twa and coverage from the exact
    held integral; avg, min, max, first, last from the rollups or, for sub-minute buckets, raw readings)."""
    ids = [s.id for s in signals]
    if b.fine:
        grid = await store.raw_buckets(conn, ids, b, good=good)
        held = await queries.exact_integrals(
            conn, ids, queries.bucket_edges(b), good=good, max_gap_s=settings.max_gap_s
        )
        return {i: shape_grid(grid[i], b, fns, held[i], fill_mode) for i in ids}
    got = await queries.bucket_arrays(
        conn, cache, ids, b, fns, good=good, max_gap_s=settings.max_gap_s, closed_before=closed_before
    )
    out = {}
    for i in ids:
        values, integral = got[i]
        assert values is not None  # asked for with fns
        out[i] = shape_grid(values, b, fns, integral, fill_mode)
    return out
