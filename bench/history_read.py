"""Raw reads over hot and compressed history: figures, not a test. `python bench/history_read.py [--days 31]`.

Loads one grid-frequency signal at 1 Hz over `--days` days (3-decimal values, a few excursions and non-Good
readings; ≈ 2.7 million readings for 31 days) into a dedicated database, then measures, medians of `--runs`
interleaved runs, in this process (no HTTP: the same work the api's handler does):
- the frequency report over the whole range: the SQL it replaced (main at e99f55e: holds and bands computed in
  PostgreSQL, two statements) against the new path (shared/history reader + services/api/frequency.py);
- raw reads of one day: a plain `SELECT ts, value, quality` into records against `readings_between` (columns);
then compresses every day (services/ingest/compaction.compress_closed, as the ingest job does) and measures the
new path again over blocks, checking that it returns exactly what it returned over hot rows.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import bench_database  # noqa: E402
from services.api import frequency, store  # noqa: E402
from services.ingest.compaction import compress_closed  # noqa: E402
from shared.history.reader import readings_between  # noqa: E402
from shared.plants import apply_plant, parse_plant  # noqa: E402
from shared.settlement.frequency import BAND_DEVIATION_SQL, band_mhz  # noqa: E402

END = datetime(2026, 11, 1, tzinfo=UTC)
NOMINAL, BANDS_HZ, EXCURSION_HZ, MAX_GAP_S, MIN_S, MAX_EXCURSIONS = 50.0, [0.05, 0.2], 0.2, 60.0, 5.0, 100

GENERATE = """
INSERT INTO readings (signal_id, ts, value, quality)
SELECT $1, $2::timestamptz + i * interval '1 second',
       round((50 + 0.04 * sin(i * 2 * pi() / 600) + 0.02 * sin(i * 2 * pi() / 87)
              - CASE WHEN i % 7200 BETWEEN 3000 AND 3030 THEN 0.25 ELSE 0 END)::numeric, 3)::float8,
       CASE WHEN i % 1009 = 0 THEN 1083179008 ELSE 0 END
