"""The readings-change listener: LISTEN on the ingest service's NOTIFY channel and tell the bucket cache.

Runs on `shared.worker.Worker`: each iteration connects (and starts listening) if it is not connected, else checks
the connection with a query, which notices a half-open one. A failure is logged and counted by the worker, the
listener reports itself deaf (`on_state(False)`: the cache empties and stays off) and the worker retries with backoff.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import asyncpg

from shared.db import asyncpg_dsn
from shared.worker import Worker, WorkerMetrics

log = logging.getLogger("baseload.api.changes")


class ChangeListener:
    """One LISTEN connection; `step` is a worker iteration, `close` ends it (on shutdown)."""

    def __init__(
        self,
        url: str,
        channel: str,
        on_payload: Callable[[str], None],
        on_state: Callable[[bool], None],
        *,
        timeout_s: float = 5.0,
    ) -> None:
        self.url = url
        self.channel = channel
        self.on_payload = on_payload
        self.on_state = on_state
        self.timeout_s = timeout_s
        self.heard = 0
        self._conn: asyncpg.Connection | None = None

    @property
    def listening(self) -> bool:
        return self._conn is not None and not self._conn.is_closed()

    async def step(self) -> None:
        if self._conn is not None and self._conn.is_closed():
            self.close()  # closed under us: notifications may have been missed
            raise ConnectionError(f"the LISTEN connection on {self.channel!r} closed")
        try:
            if self._conn is None:
                self._conn = await asyncpg.connect(asyncpg_dsn(self.url), timeout=self.timeout_s)
                await self._conn.add_listener(self.channel, self._heard)
                self.on_state(True)
                log.info("listening on %s", self.channel)
            else:
                await self._conn.fetchval("SELECT 1", timeout=self.timeout_s)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Stop listening: the cache is told first, then the connection is dropped."""
        conn, self._conn = self._conn, None
        self.on_state(False)
        if conn is not None and not conn.is_closed():
            conn.terminate()

    def _heard(self, _conn: object, _pid: int, _channel: str, payload: object) -> None:
        self.heard += 1
        self.on_payload(str(payload))


def listener_worker(listener: ChangeListener, *, every_s: float, metrics: WorkerMetrics | None) -> Worker:
    return Worker("api.changes", listener.step, every_s=every_s, metrics=metrics, logger=log)
