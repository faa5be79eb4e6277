"""The held integral from rollup rows, equal to `integral.held_integrals` over the raw readings. Pure.

A rollup row (1 minute, 15 minutes or 1 hour of one signal) carries, over its readings of every quality:
first and last reading time, the last value and whether it is Good, the step from the reading before the last one
(None with a single reading), the longest step between its consecutive readings, and the inner areas
Σ vᵢ·(tᵢ₊₁ − tᵢ) over its consecutive readings (all qualities; and Good-only with the held seconds of Good readings).
When every inner step is within `max_gap_s` the inner part is exactly the readings' holds inside the row; the hold
of the row's last reading is resolved across rows with the same rule as the raw integral. A row whose longest step
exceeds `max_gap_s` cannot be combined exactly (`NotExact`): the caller uses finer rows or raw readings there.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from shared.settlement.integral import Integral, hold_us, micros


class NotExact(ValueError):
    """A rollup row has an inner step longer than the maximum gap: its inner area is not the held integral."""

    def __init__(self, row_start: datetime) -> None:
        super().__init__(f"rollup row at {row_start.isoformat()} has a step longer than the maximum gap")
        self.row_start = row_start


@dataclass(slots=True)
class RollupRow:
    start: datetime  # the row's bucket [start, end)
    end: datetime
    first_ts: datetime
    last_ts: datetime
    last_value: float
    last_good: bool
    last_step_s: float | None  # from the reading before the last one, inside the row; None with one reading
    max_step_s: float  # longest step between consecutive readings inside the row; 0 with one reading
    area: float  # Σ vᵢ·(tᵢ₊₁ − tᵢ) over consecutive readings inside the row, all qualities
    good_area: float  # the same, over pairs whose first reading is Good
    good_held_s: float  # Σ (tᵢ₊₁ − tᵢ) over those pairs


def _us(seconds: float) -> int:
    return round(seconds * 1_000_000)


def rollup_integrals(rows: Sequence[RollupRow], edges: Sequence[datetime], *, max_gap_s: float,
                     good_only: bool = True) -> list[Integral]:
    """The held integral in each bucket [edges[i], edges[i+1]) from rollup rows in time order.

    Bucket edges must fall on row boundaries. Pass every row inside the buckets plus the two rows before the first
    edge and the one row after the last edge where they exist (at any distance): edge holds depend on them.
    Raises `NotExact` for a row inside the buckets whose longest inner step exceeds `max_gap_s`.
    """
    bounds = [micros(e) for e in edges]
    n = len(bounds) - 1
    gap = _us(max_gap_s)
    area, covered = [0.0] * n, [0] * n
    last = [micros(r.last_ts) for r in rows]
    for k, r in enumerate(rows):
        lo = micros(r.start)
        inside = bounds[0] <= lo < bounds[-1]
        if inside:
            if _us(r.max_step_s) > gap:
                raise NotExact(r.start)
            i = bisect.bisect_right(bounds, lo) - 1
            area[i] += r.good_area if good_only else r.area
            covered[i] += _us(r.good_held_s) if good_only else last[k] - micros(r.first_ts)
        if good_only and not r.last_good:
            continue
        t = last[k]
        nxt = micros(rows[k + 1].first_ts) - t if k + 1 < len(rows) else None
        if r.last_step_s is not None:
            prev: int | None = _us(r.last_step_s)
        else:
            prev = t - last[k - 1] if k > 0 else None
        hi = t + hold_us(nxt, prev, gap)
        if hi <= bounds[0] or t >= bounds[-1]:
            continue
        i = max(0, bisect.bisect_right(bounds, t) - 1)
        while i < n and bounds[i] < hi:
            part = min(hi, bounds[i + 1]) - max(t, bounds[i])
            if part > 0:
                area[i] += r.last_value * (part / 1_000_000)
                covered[i] += part
            i += 1
    return [Integral(a, c / 1_000_000) for a, c in zip(area, covered, strict=True)]
