"""The compression job (issue 14): every closed UTC day of readings moves into per-signal hour blocks.

A day is closed once it ended `compress_after` ago (BASELOAD_INGEST_COMPRESS_AFTER_HOURS). Each day moves in one
transaction, under the day's advisory lock (writers of that day wait; nobody else does): for each signal, stream its
readings (binary COPY), encode hour blocks, insert them; check that every row of the partition moved, mark the day
compressed, move the day's rollups_1m rows into one rollup_days row per signal (shared/history/packed.py),
TRUNCATE the partition (its files go back to the file system at commit). A crash or kill leaves the day either
untouched or fully moved. Minutes a late reading unpacked (services/ingest/blocks.py `merge_late`) are packed again
on a later run, each day under its lock. The emptied partition is then dropped in a short transaction of its own (DROP
locks the parent table: taken with a lock timeout and retried on the next run rather than queueing ingest behind it).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import asyncpg
import numpy as np
from numpy.typing import NDArray
from prometheus_client import CollectorRegistry, Counter, Gauge

from services.ingest import blocks
from services.ingest.blocks import Packed
from services.ingest.settings import Settings
from services.ingest.store import existing_partition_days
from shared.db import connection
from shared.history.codec import encode_block
from shared.history.spans import block_starts_us, closed_before, from_us
from shared.worker import Backoff, Worker, worker_metrics

log = logging.getLogger("baseload.ingest.compaction")
Progress = Callable[[int], object]


@dataclass(frozen=True)
class CompressionMetrics:
    readings: Counter
    days: Counter
    pending_days: Gauge
    lock_timeouts: Counter

    @classmethod
    def create(cls, registry: CollectorRegistry) -> CompressionMetrics:
        return cls(
            readings=Counter(
                "baseload_ingest_compressed_readings", "Readings moved into compressed blocks", registry=registry
            ),
            days=Counter("baseload_ingest_compressed_days", "UTC days of readings compressed", registry=registry),
            pending_days=Gauge(
                "baseload_ingest_compression_pending_days",
                "Closed UTC days still in readings partitions (compressed or dropped on the next runs)",
                registry=registry,
            ),
            lock_timeouts=Counter(
                "baseload_ingest_compression_lock_timeouts",
                "Days whose TRUNCATE or DROP could not get its lock in time (retried on the next run)",
                registry=registry,
            ),
        )


@dataclass
class CompressionRun:
    """What one run did."""

    days: int = 0
    readings: int = 0
    blocks: int = 0
    payload_bytes: int = 0
    packed: Packed = field(default_factory=Packed)  # signal-days of minutes packed
    dropped: int = 0
    deferred: list[date] = field(default_factory=list)  # lock timeouts: retried next run
    seconds: float = 0.0


class _DayEncoder:
    """Collects one signal's rows of the day (COPY chunks, ts ascending) and encodes its hour blocks."""

    def __init__(self, on_progress: Progress | None) -> None:
        self.pending: list[NDArray[np.void]] = []
        self.blocks = 0
        self.readings = 0
        self.payload_bytes = 0
        self.on_progress = on_progress

    async def feed(self, chunk: NDArray[np.void]) -> None:
        self.pending.append(chunk)

    async def take(self) -> list[blocks.BlockRow]:
        """The pending signal's blocks, encoded off the event loop (ingest keeps answering meanwhile)."""
        if not self.pending:
            return []
        rows = np.concatenate(self.pending)
        self.pending = []
        encoded = await asyncio.to_thread(_encode_signal, rows)
        self.blocks += len(encoded)
        self.payload_bytes += sum(len(b.payload) for b in encoded)
        self.readings += len(rows)
        if self.on_progress is not None:
            self.on_progress(len(rows))
        return encoded


def _encode_signal(rows: NDArray[np.void]) -> list[blocks.BlockRow]:
    """One signal's rows of a day (ts ascending) as hour blocks."""
    signal_id = int(rows["signal_id"][0])
    ts = blocks.unix_us(rows["ts"])
    values = rows["value"].astype(np.float64)
    qualities = rows["quality"].astype(np.int32)
    starts = block_starts_us(ts)
    edges = np.concatenate(([0], np.flatnonzero(starts[1:] != starts[:-1]) + 1, [len(ts)]))
    out = []
    for a, b in itertools.pairwise(edges.tolist()):
        payload = encode_block(ts[a:b], values[a:b], qualities[a:b])
        first, last = from_us(int(ts[a])), from_us(int(ts[b - 1]))
        out.append(blocks.BlockRow(signal_id, from_us(int(starts[a])), first, last, b - a, payload))
    return out


