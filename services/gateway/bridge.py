"""Bootstrap: wires the sources, the disk buffer, the sender and the health/metrics server, and runs them."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Sequence

import httpx
import uvicorn

from services.gateway.buffer import DiskBuffer
from services.gateway.config import GatewayConfig
from services.gateway.http import create_app
from services.gateway.intake import Intake
from services.gateway.metrics import GatewayMetrics
from services.gateway.modbus_source import ModbusSource
from services.gateway.opcua_source import OpcUaSource
from services.gateway.readings import Reading
from services.gateway.sender import Sender

log = logging.getLogger("baseload.gateway")


class Bridge:
    """One gateway process's parts. `observers` see every reading once it is queued on disk (tests count them)."""

    def __init__(self, config: GatewayConfig, *, observers: Sequence[Callable[[Reading], None]] = ()) -> None:
        self.config = config
        self.metrics = GatewayMetrics()
        self.buffer = DiskBuffer(config.buffer.path, config.buffer.max_readings)
        self.client = httpx.AsyncClient(
            base_url=config.ingest.url,
            timeout=config.ingest.timeout_s,
            headers={"Authorization": f"Bearer {config.ingest_key()}"},
        )
        self.sender = Sender(config, self.buffer, self.metrics, self.client)
        self.observers = list(observers)
        self.intake = Intake(
            self.buffer, self.metrics, interval_s=config.buffer.write_interval_s, on_queued=[self._queued]
        )
        self.sources: list[OpcUaSource | ModbusSource] = []
        self.source_tasks: list[asyncio.Task[None]] = []
        if config.opcua is not None and config.opcua.nodes:
            self.sources.append(OpcUaSource(config, self.enqueue, self.metrics))
        if config.modbus is not None and config.modbus.registers:
            self.sources.append(ModbusSource(config, self.enqueue, self.metrics))

    def enqueue(self, readings: Sequence[Reading]) -> None:
        """Sources hand readings here; the intake writes them to disk on its next tick, then wakes the sender."""
        self.intake.put(readings)

    def _queued(self, readings: Sequence[Reading]) -> None:
        for observer in self.observers:
            for reading in readings:
                observer(reading)
        self.sender.notify()

    async def stop_sources(self) -> None:
        """Stop reading the devices (the sender goes on draining the buffer); what they handed over is queued."""
        for task in self.source_tasks:
            task.cancel()
        await asyncio.gather(*self.source_tasks, return_exceptions=True)
        await self.intake.flush()

    async def close(self) -> None:
        await self.intake.close()
        await self.client.aclose()
        self.buffer.close()


@contextlib.asynccontextmanager
async def running_bridge(
    config: GatewayConfig, *, serve_http: bool = True, observers: Sequence[Callable[[Reading], None]] = ()
) -> AsyncIterator[Bridge]:
    """Run a bridge in this event loop until the block exits (then stop it, buffer intact)."""
    bridge = Bridge(config, observers=observers)
    bridge.source_tasks = [asyncio.create_task(s.run(), name=type(s).__name__) for s in bridge.sources]
    tasks = [
        *bridge.source_tasks,
        asyncio.create_task(bridge.intake.run(), name="intake"),
        asyncio.create_task(bridge.sender.run(), name="sender"),
    ]
    server: uvicorn.Server | None = None
    if serve_http:
        server = uvicorn.Server(
            uvicorn.Config(
                create_app(bridge),
                host=config.http.host,
                port=config.http.port,
                log_level="warning",
                access_log=False,
                lifespan="off",
            )
        )
        tasks.append(asyncio.create_task(server.serve(), name="http"))
    try:
        yield bridge
    finally:
        if server is not None:
            server.should_exit = True
        for task in tasks:
            if task.get_name() != "http":
                task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await bridge.close()


async def run_forever(config: GatewayConfig) -> None:
    async with running_bridge(config) as bridge:
        log.info(
            "gateway running: %d source(s), ingest %s, buffer %s (%d waiting)",
            len(bridge.sources),
            config.ingest.url,
            config.buffer.path,
            bridge.buffer.depth(),
        )
        await asyncio.Event().wait()
