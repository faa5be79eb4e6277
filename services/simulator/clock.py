"""Simulated time: `t` seconds since the start, running `time_scale` times faster than the wall clock.

With `live_after_s` set (a replay of the past), the clock runs fast until simulated time meets the wall clock, then
at the wall clock's pace (time scale 1): one clock, no restart, so no second of simulated time is skipped or repeated.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True, slots=True)
class SimClock:
    start: datetime  # simulated UTC time at t = 0 (the source timestamp base)
    time_scale: float  # simulated seconds per wall second (until it goes live)
    origin: float  # monotonic wall time at t = 0
    live_after_s: float | None = None  # simulated seconds at which it meets the wall clock; None: never live

    @classmethod
    def replay_then_live(cls, start: datetime, time_scale: float, origin: float, wall_now: datetime) -> SimClock:
        """A clock from the past `start` at `time_scale` that goes live when it meets `wall_now` + elapsed time."""
        behind_s = max((wall_now - start).total_seconds(), 0.0)
        if time_scale <= 1:
            return cls(start, time_scale, origin)
        return cls(start, time_scale, origin, time_scale * behind_s / (time_scale - 1))

    def t(self, monotonic_now: float) -> float:
        wall = monotonic_now - self.origin
        fast = wall * self.time_scale
        if self.live_after_s is None or fast <= self.live_after_s:
            return fast
        return self.live_after_s + (wall - self.live_after_s / self.time_scale)

    def is_live(self, monotonic_now: float) -> bool:
        return self.time_scale == 1 or (
            self.live_after_s is not None and (monotonic_now - self.origin) * self.time_scale >= self.live_after_s
        )

    def timestamp(self, t: float) -> datetime:
        return self.start + timedelta(seconds=t)

    def wall_delay(self, t: float, monotonic_now: float) -> float:
        """Wall seconds to wait until simulated time `t` (≤ 0 when it has passed)."""
        if self.live_after_s is None or t <= self.live_after_s:
            wall = t / self.time_scale
        else:
            wall = self.live_after_s / self.time_scale + (t - self.live_after_s)
        return self.origin + wall - monotonic_now


def tick_index(t: float, tick_s: float) -> int:
    """The last whole tick at or before `t` (values change once per tick)."""
    return int(t // tick_s) if t >= 0 else 0