async def compress_day(
    conn: asyncpg.Connection,
    day: date,
    *,
    lock_timeout_ms: int,
    on_progress: Progress | None = None,
    pack_minutes: bool = True,
) -> CompressionRun | None:
    """Move one closed day into blocks (and, with `pack_minutes`, its minute rollups into packed days) in one
    transaction; None if it was compressed already (by another run). Raises LockNotAvailableError when the partition
    stays busy past the lock timeout (nothing changed then)."""
    started = time.perf_counter()
    encoder = _DayEncoder(on_progress)
    async with conn.transaction():
        await blocks.lock_days(conn, [day])
        if await blocks.compressed_among(conn, [day]):
            return None
        if await blocks.partition_exists(conn, day):
            # Signal by signal, so memory holds one signal-day whatever the plant's size.
            for signal_id in await blocks.partition_signals(conn, day):
                await blocks.stream_signal(conn, day, signal_id, encoder.feed)
                await blocks.insert_blocks(conn, await encoder.take())
            stored = await blocks.count_partition(conn, day)
            if stored != encoder.readings:  # never truncate what was not moved
                raise RuntimeError(f"compressing {day}: moved {encoder.readings} readings of {stored}")
        await blocks.mark_compressed(conn, day, encoder.readings, encoder.blocks, encoder.payload_bytes)
        packed = await blocks.pack_day(conn, day, await blocks.rollup_signals(conn)) if pack_minutes else Packed()
        if await blocks.partition_exists(conn, day):
            await blocks.truncate_partition(conn, day, lock_timeout_ms)
    return CompressionRun(
        days=1,
        readings=encoder.readings,
        blocks=encoder.blocks,
        payload_bytes=encoder.payload_bytes,
        packed=packed,
        seconds=time.perf_counter() - started,
    )


async def pack_unpacked(conn: asyncpg.Connection, before: datetime) -> Packed:
    """Pack the minutes of compressed days before `before` that are rows of rollups_1m (unpacked by late readings,
    or written before packing existed): each day in a transaction of its own, under its lock."""
    done = Packed()
    for day, signal_ids in (await blocks.unpacked_days(conn, before)).items():
        async with conn.transaction():
            await blocks.lock_days(conn, [day])
            if await blocks.compressed_among(conn, [day]):
                done.add(await blocks.pack_day(conn, day, signal_ids))
    return done


async def closed_days(conn: asyncpg.Connection, compress_after: timedelta, now: datetime | None = None) -> list[date]:
    """Closed days that still have a readings partition (to compress, or compressed and left to drop), oldest first."""
    now = now or await conn.fetchval("SELECT now()")
    horizon = closed_before(now, compress_after)
    days = await existing_partition_days(conn)
    return sorted(d.date() for d in days if d + timedelta(days=1) <= horizon)


async def compress_closed(
    conn: asyncpg.Connection,
    compress_after: timedelta,
    *,
    lock_timeout_ms: int,
    metrics: CompressionMetrics | None = None,
    on_progress: Progress | None = None,
    now: datetime | None = None,
    pack_minutes: bool = True,
) -> CompressionRun:
    """Compress every closed day and drop the emptied partitions; days whose lock timed out are left for later.
    With `pack_minutes` (off only for a benchmark's before-and-after), the compressed days' minute rollups are packed,
    then those a late reading unpacked."""
    started = time.perf_counter()
    run = CompressionRun()
    now = now or await conn.fetchval("SELECT now()")
    days = await closed_days(conn, compress_after, now)
    done = await blocks.compressed_among(conn, days)
    if metrics is not None:
        metrics.pending_days.set(len(days))
    for day in days:
        try:
            if day not in done:
                moved = await compress_day(
                    conn, day, lock_timeout_ms=lock_timeout_ms, on_progress=on_progress, pack_minutes=pack_minutes
                )
                if moved is not None:
                    run.days += 1
                    run.readings += moved.readings
                    run.blocks += moved.blocks
                    run.payload_bytes += moved.payload_bytes
                    run.packed.add(moved.packed)
                    if metrics is not None:
                        metrics.readings.inc(moved.readings)
                        metrics.days.inc()
                    log.info(
                        "compressed %s: %d readings into %d blocks (%.2f B/reading) in %.1f s",
                        day,
                        moved.readings,
                        moved.blocks,
                        moved.payload_bytes / max(moved.readings, 1),
                        moved.seconds,
                    )
            if await blocks.drop_partition(conn, day, lock_timeout_ms):
                run.dropped += 1
            else:
                log.error("partition of compressed day %s is not empty: left in place", day)
        except asyncpg.LockNotAvailableError:
            run.deferred.append(day)
            if metrics is not None:
                metrics.lock_timeouts.inc()
            log.warning("compressing %s: its partition stayed locked; retrying on the next run", day)
            continue
        if metrics is not None:
            metrics.pending_days.dec()
    if pack_minutes:
        run.packed.add(await pack_unpacked(conn, closed_before(now, compress_after)))
    run.seconds = time.perf_counter() - started
    return run


async def run_history(pool: asyncpg.Pool, settings: Settings, registry: CollectorRegistry) -> None:
    """Background task of the ingest process: compress closed days every `compress_every_s` (on one pooled
    connection; shared.worker logs, counts and retries failures). Retention is to run as the next step here."""
    metrics = CompressionMetrics.create(registry)
    after = timedelta(hours=settings.compress_after_hours)
    await asyncio.sleep(min(60.0, settings.compress_every_s))  # start-up traffic (a gateway's backlog) goes first

    async def step() -> None:
        async with connection(pool) as conn:
            await compress_closed(conn, after, lock_timeout_ms=settings.compress_lock_timeout_ms, metrics=metrics)

    await Worker(
        "ingest.history",
        step,
        every_s=settings.compress_every_s,
        backoff=Backoff(base_s=30.0, max_s=900.0),
        metrics=worker_metrics(registry),
        logger=log,
    ).run()
