"""Where sources hand readings over: kept in memory for one short tick, then written to the disk buffer in one
transaction on the buffer's own thread, so the event loop never waits for SQLite and a burst of OPC UA data changes
costs one commit, not one each. Readings count as queued (observers, sender wake-up) once they are on disk.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from typing import ParamSpec, Protocol, TypeVar

from services.gateway.metrics import GatewayMetrics
from services.gateway.readings import Reading
from shared.worker import Backoff, Worker, worker_metrics

log = logging.getLogger("baseload.gateway.intake")

P = ParamSpec("P")
T = TypeVar("T")


class Spool(Protocol):
    """The part of `DiskBuffer` the intake uses."""

    max_readings: int

    async def off_loop(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T: ...
    def append(self, readings: Iterable[Reading], now: float) -> int: ...


class Intake:
    def __init__(
        self,
        buffer: Spool,
        metrics: GatewayMetrics,
        *,
        interval_s: float,
        on_queued: Sequence[Callable[[Sequence[Reading]], None]] = (),
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.buffer = buffer
        self.metrics = metrics
        self.interval_s = interval_s
        self.on_queued = list(on_queued)
        self.clock = clock
        self._staged: list[Reading] = []
        self._arrived = asyncio.Event()
        self._writing: asyncio.Task[None] | None = None
        self.worker = Worker(
            "gateway.intake",
            self._step,
            every_s=0.0,
            retry_on=(sqlite3.Error, OSError),
            backoff=Backoff(base_s=0.1, max_s=5.0),
            metrics=worker_metrics(metrics.registry),
            logger=log,
        )

    def put(self, readings: Sequence[Reading]) -> None:
        """Called by sources on the event loop: never blocks."""
        self._staged.extend(readings)
        self._arrived.set()

    @property
    def staged(self) -> int:
        """Readings received but not yet on disk."""
        return len(self._staged)

    async def run(self) -> None:
        """Write what arrived, once per tick, until cancelled; a failed write keeps the readings and is retried."""
        await self.worker.run()

    async def _step(self) -> None:
        await self._arrived.wait()
        await asyncio.sleep(self.interval_s)  # gather the rest of the burst
        await self.flush()

    async def flush(self) -> None:
        """Write everything staged now. The write finishes even if the caller is cancelled meanwhile."""
        if self._writing is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(self._writing)
        self._arrived.clear()
        batch, self._staged = self._staged, []
        if not batch:
            return
        self._writing = asyncio.create_task(self._write(batch))
        await asyncio.shield(self._writing)

    async def close(self) -> None:
        """Let an interrupted write finish, then write what is left (the bridge is stopping)."""
        await self.flush()

    async def _write(self, batch: list[Reading]) -> None:
        try:
            dropped = await self.buffer.off_loop(self.buffer.append, batch, self.clock())
        except BaseException:
            self._staged[:0] = batch  # nothing was written: keep them, oldest first
            self._bound_staged()
            self._arrived.set()
            raise
        if dropped:
            self.metrics.readings_dropped.inc(dropped)
            log.error("disk buffer full (%d readings): dropped the %d oldest", self.buffer.max_readings, dropped)
        for callback in self.on_queued:
            callback(batch)

    def _bound_staged(self) -> None:
        """While the disk fails, memory holds at most the buffer's bound; the oldest go first, as on disk."""
        excess = len(self._staged) - self.buffer.max_readings
        if excess > 0:
            del self._staged[:excess]
            self.metrics.readings_dropped.inc(excess)
            log.error("disk buffer unwritable: dropped the %d oldest readings held in memory", excess)
