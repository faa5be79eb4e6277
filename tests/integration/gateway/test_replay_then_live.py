"""The demo's simulator: quiet start, no skipped first seconds, and a replay that goes live without a restart,
so the gateway keeps its OPC UA session and receives every second across the switch (issue 13)."""

from __future__ import annotations

import itertools
import logging
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from services.gateway.bridge import running_bridge
from services.gateway.readings import GOOD, parse_ts
from services.simulator.opcua_server import OpcUaPlantServer
from services.simulator.runner import running_simulator
from tests.integration.gateway.conftest import Receiver, gateway_config, opcua_section, simulator_options, wait_for
from tests.support import serving

SIGNAL = "gt1.active_power"


def noisy(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Warnings and errors of asyncua and the gateway (what the demo's terminal would show)."""
    return [
        f"{r.name} {r.levelname} {r.getMessage()}"
        for r in caplog.records
        if r.levelno >= logging.WARNING and r.name.startswith(("asyncua", "services."))
    ]


async def test_the_clock_starts_when_the_servers_are_up_so_no_second_is_skipped(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    published: list[datetime] = []
    publish = OpcUaPlantServer.publish

    async def recording(self: OpcUaPlantServer, state: object, source_ts: datetime) -> None:
        published.append(source_ts)
        await publish(self, state, source_ts)  # type: ignore[arg-type]

    monkeypatch.setattr(OpcUaPlantServer, "publish", recording)
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.WARNING, logger="asyncua")  # as in `baseload simulate` (the gateway's import quiets it)
    options = replace(simulator_options(tick_s=0.25), start=None)  # `baseload simulate` without --start
    async with running_simulator(options) as sim:
        await wait_for(lambda: len(published) >= 8, 15, "eight publications")
    # [0] is the value the server starts with; from the clock's t = 0 (set once the servers are up) every tick.
    steps = [(b - a).total_seconds() for a, b in itertools.pairwise(published[1:])]
    assert published[1] == sim.clock.start and steps == [0.25] * len(steps)
    assert not noisy(caplog)  # no "No signing policy" / "No encrypting policy" from asyncua


async def test_a_replay_goes_live_in_the_same_server_and_the_gateway_gets_every_second(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    # 120 s behind at 20x (the demo's pace): simulated time meets the clock after ~6 wall seconds, then runs live.
    # Published once a second as deploy/gateway.yaml does, so each publish carries ~20 changes of the replay.
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=120)
    options = replace(simulator_options(tick_s=1.0, time_scale=20.0, start=start), then_live=True)
    receiver = Receiver()
    async with serving(receiver.app()) as url, running_simulator(options) as sim:
        assert sim.clock.live_after_s is not None
        live_at = sim.clock.timestamp(sim.clock.live_after_s)
        config = gateway_config(
            tmp_path, ingest_url=url, opcua=opcua_section(sim.opcua.endpoint, [SIGNAL], publishing_interval_ms=1000)
        )
        async with running_bridge(config, serve_http=False):
            await wait_for(
                lambda: any(parse_ts(r["ts"]) >= live_at + timedelta(seconds=3) for r in receiver.readings),
                30,
                "live readings after the switch",
            )
            now = datetime.now(UTC)
    stamps = sorted(parse_ts(r["ts"]) for r in receiver.readings if r["quality"] == GOOD)
    assert stamps[0] < live_at - timedelta(seconds=4)  # the gateway was subscribed during the replay
    # From the second reading on: at subscription the initial value and the first queued change can race (a
    # change published between the two is skipped); what is held here is the replay and the switch to live.
    steps = {(b - a).total_seconds() for a, b in itertools.pairwise(stamps[1:])}
    assert steps == {1.0}  # every second once, across the switch
    assert abs((stamps[-1] - now).total_seconds()) < 2.5  # live: at the wall clock
    assert [r.getMessage() for r in caplog.records if "OPC UA subscribed" in r.getMessage()] == [
        f"OPC UA subscribed to 1 nodes at {sim.opcua.endpoint}"
    ]  # one session, kept
    assert not noisy(caplog)
