"""Prototype measurement (issue 14 §2), not wired into the product: would writing live data as one row per signal per
batch (a compressed block of timestamps, values, qualities) instead of one row per reading halve PostgreSQL's CPU?

    .venv/bin/python bench/blocks.py [--batches 200] [--rounds 3]

On one fresh embedded server (the settings `baseload db start` uses), 2 connections write the same batches of 5,000
readings (200 signals × 25 s at 1 Hz), variants interleaved round by round, each into its own time range:
  rows + SQL fold   the append path before numpy partials: COPY into staging, INSERT … RETURNING, fold in SQL
  rows + partials   today's append path (store._append): binary COPY into `readings`, the batch's partial
                    rollups computed with numpy (shared/settlement/partials.py) merged by PostgreSQL
  blocks + partials one row per signal per batch, the block encoded here with shared/history/codec.py (inserted
                    after checking the batch is newer than the signal's last block: the append path's condition),
                    then the same partial-rollup merge
  raw blocks + partials  the same with the block's arrays left uncompressed (the history job compresses
                    closed days): no per-block encoding cost in the writer
  blocks            the compressed blocks without any rollup
Prints readings/s, the server's CPU-s and this process's CPU-s (block encoding, partials, COPY bodies) per 1 M
readings, WAL and disk per reading per variant. Asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import PostgresCpu, bench_database, now
from bench.ingest import BATCH, SIGNALS, make_plant
from services.ingest import store
from shared.history import codec
from shared.settlement import partials

BLOCKS_DDL = """
CREATE TABLE IF NOT EXISTS bench_blocks (
    signal_id int4 NOT NULL, first_ts timestamptz NOT NULL, last_ts timestamptz NOT NULL, count int4 NOT NULL,
    payload bytea NOT NULL, PRIMARY KEY (signal_id, first_ts)
)"""
# The append condition: every block is newer than its signal's last stored block (else a dedup merge would run).
_BLOCKS_INSERT = """
WITH batch AS (
    SELECT * FROM unnest($1::int4[], $2::int8[], $3::int8[], $4::int4[], $5::bytea[]) AS b(signal_id, f, l, n, p)
), checked AS (
    SELECT b.signal_id, TIMESTAMPTZ 'epoch' + b.f * interval '1 microsecond' AS first_ts,
           TIMESTAMPTZ 'epoch' + b.l * interval '1 microsecond' AS last_ts, b.n, b.p
    FROM batch AS b
    LEFT JOIN LATERAL (SELECT last_ts FROM bench_blocks AS s WHERE s.signal_id = b.signal_id
                       ORDER BY first_ts DESC LIMIT 1) AS newest ON true
    WHERE newest.last_ts IS NULL OR newest.last_ts < TIMESTAMPTZ 'epoch' + b.f * interval '1 microsecond'
)
INSERT INTO bench_blocks SELECT * FROM checked"""

Rows = list[tuple[int, int, datetime, float, int]]


async def rows_sql_fold(conn: asyncpg.Connection, rows: Rows) -> None:
    await conn.copy_records_to_table("ingest_staging", records=rows, columns=store.STAGING_COLUMNS)
    await conn.fetchrow(store.APPEND_SQL)


async def rows_partials(conn: asyncpg.Connection, rows: Rows) -> None:
    await store._append(conn, rows)


def _raw_block(ts_us: Any, value: Any, quality: Any) -> bytes:
    """A live block left uncompressed (the history job would compress closed days): the three arrays' bytes."""
    return bytes(ts_us.tobytes() + value.tobytes() + quality.tobytes())


async def _blocks(
    conn: asyncpg.Connection, rows: Rows, encode: Callable[..., bytes] = codec.encode_block
) -> tuple[Any, ...]:
    signal_id, ts_us, value, quality = store.reading_columns(rows)
    order = np.lexsort((ts_us, signal_id))
    signal_id, ts_us, value, quality = signal_id[order], ts_us[order], value[order], quality[order]
    starts = np.flatnonzero(np.r_[True, signal_id[1:] != signal_id[:-1]])
    ends = np.r_[starts[1:], len(signal_id)]
    payloads = [encode(ts_us[a:b], value[a:b], quality[a:b]) for a, b in zip(starts, ends, strict=True)]
    await conn.execute(
        _BLOCKS_INSERT,
        signal_id[starts].tolist(),
        ts_us[starts].tolist(),
        ts_us[ends - 1].tolist(),
        (ends - starts).tolist(),
        payloads,
    )
    return signal_id, ts_us, value, quality


