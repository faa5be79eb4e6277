"""Period verdicts, totals and frequency bands, as tables."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.settlement import (
    CommitmentInForce,
    Exclusion,
    Integral,
    deviation_mhz,
    in_band,
    settle_period,
    totals,
)
from shared.settlement.frequency import band_mhz

T0 = datetime(2026, 6, 1, 10, tzinfo=UTC)
Q = timedelta(minutes=15)
C500 = CommitmentInForce(1, datetime(2026, 1, 1, tzinfo=UTC), 500.0, 10.0, 900, "commitment")


def held(mw: float, seconds: float = 900.0) -> Integral:
    return Integral(mw * seconds, seconds)


@pytest.mark.parametrize(
    ("delivered", "status", "deviation_mwh"),
    [
        (500.0, "compliant", 0.0),
        (490.0, "compliant", -2.5),
        (487.0, "non_compliant", -3.25),
        (511.0, "non_compliant", 2.75),
    ],
)
def test_deviation_is_mean_minus_committed_times_period_hours(
    delivered: float, status: str, deviation_mwh: float
) -> None:
    p = settle_period(T0, T0 + Q, C500, None, held(delivered), min_coverage=0.5)
    assert p.status == status and p.deviation_mwh == pytest.approx(deviation_mwh)
    assert p.delivered_mwh == pytest.approx(delivered / 4)


@pytest.mark.parametrize(
    ("commitment", "exclusion", "integral", "status"),
    [
        (C500, None, held(500.0, 300.0), "insufficient_data"),
        (C500, None, None, "insufficient_data"),
        (C500, Exclusion(T0, T0 + Q, "outage"), held(0.0), "excluded"),
        (None, None, held(500.0), "no_commitment"),
    ],
)
def test_periods_not_assessed(
    commitment: CommitmentInForce | None, exclusion: Exclusion | None, integral: Integral | None, status: str
) -> None:
    p = settle_period(T0, T0 + Q, commitment, exclusion, integral, min_coverage=0.5)
    assert p.status == status and p.deviation_mw is None and p.within_tolerance is None


def test_delivered_energy_is_never_extrapolated_over_uncovered_time() -> None:
    half = settle_period(T0, T0 + Q, C500, None, held(480.0, 450.0), min_coverage=0.5)
    assert half.coverage == 0.5 and half.delivered_mw == 480.0
    assert half.delivered_mwh == pytest.approx(480.0 * 450.0 / 3600)  # 60 MWh measured, not 120 MWh


def test_totals_are_sums_of_the_periods_own_values() -> None:
    starts = [T0 + i * Q for i in range(5)]
    periods = [
        settle_period(starts[0], starts[0] + Q, C500, None, held(500.0), min_coverage=0.5),
        settle_period(starts[1], starts[1] + Q, C500, None, held(480.0, 600.0), min_coverage=0.5),
        settle_period(
            starts[2], starts[2] + Q, C500, Exclusion(starts[2], starts[3], "t"), held(520.0), min_coverage=0.5
        ),
        settle_period(starts[3], starts[3] + Q, C500, None, held(300.0, 100.0), min_coverage=0.5),
        settle_period(starts[4], starts[4] + Q, None, None, None, min_coverage=0.5),
    ]
    t = totals(periods)
    assert (t.compliant, t.non_compliant, t.excluded, t.insufficient_data, t.no_commitment) == (1, 1, 1, 1, 1)
    assert t.delivered_mwh == pytest.approx(sum(p.delivered_mwh or 0.0 for p in periods))
    assert t.delivered_mwh == pytest.approx(125.0 + 80.0 + 130.0 + 300.0 * 100 / 3600)
    assert t.committed_mwh == pytest.approx(250.0)
    assert t.shortfall_mwh == pytest.approx(5.0) and t.surplus_mwh == 0.0 and t.compliant_share == 0.5
    assert t.availability == pytest.approx((125.0 + 120.0) / 250.0)


@pytest.mark.parametrize(
    ("value_hz", "deviation", "inside_200"),
    [
        (49.8, -200, True),
        (50.2, 200, True),
        (49.799, -201, False),
        (50.201, 201, False),
        (50.0, 0, True),
        (50.05, 50, True),
        (49.95, -50, True),
        (49.7995, -200, True),
        (49.2, -800, False),
    ],
)
def test_band_membership_is_decided_in_integer_mhz(value_hz: float, deviation: int, inside_200: bool) -> None:
    assert deviation_mhz(value_hz, 50.0) == deviation
    assert in_band(value_hz, 50.0, band_mhz(0.2)) is inside_200


def test_the_float_difference_alone_would_put_50_2_hz_outside() -> None:
    assert (50.2 - 50.0) * 1000 > 200  # 200.00000000000284: why the rule is in integer mHz
    assert in_band(50.2, 50.0, 200)
