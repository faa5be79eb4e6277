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

import numpy as np

from shared.settlement.integral import (
    EPOCH,
    F64,
    I64,
    Bools,
    Integral,
    Integrals,
    edges_us,
    hold_lengths,
    micros,
    spread,
)


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
    """Rollup rows as parallel arrays, in time order per signal (times in epoch µs, steps and held time in seconds,
    NaN for a missing `last_step_s`): the form the store reads and `column_integrals` computes on. A store may leave
    out (as empty arrays) the inner areas a quality filter does not use: `area` for Good only, `good_area` and
    `good_held_s` for all readings."""

    start_us: I64
    first_us: I64
    last_us: I64
    last_value: F64
    last_good: Bools
    last_step_s: F64
    max_step_s: F64
    area: F64
    good_area: F64
    good_held_s: F64

    @classmethod
    def of(cls, rows: Sequence[RollupRow]) -> RollupColumns:
        return cls(
            np.array([micros(r.start) for r in rows], dtype=np.int64),
            np.array([micros(r.first_ts) for r in rows], dtype=np.int64),
            np.array([micros(r.last_ts) for r in rows], dtype=np.int64),
            np.array([r.last_value for r in rows], dtype=np.float64),
            np.array([r.last_good for r in rows], dtype=np.bool_),
            np.array([np.nan if r.last_step_s is None else r.last_step_s for r in rows], dtype=np.float64),
            np.array([r.max_step_s for r in rows], dtype=np.float64),
            np.array([r.area for r in rows], dtype=np.float64),
            np.array([r.good_area for r in rows], dtype=np.float64),
            np.array([r.good_held_s for r in rows], dtype=np.float64),
        )

    @classmethod
    def empty(cls) -> RollupColumns:
        i, f = np.zeros(0, np.int64), np.zeros(0)
        return cls(i, i, i, f, np.zeros(0, np.bool_), f, f, f, f, f)

    def take(self, rows: Bools) -> RollupColumns:
        """The rows where `rows` is True (columns left out stay empty)."""
        n = len(self.start_us)
        return RollupColumns(*(c[rows] if len(c) == n else c for c in (getattr(self, f) for f in _FIELDS)))


_FIELDS = tuple(RollupColumns.__dataclass_fields__)


def rollup_integrals(
    rows: Sequence[RollupRow], edges: Sequence[datetime], *, max_gap_s: float, good_only: bool = True
) -> list[Integral]:
    """The held integral in each bucket [edges[i], edges[i+1]) from rollup rows in time order.

    Bucket edges must fall on row boundaries. Pass every row inside the buckets plus the two rows before the first
    edge and the one row after the last edge where they exist (at any distance): edge holds depend on them.
    Raises `NotExact` for a row inside the buckets whose longest inner step exceeds `max_gap_s`.
    """
    got = column_integrals(RollupColumns.of(rows), edges_us(edges), max_gap_s=max_gap_s, good_only=good_only)
    return got.to_list()


def _us(seconds: F64) -> I64:
    """Seconds → integer µs, rounded half to even as Python's round()."""
    return np.rint(seconds * 1_000_000).astype(np.int64)


def inexact_rows(c: RollupColumns, bounds: I64, *, max_gap_s: float) -> Bools:
    """Rows inside the buckets whose longest inner step exceeds `max_gap_s`: their inner area is not the held
    integral, so their signal must be computed from finer rows or raw readings."""
    inside = (c.start_us >= bounds[0]) & (c.start_us < bounds[-1])
    return inside & (_us(c.max_step_s) > round(max_gap_s * 1_000_000))


def column_integrals(
    c: RollupColumns,
    bounds: I64,
    *,
    max_gap_s: float,
    good_only: bool = True,
    group: I64 | None = None,
    groups: int = 1,
) -> Integrals:
    """`rollup_integrals` over `RollupColumns` and bucket edges in epoch µs: the inner areas of the rows inside the
    buckets, plus the hold of each row's last reading (`hold_lengths`, the raw integral's rule) split at the edges.

    With `group` (the signal index of each row, rows ordered by signal then time) many signals in one pass: the
    result holds each group's buckets in turn (see `spread`). Raises `NotExact` for a row of `inexact_rows`."""
    n = len(bounds) - 1
    rows = len(c.start_us)
    gap = round(max_gap_s * 1_000_000)
    too_long = inexact_rows(c, bounds, max_gap_s=max_gap_s)
    if too_long.any():
        raise NotExact(EPOCH + timedelta(microseconds=int(c.start_us[too_long][0])))
    inner = (c.good_area, c.good_held_s) if good_only else (c.area,)
    if any(len(x) != rows for x in inner):
        raise ValueError("rollup columns read without the inner areas of this quality filter")
    inside = (c.start_us >= bounds[0]) & (c.start_us < bounds[-1])
    if group is None:
        group = np.zeros(rows, np.int64)
    i = np.searchsorted(bounds, c.start_us[inside], side="right") - 1 + group[inside] * n
    if good_only:
        inner_area, inner_us = c.good_area[inside], _us(c.good_held_s[inside])
    else:
        inner_area, inner_us = c.area[inside], (c.last_us - c.first_us)[inside]
    area = np.bincount(i, weights=inner_area, minlength=n * groups).astype(np.float64, copy=False)
    # Exact as float64: µs counts whose sums per bucket stay far below 2**53.
    covered = np.bincount(i, weights=inner_us, minlength=n * groups).astype(np.int64)
    # The last reading of each row holds until the next row's first reading, or by the step before it: that step is
    # inside the row (last_step_s) or, with a single reading, the step from the previous row's last reading. Rows of
    # different signals are never neighbours.
    same = group[1:] == group[:-1]
    to_next = np.zeros(rows, np.int64)
    to_next[:-1] = c.first_us[1:] - c.last_us[:-1]
    has_next = np.zeros(rows, np.bool_)
    has_next[:-1] = same
    from_previous = np.zeros(rows, np.int64)
    from_previous[1:] = np.where(same, c.last_us[1:] - c.last_us[:-1], 0)
    single = np.isnan(c.last_step_s)
    from_previous = np.where(single, from_previous, _us(np.where(single, 0.0, c.last_step_s)))
    hold = hold_lengths(to_next, has_next, from_previous, gap)
    last, value = c.last_us, c.last_value
    if good_only:
        last, value, hold, group = last[c.last_good], value[c.last_good], hold[c.last_good], group[c.last_good]
    held = spread(last, last + hold, value, bounds, group=group, groups=groups)
    return Integrals(area + held.area, covered + held.covered_us)
