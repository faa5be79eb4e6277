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

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import numpy.typing as npt

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
Bools = npt.NDArray[np.bool_]

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


def hold_lengths(step_to_next_us: I64, has_next: Bools, step_from_previous_us: I64, max_gap_us: int) -> I64:
    """How long each reading holds, in µs, from the steps to its neighbours (0 where a reading has no previous one):
    THE hold rule, vectorized."""
    return np.where(
        has_next & (step_to_next_us <= max_gap_us), step_to_next_us, np.minimum(step_from_previous_us, max_gap_us)
    )


def reading_holds(ts_us: I64, max_gap_us: int) -> I64:
    """Hold length in µs of each reading of one signal (epoch µs, time order, all qualities)."""
    steps = np.diff(ts_us)
    n = len(ts_us)
    nxt = np.zeros(n, np.int64)
    prev = np.zeros(n, np.int64)
    nxt[:-1] = steps
    prev[1:] = steps
    has_next = np.arange(n) < n - 1
    return hold_lengths(nxt, has_next, prev, max_gap_us)


@dataclass(frozen=True, slots=True)
class Integrals:
    """Held integrals of consecutive buckets as arrays: area in value × s, covered time in exact integer µs."""

    area: F64
    covered_us: I64

    @classmethod
    def of(cls, items: Sequence[Integral]) -> Integrals:
        return cls(
            np.array([x.area for x in items], dtype=np.float64),
            np.array([round(x.covered_s * 1_000_000) for x in items], dtype=np.int64),
        )

    @classmethod
    def zeros(cls, n: int) -> Integrals:
        return cls(np.zeros(n), np.zeros(n, np.int64))

    def __len__(self) -> int:
        return len(self.area)

    def __getitem__(self, i: int) -> Integral:
        return Integral(float(self.area[i]), int(self.covered_us[i]) / 1_000_000)

    @property
    def covered_s(self) -> F64:
        return self.covered_us / 1_000_000

    def means(self) -> F64:
        """The time-weighted mean per bucket (NaN where nothing is covered)."""
        covered = self.covered_s
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(covered > 0, self.area / covered, np.nan)

    def to_list(self) -> list[Integral]:
        return [Integral(a, c / 1_000_000) for a, c in zip(self.area.tolist(), self.covered_us.tolist(), strict=True)]

    def __add__(self, other: Integrals) -> Integrals:
        return Integrals(self.area + other.area, self.covered_us + other.covered_us)


def spread(lo_us: I64, hi_us: I64, value: F64, bounds: I64, *, group: I64 | None = None, groups: int = 1) -> Integrals:
    """Σ value × (time of [lo, hi) inside each bucket [bounds[i], bounds[i+1])): holds split at bucket edges.

    With `group` (which of `groups` signals each hold belongs to, all over the same buckets) the result holds the
    buckets of group 0, then those of group 1, …: one pass for many signals."""
    n = len(bounds) - 1
    area, covered = np.zeros(n * groups), np.zeros(n * groups, np.int64)
    keep = (hi_us > lo_us) & (hi_us > bounds[0]) & (lo_us < bounds[-1])
    lo = np.maximum(lo_us[keep], bounds[0])
    hi = np.minimum(hi_us[keep], bounds[-1])
    v = value[keep]
    i = np.searchsorted(bounds, lo, side="right") - 1
    offset = group[keep] * n if group is not None else np.zeros(len(lo), np.int64)
    while len(lo):  # one pass per bucket edge a hold crosses (holds are at most max_gap_s long)
        stop = np.minimum(hi, bounds[i + 1])
        part = stop - lo
        at = i + offset
        area += np.bincount(at, weights=v * (part / 1_000_000), minlength=n * groups)
        # Summed as float64 and exact: µs counts, and every partial sum is at most a bucket's length (< 2**53 µs).
        covered += np.bincount(at, weights=part, minlength=n * groups).astype(np.int64)
        more = hi > stop
        lo, hi, v, i, offset = stop[more], hi[more], v[more], i[more] + 1, offset[more]
    return Integrals(area, covered)


def edges_us(edges: Sequence[datetime]) -> I64:
    return np.array([micros(e) for e in edges], dtype=np.int64)


def held_arrays(
    ts_us: I64, value: F64, good: Bools, bounds: I64, *, max_gap_s: float, good_only: bool = True
) -> Integrals:
    """The held integral in each bucket [bounds[i], bounds[i+1]) (epoch µs) of one signal's readings as arrays
    (epoch µs, time order, every quality, with the context described in `held_integrals`)."""
    hold = reading_holds(ts_us, round(max_gap_s * 1_000_000))
    if good_only:
        ts_us, value, hold = ts_us[good], value[good], hold[good]
    return spread(ts_us, ts_us + hold, value, bounds)


def reading_arrays(readings: Sequence[Reading]) -> tuple[I64, F64, Bools]:
    """(epoch µs, value, is Good) arrays of readings."""
    ts = np.array([micros(r.ts) for r in readings], dtype=np.int64)
    value = np.array([r.value for r in readings], dtype=np.float64)
    quality = np.array([r.quality for r in readings], dtype=np.int64)
    return ts, value, (quality >> 30) & 0b11 == 0


def holds(readings: Sequence[Reading], *, max_gap_s: float) -> list[tuple[int, int]]:
    """[start, end) in epoch microseconds of each reading's hold (readings in time order, all qualities)."""
    ts = np.array([micros(r.ts) for r in readings], dtype=np.int64)
    hold = reading_holds(ts, round(max_gap_s * 1_000_000))
    return list(zip(ts.tolist(), (ts + hold).tolist(), strict=True))


def held_integrals(
    readings: Sequence[Reading], edges: Sequence[datetime], *, max_gap_s: float, good_only: bool = True
) -> list[Integral]:
    """The held integral in each bucket [edges[i], edges[i+1]).

    `readings`: every reading (all qualities, time order) inside the buckets, plus the two before the first edge
    and the one after the last edge where they exist (at any distance): holds near the edges depend on them.
    """
    ts, value, good = reading_arrays(readings)
    return held_arrays(ts, value, good, edges_us(edges), max_gap_s=max_gap_s, good_only=good_only).to_list()


def held_integral(
    readings: Sequence[Reading], start: datetime, end: datetime, *, max_gap_s: float, good_only: bool = True
) -> Integral:
    """The held integral over [start, end) (see `held_integrals` for which readings to pass)."""
    return held_integrals(readings, [start, end], max_gap_s=max_gap_s, good_only=good_only)[0]
