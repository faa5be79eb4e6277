"""Prototype measurement (issue 14 §2), not wired into the product: would writing live data as one row per signal per
batch (arrays of timestamps, values, qualities) instead of one row per reading halve PostgreSQL's CPU per reading?

    .venv/bin/python bench/blocks.py [--batches 200] [--rounds 3]

On one fresh embedded server (the settings `baseload db start` uses), 2 connections write the same batches of 5,000
readings (200 signals × 25 s at 1 Hz), variants interleaved round by round, each into its own time range:
  rows + fold     today's append path: COPY into staging, INSERT one row per reading, fold into the rollups
  rows            the same INSERT without the rollup fold
  blocks + fold   COPY into staging, one row per signal per batch (after checking the batch is newer than the
                  signal's last block: the append path's condition), the same rollup fold from the staged rows
  blocks          the same without the fold
Prints readings/s and the server's CPU-s, WAL and disk per reading per variant. Asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import PostgresCpu, bench_database, now
from bench.ingest import BATCH, SIGNALS, make_plant
from services.ingest import store

BLOCKS_DDL = """
CREATE TABLE IF NOT EXISTS bench_blocks (
    signal_id int4 NOT NULL, first_ts timestamptz NOT NULL, last_ts timestamptz NOT NULL,
    ts timestamptz[] NOT NULL, value float8[] NOT NULL, quality int4[] NOT NULL,
    PRIMARY KEY (signal_id, first_ts)
)"""
# The append condition: every staged reading is newer than its signal's last stored block (else: a dedup merge).
_BLOCKS_INSERT = """
WITH batch AS (
    SELECT signal_id, min(ts) AS first_ts, max(ts) AS last_ts, array_agg(ts ORDER BY ts) AS ts,
           array_agg(value ORDER BY ts) AS value, array_agg(quality ORDER BY ts) AS quality
    FROM ingest_staging GROUP BY signal_id
), checked AS (
    SELECT b.* FROM batch AS b
    LEFT JOIN LATERAL (SELECT last_ts FROM bench_blocks AS s WHERE s.signal_id = b.signal_id
                       ORDER BY first_ts DESC LIMIT 1) AS newest ON true
    WHERE newest.last_ts IS NULL OR newest.last_ts < b.first_ts
), blocks AS (
    INSERT INTO bench_blocks SELECT * FROM checked RETURNING signal_id
), inserted AS (
    SELECT signal_id, ts, value, quality FROM ingest_staging
)"""
VARIANTS = {
    "rows + fold": store.APPEND_SQL,
    "rows": store._APPEND_INSERT + " SELECT count(*) FROM inserted",
    "blocks + fold": _BLOCKS_INSERT + store._FOLD_INTO_ROLLUPS,  # a WITH's INSERT runs even if unread
    "blocks": _BLOCKS_INSERT + " SELECT (SELECT count(*) FROM blocks), count(*) FROM inserted",
}


async def write(
    url: str, sql: str, batches: Sequence[list[tuple[int, int, datetime, float, int]]], postgres: PostgresCpu
) -> tuple[float, float]:
    """Seconds and server CPU-s to write every batch, 2 connections, one transaction per batch. The CPU is read
    while the pool's backends live (an exited backend's time shows only once the postmaster has reaped it)."""
    pool = await asyncpg.create_pool(url, min_size=2, max_size=2, init=store.prepare_connection)
    queue: asyncio.Queue[list[tuple[int, int, datetime, float, int]]] = asyncio.Queue()
    for rows in batches:
        queue.put_nowait(rows)

    async def worker() -> None:
        async with pool.acquire() as conn:
            while not queue.empty():
                rows = queue.get_nowait()
                async with conn.transaction():
                    await conn.copy_records_to_table("ingest_staging", records=rows, columns=store.STAGING_COLUMNS)
                    await conn.fetchrow(sql)

    started, cpu = now(), postgres.seconds()
    await asyncio.gather(worker(), worker())
    elapsed, cpu = now() - started, postgres.seconds() - cpu
    await pool.close()
    return elapsed, cpu


async def sizes(url: str) -> dict[str, int]:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("CHECKPOINT")
        return {
            "wal": int(await conn.fetchval("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')")),
            "rows": int(
                await conn.fetchval(
                    "SELECT sum(pg_total_relation_size(relid)) FROM pg_partition_tree('readings') WHERE isleaf"
                )
            ),
            "blocks": int(await conn.fetchval("SELECT pg_total_relation_size('bench_blocks')")),
        }
    finally:
        await conn.close()


async def main(args: argparse.Namespace) -> None:
    async with bench_database() as url:
        _, ids = await make_plant(url)
        conn = await asyncpg.connect(url)
        await conn.execute(BLOCKS_DDL)
        start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(days=1)
        await conn.execute("SELECT ensure_readings_partitions($1, $2)", start, start + timedelta(days=3))
        await conn.close()
        postgres = await PostgresCpu.of(url)
        per_batch = BATCH // SIGNALS
        offset = 0
        results: dict[str, list[tuple[float, float, float, float]]] = {name: [] for name in VARIANTS}
        print(f"{args.batches} batches of {BATCH} readings per variant and round, {args.rounds} rounds, 2 connections")
        for round_ in range(args.rounds):
            for name, sql in VARIANTS.items():
                t0 = start + timedelta(seconds=offset)
                offset += args.batches * per_batch
                batches = [
                    [
                        (i, ids[s], t0 + timedelta(seconds=b * per_batch + k), 100.0 + s + k / 7, 0)
                        for i, (k, s) in enumerate((k, s) for k in range(per_batch) for s in range(SIGNALS))
                    ]
                    for b in range(args.batches)
                ]
                before = await sizes(url)
                seconds, cpu = await write(url, sql, batches, postgres)
                after = await sizes(url)
                n = args.batches * BATCH
                disk = (after["rows"] - before["rows"]) + (after["blocks"] - before["blocks"])
                results[name].append((n / seconds, cpu * 1e6 / n, (after["wal"] - before["wal"]) / n, disk / n))
                print(
                    f"  round {round_ + 1} {name:<14} {n / seconds:>9,.0f} readings/s  postgres CPU-s per 1M "
                    f"{cpu * 1e6 / n:5.2f}  WAL {(after['wal'] - before['wal']) / n:4.0f} B/reading  "
                    f"disk {disk / n:5.1f} B/reading (readings/blocks tables only)",
                    flush=True,
                )
        print("medians:")
        for name, rows in results.items():
            rate, cpu, wal, disk = (statistics.median(col) for col in zip(*rows, strict=True))
            print(f"  {name:<14} {rate:>9,.0f} readings/s  CPU-s/1M {cpu:5.2f}  WAL {wal:4.0f} B  disk {disk:5.1f} B")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    asyncio.run(main(parser.parse_args()))
