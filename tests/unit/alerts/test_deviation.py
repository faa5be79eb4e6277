"""Deviation and projection math on known profiles; expected values worked out by hand in each test."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.alerts.deviation import (
    Commitment,
    CommitmentBook,
    Minute,
    PeriodCommitment,
    period_bounds,
    period_compliance,
    project_period,
)

T0 = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
PERIOD = PeriodCommitment(T0, T0 + timedelta(minutes=15), committed_mw=500.0, tolerance_mw=10.0)


def flat(mw: float, minutes: int, *, start: datetime = T0, per_minute: int = 60) -> list[Minute]:
    return [Minute(start + timedelta(minutes=i), per_minute, mw * per_minute) for i in range(minutes)]


def test_a_flat_487_mw_period_against_500_mw_is_minus_3_25_mwh() -> None:
    result = period_compliance(flat(487.0, 15), PERIOD)
    assert result is not None
    assert result.mean_mw == pytest.approx(487.0)
    assert result.deviation_mw == pytest.approx(-13.0)
    assert result.deviation_mwh == pytest.approx(-3.25)  # DOMAIN.md's worked example
    assert result.missed and result.coverage == 1.0


def test_a_step_profile_within_tolerance_is_compliant() -> None:
    # 10 minutes at 495 MW and 5 at 510 MW: mean (4950 + 2550) / 15 = 500 MW exactly.
    minutes = flat(495.0, 10) + flat(510.0, 5, start=T0 + timedelta(minutes=10))
    result = period_compliance(minutes, PERIOD)
    assert result is not None and result.mean_mw == pytest.approx(500.0) and not result.missed


def test_readings_outside_the_period_are_ignored_and_coverage_counts_minutes() -> None:
    minutes = flat(100.0, 3, start=T0 - timedelta(minutes=3)) + flat(505.0, 6)
    result = period_compliance(minutes, PERIOD)
    assert result is not None and result.mean_mw == pytest.approx(505.0)
    assert result.coverage == pytest.approx(6 / 15)


def test_no_readings_gives_no_verdict() -> None:
    assert period_compliance([], PERIOD) is None


def test_projection_holds_current_output_to_the_period_end() -> None:
    # 5 minutes delivered at 480 MW, now 470 MW for the remaining 10: mean (480*5 + 470*10)/15 = 473.33 MW.
    now = T0 + timedelta(minutes=5)
    result = project_period(flat(480.0, 5), 470.0, PERIOD, now)
    assert result.delivered_mwh == pytest.approx(480.0 * 5 / 60)  # 40 MWh
    assert result.projected_mean_mw == pytest.approx((480 * 5 + 470 * 10) / 15)
    assert result.deviation_mwh == pytest.approx(((480 * 5 + 470 * 10) / 15 - 500) * 0.25)
    assert result.missed


def test_projection_recovers_when_current_output_compensates() -> None:
    # 5 minutes at 490 MW, now 505 MW: mean (2450 + 5050)/15 = 500 MW → within tolerance.
    result = project_period(flat(490.0, 5), 505.0, PERIOD, T0 + timedelta(minutes=5))
    assert result.projected_mean_mw == pytest.approx(500.0) and not result.missed


def test_an_expected_offset_moves_the_target() -> None:
    result = period_compliance(flat(540.0, 15), PERIOD, expected_offset_mw=40.0)
    assert result is not None and result.committed_mw == 540.0 and not result.missed


@pytest.mark.parametrize(
    ("ts", "period_s", "start"),
    [
        (datetime(2026, 3, 29, 1, 7, 30, tzinfo=UTC), 900, datetime(2026, 3, 29, 1, 0, tzinfo=UTC)),
        (datetime(2026, 3, 29, 1, 15, tzinfo=UTC), 900, datetime(2026, 3, 29, 1, 15, tzinfo=UTC)),
        (datetime(2026, 3, 29, 1, 59, 59, tzinfo=UTC), 3600, datetime(2026, 3, 29, 1, 0, tzinfo=UTC)),
    ],
)
def test_periods_are_aligned_to_utc(ts: datetime, period_s: int, start: datetime) -> None:
    assert period_bounds(ts, period_s) == (start, start + timedelta(seconds=period_s))


def test_the_book_applies_schedule_overrides_percent_tolerance_and_exclusions() -> None:
    book = CommitmentBook(
        commitments=[Commitment(datetime(2026, 1, 1, tzinfo=UTC), None, 480.0, tolerance_pct=2.0)],
        schedule={T0: 450.0},
        exclusions=[(T0 + timedelta(hours=1), T0 + timedelta(hours=2))],
    )
    flat_period = book.period_at(T0 - timedelta(minutes=1))
    assert flat_period is not None and flat_period.committed_mw == 480.0
    assert flat_period.tolerance_mw == pytest.approx(9.6)  # 2 % of 480
    override = book.period_at(T0 + timedelta(minutes=7))
    assert override is not None and override.committed_mw == 450.0 and override.tolerance_mw == pytest.approx(9.0)
    assert book.period_at(T0 + timedelta(hours=1, minutes=20)) is None
    assert book.period_at(datetime(2025, 6, 1, tzinfo=UTC)) is None  # before the commitment


def test_a_later_commitment_supersedes_an_open_ended_one() -> None:
    book = CommitmentBook(commitments=[
        Commitment(datetime(2026, 1, 1, tzinfo=UTC), None, 480.0, tolerance_mw=10.0),
        Commitment(datetime(2026, 11, 1, tzinfo=UTC), None, 400.0, tolerance_mw=5.0),
    ])
    period = book.period_at(T0)
    assert period is not None and (period.committed_mw, period.tolerance_mw) == (400.0, 5.0)
