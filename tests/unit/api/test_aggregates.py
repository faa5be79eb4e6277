"""Shaping dense bucket arrays: held coverage, twa and the fill modes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.api.aggregates import bucket_rows, shape_grid
from services.api.buckets import make_bucketing
from shared.settlement import Integral
from shared.settlement.integral import Integrals

T0 = datetime(2026, 6, 1, tzinfo=UTC)
HOURS = make_bucketing(T0, T0 + timedelta(hours=4), timedelta(hours=1))


def grid(avg: list[float | None], minutes: list[int]) -> dict[str, list]:
    return {"count": [m * 60 for m in minutes], "minutes": minutes, "avg": avg}


def held(*covered_and_mean: tuple[float, float]) -> Integrals:
    return Integrals.of([Integral(c * m, c) for c, m in covered_and_mean])


NONE4 = held((0, 0), (0, 0), (0, 0), (0, 0))


def test_coverage_is_the_share_of_held_seconds_and_empty_buckets_are_null() -> None:
    out = shape_grid(
        grid([10.0, None, None, 40.0], [60, 0, 0, 30]),
        HOURS,
        ("avg",),
        held((3600, 10), (0, 0), (0, 0), (1800, 40)),
        "null",
    )
    assert out == {"avg": [10.0, None, None, 40.0], "count": [3600, 0, 0, 1800], "coverage": [1.0, 0.0, 0.0, 0.5]}


def test_previous_carries_and_linear_interpolates_in_time() -> None:
    g = grid([10.0, None, None, 40.0], [60, 0, 0, 60])
    assert shape_grid(g, HOURS, ("avg",), NONE4, "previous")["avg"] == [10.0, 10.0, 10.0, 40.0]
    assert shape_grid(g, HOURS, ("avg",), NONE4, "linear")["avg"] == [10.0, 20.0, 30.0, 40.0]


def test_linear_fill_leaves_the_edges_empty() -> None:
    g = grid([None, 20.0, None, None], [0, 60, 0, 0])
    assert shape_grid(g, HOURS, ("avg",), NONE4, "linear")["avg"] == [None, 20.0, None, None]


def test_twa_is_the_integral_over_the_covered_time_even_without_a_reading_in_the_bucket() -> None:
    out = shape_grid(
        grid([5.0, None, None, None], [60, 0, 0, 0]), HOURS, ("twa",), held((3600, 5), (60, 8), (0, 0), (0, 0)), "none"
    )
    assert out["twa"] == [5.0, 8.0, None, None]
    assert out["coverage"][1] == 60 / 3600


def test_rows_drop_empty_buckets_only_when_fill_is_none() -> None:
    values = shape_grid(
        grid([10.0, None, None, 40.0], [60, 0, 0, 60]),
        HOURS,
        ("avg",),
        held((3600, 10), (0, 0), (0, 0), (3600, 40)),
        "none",
    )
    assert [r["start"] for r in bucket_rows(values, HOURS, ("avg",), "none")] == [T0, T0 + timedelta(hours=3)]
    rows = bucket_rows(values, HOURS, ("avg",), "null")
    assert len(rows) == 4 and rows[1] == {
        "start": T0 + timedelta(hours=1),
        "end": T0 + timedelta(hours=2),
        "avg": None,
        "count": 0,
        "coverage": 0.0,
    }
