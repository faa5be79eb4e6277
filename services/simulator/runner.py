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
    start: datetime | None = None      # simulated time at t = 0; default: now
    plant_name: str = "Plant"


class Simulator:
    """The running simulator: its clock, the state last published, and the two protocol servers."""

    def __init__(self, options: SimulatorOptions) -> None:
        self.options = options
        start = options.start or datetime.now(UTC).replace(microsecond=0)
        self.clock = SimClock(start, options.time_scale, time.monotonic())
        self.state = self.state_at_tick(0)
        self.opcua = OpcUaPlantServer(options.host, options.opcua_port, SIGNALS, options.plant_name)
        self.modbus = ModbusPlantServer(options.host, options.modbus_port, options.modbus_device_id,
                                        lambda: self.state, SIGNALS)

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
        task = asyncio.create_task(sim.run_ticks())
        try:
            yield sim
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await sim.modbus.stop()
    finally:
        await sim.opcua.stop()
