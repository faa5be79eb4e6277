"""Synthetic profiles and independent reference computations from the raw samples (not from the rollups)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

Sample = tuple[datetime, float]


def series(start: datetime, seconds: int, value: Callable[[int], float], *, step_s: float = 1.0) -> list[Sample]:
    """Samples every `step_s` from `start` for `seconds`, value(i) for the i-th sample."""
    count = int(seconds / step_s)
    return [(start + timedelta(seconds=i * step_s), value(i)) for i in range(count)]


def held_integral(
    samples: Sequence[Sample], lo: datetime, hi: datetime, max_gap_s: float, method: str = "step"
) -> tuple[float, float]:
    """(area in value·s, covered s) over [lo, hi): each sample holds until the next one if it is at most max_gap_s
    away, else as long as the step before it (at most max_gap_s; 0 for a first sample); with `trapezoid`, linear
    between samples at most max_gap_s apart. Clipped exactly to [lo, hi)."""
    area = covered = 0.0
    ordered = sorted(samples)
    for i, (t, v) in enumerate(ordered):
        nxt = ordered[i + 1] if i + 1 < len(ordered) else None
        gap = (nxt[0] - t).total_seconds() if nxt else None
        bridged = gap is not None and gap <= max_gap_s
        previous = (t - ordered[i - 1][0]).total_seconds() if i > 0 else 0.0
        hold = gap if bridged else min(previous, max_gap_s)
        a, b = max(t, lo), min(t + timedelta(seconds=hold), hi)
        if b <= a:
            continue
        seg = (b - a).total_seconds()
        if method == "trapezoid" and bridged:
            assert nxt is not None
            slope = (nxt[1] - v) / gap
            va = v + slope * (a - t).total_seconds()
            vb = v + slope * (b - t).total_seconds()
            area += (va + vb) / 2 * seg
        else:
            area += v * seg
        covered += seg
    return area, covered
