"""Expected primary frequency response (FCR): ΔP = −(Δf / f_nominal) / droop × P_nominal outside a deadband.

A plant on baseload that raises output when the grid frequency drops is doing its grid duty; deviation checks
compare output with the commitment plus this expected response.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from services.alerts.deviation import Minute, minutes_in


@dataclass(frozen=True, slots=True)
class Droop:
    p_nominal_mw: float
    droop: float = 0.05
    deadband_hz: float = 0.010
    nominal_hz: float = 50.0
    # FCR is fully activated at ±200 mHz; beyond it the response does not grow.
    full_activation_hz: float | None = 0.200


def expected_response_mw(frequency_hz: float, droop: Droop) -> float:
    """The output change the plant owes at `frequency_hz`: 0 inside the deadband, the droop line outside it."""
    delta_f = frequency_hz - droop.nominal_hz
    if abs(delta_f) <= droop.deadband_hz:
        return 0.0
    if droop.full_activation_hz is not None:
        delta_f = max(-droop.full_activation_hz, min(droop.full_activation_hz, delta_f))
    return -(delta_f / droop.nominal_hz) / droop.droop * droop.p_nominal_mw


def mean_response_mw(frequency_minutes: Sequence[Minute], start: datetime, end: datetime, droop: Droop) -> float:
    """The expected response averaged over the minutes of [start, end) with frequency data (each minute's mean)."""
    inside = minutes_in(frequency_minutes, start, end)
    if not inside:
        return 0.0
    return sum(expected_response_mw(m.mean, droop) for m in inside) / len(inside)


def projected_response_mw(
    frequency_minutes: Sequence[Minute],
    current_hz: float | None,
    start: datetime,
    end: datetime,
    now: datetime,
    droop: Droop,
) -> float:
    """Expected response over a whole period: the elapsed minutes' response, then the current one held to the end."""
    total = (end - start).total_seconds()
    elapsed = max(0.0, min((now - start).total_seconds(), total))
    so_far = mean_response_mw(frequency_minutes, start, min(now, end), droop)
    ahead = expected_response_mw(current_hz, droop) if current_hz is not None else so_far
    return (so_far * elapsed + ahead * (total - elapsed)) / total
