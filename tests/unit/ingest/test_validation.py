"""Per-reading checks as a pure function: one table of cases, no database, no clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from services.ingest.validation import SignalInfo, Window, check_readings, parse_quality, utc_days

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
CATALOG = {"grid.frequency": SignalInfo(7, "grid.frequency", 45.0, 55.0)}
WINDOW = Window.around(NOW, retention_days=30, max_future_skew_s=60)


@pytest.mark.parametrize(
    ("ts", "value", "quality", "code"),
    [
        (NOW, 50.0, 0, None),
        (NOW, 50.0, "GOOD", None),
        (NOW, 50.0, 0x40900000, None),
        (NOW, 0.0, "bad", None),  # Bad readings skip the range check
        (NOW, 0.0, 0x808A0000, None),
        (NOW, 44.99, 0, "out_of_range"),
        (NOW, 55.01, "uncertain", "out_of_range"),
        (NOW, float("nan"), 0, "non_finite_value"),
        (NOW, float("-inf"), "bad", "non_finite_value"),
        (NOW, 50.0, -1, "invalid_quality"),
        (NOW, 50.0, 2**32, "invalid_quality"),
        (NOW, 50.0, True, "invalid_quality"),
        (NOW, 50.0, "fine", "invalid_quality"),
        (NOW + timedelta(seconds=61), 50.0, 0, "future_timestamp"),
        (NOW + timedelta(seconds=60), 50.0, 0, None),
        (NOW - timedelta(days=30, seconds=1), 50.0, 0, "too_old"),
        (NOW.replace(tzinfo=None), 50.0, 0, "invalid_timestamp"),
        (NOW.astimezone(timezone(timedelta(hours=1))), 50.0, 0, None),
    ],
)
def test_each_reading_is_judged_alone(ts: datetime, value: float, quality: object, code: str | None) -> None:
    checked = check_readings([(0, "grid.frequency", ts, value, quality)], CATALOG, WINDOW)
    assert [r.code for r in checked.rejected] == ([code] if code else [])
    assert len(checked.rows) == (0 if code else 1)


def test_unknown_signals_do_not_stop_the_others() -> None:
    checked = check_readings([(0, "gt9.power", NOW, 1.0, 0), (1, "grid.frequency", NOW, 50.0, 0)], CATALOG, WINDOW)
    assert [(r.index, r.code) for r in checked.rejected] == [(0, "unknown_signal")]
    assert checked.rows == [(1, 7, NOW, 50.0, 0)]


def test_quality_is_stored_as_the_int4_with_the_same_bits() -> None:
    assert parse_quality(0x808A0000) == 0x808A0000 - 2**32
    assert parse_quality("bad") == -(2**31)
    assert parse_quality(0x40000000) == 0x40000000


def test_days_are_utc_days() -> None:
    belgrade_midnight = datetime(2026, 11, 25, 0, 30, tzinfo=timezone(timedelta(hours=1)))
    rows = [(0, 7, belgrade_midnight, 50.0, 0), (1, 7, NOW, 50.0, 0)]
    assert utc_days(rows, belgrade_midnight, NOW) == {
        datetime(2026, 11, 24, tzinfo=UTC),
        datetime(2026, 11, 25, tzinfo=UTC),
    }


def test_a_sparse_backfill_names_only_its_own_days() -> None:
    old, new = datetime(2021, 3, 14, 1, tzinfo=UTC), datetime(2022, 4, 18, 2, tzinfo=UTC)
    assert utc_days([(0, 7, old, 1.0, 0), (1, 7, new, 1.0, 0)], old, new) == {
        datetime(2021, 3, 14, tzinfo=UTC),
        datetime(2022, 4, 18, tzinfo=UTC),
    }


def test_checked_rows_carry_their_time_span() -> None:
    readings = [
        (0, "grid.frequency", NOW, 50.0, 0),
        (1, "grid.frequency", NOW - timedelta(seconds=5), 50.0, 0),
        (2, "gt9.power", NOW + timedelta(seconds=9), 1.0, 0),
    ]
    checked = check_readings(readings, CATALOG, WINDOW)
    assert (checked.oldest, checked.newest) == (NOW - timedelta(seconds=5), NOW)
