"""The retention job: one run drops what `services.ingest.retention` says is expired, unit by unit.

Each unit (a day partition; one signal's compressed blocks or rollup rows over a bounded range) is its own short
transaction with a `lock_timeout`: a unit that cannot get its lock is skipped, counted and retried on the next run,
so ingest never waits on retention for longer than that timeout. One run at a time across processes (an advisory
lock). Runs in ingest's maintenance worker (hourly) and from `baseload retention`.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import partial
from typing import TypeVar

import asyncpg
from prometheus_client import CollectorRegistry, Counter, Gauge

from services.ingest import retention_store as store
from services.ingest.retention import DAY, ROLLUP_WIDTHS, Horizons, expired_days, floor_to, horizons, windows
from services.ingest.settings import Settings
from services.ingest.store import existing_partition_days
from shared.db import connection

log = logging.getLogger("baseload.ingest.retention")
T = TypeVar("T")

# Rows per rollup DELETE (one signal's range): a few ms of work, a few hundred KB of WAL.
ROLLUP_BATCH_ROWS = 10_000
# Longest run in the maintenance worker: it holds one of ingest's pooled connections and delays the catalog refresh.
MAINTENANCE_BUDGET_S = 60.0
# Span of one signal's blocks per DELETE: a week of hour blocks (168 rows).
BLOCK_BATCH_SPAN = timedelta(days=7)
# Span of one signal's packed days of minute rollups per DELETE (one small row each, its payload in TOAST).
PACKED_BATCH_SPAN = timedelta(days=31)


@dataclass(slots=True)
class RetentionReport:
    """What one run dropped (or, with `dry_run`, would drop) and what it left for the next run."""

    horizons: Horizons
    partitions: list[store.Partition] = field(default_factory=list)
    blocks: store.Blocks = field(default_factory=lambda: store.Blocks(0, 0, 0))  # of expired compressed days
    rollup_rows: dict[str, int] = field(default_factory=dict)
    skipped: int = 0  # units whose lock was not granted within lock_timeout
    ran: bool = True  # False: another process held the retention lock
    unfinished: bool = False  # the run's time budget ran out; the next run goes on
    deadline: float = math.inf  # time.monotonic() after which no new unit starts

    @property
    def bytes_freed(self) -> int:
        return sum(p.bytes for p in self.partitions) + self.blocks.bytes


@dataclass(frozen=True, slots=True)
class RetentionMetrics:
    partitions: Counter
    bytes: Counter
    readings: Counter
    blocks: Counter
    rollup_rows: Counter
    skipped: Counter
    last_run: Gauge

    @classmethod
    def create(cls, registry: CollectorRegistry) -> RetentionMetrics:
        return cls(
            partitions=Counter(
                "baseload_retention_partitions_dropped", "Readings day partitions dropped", registry=registry
            ),
            bytes=Counter(
                "baseload_retention_bytes_freed",
                "Bytes of readings partitions dropped and of compressed blocks deleted",
                registry=registry,
            ),
            readings=Counter(
                "baseload_retention_readings_dropped",
                "Readings dropped (partitions: the planner's row estimate; blocks: exact)",
                registry=registry,
            ),
            blocks=Counter("baseload_retention_blocks_deleted", "Compressed blocks deleted", registry=registry),
            rollup_rows=Counter(
                "baseload_retention_rollup_rows_deleted", "Rollup rows deleted", ["table"], registry=registry
            ),
            skipped=Counter(
                "baseload_retention_lock_timeouts",
                "Units skipped because their lock was not granted in time (retried next run)",
                registry=registry,
            ),
            last_run=Gauge(
                "baseload_retention_last_run_timestamp_seconds",
                "Unix time of the last retention run",
                registry=registry,
            ),
        )

    def record(self, report: RetentionReport) -> None:
        self.partitions.inc(len(report.partitions))
        self.bytes.inc(report.bytes_freed)
        self.readings.inc(sum(p.rows_estimate for p in report.partitions) + report.blocks.readings)
        self.blocks.inc(report.blocks.blocks)
        for table, rows in report.rollup_rows.items():
            self.rollup_rows.labels(table).inc(rows)
        self.skipped.inc(report.skipped)
        self.last_run.set(time.time())


def horizons_of(settings: Settings, now: datetime) -> Horizons:
    return horizons(
        now,
        readings_days=settings.retention_days,
        rollup_days=settings.rollup_retention_days,
        rollup_1m_days=settings.rollup_1m_retention_days,
    )


async def apply_retention(
    conn: asyncpg.Connection,
    settings: Settings,
    now: datetime,
    *,
    dry_run: bool = False,
    metrics: RetentionMetrics | None = None,
    budget_s: float | None = None,
) -> RetentionReport:
    """One run on `conn` (outside any transaction: each unit commits on its own); with `budget_s`, no unit starts
    after that many seconds (a backlog, e.g. after lowering a horizon, is worked off over several runs)."""
    report = RetentionReport(horizons_of(settings, now))
    if budget_s is not None:
        report.deadline = time.monotonic() + budget_s
    if not await store.try_lock(conn):
        report.ran = False
        return report
    try:
        expired = expired_days(await existing_partition_days(conn), report.horizons.readings)
        candidates = await store.partitions(conn, expired)
        if dry_run:
            report.partitions = candidates
            report.blocks = await store.blocks_before(conn, report.horizons.whole_days)
            return report
        for partition in candidates:
            if await _unit(conn, settings, report, partial(store.drop_partition, conn, partition)):
                report.partitions.append(partition)
        signal_ids = await store.signal_ids(conn)
        await _delete_blocks(conn, settings, report, signal_ids)
        await _delete_rollups(conn, settings, report, signal_ids)
    finally:
        await store.unlock(conn)
    _log(report)
    if metrics is not None:
        metrics.record(report)
    return report


async def run_retention(pool: asyncpg.Pool, settings: Settings, now: datetime, metrics: RetentionMetrics) -> None:
    """The maintenance worker's step: one run on a pooled connection."""
    async with connection(pool) as conn:
        await apply_retention(conn, settings, now, metrics=metrics, budget_s=MAINTENANCE_BUDGET_S)


