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

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from shared.settlement.integral import EPOCH, Integral, hold_us, micros


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


@dataclass(slots=True)
class RollupColumns:
    """Rollup rows of one signal as parallel lists (times in epoch microseconds, steps and held time in seconds):
    the fast form of a sequence of `RollupRow`, as the store reads it."""

    start_us: list[int]
    first_us: list[int]
    last_us: list[int]
    last_value: list[float]
    last_good: list[bool]
    last_step_s: list[float | None]
    max_step_s: list[float]
    area: list[float]
    good_area: list[float]
    good_held_s: list[float]

    @classmethod
    def of(cls, rows: Sequence[RollupRow]) -> RollupColumns:
        return cls(
            [micros(r.start) for r in rows],
            [micros(r.first_ts) for r in rows],
            [micros(r.last_ts) for r in rows],
            [r.last_value for r in rows],
            [r.last_good for r in rows],
            [r.last_step_s for r in rows],
            [r.max_step_s for r in rows],
            [r.area for r in rows],
            [r.good_area for r in rows],
            [r.good_held_s for r in rows],
        )


def rollup_integrals(
    rows: Sequence[RollupRow], edges: Sequence[datetime], *, max_gap_s: float, good_only: bool = True
) -> list[Integral]:
    """The held integral in each bucket [edges[i], edges[i+1]) from rollup rows in time order.

    Bucket edges must fall on row boundaries. Pass every row inside the buckets plus the two rows before the first
    edge and the one row after the last edge where they exist (at any distance): edge holds depend on them.
    Raises `NotExact` for a row inside the buckets whose longest inner step exceeds `max_gap_s`.
    """
    return column_integrals(
        RollupColumns.of(rows), [micros(e) for e in edges], max_gap_s=max_gap_s, good_only=good_only
    )


def column_integrals(
    c: RollupColumns, bounds: Sequence[int], *, max_gap_s: float, good_only: bool = True
) -> list[Integral]:
    """`rollup_integrals` over `RollupColumns` and bucket edges in epoch microseconds (the same rule, one pass)."""
    n = len(bounds) - 1
    gap = round(max_gap_s * 1_000_000)
    area, covered = [0.0] * n, [0] * n
    rows = len(c.start_us)
    lo_edge, hi_edge = bounds[0], bounds[-1]
    i = 0  # the bucket of the current row's start: rows and buckets both advance in time
    for k in range(rows):
        start = c.start_us[k]
        last = c.last_us[k]
        if lo_edge <= start < hi_edge:
            if round(c.max_step_s[k] * 1_000_000) > gap:
                raise NotExact(EPOCH + timedelta(microseconds=start))
            while bounds[i + 1] <= start:
                i += 1
            if good_only:
                area[i] += c.good_area[k]
                covered[i] += round(c.good_held_s[k] * 1_000_000)
            else:
                area[i] += c.area[k]
                covered[i] += last - c.first_us[k]
        if good_only and not c.last_good[k]:
            continue
        nxt = c.first_us[k + 1] - last if k + 1 < rows else None
        step = c.last_step_s[k]
        prev = round(step * 1_000_000) if step is not None else (last - c.last_us[k - 1] if k > 0 else None)
        hi = last + hold_us(nxt, prev, gap)
        if hi <= lo_edge or last >= hi_edge:
            continue
        j = i if lo_edge <= start else 0
        while bounds[j + 1] <= last:
            j += 1
        value = c.last_value[k]
        while j < n and bounds[j] < hi:
            part = min(hi, bounds[j + 1]) - max(last, bounds[j])
            if part > 0:
                area[j] += value * (part / 1_000_000)
                covered[j] += part
            j += 1
    return [Integral(a, cv / 1_000_000) for a, cv in zip(area, covered, strict=True)]
