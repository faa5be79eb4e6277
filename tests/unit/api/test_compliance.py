"""Settlement-period compliance as a pure function of periods, commitments and integrals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.api.compliance import Exclusion, assess, assess_period, period_starts, totals
from services.api.energy import Integral
from shared.commitments import Commitment

T0 = datetime(2026, 6, 1, 10, tzinfo=UTC)
Q = timedelta(minutes=15)
FLAT = Commitment(datetime(2026, 1, 1, tzinfo=UTC), None, 500.0, 10.0, None, 900)


def held(mw: float, seconds: float = 900.0) -> Integral:
    return Integral(mw * seconds, seconds)


@pytest.mark.parametrize(("delivered", "status", "deviation_mwh"), [
    (500.0, "compliant", 0.0), (490.0, "compliant", -2.5), (487.0, "non_compliant", -3.25),
    (511.0, "non_compliant", 2.75),
])
def test_deviation_is_mean_minus_committed_times_period_hours(delivered: float, status: str,
                                                              deviation_mwh: float) -> None:
    result = assess_period(T0, Q, (500.0, FLAT), None, held(delivered), 0.5)
    assert result.status == status and result.deviation_mwh == pytest.approx(deviation_mwh)


def test_a_percentage_tolerance_scales_with_the_committed_output() -> None:
    pct = Commitment(FLAT.valid_from, None, 400.0, None, 2.0, 900)
    assert assess_period(T0, Q, (400.0, pct), None, held(392.0), 0.5).within_tolerance is True
    assert assess_period(T0, Q, (400.0, pct), None, held(391.9), 0.5).within_tolerance is False


def test_low_coverage_exclusions_and_missing_commitments_are_not_assessed() -> None:
    assert assess_period(T0, Q, (500.0, FLAT), None, held(500.0, 300.0), 0.5).status == "insufficient_data"
    assert assess_period(T0, Q, (500.0, FLAT), None, None, 0.5).delivered_mw is None
    excluded = assess_period(T0, Q, (500.0, FLAT), Exclusion(T0, T0 + Q, "outage"), held(0.0), 0.5)
    assert (excluded.status, excluded.note) == ("excluded", "outage")
    assert assess_period(T0, Q, None, None, held(500.0), 0.5).status == "no_commitment"


def test_a_schedule_overrides_the_flat_commitment_for_its_period() -> None:
    starts = period_starts(T0, T0 + 2 * Q, Q)
    results = assess(starts, Q, [FLAT], {T0 + Q: 450.0}, [], {s: held(450.0) for s in starts}, 0.5)
    assert [(r.committed_mw, r.status) for r in results] == [(500.0, "non_compliant"), (450.0, "compliant")]


def test_totals_count_statuses_and_energy() -> None:
    starts = period_starts(T0, T0 + 4 * Q, Q)
    delivered = {starts[0]: held(500.0), starts[1]: held(480.0), starts[2]: held(520.0)}
    results = assess(starts, Q, [FLAT], {}, [Exclusion(starts[2], starts[3], "test")], delivered, 0.5)
    t = totals(results, Q)
    assert (t["compliant"], t["non_compliant"], t["excluded"], t["insufficient_data"]) == (1, 1, 1, 1)
    assert t["compliant_share"] == 0.5 and t["shortfall_mwh"] == pytest.approx(5.0) and t["surplus_mwh"] == 0.0
    assert t["availability"] == pytest.approx((125.0 + 120.0) / 250.0)


def test_periods_align_to_utc_quarter_hours() -> None:
    starts = period_starts(T0 + timedelta(minutes=7), T0 + timedelta(minutes=31), Q)
    assert starts == [T0, T0 + Q, T0 + 2 * Q]
