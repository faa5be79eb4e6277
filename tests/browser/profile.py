"""A known day of net output (a GT1 trip, a data gap, a planned outage) and an hour of grid frequency.

Verdicts against the demo commitment (480 MW ± 10 MW, 15-minute periods), plant-local times of the day:
  02:00 compliant (~481 MW) · 10:00 non-compliant (GT1 tripped, ~318 MW) · 14:00 insufficient data (no readings
  14:00–14:20) · 18:00 excluded (a planned-outage exclusion 18:00–18:30).
"""

from __future__ import annotations

import math
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tests.browser.helpers import reading

TZ = ZoneInfo("Europe/Belgrade")
STEP_S = 30
TRIP, RECOVERED = time(10, 0), time(11, 0)
GAP = (time(14, 0), time(14, 20))
OUTAGE = (time(18, 0), time(18, 30))
EXPECTED = {
    time(2, 0): "compliant",
    time(10, 0): "non_compliant",
    time(14, 0): "insufficient_data",
    time(18, 0): "excluded",
    time(10, 15): "non_compliant",
    time(12, 0): "compliant",
}


def local(day: date, at: time) -> datetime:
    return datetime.combine(day, at, tzinfo=TZ)


def net_output_mw(t: datetime) -> float:
    """~481 MW with a slow wobble; GT1 trip at 10:00 (−163 MW), ramped back 10:45–11:00; 400 MW in the outage."""
    clock = t.astimezone(TZ).time()
    wobble = 2.5 * math.sin(t.timestamp() / 900.0) + 0.8 * math.sin(t.timestamp() / 97.0)
    if OUTAGE[0] <= clock < OUTAGE[1]:
        return 400.0 + wobble
    if TRIP <= clock < RECOVERED:
        minutes = (clock.hour - TRIP.hour) * 60 + clock.minute
        lost = 163.0 if minutes < 45 else 163.0 * (60 - minutes) / 15
        return 481.0 - lost + wobble
    return 481.0 + wobble


def day_of_net_output(*, day: date, signal: str = "plant.net_output") -> list[dict[str, Any]]:
    start, end = local(day, time(0)), local(day + timedelta(days=1), time(0))
    out, t = [], start
    while t < end:
        if not GAP[0] <= t.astimezone(TZ).time() < GAP[1]:
            out.append(reading(signal, t, round(net_output_mw(t), 3)))
        t += timedelta(seconds=STEP_S)
    return out


def hour_of_frequency(*, end: datetime, excursion_at: datetime, signal: str = "grid.frequency") -> list[dict[str, Any]]:
    """One reading a second for the hour before `end`: ±30 mHz wander, and a 25 s dip to 49.76 Hz."""
    out = []
    for i in range(3600):
        t = end - timedelta(seconds=3600 - i)
        f = 50.0 + 0.025 * math.sin(i / 160.0) + 0.008 * math.sin(i / 11.0)
        if excursion_at <= t < excursion_at + timedelta(seconds=25):
            f = 49.76 + 0.01 * math.sin(i)
        out.append(reading(signal, t, round(f, 4)))
    return out
