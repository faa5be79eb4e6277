"""The disk buffer off the event loop: bursts written in one transaction on the buffer's thread, counts from memory."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import ParamSpec, TypeVar

import pytest

from services.gateway.buffer import BufferStats, DiskBuffer
from services.gateway.intake import Intake
from services.gateway.metrics import GatewayMetrics
from services.gateway.readings import Reading

T0 = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
P = ParamSpec("P")
T = TypeVar("T")


def readings(n: int, signal: str = "grid.frequency") -> list[Reading]:
    return [Reading(signal, T0 + timedelta(seconds=i), 50.0 + i / 1000, 0) for i in range(n)]


class Trace:
    """Every SQL statement the buffer runs, with the thread that ran it."""

    def __init__(self, buffer: DiskBuffer) -> None:
        self.statements: list[tuple[str, int]] = []
        buffer._db.set_trace_callback(lambda sql: self.statements.append((sql, threading.get_ident())))

    def begins(self) -> int:
        return sum(sql.startswith("BEGIN") for sql, _ in self.statements)


def truth(buffer: DiskBuffer) -> BufferStats:
    """The stats as SQL says, to hold the in-memory ones against."""
    db = buffer._db
    depth = db.execute("SELECT count(*) FROM pending").fetchone()[0]
    oldest = db.execute("SELECT enqueued_at, ts FROM pending ORDER BY id LIMIT 1").fetchone() or (None, None)
    dead = db.execute("SELECT count(*) FROM dead_letters").fetchone()[0]
    return BufferStats(depth, oldest[0], oldest[1], dead)


def test_stats_come_from_memory_and_match_the_tables_after_every_kind_of_write(tmp_path: Path) -> None:
    buffer = DiskBuffer(tmp_path / "q.sqlite3", 100)
    trace = Trace(buffer)
    assert buffer.stats() == truth(buffer) == BufferStats(0, None, None, 0)
    steps: list[Callable[[], object]] = [
        lambda: buffer.append(readings(60), 1.0),
        lambda: buffer.append(readings(70, "newer"), 2.0),  # drops 30 of the oldest
        lambda: buffer.ack([q.id for q in buffer.peek(10)]),
        lambda: buffer.dead_letter([q.id for q in buffer.peek(5)], "refused", 3.0),
        lambda: buffer.ack([q.id for q in buffer.peek(1000)]),
        lambda: buffer.requeue_dead_letters(4.0),
    ]
    for step in steps:
        step()
        trace.statements.clear()
        stats = buffer.stats()
        assert buffer.depth() == stats.depth
        assert trace.statements == []  # no query to read them
        assert stats == truth(buffer)
    assert buffer.stats() == BufferStats(5, 4.0, "2026-11-25T10:00:40.000000Z", 0)
    buffer.close()
    assert DiskBuffer(tmp_path / "q.sqlite3", 100).stats() == BufferStats(5, 4.0, "2026-11-25T10:00:40.000000Z", 0)


async def test_a_burst_of_data_changes_is_one_transaction_written_off_the_event_loop(tmp_path: Path) -> None:
    buffer = DiskBuffer(tmp_path / "q.sqlite3", 10_000)
    trace = Trace(buffer)
    queued: list[int] = []
    done = asyncio.Event()

    def on_queued(batch: Sequence[Reading]) -> None:
        queued.append(len(batch))
        done.set()

    intake = Intake(buffer, GatewayMetrics(), interval_s=0.05, on_queued=[on_queued])
    writer = asyncio.create_task(intake.run())
    for reading in readings(200):  # one OPC UA data change at a time
        intake.put([reading])
    assert trace.statements == [] and buffer.depth() == 0 and intake.staged == 200  # put() does no I/O
    await asyncio.wait_for(done.wait(), 10)
    writer.cancel()
    await intake.close()
    assert queued == [200] and buffer.depth() == 200 and trace.begins() == 1
    threads = {thread for _, thread in trace.statements}
    assert len(threads) == 1 and threading.get_ident() not in threads  # the buffer's own thread, not the loop's
    buffer.close()


async def test_readings_staged_when_the_bridge_stops_are_written_on_close(tmp_path: Path) -> None:
    buffer = DiskBuffer(tmp_path / "q.sqlite3", 10_000)
    intake = Intake(buffer, GatewayMetrics(), interval_s=10.0)  # the tick never comes
    writer = asyncio.create_task(intake.run())
    intake.put(readings(7))
    await asyncio.sleep(0.05)
    writer.cancel()
    await asyncio.gather(writer, return_exceptions=True)
    assert buffer.depth() == 0
    await intake.close()
    assert buffer.depth() == 7 and intake.staged == 0
    buffer.close()


class FlakyDisk:
    """A buffer whose first `failures` writes fail like a full or locked disk."""

    def __init__(self, failures: int, max_readings: int = 1000) -> None:
        self.failures = failures
        self.max_readings = max_readings
        self.written: list[list[Reading]] = []

    async def off_loop(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        return fn(*args, **kwargs)

    def append(self, batch: Iterable[Reading], now: float) -> int:
        if self.failures:
            self.failures -= 1
            raise sqlite3.OperationalError("database or disk is full")
        self.written.append(list(batch))
        return 0


async def test_a_failed_write_keeps_the_readings_and_is_retried(caplog: pytest.LogCaptureFixture) -> None:
    disk = FlakyDisk(failures=2)
    intake = Intake(disk, GatewayMetrics(), interval_s=0.0)
    writer = asyncio.create_task(intake.run())
    intake.put(readings(3))
    for _ in range(200):
        if disk.written:
            break
        await asyncio.sleep(0.05)
    writer.cancel()
    await asyncio.gather(writer, return_exceptions=True)
    assert disk.written == [readings(3)] and intake.worker.failures == 2
    assert sum("gateway.intake failed" in r.getMessage() for r in caplog.records) == 2


async def test_while_the_disk_fails_memory_keeps_only_the_newest_readings_up_to_the_bound() -> None:
    metrics = GatewayMetrics()
    disk = FlakyDisk(failures=1, max_readings=5)
    intake = Intake(disk, metrics, interval_s=0.0)
    intake.put(readings(8))
    with pytest.raises(sqlite3.OperationalError):
        await intake.flush()
    assert intake.staged == 5 and metrics.registry.get_sample_value("gateway_readings_dropped_total") == 3
    await intake.flush()
    assert disk.written == [readings(8)[3:]]
