"""Expected primary frequency response: ΔP = −(Δf / 50 Hz) / droop × P_nominal outside the deadband."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.alerts.deviation import Minute
from services.alerts.frequency_response import Droop, expected_response_mw, mean_response_mw, projected_response_mw

DROOP = Droop(p_nominal_mw=500.0, droop=0.05, deadband_hz=0.010)
T0 = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("hz", "expected_mw"),
    [
        (49.800, 40.0),  # −200 mHz raises output by 40 MW (DOMAIN.md)
        (50.200, -40.0),
        (49.900, 20.0),  # 0.1/50/0.05*500
        (50.005, 0.0),  # inside the deadband
        (49.990, 0.0),  # on the deadband edge
        (49.980, 4.0),  # 0.02/50/0.05*500
        (49.500, 40.0),  # FCR is fully activated at −200 mHz
    ],
)
def test_expected_response(hz: float, expected_mw: float) -> None:
    assert expected_response_mw(hz, DROOP) == pytest.approx(expected_mw)


def test_the_clamp_can_be_switched_off_and_droop_changed() -> None:
    droop = Droop(p_nominal_mw=500.0, droop=0.04, deadband_hz=0.0, full_activation_hz=None)
    assert expected_response_mw(49.5, droop) == pytest.approx(0.5 / 50 / 0.04 * 500)  # 125 MW


def test_the_period_response_averages_minutes_and_projects_the_current_frequency() -> None:
    minutes = [Minute(T0 + timedelta(minutes=i), 60, 60 * hz) for i, hz in enumerate([49.9, 49.9, 50.0, 50.0, 50.0])]
    assert mean_response_mw(minutes, T0, T0 + timedelta(minutes=15), DROOP) == pytest.approx(8.0)  # (20+20)/5
    now = T0 + timedelta(minutes=5)
    # 5 elapsed minutes averaging 8 MW, 10 remaining at 49.8 Hz (40 MW): (8*5 + 40*10)/15.
    assert projected_response_mw(minutes, 49.8, T0, T0 + timedelta(minutes=15), now, DROOP) == pytest.approx(
        (8 * 5 + 40 * 10) / 15
    )
