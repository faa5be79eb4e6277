"""Webhook delivery from the outbox: signed POSTs after commit, retries on the Standard Webhooks schedule with
jitter, dead-letter after the last attempt.

Each worker leases one due row (FOR UPDATE SKIP LOCKED, `leased_until` + a token) and commits; it then sends the POST
holding no database connection (a slow receiver cannot starve the pool), and records the outcome in a new
transaction, only if it still holds the lease. If the process dies mid-delivery the row is still pending; once the
lease expires the next dispatcher (another replica, or this one after restart) resends it with the same
`webhook-id`. Every target address goes through the egress policy at send time, and the POST connects to the
address that was checked. Receivers' reply bodies are never stored: only the status code and a reason of ours.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import secrets
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx

from services.alerts import store
from services.alerts.egress import EgressPolicy, EgressRefused, Resolver, system_resolver, target_of
from services.alerts.settings import Settings
from services.alerts.signing import signed_headers
from shared.db import DATABASE_ERRORS, asyncpg_dsn, transaction
from shared.worker import Backoff, Worker, WorkerMetrics

log = logging.getLogger("baseload.alerts.dispatch")
USER_AGENT = "baseload-alerts/0.1"


def next_attempt_at(
    attempts_made: int,
    now: datetime,
    schedule: Sequence[float],
    *,
    jitter: float = 0.0,
    rand: Callable[[], float] = random.random,
) -> datetime | None:
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


def _reason(exc: httpx.HTTPError) -> str:
    """A short reason of ours for a transport failure (never the receiver's or the OS's text)."""
    if isinstance(exc, httpx.TimeoutException):
        return "timeout"
    if isinstance(exc, httpx.ConnectError):
        return "connection failed"
    if isinstance(exc, httpx.RemoteProtocolError | httpx.LocalProtocolError):
        return "HTTP protocol error"
    return "transport error"


async def send(
    client: httpx.AsyncClient,
    url: str,
    secret: str,
    webhook_id: str,
    body: bytes,
    *,
    policy: EgressPolicy,
    resolver: Resolver,
    timeout_s: float,
) -> SendResult:
    """One signed POST to the address the policy checked; failures become a result, never an exception."""
    started = time.perf_counter()
    host, port = target_of(url)
    try:
        async with asyncio.timeout(timeout_s):
            address = await policy.resolve(host, port, resolver)
            target = httpx.URL(url).copy_with(host=address)
            headers = {
                **signed_headers(secret, webhook_id, int(time.time()), body),
                "content-type": "application/json",
                "user-agent": USER_AGENT,
                "host": httpx.URL(url).netloc.decode("ascii"),
            }
            extensions = {"sni_hostname": host} if target.scheme == "https" else {}
            response = await client.post(target, content=body, headers=headers, extensions=extensions)
    except EgressRefused as exc:
        return SendResult(None, _ms(started), f"refused by the egress policy: {exc}"[:300])
    except TimeoutError:
        return SendResult(None, _ms(started), "timeout")
    except httpx.HTTPError as exc:
        return SendResult(None, _ms(started), _reason(exc))
    error = None if 200 <= response.status_code < 300 else f"HTTP {response.status_code}"
    return SendResult(response.status_code, _ms(started), error)


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000


class Dispatcher:
    def __init__(
        self,
        pool: asyncpg.Pool,
        settings: Settings,
        database_url: str,
        client: httpx.AsyncClient,
        *,
        resolver: Resolver = system_resolver,
        metrics: WorkerMetrics | None = None,
    ) -> None:
        self.pool, self.settings, self.database_url, self.client = pool, settings, database_url, client
        self.policy, self.resolver = EgressPolicy(settings.webhook_allow_cidrs), resolver
        self._wake = asyncio.Event()
        self.sent = 0
        self.metrics = metrics

    async def run(self) -> None:
        """Workers plus a LISTEN connection that wakes them when an evaluator commits outbox rows; each is a
        shared.worker loop (failures logged, counted in /metrics and retried with backoff)."""
        workers = [
            asyncio.create_task(self._worker(f"alerts.dispatch.{i}", self.deliver_or_wait).run())
            for i in range(self.settings.dispatch_concurrency)
        ]
        try:
            await self._worker("alerts.dispatch.listen", self.listen).run()
        finally:
            for task in workers:
                task.cancel()
            await asyncio.gather(*workers, return_exceptions=True)

    def _worker(self, name: str, step: Callable[[], Awaitable[object]]) -> Worker:
        return Worker(
            name, step, every_s=0.0, backoff=Backoff(base_s=1.0, max_s=10.0), metrics=self.metrics, logger=log
        )

    async def listen(self) -> None:
        """Hold a LISTEN connection until it is lost (the next step reconnects); wake the workers on connect."""
        conn = await asyncpg.connect(asyncpg_dsn(self.database_url))
        try:
            await conn.add_listener(self.settings.outbox_channel, lambda *_: self._wake.set())
            lost = asyncio.Event()
            conn.add_termination_listener(lambda _, lost=lost: lost.set())
            self._wake.set()
            await lost.wait()
        finally:
            with contextlib.suppress(*DATABASE_ERRORS):
                await conn.close()
        log.warning("dispatcher: LISTEN connection lost; reconnecting")

    async def deliver_or_wait(self) -> None:
        """Deliver the next due notification; with none due, wait for a wake-up or the poll interval."""
        if await self.deliver_one():
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), self.settings.dispatch_poll_s)
        self._wake.clear()

    async def deliver_one(self) -> bool:
        """Lease the next due delivery, send it with no connection held, record the outcome; True if one was tried."""
        async with transaction(self.pool) as conn:
            claim = await store.claim_delivery(
                conn, lease_s=self.settings.delivery_lease_s, token=secrets.token_hex(16)
            )
        if claim is None:
            return False
        result = await send(
            self.client,
            claim.url,
            claim.secret,
            claim.webhook_id,
            claim.body.encode(),
            policy=self.policy,
            resolver=self.resolver,
            timeout_s=self.settings.delivery_timeout_s,
        )
        async with transaction(self.pool) as conn:
            recorded = await self._record(conn, claim, result)
        if result.delivered and recorded:
            self.sent += 1
        return True

    async def _record(self, conn: asyncpg.Connection, claim: store.Claim, result: SendResult) -> bool:
        now = datetime.now(UTC)
        attempt = claim.attempts + 1
        retry = (
            None
            if result.delivered
            else next_attempt_at(attempt, now, self.settings.retry_schedule_s, jitter=self.settings.retry_jitter)
        )
        if not result.delivered:
            log.info("delivery %s attempt %d failed: %s", claim.webhook_id, attempt, result.error)
        recorded = await store.record_attempt(
            conn,
            claim,
            at=now,
            status_code=result.status_code,
            latency_ms=result.latency_ms,
            error=result.error,
            next_attempt_at=retry,
            delivered=result.delivered,
        )
        if not recorded:
            log.warning(
                "delivery %s: the lease expired during the attempt; another worker owns it now", claim.webhook_id
            )
        return recorded
