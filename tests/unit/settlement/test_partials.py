"""A batch's partial rollup rows in numpy: a worked example, and coarse rows derived from finer ones equal to the
rows computed straight from the readings at the coarse width (the SQL comparison is in
tests/integration/ingest/test_fold_partials.py)."""

from __future__ import annotations

import math
from dataclasses import fields

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.settlement import partials
from shared.settlement.partials import HOUR_US, MINUTE_US, QUARTER_US, Partials

GOOD, OVERRIDE, UNCERTAIN, BAD = 0, 0x00960000, 0x40900000, 0x808A0000 - 2**32  # int4 as stored
T0 = 1_795_000_000_000_000 - 1_795_000_000_000_000 % HOUR_US  # an hour start, µs since the Unix epoch
S = 1_000_000


def arrays(
    readings: list[tuple[int, int, float, int]],
) -> tuple[partials.I32, partials.I64, partials.F64, partials.I32]:
    sig, ts, value, quality = zip(*readings, strict=True) if readings else ((), (), (), ())
    return (
        np.array(sig, dtype=np.int32),
        np.array(ts, dtype=np.int64),
        np.array(value, dtype=np.float64),
        np.array(quality, dtype=np.int32),
    )


NAMES = [f.name for f in fields(Partials)]


def row(p: Partials, i: int) -> dict[str, float]:
    return {name: column[i].item() for name, column in zip(NAMES, p.columns(), strict=True)}


def test_a_minute_with_bad_and_good_readings_keeps_the_good_only_twins_apart() -> None:
    # One signal: 10 at :00 (Good), 20 at :10 (Bad), 30 at :40 (Good), then 40 in the next minute (Good).
    minutes = partials.reading_partials(
        *arrays(
            [
                (7, T0 + 40 * S, 30.0, GOOD),
                (7, T0, 10.0, GOOD),
                (7, T0 + 10 * S, 20.0, BAD),
                (7, T0 + 61 * S, 40.0, GOOD),
            ]
        )
    )
    first = row(minutes, 0)
    assert (first["count"], first["sum"], first["min"], first["max"]) == (3, 60.0, 10.0, 30.0)
    assert (first["first_ts"], first["first_value"], first["last_ts"], first["last_value"]) == (
        T0,
        10.0,
        T0 + 40 * S,
        30.0,
    )
    assert (first["good_count"], first["good_sum"], first["good_min"], first["good_max"]) == (2, 40.0, 10.0, 30.0)
    assert (first["good_first_ts"], first["good_last_ts"], first["good_last_value"]) == (T0, T0 + 40 * S, 30.0)
    # Steps inside the minute: 10 s held at 10 (Good), 30 s at 20 (Bad); the last reading's hold is not the row's.
    assert (first["area"], first["good_area"], first["good_held_s"]) == (10 * 10 + 20 * 30, 10 * 10, 10.0)
    assert (first["max_step_s"], first["last_step_s"]) == (30.0, 30.0)
    second = row(minutes, 1)
    assert (second["count"], second["area"], second["max_step_s"]) == (1, 0.0, 0.0)
    assert math.isnan(second["last_step_s"])  # one reading: NULL
    # The quarter hour joins the two minutes: the pair 40 s → 61 s is held at 30, a Good value.
    quarter = row(partials.coarser(minutes, QUARTER_US), 0)
    assert (quarter["count"], quarter["last_value"], quarter["last_step_s"]) == (4, 40.0, 21.0)
    assert (quarter["area"], quarter["good_area"], quarter["good_held_s"]) == (700 + 30 * 21, 100 + 30 * 21, 31.0)


def test_a_row_without_good_readings_has_no_good_extremes_and_a_bad_end_holds_nothing_good() -> None:
    minutes = partials.reading_partials(*arrays([(1, T0, 5.0, UNCERTAIN), (1, T0 + 90 * S, 6.0, GOOD)]))
    assert row(minutes, 0)["good_count"] == 0 and math.isnan(row(minutes, 0)["good_min"])
    quarter = row(partials.coarser(minutes, QUARTER_US), 0)
    # The pair from the Uncertain reading to the Good one counts for all qualities only.
    assert (quarter["area"], quarter["good_area"], quarter["good_held_s"]) == (5.0 * 90, 0.0, 0.0)
    assert (quarter["good_first_ts"], quarter["good_first_value"], quarter["good_min"]) == (T0 + 90 * S, 6.0, 6.0)


def test_no_readings_give_no_rows() -> None:
    assert [len(p) for p in partials.batch_partials(*arrays([]))] == [0, 0, 0]


readings = st.lists(
    st.tuples(
        st.integers(1, 3),
        st.integers(0, 3 * 3600 * 1000).map(lambda ms: T0 - 1800 * S + ms * 1000),
        st.one_of(st.floats(-1000, 1000), st.sampled_from([0.0, 250.5])),
        st.sampled_from([GOOD, GOOD, OVERRIDE, UNCERTAIN, BAD]),
    ),
    max_size=300,
    unique_by=lambda r: (r[0], r[1]),
)


def assert_same_rows(got: Partials, want: Partials, scale: Partials) -> None:
    """Equal column by column; sums within 1e-12 of the same sums over |value| (summation order differs)."""
    assert len(got) == len(want)
    for name, g, w, s in zip(NAMES, got.columns(), want.columns(), scale.columns(), strict=True):
        if name in ("sum", "good_sum", "area", "good_area", "good_held_s"):
            assert np.all(np.abs(g - w) <= 1e-12 * s), name
        else:
            np.testing.assert_array_equal(g, w, err_msg=name)


@settings(max_examples=200, deadline=None)
@given(readings=readings, width=st.sampled_from([QUARTER_US, HOUR_US]))
def test_coarse_rows_from_finer_ones_equal_the_rows_straight_from_the_readings(
    readings: list[tuple[int, int, float, int]], width: int
) -> None:
    sig, ts, value, quality = arrays(readings)
    minutes = partials.reading_partials(sig, ts, value, quality, MINUTE_US)
    fine = partials.coarser(minutes, QUARTER_US) if width == HOUR_US else minutes  # hours come from quarters
    scale = partials.reading_partials(sig, ts, np.abs(value), quality, width)
    assert_same_rows(partials.coarser(fine, width), partials.reading_partials(sig, ts, value, quality, width), scale)


@settings(max_examples=100, deadline=None)
@given(readings=readings, seed=st.integers(0, 2**32 - 1))
def test_the_order_of_a_batch_does_not_change_its_rows(readings: list[tuple[int, int, float, int]], seed: int) -> None:
    shuffled = list(readings)
    np.random.default_rng(seed).shuffle(shuffled)
    sig, ts, value, quality = arrays(readings)
    scale = partials.batch_partials(sig, ts, np.abs(value), quality)
    for got, want, s in zip(
        partials.batch_partials(*arrays(shuffled)), partials.batch_partials(*arrays(readings)), scale, strict=True
    ):
        assert_same_rows(got, want, s)
