"""A batch's partial rollup rows per (signal, minute), (signal, 15 minutes) and (signal, 1 hour). Pure numpy.

The same rows, column for column, as the SQL fold of services/ingest/store.py (`_FOLD_INTO_ROLLUPS`) computes
from a batch's inserted readings: count, sum, min, max, first and last reading; the same for Good readings
(OPC UA severity 00, shared/quality.py); and over consecutive readings inside the row the inner area
Σ vᵢ·(tᵢ₊₁ − tᵢ) (all qualities; Good-only with its held seconds), the longest step and the step into the last
reading (shared/settlement/rollup.py reads them). Coarse rows are derived from the finer ones as SQL's `coarser()`
does: sums and extremes combine, and the pair joining consecutive finer rows inside the coarse row adds its area.
The ingest process computes these for a batch of new readings, so PostgreSQL only merges them into the stored rows.
Sums may differ from PostgreSQL's in the last bits (PostgreSQL sums in whatever order its sort leaves the rows).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import numpy.typing as npt

I32 = npt.NDArray[np.int32]
I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
Bools = npt.NDArray[np.bool_]

MINUTE_US = 60_000_000
QUARTER_US = 15 * MINUTE_US
HOUR_US = 60 * MINUTE_US
# date_bin's origin in the SQL (2000-01-01 UTC), in µs since the Unix epoch; buckets are [origin + k·width, …).
ORIGIN_US = 946_684_800_000_000


@dataclass(frozen=True, slots=True)
class Partials:
    """Rollup rows as parallel arrays sorted by (signal, bucket), in `ROLLUP_COLUMNS` order. Times are µs since the
    Unix epoch, steps and held time seconds. Where `good_count` is 0 the good_min … good_last_value columns mean
    NULL (their arrays hold NaN / 0), and NaN in `last_step_s` means NULL (a row with one reading)."""

    signal_id: I32
    bucket: I64
    count: I64
    sum: F64
    min: F64
    max: F64
    first_ts: I64
    first_value: F64
    last_ts: I64
    last_value: F64
    good_count: I64
    good_sum: F64
    good_min: F64
    good_max: F64
    good_first_ts: I64
    good_first_value: F64
    good_last_ts: I64
    good_last_value: F64
    area: F64
    good_area: F64
    good_held_s: F64
    max_step_s: F64
    last_step_s: F64

    def __len__(self) -> int:
        return len(self.signal_id)

    def columns(self) -> list[npt.NDArray[Any]]:
        """The arrays in column order."""
        return [getattr(self, f.name) for f in fields(self)]


def bucket_of(ts_us: I64, width_us: int) -> I64:
    """date_bin(width, ts, '2000-01-01'): the start of the bucket holding each time."""
    return ts_us - (ts_us - ORIGIN_US) % width_us


def batch_partials(signal_id: I32, ts_us: I64, value: F64, quality: I32) -> tuple[Partials, Partials, Partials]:
    """The 1-minute, 15-minute and 1-hour partial rows of a batch of readings (distinct (signal, ts), any order)."""
    minutes = reading_partials(signal_id, ts_us, value, quality, MINUTE_US)
    quarters = coarser(minutes, QUARTER_US)
    return minutes, quarters, coarser(quarters, HOUR_US)


def reading_partials(signal_id: I32, ts_us: I64, value: F64, quality: I32, width_us: int = MINUTE_US) -> Partials:
    """Per (signal, bucket of `width_us`) straight from the readings: at one minute, the SQL fold's `minutes` rows."""
    order = np.lexsort((ts_us, signal_id))
    sig, ts, v = signal_id[order], ts_us[order], value[order]
    good = (quality[order] >> 30) & 0b11 == 0
    bucket = bucket_of(ts, width_us)
    starts, ends = _groups(sig, bucket)
    # A reading's step reaches the next reading of its bucket; the last reading of each bucket has none (0 here).
    same = np.zeros(len(ts), dtype=np.bool_)
    same[:-1] = (sig[1:] == sig[:-1]) & (bucket[1:] == bucket[:-1])
    step = np.zeros(len(ts))
    step[:-1] = np.where(same[:-1], (ts[1:] - ts[:-1]) / 1e6, 0.0)
    held = np.where(good, step, 0.0)
    count = ends - starts
    good_count = np.add.reduceat(good.astype(np.int64), starts)
    good_first, good_last = _first_last_where(good, starts, ends)
    has_good = good_count > 0
    last_step = np.where(count > 1, step[np.maximum(ends - 2, starts)], np.nan)
    return Partials(
        signal_id=sig[starts].astype(np.int32),
        bucket=bucket[starts],
        count=count,
        sum=np.add.reduceat(v, starts),
        min=np.minimum.reduceat(v, starts),
        max=np.maximum.reduceat(v, starts),
        first_ts=ts[starts],
        first_value=v[starts],
        last_ts=ts[ends - 1],
        last_value=v[ends - 1],
        good_count=good_count,
        good_sum=np.add.reduceat(np.where(good, v, 0.0), starts),
        good_min=np.where(has_good, np.minimum.reduceat(np.where(good, v, np.inf), starts), np.nan),
        good_max=np.where(has_good, np.maximum.reduceat(np.where(good, v, -np.inf), starts), np.nan),
        good_first_ts=np.where(has_good, ts[good_first], 0),
        good_first_value=np.where(has_good, v[good_first], np.nan),
        good_last_ts=np.where(has_good, ts[good_last], 0),
        good_last_value=np.where(has_good, v[good_last], np.nan),
        area=np.add.reduceat(v * step, starts),
        good_area=np.add.reduceat(v * held, starts),
        good_held_s=np.add.reduceat(held, starts),
        max_step_s=np.maximum.reduceat(step, starts),
        last_step_s=last_step,
    )


