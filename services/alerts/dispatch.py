"""Webhook delivery from the outbox: signed POSTs after commit, retries on the Standard Webhooks schedule with
jitter, dead-letter after the last attempt.

Each worker claims one due row (FOR UPDATE SKIP LOCKED), sends it while holding the row lock, then logs the attempt
and commits. If the process dies mid-delivery the transaction aborts, the row is still pending, and the next
dispatcher (another replica, or this one after restart) resends it with the same `webhook-id`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx

from services.alerts import store
from services.alerts.settings import Settings
from services.alerts.signing import signed_headers
from shared.db import UNAVAILABLE_ERRORS, asyncpg_dsn

log = logging.getLogger("baseload.alerts.dispatch")
USER_AGENT = "baseload-alerts/0.1"


def next_attempt_at(attempts_made: int, now: datetime, schedule: Sequence[float], *, jitter: float = 0.0,
                    rand: Callable[[], float] = random.random) -> datetime | None:
    """When to try again after `attempts_made` failed attempts; None once the schedule is used up (dead-letter).

    schedule[i] is the delay before attempt i+1 (the first is normally 0: immediately).
    """
    if attempts_made >= len(schedule):
        return None
    delay = schedule[attempts_made]
    return now + timedelta(seconds=delay * (1 + jitter * (2 * rand() - 1)))


@dataclass(frozen=True, slots=True)
class SendResult:
    status_code: int | None
    latency_ms: float
    error: str | None

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


async def send(client: httpx.AsyncClient, url: str, secret: str, webhook_id: str, body: bytes) -> SendResult:
    """One signed POST; transport errors become a result, never an exception."""
    headers = {**signed_headers(secret, webhook_id, int(time.time()), body),
               "content-type": "application/json", "user-agent": USER_AGENT}
    started = time.perf_counter()
    try:
        response = await client.post(url, content=body, headers=headers)
    except httpx.HTTPError as exc:
        return SendResult(None, (time.perf_counter() - started) * 1000, f"{type(exc).__name__}: {exc}"[:500])
    latency = (time.perf_counter() - started) * 1000
    error = None if 200 <= response.status_code < 300 else f"HTTP {response.status_code}: {response.text[:200]}"
    return SendResult(response.status_code, latency, error)


class Dispatcher:
    def __init__(self, pool: asyncpg.Pool, settings: Settings, database_url: str, client: httpx.AsyncClient) -> None:
        self.pool, self.settings, self.database_url, self.client = pool, settings, database_url, client
        self._wake = asyncio.Event()
        self.sent = 0

    async def run(self) -> None:
        """Workers plus a LISTEN connection that wakes them when an evaluator commits outbox rows."""
        workers = [asyncio.create_task(self._worker()) for _ in range(self.settings.dispatch_concurrency)]
        try:
            await self._listen()
        finally:
            for task in workers:
                task.cancel()
            await asyncio.gather(*workers, return_exceptions=True)

    async def _listen(self) -> None:
        while True:
            try:
                conn = await asyncpg.connect(asyncpg_dsn(self.database_url))
                try:
                    await conn.add_listener(self.settings.outbox_channel, lambda *_: self._wake.set())
                    lost = asyncio.Event()
                    conn.add_termination_listener(lambda _, lost=lost: lost.set())
                    self._wake.set()
                    await lost.wait()
                finally:
                    await conn.close()
            except (*UNAVAILABLE_ERRORS, asyncpg.PostgresError) as exc:
                log.warning("dispatcher: LISTEN connection lost (%r); retrying", exc)
                await asyncio.sleep(1.0)

    async def _worker(self) -> None:
        while True:
            try:
                if await self.deliver_one():
                    continue
            except (*UNAVAILABLE_ERRORS, asyncpg.PostgresError) as exc:
                log.warning("dispatcher: database error (%r)", exc)
            except Exception:
                log.exception("dispatcher: unexpected error; the delivery stays queued")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.settings.dispatch_poll_s)
            self._wake.clear()

    async def deliver_one(self) -> bool:
        """Send the next due delivery, if any; True when one was attempted."""
        async with self.pool.acquire() as conn, conn.transaction():
            row = await store.claim_delivery(conn)
            if row is None:
                return False
            result = await send(self.client, row["url"], row["secret"], row["webhook_id"], row["body"].encode())
            await self._record(conn, row, result)
        if result.delivered:
            self.sent += 1
        return True

    async def _record(self, conn: asyncpg.Connection, row: Any, result: SendResult) -> None:
        now = datetime.now(UTC)
        attempt = row["attempts"] + 1
        retry = None if result.delivered else next_attempt_at(
            attempt, now, self.settings.retry_schedule_s, jitter=self.settings.retry_jitter)
        if not result.delivered:
            log.info("delivery %s attempt %d failed: %s", row["webhook_id"], attempt, result.error)
        await store.record_attempt(conn, row["id"], attempt, at=now, status_code=result.status_code,
                                   latency_ms=result.latency_ms, error=result.error, next_attempt_at=retry,
                                   delivered=result.delivered)
