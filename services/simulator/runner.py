"""Wires the plant model to the OPC UA and Modbus servers and advances simulated time, one tick at a time."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

from services.simulator.clock import SimClock, tick_index
from services.simulator.modbus_server import ModbusPlantServer
from services.simulator.model import SIGNALS, PlantParams, PlantState, Scenario, sample
from services.simulator.opcua_server import OpcUaPlantServer


@dataclass(frozen=True, slots=True)
class SimulatorOptions:
    host: str = "127.0.0.1"
    opcua_port: int = 4840
    modbus_port: int = 5020
    modbus_device_id: int = 1
    seed: int = 1
    scenario: Scenario = field(default_factory=Scenario)
    params: PlantParams = field(default_factory=PlantParams)
    time_scale: float = 1.0
    tick_s: float = 1.0
    start: datetime | None = None  # simulated time at t = 0; default: now
    plant_name: str = "Plant"
    then_live: bool = False  # a past start replays at time_scale until it meets the clock, then runs live


class Simulator:
    """The running simulator: its clock, the state last published, and the two protocol servers."""

    def __init__(self, options: SimulatorOptions) -> None:
        self.options = options
        self.clock = self.start_clock()
        self.state = self.state_at_tick(0)
        self.opcua = OpcUaPlantServer(options.host, options.opcua_port, SIGNALS, options.plant_name)
        self.modbus = ModbusPlantServer(
            options.host, options.modbus_port, options.modbus_device_id, lambda: self.state, SIGNALS
        )

    def start_clock(self) -> SimClock:
        """A clock whose t = 0 is now (called again once the servers are up, so no second is skipped)."""
        o = self.options
        wall_now = datetime.now(UTC)
        start = o.start or wall_now.replace(microsecond=0)
        if o.then_live:
            return SimClock.replay_then_live(start, o.time_scale, time.monotonic(), wall_now)
        return SimClock(start, o.time_scale, time.monotonic())

    def state_at_tick(self, k: int) -> PlantState:
        o = self.options
        return sample(o.params, o.scenario, o.seed, k * o.tick_s)

    async def run_ticks(self, max_ticks: int | None = None) -> None:
        """Publish one state per tick, paced by the clock, until cancelled (or after `max_ticks`)."""
        k = tick_index(self.clock.t(time.monotonic()), self.options.tick_s)
        while max_ticks is None or k < max_ticks:
            k += 1
            t = k * self.options.tick_s
            delay = self.clock.wall_delay(t, time.monotonic())
            if delay > 0:
                await asyncio.sleep(delay)
            self.state = self.state_at_tick(k)
            await self.opcua.publish(self.state, self.clock.timestamp(t))


@asynccontextmanager
async def running_simulator(options: SimulatorOptions) -> AsyncIterator[Simulator]:
    """Start both servers and the tick loop; stop them on exit."""
    sim = Simulator(options)
    await sim.opcua.start(sim.state, sim.clock.timestamp(0))
    try:
        await sim.modbus.start()
        # Simulated time starts when both servers are up: the seconds spent starting them are not skipped.
        sim.clock = sim.start_clock()
        await sim.opcua.publish(sim.state, sim.clock.timestamp(0))
        task = asyncio.create_task(sim.run_ticks())
        try:
            yield sim
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await sim.modbus.stop()
    finally:
        await sim.opcua.stop()
