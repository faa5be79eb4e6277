"""The held integral (sample-and-hold with a maximum gap) and its rollup combination, without a database."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.settlement import Integral, NotExact, Reading, RollupRow, held_integral, held_integrals, rollup_integrals
from shared.settlement.integral import is_good

T = datetime(2026, 11, 25, 10, tzinfo=UTC)
BAD = 0x80000000
S = timedelta(seconds=1)


def r(at_s: float, value: float, quality: int = 0) -> Reading:
    return Reading(T + at_s * S, value, quality)


# (readings as (seconds from T, value, quality), window seconds, max gap, good only) → (area, covered seconds)
@pytest.mark.parametrize(
    ("readings", "window", "good_only", "expected"),
    [
        ([(0, 10), (10, 20), (20, 30)], (0, 60), True, (10 * 10 + 20 * 10 + 30 * 10, 30)),  # last holds its step
        ([(0, 10), (100, 20)], (0, 200), True, (0 + 20 * 60, 60)),  # the first ever holds 0 before a gap; 100 s > 60
        ([(0, 10), (30, 20), (200, 5)], (0, 300), True, (10 * 30 + 20 * 30 + 5 * 60, 120)),  # steps before gaps
        ([(0, 10), (10, 99, BAD), (20, 30)], (0, 60), True, (10 * 10 + 30 * 10, 20)),  # Bad ends the Good hold
        ([(0, 10), (10, 99, BAD), (20, 30)], (0, 60), False, (10 * 10 + 99 * 10 + 30 * 10, 30)),
        ([(0, 10), (10, 20)], (5, 15), True, (10 * 5 + 20 * 5, 10)),  # holds are split at the window edges
        ([(-50, 7), (-10, 10), (30, 20)], (0, 60), True, (10 * 30 + 20 * 30, 60)),  # a hold reaches into the window
        ([(-200, 7), (-70, 10), (30, 20)], (0, 60), True, (20 * 30, 30)),  # 100 s gaps: -70 holds 60 s
    ],
)
def test_hold_rule_table(
    readings: list[tuple], window: tuple[float, float], good_only: bool, expected: tuple[float, float]
) -> None:
    got = held_integral(
        [r(*x) for x in readings], T + window[0] * S, T + window[1] * S, max_gap_s=60.0, good_only=good_only
    )
    assert (got.area, got.covered_s) == pytest.approx(expected)


def test_a_constant_480_mw_for_15_minutes_at_1_hz_is_exactly_120_mwh() -> None:
    readings = [r(i, 480.0) for i in range(-5, 905)]
    got = held_integral(readings, T, T + 900 * S, max_gap_s=60.0)
    assert got.area / 3600 == pytest.approx(120.0, rel=1e-12) and got.covered_s == 900.0


def test_buckets_without_a_reading_of_their_own_report_the_hold_falling_inside_them() -> None:
    readings = [r(0, 10.0), r(30, 20.0), r(60, 30.0)]
    got = held_integrals(readings, [T + i * 5 * S for i in range(13)], max_gap_s=60.0)
    assert got[7] == Integral(20.0 * 5, 5.0)  # 35–40 s: no reading starts inside, the 30 s reading holds
    assert all(g.covered_s == 5.0 for g in got)


@pytest.mark.parametrize(
    ("quality", "good"), [(0, True), (0x40900000, False), (0x808A0000, False), (-2138439680, False), (0x00000001, True)]
)
def test_good_is_opc_ua_severity_00_in_both_encodings(quality: int, good: bool) -> None:
    assert is_good(quality) is good


def rows_from(readings: Sequence[Reading], width_s: int) -> list[RollupRow]:
    """Rollup rows as the rollup fold keeps them (written independently of the library code under test)."""
    groups: dict[int, list[Reading]] = {}
    for x in readings:
        groups.setdefault(int((x.ts - T).total_seconds() // width_s), []).append(x)
    rows = []
    for k, group in sorted(groups.items()):
        steps = [(b.ts - a.ts).total_seconds() for a, b in itertools.pairwise(group)]
        rows.append(
            RollupRow(
                start=T + k * width_s * S,
                end=T + (k + 1) * width_s * S,
                first_ts=group[0].ts,
                last_ts=group[-1].ts,
                last_value=group[-1].value,
                last_good=is_good(group[-1].quality),
                last_step_s=steps[-1] if steps else None,
                max_step_s=max(steps, default=0.0),
                area=sum(a.value * s for a, s in zip(group[:-1], steps, strict=True)),
                good_area=sum(a.value * s for a, s in zip(group[:-1], steps, strict=True) if is_good(a.quality)),
                good_held_s=sum(s for a, s in zip(group[:-1], steps, strict=True) if is_good(a.quality)),
            )
        )
    return rows


readings_strategy = st.lists(
    st.tuples(st.integers(-300_000_000, 1_500_000_000), st.floats(-50, 600), st.sampled_from([0, 0, 0, BAD])),
    min_size=0,
    max_size=60,
    unique_by=lambda x: x[0],
).map(lambda xs: [Reading(T + timedelta(microseconds=us), v, q) for us, v, q in sorted(xs)])


@settings(max_examples=200, deadline=None)
@given(readings=readings_strategy, good_only=st.booleans(), buckets=st.sampled_from([1, 2, 5, 15]))
def test_rollup_rows_give_the_raw_integral(readings: list[Reading], good_only: bool, buckets: int) -> None:
    edges = [T + i * buckets * 60 * S for i in range(25 // buckets + 1)]
    rows = rows_from(readings, 60)
    raw = held_integrals(readings, edges, max_gap_s=60.0, good_only=good_only)
    combined = rollup_integrals(rows, edges, max_gap_s=60.0, good_only=good_only)
    for a, b in zip(raw, combined, strict=True):
        assert b.covered_s == pytest.approx(a.covered_s, rel=1e-12, abs=1e-6)
        assert b.area == pytest.approx(a.area, rel=1e-9, abs=1e-6)


def test_a_row_with_a_step_beyond_the_maximum_gap_is_not_combined() -> None:
    rows = rows_from([r(0, 1.0), r(50, 2.0)], 60)
    with pytest.raises(NotExact):
        rollup_integrals(rows, [T, T + 60 * S], max_gap_s=30.0)
    assert rollup_integrals(rows, [T, T + 60 * S], max_gap_s=60.0)[0].covered_s == 100.0 - 40.0
