"""Shaping dense bucket arrays: coverage, twa and the fill modes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.api.aggregates import bucket_rows, shape_grid
from services.api.buckets import make_bucketing

T0 = datetime(2026, 6, 1, tzinfo=UTC)
HOURS = make_bucketing(T0, T0 + timedelta(hours=4), timedelta(hours=1))


def grid(avg: list[float | None], minutes: list[int]) -> dict[str, list]:
    return {"count": [m * 60 for m in minutes], "minutes": minutes, "avg": avg}


def test_coverage_is_the_share_of_minutes_with_data_and_empty_buckets_are_null() -> None:
    out = shape_grid(grid([10.0, None, None, 40.0], [60, 0, 0, 30]), HOURS, ("avg",), None, "null")
    assert out == {"avg": [10.0, None, None, 40.0], "count": [3600, 0, 0, 1800], "coverage": [1.0, 0.0, 0.0, 0.5]}


def test_previous_carries_and_linear_interpolates_in_time() -> None:
    g = grid([10.0, None, None, 40.0], [60, 0, 0, 60])
    assert shape_grid(g, HOURS, ("avg",), None, "previous")["avg"] == [10.0, 10.0, 10.0, 40.0]
    assert shape_grid(g, HOURS, ("avg",), None, "linear")["avg"] == [10.0, 20.0, 30.0, 40.0]


def test_linear_fill_leaves_the_edges_empty() -> None:
    g = grid([None, 20.0, None, None], [0, 60, 0, 0])
    assert shape_grid(g, HOURS, ("avg",), None, "linear")["avg"] == [None, 20.0, None, None]


def test_twa_is_the_integral_over_the_covered_time() -> None:
    twa = {T0: (3600.0 * 5, 3600.0), T0 + timedelta(hours=1): (900.0 * 8, 900.0)}
    out = shape_grid(grid([5.0, 8.0, None, None], [60, 15, 0, 0]), HOURS, ("twa",), twa, "none")
    assert out["twa"] == [5.0, 8.0, None, None]


def test_rows_drop_empty_buckets_only_when_fill_is_none() -> None:
    values = shape_grid(grid([10.0, None, None, 40.0], [60, 0, 0, 60]), HOURS, ("avg",), None, "none")
    assert [r["start"] for r in bucket_rows(values, HOURS, ("avg",), "none")] == [T0, T0 + timedelta(hours=3)]
    rows = bucket_rows(values, HOURS, ("avg",), "null")
    assert len(rows) == 4 and rows[1] == {"start": T0 + timedelta(hours=1), "end": T0 + timedelta(hours=2),
                                          "avg": None, "count": 0, "coverage": 0.0}