async def _delete_blocks(
    conn: asyncpg.Connection, settings: Settings, report: RetentionReport, signal_ids: list[int]
) -> None:
    """Compressed days older than the horizon, per signal, whole blocks in bounded ranges (never single readings)."""
    end = report.horizons.whole_days
    blocks, readings, size = 0, 0, 0
    for signal_id in signal_ids:
        oldest = await store.oldest_block(conn, signal_id)
        if oldest is None or oldest >= end:
            continue
        for start, stop in windows(oldest, end, BLOCK_BATCH_SPAN):
            gone = await _unit(conn, settings, report, partial(store.delete_blocks, conn, signal_id, start, stop))
            if gone is None:
                break  # locked or out of time: the rest of this signal waits for the next run
            blocks, readings, size = blocks + gone.blocks, readings + gone.readings, size + gone.bytes
    report.blocks = store.Blocks(blocks, readings, size)


async def _delete_rollups(
    conn: asyncpg.Connection, settings: Settings, report: RetentionReport, signal_ids: list[int]
) -> None:
    report.rollup_rows = {table: 0 for table, _ in ROLLUP_WIDTHS}
    if all(h is None for h in report.horizons.rollups.values()):
        return  # the default: rollups are kept forever
    for table, width in ROLLUP_WIDTHS:
        horizon = report.horizons.rollups[table]
        if horizon is None:
            continue
        for signal_id in signal_ids:
            oldest = await store.oldest_bucket(conn, table, signal_id)
            if oldest is None or oldest >= horizon:
                continue
            for start, end in windows(oldest, horizon, width * ROLLUP_BATCH_ROWS):
                deleted = await _unit(
                    conn, settings, report, partial(store.delete_rollups, conn, table, signal_id, start, end)
                )
                if deleted is None:
                    break  # locked or out of time: the rest of this signal waits for the next run
                report.rollup_rows[table] += deleted
    horizon = report.horizons.rollups["rollups_1m"]
    if horizon is not None:
        await _delete_packed_days(conn, settings, report, signal_ids, floor_to(horizon, DAY).date())


async def _delete_packed_days(
    conn: asyncpg.Connection, settings: Settings, report: RetentionReport, signal_ids: list[int], end: date
) -> None:
    """Packed days of minute rollups (shared/history/packed.py) go whole, once the entire day is older than the
    1-minute horizon (like compressed readings): their minutes count as rows of rollups_1m."""
    for signal_id in signal_ids:
        oldest = await store.oldest_packed_day(conn, signal_id)
        if oldest is None or oldest >= end:
            continue
        while oldest < end:
            stop = min(oldest + PACKED_BATCH_SPAN, end)
            deleted = await _unit(
                conn, settings, report, partial(store.delete_packed_days, conn, signal_id, oldest, stop)
            )
            if deleted is None:
                break  # locked or out of time: the rest of this signal waits for the next run
            report.rollup_rows["rollups_1m"] += deleted
            oldest = stop


async def _unit(
    conn: asyncpg.Connection, settings: Settings, report: RetentionReport, work: Callable[[], Awaitable[T]]
) -> T | None:
    """`work()` in its own transaction under `lock_timeout`; None (and counted) when the lock was not granted, or
    when the run's budget is spent."""
    if time.monotonic() >= report.deadline:
        report.unfinished = True
        return None
    try:
        async with conn.transaction():
            await store.set_lock_timeout(conn, settings.retention_lock_timeout_ms)
            return await work()
    except asyncpg.LockNotAvailableError:
        report.skipped += 1
        return None


def _log(report: RetentionReport) -> None:
    rollups = ", ".join(f"{t} {n}" for t, n in report.rollup_rows.items() if n)
    if report.unfinished:
        log.info("retention: time budget spent, the rest follows on the next run")
    if report.partitions or report.blocks.blocks or rollups or report.skipped:
        log.info(
            "retention: dropped %d partitions (%s) and %d compressed blocks (%d readings), %.1f MB; rollup rows "
            "deleted: %s; %d units skipped (locked)",
            len(report.partitions),
            ", ".join(f"{p.day:%Y-%m-%d}" for p in report.partitions) or "-",
            report.blocks.blocks,
            report.blocks.readings,
            report.bytes_freed / 1e6,
            rollups or "none",
            report.skipped,
        )
