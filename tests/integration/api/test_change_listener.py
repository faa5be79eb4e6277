"""The api's change listener on a real PostgreSQL: a NOTIFY reaches the cache; a dropped connection is logged and
counted, the cache goes off and empty while deaf, and a query that started before the outage cannot store what it
read (issue 9 §4), also for a signal that had nothing cached."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime

import asyncpg
import pytest
from prometheus_client import CollectorRegistry

from services.api.app import cache_switch
from services.api.cache import BucketCache
from services.api.changes import ChangeListener
from shared.contracts import READINGS_CHANNEL, encode_readings_changed
from shared.worker import Backoff, Worker, worker_metrics

T0 = datetime(2026, 6, 1, 10, 0, tzinfo=UTC)
VARIANT = (60.0, "aggregate")


async def until(check: Callable[[], bool], within_s: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + within_s
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def test_listener_outage_is_logged_counted_and_leaves_no_stale_cache(
    database_url: str, db: asyncpg.Pool, caplog: pytest.LogCaptureFixture
) -> None:
    cache = BucketCache(max_entries=100)
    listener = ChangeListener(database_url, READINGS_CHANNEL, cache.on_notification, cache_switch(cache))
    registry = CollectorRegistry()
    worker = Worker(
        "api.changes",
        listener.step,
        every_s=0.05,
        backoff=Backoff(base_s=0.05, max_s=0.2),
        metrics=worker_metrics(registry),
        logger=logging.getLogger("baseload.api.changes"),
    )
    task = asyncio.create_task(worker.run())
    try:
        await until(lambda: cache.enabled)
        cache.store(5, VARIANT, cache.generation(5), {T0: 1})
        for payload in encode_readings_changed([5], T0, T0):
            await db.execute("SELECT pg_notify($1, $2)", READINGS_CHANNEL, payload)
        await until(lambda: listener.heard == 1)
        assert cache.lookup(5, VARIANT, [T0]) is None

        cache.store(5, VARIANT, cache.generation(5), {T0: 2})
        in_flight = cache.generation(9)  # a query for signal 9 (nothing cached) reads before the outage...
        assert listener._conn is not None
        pid = listener._conn.get_server_pid()
        with caplog.at_level(logging.WARNING, logger="baseload.api.changes"):
            await db.execute("SELECT pg_terminate_backend($1)", pid)
            await until(lambda: worker.failures >= 1)
            assert not cache.enabled and cache.entries == 0  # deaf: off and empty
        assert any("api.changes failed" in r.getMessage() for r in caplog.records)
        failures = registry.get_sample_value("baseload_worker_failures_total", {"worker": "api.changes"})
        assert failures is not None and failures >= 1

        await until(lambda: cache.enabled and worker.healthy)  # reconnected, by the worker's retry
        assert listener._conn is not None and listener._conn.get_server_pid() != pid
        cache.store(9, VARIANT, in_flight, {T0: 3})  # ... and stores after it: refused
        assert cache.lookup(9, VARIANT, [T0]) is None and cache.entries == 0
        cache.store(9, VARIANT, cache.generation(9), {T0: 4})  # a query started after the reconnect may store
        assert cache.lookup(9, VARIANT, [T0]) == {T0: 4}
        last = registry.get_sample_value("baseload_worker_last_success_timestamp_seconds", {"worker": "api.changes"})
        assert last is not None and last > 0
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        listener.close()
    assert not cache.enabled and not listener.listening
