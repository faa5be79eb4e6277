"""Moves batches from the disk buffer to ingest: batches by size and age, retries with backoff, honours Retry-After."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import sqlite3
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx

from services.gateway.buffer import DiskBuffer, Queued
from services.gateway.config import GatewayConfig
from services.gateway.delivery import Outcome, Verdict, batch_due, classify, retry_delay_s
from services.gateway.metrics import GatewayMetrics
from services.gateway.readings import Reading, format_ts, to_json
from shared.worker import Backoff, Worker, worker_metrics

log = logging.getLogger("baseload.gateway.sender")
logging.getLogger("httpx").setLevel(logging.WARNING)  # one INFO line per POST drowns the log


class Sender:
    def __init__(
        self,
        config: GatewayConfig,
        buffer: DiskBuffer,
        metrics: GatewayMetrics,
        client: httpx.AsyncClient,
        *,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        self.config = config
        self.buffer = buffer
        self.metrics = metrics
        self.client = client
        self.clock = clock
        self.rng = rng or random.Random()
        self.wakeup = asyncio.Event()
        self.last_success: float | None = None
        self.last_error: str | None = None
        self._attempt = 0

    def notify(self) -> None:
        """New readings are in the buffer."""
        self.wakeup.set()

    async def run(self) -> None:
        """Deliver batches until cancelled; a failing disk buffer is logged, counted and retried (shared.worker)."""
        await Worker(
            "gateway.sender",
            self._step,
            every_s=0.0,
            retry_on=(sqlite3.Error, OSError),
            backoff=Backoff(base_s=0.5, max_s=30.0),
            metrics=worker_metrics(self.metrics.registry),
            logger=log,
        ).run()

    async def _step(self) -> None:
        await self._wait_until_due()
        batch = await self.buffer.off_loop(self.buffer.peek, self.config.batch.max_size)
        if batch:
            delay = await self.deliver(batch)
            if delay:
                await asyncio.sleep(delay)

    async def _wait_until_due(self) -> None:
        cfg = self.config.batch
        while True:
            self.wakeup.clear()  # before looking, so a notify that lands meanwhile is not lost
            stats = self.buffer.stats()
            age = None if stats.oldest_enqueued_at is None else self.clock() - stats.oldest_enqueued_at
            self.update_gauges()
            if batch_due(stats.depth, age, cfg.max_size, cfg.max_age_s):
                return
            timeout = cfg.max_age_s if age is None else max(cfg.max_age_s - age, 0.01)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wakeup.wait(), timeout)

    async def deliver(self, batch: list[Queued]) -> float:
        """Post one batch and act on the answer; returns how long to wait before the next attempt (0: go on)."""
        outcome = await self._post(batch)
        ids = [q.id for q in batch]
        if outcome.verdict is Verdict.DELIVERED:
            await self.buffer.off_loop(self.buffer.ack, ids)
            self._record_delivery(batch, outcome)
            return 0.0
        if outcome.verdict is Verdict.DEAD:
            log.error(
                "ingest refused a batch of %d readings for good (%s); moved to dead letters", len(batch), outcome.reason
            )
            await self.buffer.off_loop(self.buffer.dead_letter, ids, outcome.reason, self.clock())
            self._attempt = 0
            return 0.0
        self.metrics.post_failures.labels(reason=outcome.reason.split(":")[0]).inc()
        self.last_error = outcome.reason
        r = self.config.retry
        delay = retry_delay_s(self._attempt, outcome.retry_after_s, r.base_s, r.max_s, r.max_retry_after_s, self.rng)
        self._attempt += 1
        log.warning(
            "ingest not reachable or busy (%s); %d readings buffered, retrying in %.1fs",
            outcome.reason,
            self.buffer.depth(),
            delay,
        )
        return delay

    async def _post(self, batch: list[Queued]) -> Outcome:
        body = {"readings": [to_json(q.reading) for q in batch]}
        try:
            response = await self.client.post("/v1/readings", json=body)
        except httpx.HTTPError as exc:
            return Outcome(Verdict.RETRY, f"{type(exc).__name__}")
        return classify(
            response.status_code, _json_or_none(response), response.headers.get("retry-after"), datetime.now(UTC)
        )

    def _record_delivery(self, batch: list[Queued], outcome: Outcome) -> None:
        self._attempt = 0
        self.last_success = self.clock()
        self.last_error = None
        m = self.metrics
        m.last_success.set(self.last_success)
        m.readings_sent.labels(result="accepted").inc(outcome.accepted)
        m.readings_sent.labels(result="duplicate").inc(outcome.duplicates)
        m.readings_sent.labels(result="rejected").inc(len(outcome.rejected))
        for line in rejection_lines(outcome.rejected, [q.reading for q in batch]):
            log.warning("%s", line)
        self.update_gauges()

    def update_gauges(self) -> None:
        stats = self.buffer.stats()
        self.metrics.buffer_depth.set(stats.depth)
        age = 0.0 if stats.oldest_enqueued_at is None else max(0.0, self.clock() - stats.oldest_enqueued_at)
        self.metrics.buffer_oldest_age.set(age)
        self.metrics.dead_letters.set(stats.dead_letters)


def rejection_lines(rejected: list[dict[str, Any]], batch: list[Reading]) -> list[str]:
    """One readable line per rejection code: how many, which signals, the time span, and one example message."""
    by_code: dict[str, list[tuple[Reading | None, str]]] = {}
    for item in rejected:
        index = item.get("index")
        reading = batch[index] if isinstance(index, int) and 0 <= index < len(batch) else None
        by_code.setdefault(str(item.get("code") or "rejected"), []).append((reading, str(item.get("message") or "")))
    lines = []
    for code, items in by_code.items():
        readings = [r for r, _ in items if r is not None]
        where = ""
        if readings:
            signals = sorted({r.signal for r in readings})
            names = ", ".join(signals[:3]) + (f" +{len(signals) - 3} more" if len(signals) > 3 else "")
            first, last = min(r.ts for r in readings), max(r.ts for r in readings)
            span = format_ts(first) if first == last else f"{format_ts(first)} .. {format_ts(last)}"
            where = f" ({names}; {span})"
        example = next((m for _, m in items if m), "")
        lines.append(
            f"ingest rejected {len(items)} reading{'s' if len(items) != 1 else ''} as {code}{where}"
            + (f": {example}" if example else "")
        )
    return lines


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None
