"""The demo's plan for simulated time (a replay that meets the wall clock, then live) and its port overrides."""

from __future__ import annotations

import argparse
import os
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from services.demo_setup import (
    DemoError,
    DemoLock,
    Ports,
    check_ports_free,
    parse_ports,
    plan_simulation,
    ports_argument,
)

NOW = datetime(2026, 11, 25, 10, 7, 30, tzinfo=UTC)


def test_at_time_scale_one_the_simulation_is_live_from_now() -> None:
    plan = plan_simulation(NOW, time_scale=1, trip_after_s=60)
    assert (plan.start, plan.time_scale, plan.event_at_s, plan.catch_up_s) == (NOW, 1.0, 60, 0.0)
    assert plan.event_ts == NOW + timedelta(seconds=60)


def test_a_replay_trips_at_the_start_of_the_previous_period_after_the_asked_wall_seconds() -> None:
    plan = plan_simulation(NOW, time_scale=20, trip_after_s=60)
    assert plan.event_ts == datetime(2026, 11, 25, 9, 45, tzinfo=UTC)
    assert plan.event_at_s / plan.time_scale == 60
    assert plan.start == datetime(2026, 11, 25, 9, 25, tzinfo=UTC)  # 20 simulated minutes before the trip


def test_a_replay_ends_behind_the_clock_even_when_the_simulator_starts_slowly() -> None:
    plan = plan_simulation(NOW, time_scale=20, trip_after_s=60, start_up_s=2)
    # 42.5 simulated minutes to cover at 19 s gained per wall second, less the start-up allowance.
    assert plan.catch_up_s == pytest.approx(42.5 * 60 / 19 - 2)
    worst_wall = plan.catch_up_s + 2  # the simulator counts --duration only once it has started
    assert plan.start + timedelta(seconds=20 * worst_wall) <= NOW + timedelta(seconds=worst_wall + 1e-6)


def test_the_live_run_after_a_replay_continues_the_scenario_where_it_is() -> None:
    plan = plan_simulation(NOW, time_scale=20, trip_after_s=60)
    live_start = NOW + timedelta(seconds=plan.catch_up_s)
    assert live_start + timedelta(seconds=plan.live_event_at_s(live_start)) == plan.event_ts
    assert plan.live_event_at_s(live_start) < 0


@pytest.mark.parametrize("scale", [0.5, 5000])
def test_time_scales_that_would_send_future_readings_are_refused(scale: float) -> None:
    with pytest.raises(ValueError, match="time scale"):
        plan_simulation(NOW, time_scale=scale, trip_after_s=0)


def test_ports_can_be_overridden_by_name() -> None:
    assert parse_ports("api=18002, sink=19000") == Ports(api=18002, sink=19000)


@pytest.mark.parametrize("text", ["nope=1", "api=", "api=70000", "api=x"])
def test_unknown_names_and_bad_ports_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="--ports"):
        parse_ports(text)


def test_a_bad_ports_option_is_one_clear_message_without_internal_names() -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="'api=abc' is not one of") as caught:
        ports_argument("api=abc")
    assert "parse_ports" not in str(caught.value)


def test_a_second_demo_lock_is_refused_naming_the_running_demo(tmp_path: Path) -> None:
    running = f"another Baseload demo is running \\(pid {os.getpid()}, ingest 8001"
    with DemoLock.acquire(tmp_path / "demo.lock", Ports()), pytest.raises(DemoError, match=running):
        DemoLock.acquire(tmp_path / "demo.lock", Ports(api=18002))
    with DemoLock.acquire(tmp_path / "demo.lock", Ports()):  # released on exit
        pass


def test_a_port_in_use_is_named_before_anything_starts() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(DemoError, match=f"port {port} \\(sink\\) on 127.0.0.1 is in use"):
            check_ports_free(Ports(ingest=0, api=0, alerts=0, sink=port, gateway=0, opcua=0, modbus=0))
