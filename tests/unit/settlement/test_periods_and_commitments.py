"""Period alignment and commitment resolution, as tables."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from shared.commitments import Commitment
from shared.settlement import (
    TooManyPeriods,
    count_periods,
    local_day_bounds,
    period_bounds,
    period_starts,
    resolve,
    settlement_periods,
)

T = datetime(2026, 11, 25, 10, tzinfo=UTC)
M = timedelta(minutes=1)


@pytest.mark.parametrize(
    ("ts", "period_s", "start"),
    [
        (T, 900, T),
        (T + 14 * M + timedelta(seconds=59.999999), 900, T),
        (T + 15 * M, 900, T + 15 * M),
        (T + 7 * M, 3600, T),
        (T + 61 * M, 60, T + 61 * M),
        (T - timedelta(microseconds=1), 900, T - 15 * M),
    ],
)
def test_periods_are_utc_aligned_to_their_length(ts: datetime, period_s: int, start: datetime) -> None:
    assert period_bounds(ts, period_s) == (start, start + timedelta(seconds=period_s))


@pytest.mark.parametrize(
    ("start", "end", "period_s", "count"),
    [
        (T, T + 15 * M, 900, 1),
        (T, T + 15 * M + timedelta(microseconds=1), 900, 2),
        (T + M, T + 14 * M, 900, 1),
        (T + M, T + 16 * M, 900, 2),
        (T, T, 900, 0),
        (T, T + timedelta(days=30), 900, 2880),
        (
            datetime(1026, 11, 1, tzinfo=UTC),
            datetime(2026, 11, 1, tzinfo=UTC),
            900,
            (datetime(2026, 11, 1) - datetime(1026, 11, 1)).days * 96,
        ),
    ],
)
def test_count_periods_counts_without_building(start: datetime, end: datetime, period_s: int, count: int) -> None:
    assert count_periods(start, end, period_s) == count


def test_period_starts_refuses_before_building_a_huge_list() -> None:
    with pytest.raises(TooManyPeriods) as caught:
        period_starts(datetime(1026, 1, 1, tzinfo=UTC), datetime(9999, 1, 1, tzinfo=UTC), 900, limit=100_000)
    assert caught.value.count > 100_000
    assert period_starts(T + M, T + 31 * M, 900) == [T, T + 15 * M, T + 30 * M]


@pytest.mark.parametrize(
    ("day", "hours", "quarters"),
    [
        (date(2026, 3, 29), 23, 92),
        (date(2026, 10, 25), 25, 100),
        (date(2026, 11, 25), 24, 96),
    ],
)
def test_plant_local_days_follow_dst(day: date, hours: int, quarters: int) -> None:
    start, end = local_day_bounds(day, "Europe/Belgrade")
    assert end - start == timedelta(hours=hours)
    assert count_periods(start, end, 900) == quarters
    assert start.astimezone(UTC).hour in (22, 23)


OLD = Commitment(datetime(2026, 1, 1, tzinfo=UTC), None, 480.0, 10.0, None, 900, id=1)
NEW = Commitment(datetime(2026, 11, 1, tzinfo=UTC), None, 400.0, 5.0, None, 900, id=2)
HOURLY = Commitment(T + 30 * M, None, 450.0, None, 2.0, 3600, id=3)


@pytest.mark.parametrize(
    ("ts", "commitments", "schedule", "expected"),
    [
        (T, [OLD, NEW], {}, (2, 400.0, 5.0, "commitment")),  # overlapping: the latest valid_from wins
        (T, [NEW, OLD], {}, (2, 400.0, 5.0, "commitment")),  # whatever the order
        (datetime(2026, 6, 1, tzinfo=UTC), [OLD, NEW], {}, (1, 480.0, 10.0, "commitment")),
        (T, [OLD, NEW], {T: 390.0}, (2, 390.0, 5.0, "schedule")),  # a schedule override wins over the flat value
        (T + 30 * M, [OLD, HOURLY], {}, (3, 450.0, 9.0, "commitment")),  # percentage tolerance of what is committed
    ],
)
def test_resolution_latest_valid_from_then_schedule(
    ts: datetime,
    commitments: list[Commitment],
    schedule: dict[datetime, float],
    expected: tuple[int, float, float, str],
) -> None:
    got = resolve(ts, commitments, schedule)
    assert got is not None
    assert (got.commitment_id, got.committed_mw, got.tolerance_mw, got.source) == expected


def test_no_commitment_before_the_first_valid_from() -> None:
    assert resolve(datetime(2025, 1, 1, tzinfo=UTC), [OLD], {}) is None


def test_a_change_of_period_length_starts_at_the_commitments_valid_from() -> None:
    starts_at = T + 37 * M  # an hourly commitment from 10:37
    hourly = Commitment(starts_at, None, 450.0, 10.0, None, 3600, id=3)
    periods = settlement_periods(T, T + 3 * 60 * M, [OLD, hourly], {}, 900)
    spans = [(p.start, p.end, p.commitment.commitment_id if p.commitment else None) for p in periods]
    assert spans == [
        (T, T + 15 * M, 1),
        (T + 15 * M, T + 30 * M, 1),
        (T + 30 * M, starts_at, 1),
        (starts_at, T + 60 * M, 3),
        (T + 60 * M, T + 120 * M, 3),
        (T + 120 * M, T + 180 * M, 3),
    ]


def test_a_same_length_commitment_change_keeps_the_period_of_its_start() -> None:
    later = Commitment(T + 7 * M, None, 400.0, 10.0, None, 900, id=2)
    periods = settlement_periods(T, T + 30 * M, [OLD, later], {}, 900)
    assert [(p.start, p.commitment.commitment_id if p.commitment else None) for p in periods] == [
        (T, 1),
        (T + 15 * M, 2),
    ]


def test_period_length_returns_to_the_default_when_a_commitment_ends() -> None:
    one_minute = Commitment(T, T + 2 * M, 400.0, 10.0, None, 60, id=4)
    periods = settlement_periods(T, T + 15 * M, [one_minute], {}, 900)
    assert [(p.start, p.end) for p in periods] == [(T, T + M), (T + M, T + 2 * M), (T + 2 * M, T + 15 * M)]
    assert periods[-1].commitment is None


def test_settlement_periods_stop_at_the_limit() -> None:
    with pytest.raises(TooManyPeriods):
        settlement_periods(
            datetime(1026, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC), [OLD], {}, 900, limit=1000
        )


class _CountingSchedule(dict[datetime, float]):
    """A schedule that counts look-ups: one per period built."""

    lookups = 0

    def get(self, key: datetime, default: float | None = None) -> float | None:  # type: ignore[override]
        self.lookups += 1
        return super().get(key, default)

    def __getitem__(self, key: datetime) -> float:
        self.lookups += 1
        return super().__getitem__(key)

    def __contains__(self, key: object) -> bool:
        self.lookups += 1
        return super().__contains__(key)


def test_settlement_periods_beyond_the_limit_are_refused_before_any_is_built() -> None:
    schedule, always = _CountingSchedule(), Commitment(datetime(1970, 1, 1, tzinfo=UTC), None, 480.0, 10.0, None, 900)
    settlement_periods(T, T + 15 * M, [always], schedule, 900)
    assert schedule.lookups > 0  # the fake sees every period that is built
    schedule.lookups = 0
    with pytest.raises(TooManyPeriods) as caught:
        settlement_periods(
            datetime(1970, 1, 1, tzinfo=UTC), datetime(2199, 1, 1, tzinfo=UTC), [always], schedule, 900, limit=100_000
        )
    assert schedule.lookups == 0 and caught.value.count > 8_000_000