FROM generate_series(0, 86399) AS i WHERE i % 50000 <> 17
"""

# The frequency report's SQL before this change (services/api/store.py at e99f55e), kept here as the "before".
GOOD = "quality BETWEEN 0 AND 1073741823"
HELD_SQL = f"""
WITH x AS (
    (SELECT ts, value, quality FROM readings WHERE signal_id = $1 AND ts < $2 ORDER BY ts DESC LIMIT 2)
    UNION ALL
    (SELECT ts, value, quality FROM readings WHERE signal_id = $1 AND ts >= $2 AND ts < $3)
    UNION ALL
    (SELECT ts, value, quality FROM readings WHERE signal_id = $1 AND ts >= $3 ORDER BY ts LIMIT 1)
), r AS (
    SELECT ts, value, {GOOD} AS good, date_part('epoch', lead(ts) OVER w - ts) AS gap,
           date_part('epoch', ts - lag(ts) OVER w) AS previous_step
    FROM x WINDOW w AS (ORDER BY ts)
), held AS (
    SELECT *, ts + make_interval(secs => CASE WHEN gap <= $5 THEN gap ELSE least(coalesce(previous_step, 0), $5) END)
              AS held_to
    FROM r
), h AS (
    SELECT ts, value, good, ts >= $2 AS inside, {BAND_DEVIATION_SQL.format(value="value", nominal="$4::float8")} AS dev,
           coalesce(previous_step > $5, true) AS after_gap, least(held_to, $3) AS held_to,
           greatest(0, date_part('epoch', least(held_to, $3) - greatest(ts, $2))) AS hold
    FROM held WHERE ts < $3 AND held_to > $2
)
"""
SUMMARY_SQL = (
    HELD_SQL
    + """SELECT min(value) FILTER (WHERE inside) AS min, max(value) FILTER (WHERE inside) AS max,
    sum(value * hold) / nullif(sum(hold), 0) AS mean, count(*) FILTER (WHERE inside) AS samples,
    coalesce(sum(hold), 0) AS covered, coalesce(sum(hold) FILTER (WHERE dev <= $6), 0) AS inside_0,
    coalesce(sum(hold) FILTER (WHERE dev <= $7), 0) AS inside_1 FROM h WHERE good"""
)
EXCURSIONS_SQL = (
    HELD_SQL
    + """, g AS (
        SELECT *, sum(CASE WHEN dev <= $6 OR after_gap OR NOT good THEN 1 ELSE 0 END) OVER (ORDER BY ts) AS grp
        FROM h
    )
    SELECT greatest(min(ts), $2) AS start, max(held_to) AS end, (max(ARRAY[dev::float8, value]))[2] AS extreme,
           count(*) AS samples
    FROM g WHERE dev > $6 AND good GROUP BY grp
    HAVING date_part('epoch', max(held_to) - greatest(min(ts), $2)) >= $7
    ORDER BY 1 LIMIT $8"""
)


def plant() -> dict[str, Any]:
    return {
        "plant": {"key": "hist", "name": "History bench", "capacity_mw": 500},
        "signals": [{"key": "hist.frequency", "kind": "frequency", "unit": "Hz", "min": 45, "max": 55}],
    }


async def report_before(conn: asyncpg.Connection, sid: int, lo: datetime, hi: datetime) -> Any:
    bands = [band_mhz(b) for b in BANDS_HZ]
    summary = await conn.fetchrow(SUMMARY_SQL, sid, lo, hi, NOMINAL, MAX_GAP_S, *bands)
    excursions = await conn.fetch(
        EXCURSIONS_SQL, sid, lo, hi, NOMINAL, MAX_GAP_S, band_mhz(EXCURSION_HZ), MIN_S, MAX_EXCURSIONS + 1
    )
    return dict(summary), [dict(r) for r in excursions]


async def report_after(conn: asyncpg.Connection, sid: int, lo: datetime, hi: datetime) -> Any:
    readings = await store.frequency_readings(conn, sid, lo, hi)
    h = frequency.held(readings, lo, hi, nominal_hz=NOMINAL, max_gap_s=MAX_GAP_S)
    summary = frequency.summary(h, [band_mhz(b) for b in BANDS_HZ])
    excursions = frequency.excursions(h, lo, band_mhz=band_mhz(EXCURSION_HZ), min_s=MIN_S, limit=MAX_EXCURSIONS + 1)
    return summary, excursions


async def day_before(conn: asyncpg.Connection, sid: int, lo: datetime, hi: datetime) -> Any:
    return await conn.fetch(
        "SELECT ts, value, quality FROM readings WHERE signal_id = $1 AND ts >= $2 AND ts < $3 ORDER BY ts",
        sid,
        lo,
        hi,
    )


async def day_after(conn: asyncpg.Connection, sid: int, lo: datetime, hi: datetime) -> Any:
    return (await readings_between(conn, [sid], lo, hi))[sid]


async def timed(fn: Callable[[], Awaitable[Any]]) -> tuple[float, Any]:
    t = time.perf_counter()
    out = await fn()
    return time.perf_counter() - t, out


async def medians(scenarios: dict[str, Callable[[], Awaitable[Any]]], runs: int) -> dict[str, tuple[float, Any]]:
    """Median seconds per scenario, runs interleaved (one of each, then again), after one warm-up each."""
    times: dict[str, list[float]] = {k: [] for k in scenarios}
    last: dict[str, Any] = {}
    for k, fn in scenarios.items():
        last[k] = await fn()
    for _ in range(runs):
        for k, fn in scenarios.items():
            s, last[k] = await timed(fn)
            times[k].append(s)
    return {k: (statistics.median(v), last[k]) for k, v in times.items()}


async def run(args: argparse.Namespace) -> None:
    async with bench_database() as url:
        conn = await asyncpg.connect(url, server_settings={"timezone": "UTC", "jit": "off"})
        await apply_plant(conn, parse_plant(plant()))
        sid = await conn.fetchval("SELECT id FROM signals WHERE key = 'hist.frequency'")
        start = END - timedelta(days=args.days)
        await conn.fetchval("SELECT ensure_readings_partitions($1, $2)", start - timedelta(days=1), END)
        t = time.perf_counter()
        await conn.execute("SET synchronous_commit = off")
        for d in range(-1, args.days + 1):  # a day of context on each side
            await conn.execute(GENERATE, sid, start + timedelta(days=d))
        await conn.execute("ANALYZE readings")
        total = await conn.fetchval("SELECT count(*) FROM readings")
        print(f"{total:,} readings of one 1 Hz frequency signal loaded in {time.perf_counter() - t:.0f} s")
        lo, hi = start, END
        day = (END - timedelta(days=2), END - timedelta(days=1))
        print(f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}; medians of {args.runs} runs")

        hot = await medians(
            {
                "frequency report, before (SQL)": lambda: report_before(conn, sid, lo, hi),
                "frequency report, after, hot": lambda: report_after(conn, sid, lo, hi),
                "raw day, before (records)": lambda: day_before(conn, sid, *day),
                "raw day, after, hot (columns)": lambda: day_after(conn, sid, *day),
            },
            args.runs,
        )
        (before_s, before_ex), (after_s, after_ex) = (
            hot["frequency report, before (SQL)"][1],
            hot["frequency report, after, hot"][1],
        )
        same = (
            before_ex == after_ex
            and all(before_s[k] == after_s[k] for k in ("min", "max", "samples"))
            and all(abs(before_s[k] - after_s[k]) <= 1e-9 * abs(before_s[k]) for k in ("mean", "covered", "inside_0"))
        )
        print(f"  before and after agree: {same} ({len(after_ex)} excursions, {after_s['samples']:,} samples)")
        for name, (seconds, _) in hot.items():
            print(f"{name:<40} {seconds * 1000:9.1f} ms")

        t = time.perf_counter()
        done = await compress_closed(conn, timedelta(hours=1), lock_timeout_ms=10_000, now=END + timedelta(days=3))
        print(
            f"compressed {done.readings:,} readings into {done.blocks:,} blocks "
            f"({done.payload_bytes / max(done.readings, 1):.2f} B/reading of payload) "
            f"in {time.perf_counter() - t:.0f} s"
        )
        cold = await medians(
            {
                "frequency report, after, compressed": lambda: report_after(conn, sid, lo, hi),
                "raw day, after, compressed (columns)": lambda: day_after(conn, sid, *day),
            },
            args.runs,
        )
        identical = cold["frequency report, after, compressed"][1] == hot["frequency report, after, hot"][1] and bool(
            (
                cold["raw day, after, compressed (columns)"][1].ts_us == hot["raw day, after, hot (columns)"][1].ts_us
            ).all()
        )
        print(f"  compressed answers identical to hot: {identical}")
        for name, (seconds, _) in cold.items():
            print(f"{name:<40} {seconds * 1000:9.1f} ms")
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=31)
    parser.add_argument("--runs", type=int, default=5, help="timed runs per scenario (interleaved)")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
