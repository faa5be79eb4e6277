"""One background-worker loop for every long-running task: run a step, wait, repeat; on failure log the exception,
count it and retry after a jittered exponential backoff. Runs until cancelled.

    worker = Worker("ingest.maintenance", step, every_s=30.0, metrics=worker_metrics(registry))
    task = asyncio.create_task(worker.run())

`step` is one iteration (an async callable); a step that waits for its own wake-up (LISTEN, an event) passes
`every_s=0`. `worker.healthy`, `.failures` and `.last_success` feed health endpoints.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import NoReturn

from prometheus_client import CollectorRegistry, Counter, Gauge

log = logging.getLogger("baseload.worker")


@dataclass(frozen=True, slots=True)
class Backoff:
    """Delay before retry n (1-based): base·2^(n−1), capped at `max_s`, then scaled by a uniform ±`jitter`."""

    base_s: float = 1.0
    max_s: float = 60.0
    jitter: float = 0.2

    def delay(self, consecutive_failures: int, rand: float) -> float:
        """The delay after `consecutive_failures` (≥ 1) failures in a row; `rand` is uniform in [0, 1)."""
        raw = min(self.max_s, self.base_s * 2.0 ** min(max(consecutive_failures - 1, 0), 62))
        return raw * (1.0 + self.jitter * (2.0 * rand - 1.0))


@dataclass(frozen=True, slots=True)
class WorkerMetrics:
    """Per-worker failures and last success, in a process's (or app's) own registry."""

    failures: Counter
    last_success: Gauge


_METRICS: weakref.WeakKeyDictionary[CollectorRegistry, WorkerMetrics] = weakref.WeakKeyDictionary()


def worker_metrics(registry: CollectorRegistry) -> WorkerMetrics:
    """The worker metrics of `registry`, registered on first use (so several workers can share one registry)."""
    found = _METRICS.get(registry)
    if found is None:
        found = WorkerMetrics(
            failures=Counter(
                "baseload_worker_failures", "Failed iterations of a background worker", ["worker"], registry=registry
            ),
            last_success=Gauge(
                "baseload_worker_last_success_timestamp_seconds",
                "Unix time of a background worker's last successful iteration",
                ["worker"],
                registry=registry,
            ),
        )
        _METRICS[registry] = found
    return found


class Worker:
    """A named loop around `step`; see the module docstring."""

    def __init__(
        self,
        name: str,
        step: Callable[[], Awaitable[object]],
        *,
        every_s: float,
        backoff: Backoff = Backoff(),
        retry_on: tuple[type[Exception], ...] = (Exception,),
        metrics: WorkerMetrics | None = None,
        logger: logging.Logger = log,
        clock: Callable[[], float] = time.time,
        rand: Callable[[], float] = random.random,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        self.name = name
        self.step = step
        self.every_s = every_s
        self.backoff = backoff
        self.retry_on = retry_on
        self.metrics = metrics
        self.log = logger
        self.clock = clock
        self.rand = rand
        self.sleep = sleep
        self.failures = 0
        self.consecutive_failures = 0
        self.last_success: float | None = None
        self.last_error: Exception | None = None
        if metrics is not None:
            metrics.failures.labels(name)  # the series exists (at 0) before the first failure

    @property
    def healthy(self) -> bool:
        """True unless the latest iteration failed."""
        return self.consecutive_failures == 0

    async def run_once(self) -> float:
        """One iteration; returns how long to wait before the next. Exceptions outside `retry_on` propagate."""
        try:
            await self.step()
        except self.retry_on as exc:
            self.failures += 1
            self.consecutive_failures += 1
            self.last_error = exc
            if self.metrics is not None:
                self.metrics.failures.labels(self.name).inc()
            delay = self.backoff.delay(self.consecutive_failures, self.rand())
            self.log.warning(
                "%s failed (%d in a row), retrying in %.1f s", self.name, self.consecutive_failures, delay, exc_info=exc
            )
            return delay
        self.consecutive_failures = 0
        self.last_error = None
        self.last_success = self.clock()
        if self.metrics is not None:
            self.metrics.last_success.labels(self.name).set(self.last_success)
        return self.every_s

    async def run(self) -> NoReturn:
        """Iterate until cancelled."""
        while True:
            delay = await self.run_once()
            await self.sleep(delay)
