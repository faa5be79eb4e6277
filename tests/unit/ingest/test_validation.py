"""Per-reading checks as a pure function: one table of cases, no database, no clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from services.ingest.validation import (
    Checked,
    Columns,
    SignalInfo,
    Window,
    _all_pass,
    check_each,
    check_readings,
    parse_quality,
    utc_days,
)

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
        (NOW, 5e-324, "bad", "invalid_value"),  # subnormal: PostgreSQL's float8 products would underflow
        (NOW, -1e-310, 0x808A0000, "invalid_value"),
        (NOW, 2.2250738585072014e-308, "bad", None),  # the smallest normal number is a number
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


# `check_readings` proves a batch that passes whole in C loops and numpy (`_all_pass`) and judges any other batch
# reading by reading; generated batches, mostly good with a few bad readings, must come out as `check_each` judges.
SIGNALS = {
    "grid.frequency": SignalInfo(7, "grid.frequency", 45.0, 55.0, 1),
    "gt1.active_power": SignalInfo(8, "gt1.active_power", -5.0, 300.0, 1),
    "other.power": SignalInfo(9, "other.power", 0.0, 10.0, 2),
}
good_value = st.floats(45.0, 55.0)
any_value = st.one_of(good_value, st.floats(), st.just(True), st.integers(-5, 400))
good_quality = st.sampled_from([0, 0x40900000, "good", "GOOD", "uncertain", 0x00960000])
any_quality = st.one_of(
    good_quality, st.sampled_from([0x808A0000, "bad", -1, 2**32, True, False, 1.5, "fine", None, 0.0])
)
offsets = st.sampled_from([UTC, timezone(timedelta(hours=1)), timezone(timedelta(hours=-5, minutes=-30))])
good_ts = st.builds(
    lambda s, tz: (NOW - timedelta(seconds=s)).astimezone(tz), st.integers(-60, 30 * 86400 - 1), offsets
)
any_ts = st.one_of(
    good_ts,
    st.builds(lambda s: NOW - timedelta(seconds=s), st.integers(-120, 31 * 86400)),
    st.just(NOW.replace(tzinfo=None)),
)
any_key = st.sampled_from([*SIGNALS, "gt9.unknown"])
good_reading = st.tuples(st.just("grid.frequency"), good_ts, good_value, good_quality)
# A good reading with one field drawn from anything: most batches have one bad reading among good ones.
near_good = st.one_of(
    st.tuples(any_key, good_ts, good_value, good_quality),
    st.tuples(st.just("grid.frequency"), any_ts, good_value, good_quality),
    st.tuples(st.just("grid.frequency"), good_ts, any_value, good_quality),
    st.tuples(st.just("grid.frequency"), good_ts, good_value, any_quality),
)
any_reading = st.tuples(any_key, any_ts, any_value, any_quality)


GOOD_ONE = ("grid.frequency", NOW, 50.0, 0)


@settings(max_examples=400)
@example(readings=[GOOD_ONE, ("grid.frequency", NOW, 50.0, False)], plant_ids=None)  # 0 == False: a set merges them
@example(readings=[("grid.frequency", NOW, 50.0, 1), ("grid.frequency", NOW, 50.0, True)], plant_ids=None)
@example(readings=[GOOD_ONE, ("grid.frequency", NOW, 50, 0)], plant_ids=None)  # an int value is stored as given
@example(readings=[("gt1.active_power", NOW, True, 0)], plant_ids=None)
@given(
    readings=st.lists(st.one_of(good_reading, good_reading, near_good, any_reading), max_size=12),
    plant_ids=st.sampled_from([None, frozenset({1}), frozenset({1, 2}), frozenset({3})]),
)
def test_the_column_check_judges_as_the_reading_by_reading_check(
    readings: list[tuple[str, datetime, object, object]], plant_ids: frozenset[int] | None
) -> None:
    items = [(i * 2, key, ts, value, quality) for i, (key, ts, value, quality) in enumerate(readings)]
    checked = check_readings(items, SIGNALS, WINDOW, plant_ids)  # type: ignore[arg-type]
    expected = check_each(items, SIGNALS, WINDOW, plant_ids)  # type: ignore[arg-type]
    assert shown(checked) == shown(expected)
    if items:  # as the decoders hand them over
        columns = Columns(*zip(*items, strict=True))
        assert shown(check_readings(columns, SIGNALS, WINDOW, plant_ids)) == shown(expected)


def test_a_batch_of_good_readings_is_checked_by_columns() -> None:
    items = [(i, "grid.frequency", NOW - timedelta(seconds=i), 50.0, ("good", 0, 0x40900000)[i % 3]) for i in range(9)]
    columns = Columns(*zip(*items, strict=True))
    assert columns == items
    assert _all_pass(columns, SIGNALS, WINDOW, frozenset({1})) == check_each(items, SIGNALS, WINDOW, frozenset({1}))
    assert check_readings(items, SIGNALS, WINDOW).rows[0] == (0, 7, NOW, 50.0, 0)
    assert check_readings(columns, SIGNALS, WINDOW) == check_readings(items, SIGNALS, WINDOW)


def shown(checked: Checked) -> tuple[object, ...]:
    """Every field, times with their offsets (aware datetimes compare equal across offsets)."""
    rows = [(i, s, ts.isoformat(), repr(v), type(v), q) for i, s, ts, v, q in checked.rows]
    span = (checked.oldest.isoformat(), checked.newest.isoformat())
    return rows, checked.rejected, span, checked.signal_ids
