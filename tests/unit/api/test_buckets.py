"""Parameter parsing and bucket alignment, UTC and plant-local days."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.api.buckets import QueryError, make_bucketing, parse_every, parse_functions, parse_range, parse_time

H = timedelta(hours=1)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-25T10:00:00Z", datetime(2026, 11, 25, 10, tzinfo=UTC)),
        ("2026-11-25T11:00:00+01:00", datetime(2026, 11, 25, 10, tzinfo=UTC)),
        ("2026-11-25T10:00:00.250z", datetime(2026, 11, 25, 10, 0, 0, 250000, tzinfo=UTC)),
    ],
)
def test_rfc3339_times_with_an_offset_parse_to_utc(text: str, expected: datetime) -> None:
    assert parse_time(text, "start") == expected


@pytest.mark.parametrize("text", ["2026-11-25T10:00:00", "2026-11-25", "tomorrow", "2026-13-01T00:00:00Z"])
def test_times_without_an_offset_or_unparseable_are_refused(text: str) -> None:
    with pytest.raises(QueryError) as err:
        parse_time(text, "start")
    assert err.value.code == "invalid_time"


def test_an_empty_or_reversed_range_is_refused() -> None:
    with pytest.raises(QueryError) as err:
        parse_range("2026-11-25T10:00:00Z", "2026-11-25T10:00:00Z")
    assert err.value.code == "invalid_range"


def test_every_and_fn_accept_only_known_values() -> None:
    assert parse_every("15m") == timedelta(minutes=15) and parse_every(None, "1h") == H
    assert parse_functions("avg, twa,avg") == ("avg", "twa")
    for bad, code in ((lambda: parse_every("7m")), "unknown_every"), ((lambda: parse_functions("p99")), "unknown_fn"):
        with pytest.raises(QueryError) as err:
            bad()
        assert err.value.code == code


def test_utc_buckets_are_aligned_and_the_range_widened_to_whole_buckets() -> None:
    start, end = datetime(2026, 11, 25, 10, 7, tzinfo=UTC), datetime(2026, 11, 25, 11, 1, tzinfo=UTC)
    b = make_bucketing(start, end, timedelta(minutes=15))
    assert b.start == datetime(2026, 11, 25, 10, 0, tzinfo=UTC) and b.end == datetime(2026, 11, 25, 11, 15, tzinfo=UTC)
    assert b.count == 5 and b.starts()[1] == datetime(2026, 11, 25, 10, 15, tzinfo=UTC)


def test_weeks_start_on_monday() -> None:
    b = make_bucketing(datetime(2026, 11, 25, tzinfo=UTC), datetime(2026, 11, 26, tzinfo=UTC), timedelta(weeks=1))
    assert b.start == datetime(2026, 11, 23, tzinfo=UTC) and b.start.weekday() == 0


@pytest.mark.parametrize(
    ("day", "hours"), [(datetime(2026, 3, 29), 23), (datetime(2026, 10, 25), 25), (datetime(2026, 7, 1), 24)]
)
def test_local_days_follow_dst_in_belgrade(day: datetime, hours: int) -> None:
    lo = day.replace(tzinfo=UTC) - 2 * H  # local midnight is 22:00 or 23:00 UTC the day before
    b = make_bucketing(lo + 3 * H, lo + 4 * H, timedelta(days=1), tz="Europe/Belgrade")
    assert b.count == 1 and b.end - b.start == hours * H
    assert b.start.astimezone(UTC).hour in (22, 23)


def test_more_than_the_bucket_limit_is_refused() -> None:
    with pytest.raises(QueryError) as err:
        make_bucketing(
            datetime(2020, 1, 1, tzinfo=UTC),
            datetime(2021, 1, 1, tzinfo=UTC),
            timedelta(minutes=1),
            max_buckets=100_000,
        )
    assert err.value.code == "too_many_buckets" and err.value.details["buckets"] == 527_040


def test_local_day_buckets_beyond_the_limit_are_refused_before_any_edge_is_built() -> None:
    start, end = datetime(1970, 1, 1, tzinfo=UTC), datetime(2199, 1, 1, tzinfo=UTC)
    with pytest.raises(QueryError) as refused:
        make_bucketing(start, end, timedelta(days=1), tz="Europe/Belgrade", max_buckets=1_000)
    assert refused.value.code == "too_many_buckets" and refused.value.details["buckets"] > 80_000


@pytest.mark.parametrize(
    "text", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "1969-12-31T23:59:59Z", "2200-01-01T00:00:01Z"]
)
def test_times_outside_1970_to_2200_are_refused_without_overflow(text: str) -> None:
    with pytest.raises(QueryError) as refused:
        parse_time(text, "start")
    assert refused.value.code == "time_out_of_range"