def coarser(fine: Partials, width_us: int) -> Partials:
    """Rows of `width_us` from finer rows (sorted by signal, bucket), as SQL's `coarser()`: the pair joining a row
    to the one before it inside the coarse row (its first reading after the other's last) is a step too."""
    bucket = bucket_of(fine.bucket, width_us)
    starts, ends = _groups(fine.signal_id, bucket)
    joined = np.ones(len(bucket), dtype=np.bool_)  # the row has a row before it inside its coarse row
    joined[starts] = False
    pair = np.zeros(len(bucket))
    pair[1:] = np.where(joined[1:], (fine.first_ts[1:] - fine.last_ts[:-1]) / 1e6, 0.0)
    prev_value = np.zeros(len(bucket))
    prev_value[1:] = fine.last_value[:-1]
    # The row before ends on a Good reading: the pair's hold counts for the Good-only columns too.
    prev_good = np.zeros(len(bucket), dtype=np.bool_)
    prev_good[1:] = (fine.good_count[:-1] > 0) & (fine.good_last_ts[:-1] == fine.last_ts[:-1])
    prev_good &= joined
    pair_area = np.where(joined, prev_value * pair, 0.0)
    has_fine_good = fine.good_count > 0
    good_count = np.add.reduceat(fine.good_count, starts)
    has_good = good_count > 0
    good_first, good_last = _first_last_where(has_fine_good, starts, ends)
    last = ends - 1
    return Partials(
        signal_id=fine.signal_id[starts],
        bucket=bucket[starts],
        count=np.add.reduceat(fine.count, starts),
        sum=np.add.reduceat(fine.sum, starts),
        min=np.minimum.reduceat(fine.min, starts),
        max=np.maximum.reduceat(fine.max, starts),
        first_ts=fine.first_ts[starts],
        first_value=fine.first_value[starts],
        last_ts=fine.last_ts[last],
        last_value=fine.last_value[last],
        good_count=good_count,
        good_sum=np.add.reduceat(fine.good_sum, starts),
        good_min=np.where(has_good, np.fmin.reduceat(fine.good_min, starts), np.nan),
        good_max=np.where(has_good, np.fmax.reduceat(fine.good_max, starts), np.nan),
        good_first_ts=np.where(has_good, fine.good_first_ts[good_first], 0),
        good_first_value=np.where(has_good, fine.good_first_value[good_first], np.nan),
        good_last_ts=np.where(has_good, fine.good_last_ts[good_last], 0),
        good_last_value=np.where(has_good, fine.good_last_value[good_last], np.nan),
        area=np.add.reduceat(fine.area + pair_area, starts),
        good_area=np.add.reduceat(fine.good_area + np.where(prev_good, pair_area, 0.0), starts),
        good_held_s=np.add.reduceat(fine.good_held_s + np.where(prev_good, pair, 0.0), starts),
        max_step_s=np.maximum.reduceat(np.maximum(fine.max_step_s, pair), starts),
        last_step_s=np.where(np.isnan(fine.last_step_s[last]) & joined[last], pair[last], fine.last_step_s[last]),
    )


def _groups(signal_id: I32, bucket: I64) -> tuple[I64, I64]:
    """[start, end) of each (signal, bucket) group in arrays sorted by (signal, bucket)."""
    if len(bucket) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    change = (signal_id[1:] != signal_id[:-1]) | (bucket[1:] != bucket[:-1])
    starts = np.concatenate(([0], np.flatnonzero(change) + 1)).astype(np.int64)
    return starts, np.append(starts[1:], len(bucket))


def _first_last_where(mask: Bools, starts: I64, ends: I64) -> tuple[I64, I64]:
    """Per group [start, end): the index of its first and of its last element where `mask` holds (meaningless for a
    group without one: the caller masks those)."""
    if len(starts) == 0:
        return starts, starts
    index = np.arange(len(mask))
    first = np.minimum.reduceat(np.where(mask, index, len(mask)), starts)
    last = np.maximum.reduceat(np.where(mask, index, -1), starts)
    return np.minimum(first, ends - 1), np.maximum(last, starts)
