"""The background-worker loop: waits `every_s` after success, backs off with jitter after failures, logs, counts."""

from __future__ import annotations

import asyncio
import logging

import pytest
from prometheus_client import CollectorRegistry

from shared.worker import Backoff, Worker, worker_metrics


class Steps:
    """A step that fails with the queued exceptions, in order, then succeeds."""

    def __init__(self, *failures: Exception) -> None:
        self.failures = list(failures)
        self.calls = 0

    async def __call__(self) -> None:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)


class Sleeps:
    """Records requested delays; cancels the loop after `limit` of them."""

    def __init__(self, limit: int) -> None:
        self.delays: list[float] = []
        self.limit = limit

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)
        if len(self.delays) >= self.limit:
            raise asyncio.CancelledError


@pytest.mark.parametrize(
    ("failures", "rand", "expected"),
    [
        (1, 0.5, 1.0),
        (2, 0.5, 2.0),
        (4, 0.5, 8.0),
        (10, 0.5, 60.0),  # capped
        (1, 0.0, 0.8),  # -20 %
        (3, 0.999999, 4.0 * 1.2),  # +20 %, just under
        (10_000, 0.5, 60.0),  # no overflow
    ],
)
def test_backoff_doubles_to_the_cap_with_bounded_jitter(failures: int, rand: float, expected: float) -> None:
    assert Backoff(base_s=1.0, max_s=60.0, jitter=0.2).delay(failures, rand) == pytest.approx(expected, rel=1e-5)


async def test_failures_back_off_then_success_returns_to_the_period(caplog: pytest.LogCaptureFixture) -> None:
    registry = CollectorRegistry()
    step = Steps(OSError("db down"), OSError("still down"))
    sleeps = Sleeps(limit=4)
    worker = Worker(
        "test.loop",
        step,
        every_s=30.0,
        backoff=Backoff(base_s=5.0, max_s=60.0, jitter=0.0),
        metrics=worker_metrics(registry),
        clock=lambda: 1234.5,
        sleep=sleeps,
    )
    with caplog.at_level(logging.WARNING, logger="baseload.worker"), pytest.raises(asyncio.CancelledError):
        await worker.run()
    assert sleeps.delays == [5.0, 10.0, 30.0, 30.0]
    assert step.calls == 4
    assert worker.failures == 2 and worker.healthy and worker.last_success == 1234.5
    assert registry.get_sample_value("baseload_worker_failures_total", {"worker": "test.loop"}) == 2
    last = registry.get_sample_value("baseload_worker_last_success_timestamp_seconds", {"worker": "test.loop"})
    assert last == 1234.5
    failed = [r for r in caplog.records if "test.loop failed" in r.getMessage()]
    assert len(failed) == 2 and failed[0].exc_info is not None and "db down" in str(failed[0].exc_info[1])


async def test_an_error_outside_retry_on_stops_the_worker() -> None:
    worker = Worker("test.narrow", Steps(KeyError("bug")), every_s=1.0, retry_on=(OSError,), sleep=Sleeps(limit=9))
    with pytest.raises(KeyError):
        await worker.run()


async def test_a_failing_worker_reports_unhealthy_until_it_succeeds() -> None:
    worker = Worker("test.health", Steps(RuntimeError("x")), every_s=1.0, sleep=Sleeps(limit=9))
    assert await worker.run_once() > 0 and not worker.healthy
    assert isinstance(worker.last_error, RuntimeError) and worker.last_success is None
    assert await worker.run_once() == 1.0 and worker.healthy and worker.last_error is None


def test_workers_share_one_registry() -> None:
    registry = CollectorRegistry()
    assert worker_metrics(registry) is worker_metrics(registry)
    Worker("a", Steps(), every_s=1.0, metrics=worker_metrics(registry))
    Worker("b", Steps(), every_s=1.0, metrics=worker_metrics(registry))
    assert registry.get_sample_value("baseload_worker_failures_total", {"worker": "b"}) == 0


async def test_cancellation_is_not_counted_as_a_failure() -> None:
    async def step() -> None:
        raise asyncio.CancelledError

    worker = Worker("test.cancel", step, every_s=1.0, sleep=Sleeps(limit=9))
    with pytest.raises(asyncio.CancelledError):
        await worker.run()
    assert worker.failures == 0