async def blocks_partials(conn: asyncpg.Connection, rows: Rows) -> None:
    levels = partials.batch_partials(*await _blocks(conn, rows))
    await conn.fetchrow(store.MERGE_PARTIALS_SQL, *[c.tolist() for level in levels for c in level.columns()])


async def raw_blocks_partials(conn: asyncpg.Connection, rows: Rows) -> None:
    levels = partials.batch_partials(*await _blocks(conn, rows, _raw_block))
    await conn.fetchrow(store.MERGE_PARTIALS_SQL, *[c.tolist() for level in levels for c in level.columns()])


async def blocks_only(conn: asyncpg.Connection, rows: Rows) -> None:
    await _blocks(conn, rows)


VARIANTS: dict[str, Callable[[asyncpg.Connection, Rows], Awaitable[None]]] = {
    "rows + SQL fold": rows_sql_fold,
    "rows + partials": rows_partials,
    "blocks + partials": blocks_partials,
    "raw blocks + partials": raw_blocks_partials,
    "blocks": blocks_only,
}


async def write(
    url: str,
    variant: Callable[[asyncpg.Connection, Rows], Awaitable[None]],
    batches: Sequence[Rows],
    postgres: PostgresCpu,
) -> tuple[float, float, float]:
    """Seconds, server CPU-s and this process's CPU-s to write every batch, 2 connections, one transaction per
    batch. The server's CPU is read while the pool's backends live (an exited backend's time shows only once the
    postmaster has reaped it)."""
    pool = await asyncpg.create_pool(url, min_size=2, max_size=2, init=store.prepare_connection)
    queue: asyncio.Queue[Rows] = asyncio.Queue()
    for rows in batches:
        queue.put_nowait(rows)

    async def worker() -> None:
        async with pool.acquire() as conn:
            while not queue.empty():
                rows = queue.get_nowait()
                async with conn.transaction():
                    await variant(conn, rows)

    started, cpu, own = now(), postgres.seconds(), time.process_time()
    await asyncio.gather(worker(), worker())
    elapsed, cpu, own = now() - started, postgres.seconds() - cpu, time.process_time() - own
    await pool.close()
    return elapsed, cpu, own


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
        results: dict[str, list[tuple[float, float, float, float, float]]] = {name: [] for name in VARIANTS}
        print(f"{args.batches} batches of {BATCH} readings per variant and round, {args.rounds} rounds, 2 connections")
        for round_ in range(args.rounds):
            for name, variant in VARIANTS.items():
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
                seconds, cpu, own = await write(url, variant, batches, postgres)
                after = await sizes(url)
                n = args.batches * BATCH
                disk = (after["rows"] - before["rows"]) + (after["blocks"] - before["blocks"])
                wal = (after["wal"] - before["wal"]) / n
                results[name].append((n / seconds, cpu * 1e6 / n, own * 1e6 / n, wal, disk / n))
                print(
                    f"  round {round_ + 1} {name:<21} {n / seconds:>9,.0f} readings/s  CPU-s per 1M postgres "
                    f"{cpu * 1e6 / n:5.2f} client {own * 1e6 / n:5.2f}  WAL {wal:4.0f} B/reading  "
                    f"disk {disk / n:5.1f} B/reading (readings/blocks tables only)",
                    flush=True,
                )
        print("medians:")
        for name, rows in results.items():
            rate, cpu, own, wal, disk = (statistics.median(col) for col in zip(*rows, strict=True))
            print(
                f"  {name:<21} {rate:>9,.0f} readings/s  CPU-s/1M postgres {cpu:5.2f} client {own:5.2f}  "
                f"WAL {wal:4.0f} B  disk {disk:5.1f} B"
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    asyncio.run(main(parser.parse_args()))
