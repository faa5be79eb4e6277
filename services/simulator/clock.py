"""Simulated time: `t` seconds since the start, running `time_scale` times faster than the wall clock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True, slots=True)
class SimClock:
    start: datetime        # simulated UTC time at t = 0 (the source timestamp base)
    time_scale: float      # simulated seconds per wall second
    origin: float          # monotonic wall time at t = 0

    def t(self, monotonic_now: float) -> float:
        return (monotonic_now - self.origin) * self.time_scale

    def timestamp(self, t: float) -> datetime:
        return self.start + timedelta(seconds=t)

    def wall_delay(self, t: float, monotonic_now: float) -> float:
        """Wall seconds to wait until simulated time `t` (≤ 0 when it has passed)."""
        return self.origin + t / self.time_scale - monotonic_now


def tick_index(t: float, tick_s: float) -> int:
    """The last whole tick at or before `t` (values change once per tick)."""
    return int(t // tick_s) if t >= 0 else 0
