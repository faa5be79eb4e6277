"""The sender against a real HTTP receiver on 127.0.0.1: what each answer does to the queued batch."""

from __future__ import annotations

import asyncio
import random
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from fastapi import FastAPI, Request, Response

from services.gateway.buffer import DiskBuffer, Queued
from services.gateway.metrics import GatewayMetrics
from services.gateway.readings import Reading
from services.gateway.sender import Sender
from tests.integration.gateway.conftest import Receiver, gateway_config
from tests.support import serving

T0 = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


def readings(n: int, signal: str = "grid.frequency") -> list[Reading]:
    return [Reading(signal, T0 + timedelta(seconds=i), 50.0 + i / 1000, 0) for i in range(n)]


async def make_sender(tmp_path: Path, url: str) -> tuple[Sender, DiskBuffer, httpx.AsyncClient]:
    config = gateway_config(tmp_path, ingest_url=url)
    buffer = DiskBuffer(tmp_path / "q.sqlite3", 10_000)
    client = httpx.AsyncClient(base_url=url, headers={"Authorization": "Bearer bl_test"})
    return Sender(config, buffer, GatewayMetrics(), client, rng=random.Random(1)), buffer, client


async def test_retry_after_is_honoured_and_the_batch_is_kept(tmp_path: Path) -> None:
    receiver = Receiver(plan=[(429, {"Retry-After": "7"}), (503, {"Retry-After": "2"})])
    async with serving(receiver.app()) as url:
        sender, buffer, client = await make_sender(tmp_path, url)
        buffer.append(readings(5), 0.0)
        batch = buffer.peek(100)
        assert await sender.deliver(batch) == 7.0
        assert await sender.deliver(batch) >= 2.0
        assert buffer.depth() == 5 and receiver.readings == []
        assert await sender.deliver(batch) == 0.0
        await client.aclose()
    assert buffer.depth() == 0 and len(receiver.readings) == 5 and receiver.requests == 3


async def test_a_batch_refused_for_good_is_dead_lettered_and_the_queue_moves_on(tmp_path: Path) -> None:
    receiver = Receiver(plan=[(422, {})])
    async with serving(receiver.app()) as url:
        sender, buffer, client = await make_sender(tmp_path, url)
        buffer.append(readings(3, "a"), 0.0)
        buffer.append(readings(2, "b"), 0.0)
        assert await sender.deliver(buffer.peek(3)) == 0.0
        assert await sender.deliver(buffer.peek(100)) == 0.0
        await client.aclose()
    stats = buffer.stats()
    assert (stats.depth, stats.dead_letters) == (0, 3)
    assert [r["signal"] for r in receiver.readings] == ["b", "b"]
    reason = buffer._db.execute("SELECT DISTINCT reason FROM dead_letters").fetchall()
    assert reason == [("HTTP 422 scripted: scripted failure",)]
    assert buffer.requeue_dead_letters(1.0) == 3 and buffer.depth() == 3


async def test_rejected_readings_are_logged_and_not_retried(tmp_path: Path) -> None:
    app = FastAPI()
    posts: list[int] = []

    @app.post("/v1/readings")
    async def partial(request: Request) -> Response:
        body = await request.json()
        posts.append(len(body["readings"]))
        return Response(
            '{"accepted":3,"duplicates":0,"rejected":[{"index":1,"code":"out_of_range","message":"x"}]}',
            media_type="application/json",
        )

    async with serving(app) as url:
        sender, buffer, client = await make_sender(tmp_path, url)
        buffer.append(readings(4), 0.0)
        assert await sender.deliver(buffer.peek(100)) == 0.0
        await client.aclose()
    assert posts == [4] and buffer.depth() == 0
    sent = sender.metrics.registry.get_sample_value("gateway_readings_sent_total", {"result": "rejected"})
    assert sent == 1.0


async def test_an_unreachable_ingest_is_retried_with_growing_backoff(tmp_path: Path) -> None:
    sender, buffer, client = await make_sender(tmp_path, "http://127.0.0.1:9")
    buffer.append(readings(2), 0.0)
    delays = [await sender.deliver(buffer.peek(10)) for _ in range(5)]
    await client.aclose()
    assert buffer.depth() == 2 and sender.last_error == "ConnectError"
    assert delays[0] <= 0.1 < delays[2] and delays[4] <= 0.5  # base 0.1 s, cap 0.5 s in the test config


def test_the_buffer_is_bounded_and_drops_the_oldest(tmp_path: Path) -> None:
    buffer = DiskBuffer(tmp_path / "small.sqlite3", 100)
    assert buffer.append(readings(80), 0.0) == 0
    assert buffer.append(readings(50, "newer"), 1.0) == 30
    kept = buffer.peek(1000)
    assert len(kept) == buffer.depth() == 100
    assert kept[0].reading == readings(80)[30] and kept[-1].reading.signal == "newer"
    buffer.close()
    assert DiskBuffer(tmp_path / "small.sqlite3", 100).depth() == 100  # survives a reopen


class FailingOnceBuffer(DiskBuffer):
    """A disk buffer whose first read fails, as a locked or failing disk would."""

    failed = False

    def peek(self, limit: int) -> list[Queued]:
        if not self.failed:
            self.failed = True
            raise sqlite3.OperationalError("disk I/O error")
        return super().peek(limit)


async def test_the_sender_survives_a_failing_disk_read_and_delivers_after_it(tmp_path: Path) -> None:
    receiver = Receiver()
    async with serving(receiver.app()) as url:
        config = gateway_config(tmp_path, ingest_url=url)
        buffer = FailingOnceBuffer(tmp_path / "q.sqlite3", 10_000)
        client = httpx.AsyncClient(base_url=url, headers={"Authorization": "Bearer bl_test"})
        sender = Sender(config, buffer, GatewayMetrics(), client, rng=random.Random(1))
        buffer.append(readings(3), 0.0)
        task = asyncio.create_task(sender.run())
        for _ in range(200):
            if buffer.depth() == 0:
                break
            await asyncio.sleep(0.05)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await client.aclose()
    assert buffer.failed and buffer.depth() == 0 and len(receiver.readings) == 3
    failures = sender.metrics.registry.get_sample_value("baseload_worker_failures_total", {"worker": "gateway.sender"})
    assert failures == 1
