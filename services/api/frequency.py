"""Frequency quality: time inside the standard bands and excursions beyond a band, from raw readings as columns
(hot or compressed alike: shared/history). Pure.

Holds follow the settlement rule (shared/settlement/integral.py `reading_holds`) over readings of every quality,
with the two before the range and the one after it as context, clipped to the range; only Good readings' holds
count. Band membership is decided in integer mHz (shared/settlement/frequency.py). Sums run left to right in time
order (as PostgreSQL's sum did when this was SQL), so the figures do not depend on how the readings were stored.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from shared.history.columns import F64, I64, UNIX_EPOCH, Columns, micros
from shared.settlement.frequency import band_mhz, deviation_mhz
from shared.settlement.integral import reading_holds

_US = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True, eq=False)
class Held:
    """The readings whose hold reaches into [start, end), with what the report needs of each."""

    ts_us: I64
    values: F64
    good: np.ndarray
    inside: np.ndarray  # start ≤ ts (the rest are context readings holding into the range)
    dev_mhz: F64  # |deviation| from nominal in integer mHz
    after_gap: np.ndarray  # no reading before it within the maximum gap
    held_to_us: I64  # end of its hold, clipped to the range
    hold_s: F64  # seconds of its hold inside the range


def held(c: Columns, start: datetime, end: datetime, *, nominal_hz: float, max_gap_s: float) -> Held:
    """Holds of `c` (every quality, time order, with the context readings) inside [start, end)."""
    lo, hi = micros(start), micros(end)
    gap_us = round(max_gap_s * 1_000_000)
    ts = c.ts_us
    held_to = ts + reading_holds(ts, gap_us)
    after_gap = np.ones(len(ts), np.bool_)
    after_gap[1:] = np.diff(ts) > gap_us
    keep = (ts < hi) & (held_to > lo)
    ts, values, held_to = ts[keep], c.values[keep], np.minimum(held_to[keep], hi)
    return Held(
        ts_us=ts,
        values=values,
        good=c.good()[keep],
        inside=ts >= lo,
        dev_mhz=np.abs(np.rint(values * 1000) - np.rint(nominal_hz * 1000)),
        after_gap=after_gap[keep],
        held_to_us=held_to,
        hold_s=np.maximum(0, held_to - np.maximum(ts, lo)) / 1_000_000,
    )


def _sum(x: F64) -> float:
    """Left-to-right sum (numpy's sum is pairwise)."""
    return float(np.cumsum(x)[-1]) if len(x) else 0.0


def summary(h: Held, bands_mhz: Sequence[int]) -> dict[str, Any]:
    """min, max, time-weighted mean, samples, covered seconds and seconds inside each ±band (`inside_{i}`), over
    Good readings."""
    g = h.good
    inside = h.values[g & h.inside]
    hold, values, dev = h.hold_s[g], h.values[g], h.dev_mhz[g]
    covered = _sum(hold)
    weighted = _sum(values * hold)
    out: dict[str, Any] = {
        "min": float(inside.min()) if len(inside) else None,
        "max": float(inside.max()) if len(inside) else None,
        "mean": weighted / covered if covered else None,
        "samples": len(inside),
        "covered": covered,
    }
    for i, band in enumerate(bands_mhz):
        out[f"inside_{i}"] = _sum(np.where(dev <= band, hold, 0.0))
    return out


def excursions(h: Held, start: datetime, *, band_mhz: int, min_s: float, limit: int) -> list[dict[str, Any]]:
    """Runs of Good readings beyond ±band (a reading back inside, a non-Good reading or a gap longer than the
    maximum ends a run): start, end (the last reading's hold), extreme value, samples; the first `limit` by start
    that last at least `min_s`."""
    beyond = h.dev_mhz > band_mhz
    run = np.cumsum(~beyond | h.after_gap | ~h.good)
    picked = np.flatnonzero(beyond & h.good)
    if not len(picked):
        return []
    runs = run[picked]
    first = np.flatnonzero(np.concatenate(([True], runs[1:] != runs[:-1])))
    starts = np.maximum(h.ts_us[picked[first]], micros(start))
    ends = np.maximum.reduceat(h.held_to_us[picked], first)
    samples = np.diff(np.concatenate((first, [len(picked)])))
    # The extreme: the largest deviation, the larger value among equal ones; the last of each run in that order.
    order = np.lexsort((h.values[picked], h.dev_mhz[picked], runs))
    last_of_run = order[np.concatenate((first[1:], [len(picked)])) - 1]
    extremes = h.values[picked][last_of_run]
    long_enough = np.flatnonzero((ends - starts) / 1_000_000 >= min_s)[:limit]
    return [
        {
            "start": UNIX_EPOCH + _US * int(starts[i]),
            "end": UNIX_EPOCH + _US * int(ends[i]),
            "extreme": float(extremes[i]),
            "samples": int(samples[i]),
        }
        for i in long_enough.tolist()
    ]


def band_times(inside_s: Sequence[float], covered_s: float, bands_hz: Sequence[float]) -> dict[str, Any]:
    """Seconds and shares inside each ±band (cumulative) and beyond the widest."""
    share = lambda s: s / covered_s if covered_s > 0 else None  # noqa: E731
    inside = [
        {"band_mhz": band_mhz(b), "seconds": s, "share": share(s)} for b, s in zip(bands_hz, inside_s, strict=True)
    ]
    widest = max(inside_s) if inside_s else 0.0
    beyond = {"band_mhz": band_mhz(max(bands_hz)), "seconds": covered_s - widest, "share": share(covered_s - widest)}
    return {"inside": inside, "beyond": beyond}


def excursion(row: Mapping[str, Any], nominal_hz: float) -> dict[str, Any]:
    start: datetime = row["start"]
    end: datetime = row["end"]
    return {
        "start": start,
        "end": end,
        "duration_s": (end - start).total_seconds(),
        "extreme_hz": row["extreme"],
        "extreme_deviation_mhz": deviation_mhz(row["extreme"], nominal_hz),
        "samples": row["samples"],
    }


def frequency_method(
    nominal_hz: float, bands_hz: Sequence[float], band_hz: float, max_gap_s: float, min_s: float
) -> dict[str, Any]:
    return {
        "source": "raw Good-quality readings",
        "weighting": (
            f"sample-and-hold over readings of every quality: each reading holds until the next if it comes "
            f"within {max_gap_s:g} s, else as long as the step before it (at most that); only Good "
            "readings' holds count; times and the mean are weighted by the holds inside the range"
        ),
        "nominal_hz": nominal_hz,
        "bands": f"inside ±band means |round(f × 1000) − round({nominal_hz:g} × 1000)| ≤ band in integer mHz "
        "(so 49.8 and 50.2 Hz are inside ±200 mHz); bands " + ", ".join(f"±{band_mhz(b)} mHz" for b in bands_hz),
        "excursions": (
            f"maximal runs of Good readings with |Δf| > {band_mhz(band_hz)} mHz, ended by a reading back "
            f"inside, a non-Good reading or a gap longer than {max_gap_s:g} s; end = last reading's hold; "
            f"listed if ≥ {min_s:g} s"
        ),
        "unit": "Hz",
    }
