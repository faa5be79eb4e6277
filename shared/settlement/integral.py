"""THE held integral: sample-and-hold with a maximum gap, exact from raw readings. Pure.

Hold rule (README "Method in brief"), over the readings of one signal of every quality, in time order:
- a reading holds its value until the next reading if that comes within `max_gap_s`;
- otherwise (a longer gap, or no later reading) it holds for as long as the step from the reading before it,
  at most `max_gap_s` (0 s for the very first reading of a signal);
- with the Good filter only Good readings' holds count: a non-Good reading ends the hold of the Good reading
  before it, so the time from a non-Good reading to the next Good one is not covered.
The integral over [start, end) is Σ value × (held time inside [start, end)) in value·s; `covered_s` the held time.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)


def micros(ts: datetime) -> int:
    """Exact integer microseconds since the Unix epoch (all hold arithmetic is done on these)."""
    return (ts - EPOCH) // _US


def is_good(quality: int) -> bool:
    """OPC UA severity 00 (accepts the uint32 StatusCode or its int4 storage form)."""
    return (quality >> 30) & 0b11 == 0


@dataclass(frozen=True, slots=True)
class Reading:
    ts: datetime
    value: float
    quality: int = 0


@dataclass(frozen=True, slots=True)
class Integral:
    """A time integral over one bucket: area in value × seconds (MW·s for power) and seconds covered."""

    area: float
    covered_s: float

    @property
    def mean(self) -> float | None:
        """The time-weighted mean over the covered time (None when nothing is covered)."""
        return self.area / self.covered_s if self.covered_s > 0 else None


EMPTY = Integral(0.0, 0.0)


def hold_us(step_to_next_us: int | None, step_from_previous_us: int | None, max_gap_us: int) -> int:
    """How long a reading holds, from the steps to its neighbours (None: no such neighbour)."""
    if step_to_next_us is not None and step_to_next_us <= max_gap_us:
        return step_to_next_us
    return min(step_from_previous_us or 0, max_gap_us)


def holds(readings: Sequence[Reading], *, max_gap_s: float) -> list[tuple[int, int]]:
    """[start, end) in epoch microseconds of each reading's hold (readings in time order, all qualities)."""
    gap = round(max_gap_s * 1_000_000)
    ts = [micros(r.ts) for r in readings]
    out = []
    for i, t in enumerate(ts):
        nxt = ts[i + 1] - t if i + 1 < len(ts) else None
        prev = t - ts[i - 1] if i > 0 else None
        out.append((t, t + hold_us(nxt, prev, gap)))
    return out


def held_integrals(
    readings: Sequence[Reading], edges: Sequence[datetime], *, max_gap_s: float, good_only: bool = True
) -> list[Integral]:
    """The held integral in each bucket [edges[i], edges[i+1]).

    `readings`: every reading (all qualities, time order) inside the buckets, plus the two before the first edge
    and the one after the last edge where they exist (at any distance): holds near the edges depend on them.
    """
    bounds = [micros(e) for e in edges]
    n = len(bounds) - 1
    area, covered = [0.0] * n, [0] * n
    for r, (lo, hi) in zip(readings, holds(readings, max_gap_s=max_gap_s), strict=True):
        if hi <= lo or (good_only and not is_good(r.quality)) or hi <= bounds[0] or lo >= bounds[-1]:
            continue
        i = max(0, bisect.bisect_right(bounds, lo) - 1)
        while i < n and bounds[i] < hi:
            part = min(hi, bounds[i + 1]) - max(lo, bounds[i])
            if part > 0:
                area[i] += r.value * (part / 1_000_000)
                covered[i] += part
            i += 1
    return [Integral(a, c / 1_000_000) for a, c in zip(area, covered, strict=True)]


def held_integral(
    readings: Sequence[Reading], start: datetime, end: datetime, *, max_gap_s: float, good_only: bool = True
) -> Integral:
    """The held integral over [start, end) (see `held_integrals` for which readings to pass)."""
    return held_integrals(readings, [start, end], max_gap_s=max_gap_s, good_only=good_only)[0]
