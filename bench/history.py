"""Compressed history benchmark (issue 14): bytes on disk per reading once closed days are compressed (blocks +
what indexes and rollups need), before and after packing the 1-minute rollups (shared/history/packed.py), in one run;
compression and packing speed, and the cost of a late batch into a compressed day (its minutes unpacked) and of
packing them again. Prints figures; asserts nothing. Bounded: `--readings` readings, written straight through
ingest's store (no HTTP).

    .venv/bin/python bench/history.py [--readings 4000000] [--values bench|plant]

`--values bench` writes bench/ingest.py's values (100 + s + k/7: few distinct values, full float64 precision);
`plant` a 3-decimal random walk per signal, closer to what a SCADA gateway sends.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import StorageMeter, bench_database, now
from bench.ingest import BATCH, SIGNALS, make_plant
from services.ingest import store
from services.ingest.compaction import compress_closed
from shared.history.spans import day_start

AFTER = timedelta(hours=48)


def load_average() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def batches(ids: list[int], start: datetime, count: int, values: str) -> list[list[tuple]]:
    """`count` batches of 25 s of every signal at 1 Hz, as ingest's write path takes them."""
    per = BATCH // SIGNALS
    rng = np.random.default_rng(14)
    walk = np.round(400 + np.cumsum(rng.normal(0, 0.05, (count * per, len(ids))), axis=0), 3)
    out = []
    for b in range(count):
        rows = []
        for k in range(per):
            ts = start + timedelta(seconds=b * per + k)
            for s, sid in enumerate(ids):
                v = 100.0 + s + k / 7 if values == "bench" else float(walk[b * per + k, s])
                rows.append((len(rows), sid, ts, v, 0))
        out.append(rows)
    return out


async def load(url: str, all_batches: list[list[tuple]], connections: int = 2) -> float:
    pool = await asyncpg.create_pool(url, min_size=connections, max_size=connections, init=store.prepare_connection)
    days = {day_start(r[2]) for b in all_batches for r in (b[0], b[-1])}
    await store.ensure_partitions(pool, sorted(days))
    queue: asyncio.Queue[list[tuple]] = asyncio.Queue()
    for rows in all_batches:
        queue.put_nowait(rows)

    async def worker() -> None:
        async with pool.acquire() as conn:
            while not queue.empty():
                rows = queue.get_nowait()
                async with conn.transaction():
                    await store.write_rows(conn, rows, try_append=True)

    started = now()
    await asyncio.gather(*(worker() for _ in range(connections)))
    elapsed = now() - started
    await pool.close()
    return elapsed


async def detail(conn: asyncpg.Connection, readings: int) -> str:
    """Bytes per reading of each table that closed data needs (heap, TOAST and indexes), to two decimals."""
    rows = await conn.fetch(
        """SELECT relname, pg_total_relation_size(oid) AS bytes FROM pg_class
           WHERE relname IN ('reading_blocks', 'rollups_1m', 'rollup_days', 'rollups_15m', 'rollups_1h')
           ORDER BY relname"""
    )
    total = sum(r["bytes"] for r in rows)
    parts = ", ".join(f"{r['relname']} {r['bytes'] / readings:.2f}" for r in rows)
    return f"{total / readings:.2f} B/reading = {parts}"


async def main(args: argparse.Namespace) -> None:
    count = max(1, args.readings // BATCH)
    async with bench_database() as url:
        _, ids = await make_plant(url)
        # Closed data: three days back, so the whole load is older than the 48 h window.
        start = day_start(datetime.now(UTC)) - timedelta(days=3)
        print(f"History benchmark: {count * BATCH:,} readings ({SIGNALS} signals at 1 Hz, values: {args.values})")
        all_batches = batches(ids, start, count, args.values)
        meter = await StorageMeter.start(url)
        seconds = await load(url, all_batches)
        print(f"  loaded hot in {seconds:.1f} s ({count * BATCH / seconds:,.0f} readings/s)")
        print("  hot:" + (await meter.report()).removeprefix("  storage per reading"))
        conn = await asyncpg.connect(url)
        try:
            print(f"  load average {load_average()}")
            run = await compress_closed(conn, AFTER, lock_timeout_ms=5000, pack_minutes=False)
            print(
                f"  compressed {run.readings:,} readings of {run.days} day(s) into {run.blocks:,} blocks in "
                f"{run.seconds:.1f} s: {run.readings / run.seconds:,.0f} readings/s; payload "
                f"{run.payload_bytes / max(run.readings, 1):.2f} B/reading; {run.dropped} partition(s) dropped"
            )
            print("  closed, minutes as rows:" + (await meter.report()).removeprefix("  storage per reading"))
            print("  closed, minutes as rows, in detail: " + await detail(conn, run.readings))
            # The rollups' dead row versions (2-3 upserts per minute) are issue 14 §3's; shown apart from them:
            await conn.execute("VACUUM FULL rollups_1m, rollups_15m, rollups_1h")
            print("  closed, minutes as rows, without dead rows (VACUUM FULL): " + await detail(conn, run.readings))
            t = now()
            packed = (await compress_closed(conn, AFTER, lock_timeout_ms=5000)).packed
            seconds = now() - t
            print(
                f"  packed {packed.minutes:,} minute rows into {packed.days:,} signal-days in {seconds:.1f} s: payload "
                f"{packed.payload_bytes / max(packed.minutes, 1):.1f} B/minute, "
                f"{packed.payload_bytes / max(run.readings, 1):.2f} B/reading"
            )
            # Packing empties rollups_1m's pages of closed days; the next days' minute rows reuse them (VACUUM FULL here
            # shows what closed data holds, as above).
            await conn.execute("VACUUM FULL rollups_1m")
            print("  closed, minutes packed: " + await detail(conn, run.readings))
            print(f"  load average {load_average()}")
            # A gateway's late batch into the compressed range: 25 s of every signal, half a second off the stored.
            late = [
                (i, sid, ts + timedelta(milliseconds=500), v, q) for i, (_, sid, ts, v, q) in enumerate(all_batches[1])
            ]
            timings = []
            for offset in range(args.late_batches):
                rows = [(i, sid, ts + timedelta(seconds=offset * 25), v, q) for i, sid, ts, v, q in late]
                t = now()
                async with conn.transaction():
                    outcome = await store.write_rows(conn, rows)
                timings.append(now() - t)
                assert outcome.inserted == len(rows) and outcome.path == "compressed"
            timings.sort()
            print(
                f"  late batch of {BATCH} readings into compressed hours ({SIGNALS} blocks re-encoded; the first one "
                f"unpacks {SIGNALS} signal-days of minutes): median {timings[len(timings) // 2] * 1000:.0f} ms, "
                f"slowest {timings[-1] * 1000:.0f} ms ({BATCH / timings[len(timings) // 2]:,.0f} readings/s)"
            )
            t = now()
            again = (await compress_closed(conn, AFTER, lock_timeout_ms=5000)).packed
            print(f"  packed the {again.days} unpacked signal-days again in {(now() - t) * 1000:.0f} ms")
        finally:
            await conn.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--readings", type=int, default=2_000_000)
    parser.add_argument("--values", choices=("bench", "plant"), default="plant")
    parser.add_argument("--late-batches", type=int, default=5)
    asyncio.run(main(parser.parse_args()))
