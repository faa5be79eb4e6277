"""Deviation and projection through the settlement engine on known profiles; expected values worked out by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.alerts.deviation import CommitmentBook, project, settle
from shared.commitments import Commitment
from shared.settlement import Exclusion, PeriodSettlement, Reading, SettlementPeriod, held_integral

T0 = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
BOOK = CommitmentBook(commitments=[Commitment(datetime(2026, 1, 1, tzinfo=UTC), None, 500.0, tolerance_mw=10.0)])


def every(seconds: float, mw: float, minutes: float, *, start: datetime = T0) -> list[Reading]:
    return [Reading(start + timedelta(seconds=seconds * i), mw) for i in range(int(minutes * 60 / seconds))]


def settled(period: SettlementPeriod, readings: list[Reading], **kw: Any) -> PeriodSettlement:
    """The period settled from its held integral over `readings` (the store reads it exactly from the rollups)."""
    integral = held_integral(readings, period.start, period.end, max_gap_s=60)
    return settle(period, integral, BOOK, min_coverage=0.5, **kw)


def period_at(book: CommitmentBook, ts: datetime) -> SettlementPeriod:
    period = book.period_at(ts)
    assert period is not None
    return period


def test_a_flat_487_mw_period_against_500_mw_is_minus_3_25_mwh() -> None:
    result = settled(period_at(BOOK, T0), every(5, 487.0, 15))
    assert result.delivered_mw == pytest.approx(487.0)
    assert result.deviation_mw == pytest.approx(-13.0)
    assert result.deviation_mwh == pytest.approx(-3.25)  # DOMAIN.md's worked example
    assert result.status == "non_compliant" and result.coverage == 1.0


def test_report_by_exception_is_weighted_by_time_not_by_count() -> None:
    # 10 readings of 495 MW in the first 10 s, then one reading of 510 MW held by 60 s re-sends to the end:
    # a count-weighted mean would sit near 495; the held integral is (495 × 10 + 510 × 890) / 900.
    readings = [*every(1, 495.0, 10 / 60), *every(60, 510.0, 15, start=T0 + timedelta(seconds=10))]
    result = settled(period_at(BOOK, T0), readings)
    assert result.delivered_mw == pytest.approx((495 * 10 + 510 * 890) / 900)
    assert result.status == "compliant"


def test_a_gap_longer_than_max_gap_is_not_covered() -> None:
    readings = [*every(5, 505.0, 6), *every(5, 505.0, 3, start=T0 + timedelta(minutes=12))]
    result = settled(period_at(BOOK, T0), readings)
    assert result.coverage == pytest.approx((6 * 60 + 3 * 60) / 900)
    assert result.delivered_mw == pytest.approx(505.0)


def test_no_readings_gives_insufficient_data() -> None:
    assert settled(period_at(BOOK, T0), []).status == "insufficient_data"


def test_projection_extrapolates_the_current_output_to_the_period_end() -> None:
    # 5 minutes delivered at 480 MW, now 470 MW for the remaining 10: mean (480*5 + 470*10)/15 = 473.33 MW.
    now = T0 + timedelta(minutes=5)
    period = period_at(BOOK, now - timedelta(seconds=1))
    so_far = held_integral(every(5, 480.0, 5), period.start, now, max_gap_s=60)
    result = project(period, so_far, 470.0, now)
    assert result is not None
    assert result.so_far.area / 3600 == pytest.approx(480.0 * 5 / 60)  # 40 MWh
    assert result.projected_mean_mw == pytest.approx((480 * 5 + 470 * 10) / 15)
    assert result.deviation_mwh == pytest.approx(((480 * 5 + 470 * 10) / 15 - 500) * 0.25)
    assert result.missed and result.evidence()["extrapolated"] is True


def test_an_expected_offset_moves_the_target() -> None:
    result = settled(period_at(BOOK, T0), every(5, 540.0, 15), expected_offset_mw=40.0)
    assert result.committed_mw == 540.0 and result.status == "compliant"


def test_the_book_applies_schedule_overrides_percent_tolerance_and_exclusions() -> None:
    book = CommitmentBook(
        commitments=[Commitment(datetime(2026, 1, 1, tzinfo=UTC), None, 480.0, tolerance_pct=2.0)],
        schedule={T0: 450.0},
        exclusions=[Exclusion(T0 + timedelta(hours=1), T0 + timedelta(hours=2), "outage")],
    )
    flat = period_at(book, T0 - timedelta(minutes=1)).commitment
    assert flat is not None and flat.committed_mw == 480.0 and flat.tolerance_mw == pytest.approx(9.6)
    override = period_at(book, T0 + timedelta(minutes=7)).commitment
    assert override is not None and override.committed_mw == 450.0 and override.tolerance_mw == pytest.approx(9.0)
    assert book.excluded(T0 + timedelta(hours=1, minutes=15), T0 + timedelta(hours=1, minutes=30))
    assert (
        book.period_at(datetime(2025, 6, 1, tzinfo=UTC)) is None
        or book.period_at(datetime(2025, 6, 1, tzinfo=UTC)).commitment is None
    )  # before the commitment


def test_a_later_commitment_supersedes_an_open_ended_one_and_brings_its_period() -> None:
    book = CommitmentBook(
        commitments=[
            Commitment(datetime(2026, 1, 1, tzinfo=UTC), None, 480.0, tolerance_mw=10.0),
            Commitment(datetime(2026, 11, 1, tzinfo=UTC), None, 400.0, tolerance_mw=5.0, settlement_period_s=3600),
        ]
    )
    period = period_at(book, T0 + timedelta(minutes=20))
    assert period.commitment is not None and (period.commitment.committed_mw, period.commitment.tolerance_mw) == (
        400.0,
        5.0,
    )
    assert (period.start, period.end) == (T0, T0 + timedelta(hours=1))


def test_the_last_ended_period_waits_for_the_end() -> None:
    assert BOOK.last_ended(T0 + timedelta(minutes=14, seconds=59)).end == T0  # type: ignore[union-attr]
    assert BOOK.last_ended(T0 + timedelta(minutes=15)).start == T0  # type: ignore[union-attr]
