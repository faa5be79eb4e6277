"""The simulator's clock: a replay that meets the wall clock goes live without a jump, and runs live after."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from services.simulator.clock import SimClock, tick_index

WALL = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def test_a_plain_clock_runs_at_its_time_scale() -> None:
    clock = SimClock(WALL, 20.0, origin=100.0)
    assert clock.t(103.0) == 60.0
    assert clock.wall_delay(80.0, 103.0) == pytest.approx(1.0)
    assert not clock.is_live(1e9)


def test_a_replay_meets_the_wall_clock_then_runs_live_without_a_jump() -> None:
    start = WALL - timedelta(seconds=1900)  # 1900 s behind: at 20x it meets the clock after 100 wall seconds
    clock = SimClock.replay_then_live(start, 20.0, origin=0.0, wall_now=WALL)
    assert clock.live_after_s == pytest.approx(2000.0)
    assert clock.t(50.0) == pytest.approx(1000.0)
    assert not clock.is_live(99.9) and clock.is_live(100.0)
    assert clock.timestamp(clock.t(100.0)) == WALL + timedelta(seconds=100)  # met: simulated == wall time
    for wall in (100.0, 101.0, 160.5, 3700.0):  # then live, at the wall clock
        assert clock.timestamp(clock.t(wall)) == WALL + timedelta(seconds=wall)
    assert clock.t(100.0 + 1e-6) - clock.t(100.0) == pytest.approx(1e-6)  # continuous: nothing skipped


def test_every_tick_is_published_once_across_the_switch() -> None:
    clock = SimClock.replay_then_live(WALL - timedelta(seconds=190), 20.0, origin=0.0, wall_now=WALL)
    when = [clock.wall_delay(float(k), 0.0) for k in range(0, 400)]
    assert all(b > a for a, b in itertools.pairwise(when))  # each tick due after the one before
    assert when[399] == pytest.approx(10.0 + (399 - 200))  # live after 10 s: one tick a second
    assert [tick_index(clock.t(w), 1.0) for w in when[:5]] == [0, 1, 2, 3, 4]


def test_a_start_in_the_future_or_a_live_scale_never_goes_faster_than_the_clock() -> None:
    assert SimClock.replay_then_live(WALL, 1.0, origin=0.0, wall_now=WALL).live_after_s is None
    clock = SimClock.replay_then_live(WALL + timedelta(seconds=5), 20.0, origin=0.0, wall_now=WALL)
    assert clock.live_after_s == 0.0 and clock.t(3.0) == pytest.approx(3.0)
