"""Api benchmark: figures, not a test. `python bench/api.py [--days 30] [--requests 50] [--keep]`.

Loads 30 days of 10 signals at 1 Hz (≈ 26 million readings) plus one day of 200 signals into a dedicated database
(`baseload_bench_*`, dropped at the end unless --keep), then measures p50/p99 latency over real HTTP of:
hourly aggregates of one signal over 30 days; 15-minute compliance over 30 days; 1-minute aggregates of all 200
signals over one day (one plant request, and 200 single-signal requests 8 at a time); sustained requests/s with 8
concurrent clients; and the api process's RSS.

Readings are generated in PostgreSQL (generate_series) and folded into rollups_1m with the same aggregation as the
ingest write path (then rollups_15m and rollups_1h with ingest's own `coarser` SQL); the bench checks this by writing
one hour of the same values through `services.ingest.store.write_readings` and comparing the rollup rows.
Smaller runs: `--long-signals 2` (only the net output and one signal over the long range) and `--wide-step-s 5`
(the 200-signal day sampled every 5 s: the 1-minute buckets read the same number of rollup rows).
`--keep` leaves the data set for later `--reuse URL` runs; `--rounds 3` alternates cache off and on three times and
prints the median p50 of each target scenario next to its target, with the load average (figures move with whatever
else runs on the machine). `--compress` then runs the compression job over the data (every day is closed: readings
into blocks, 1-minute rollups into packed days) and measures again, so both the hot and the compressed figures print.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from services.ingest.compaction import compress_closed  # noqa: E402
from services.ingest.store import ROLLUP_COLUMNS, coarser, write_readings  # noqa: E402
from shared import auth  # noqa: E402
from shared.db import asyncpg_dsn  # noqa: E402
from shared.embedded import start_embedded, stop_embedded, with_database  # noqa: E402
from shared.migrate import upgrade_async  # noqa: E402
from shared.plants import apply_plant, parse_plant  # noqa: E402

END = datetime(2026, 11, 1, tzinfo=UTC)
OMEGA = 2 * math.pi / 600  # a 10-minute swing, identical in SQL and Python for integer seconds
PORT = 18002
LONG_SIGNALS = 10
WIDE_SIGNALS = 200

GENERATE = """
INSERT INTO readings (signal_id, ts, value, quality)
SELECT s.id, $2::timestamptz + i * interval '1 second',
       480.0 + 5.0 * sin(i * $3::float8 + s.id) + (s.id % 7),
       CASE WHEN i % 997 = 0 THEN 1073741824 ELSE 0 END
FROM unnest($1::int4[]) AS s(id), generate_series(0, 86399, $4) AS i
"""
# The ingest write path's aggregation (services/ingest/store.py `minutes`, with the integral columns), over whole days.
ROLLUP = """
INSERT INTO rollups_1m
SELECT signal_id, bucket, count(*)::int4, sum(value), min(value), max(value),
    min(ts), (array_agg(value ORDER BY ts))[1], max(ts), (array_agg(value ORDER BY ts DESC))[1],
    (count(*) FILTER (WHERE good))::int4, coalesce(sum(value) FILTER (WHERE good), 0),
    min(value) FILTER (WHERE good), max(value) FILTER (WHERE good), min(ts) FILTER (WHERE good),
    (array_agg(value ORDER BY ts) FILTER (WHERE good))[1], max(ts) FILTER (WHERE good),
    (array_agg(value ORDER BY ts DESC) FILTER (WHERE good))[1],
    coalesce(sum(value * step), 0), coalesce(sum(value * step) FILTER (WHERE good), 0),
    coalesce(sum(step) FILTER (WHERE good), 0), coalesce(max(step), 0),
    (array_agg(step ORDER BY ts DESC) FILTER (WHERE step IS NOT NULL))[1]
FROM (SELECT *, CASE WHEN lead(ts) OVER w < bucket + interval '1 minute'
                     THEN date_part('epoch', lead(ts) OVER w - ts) END AS step
      FROM (SELECT signal_id, ts, value, quality BETWEEN 0 AND 1073741823 AS good,
                   date_bin('1 minute', ts, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS bucket
            FROM readings WHERE signal_id = ANY($1) AND ts >= $2 AND ts < $2 + interval '1 day') AS r
      WINDOW w AS (PARTITION BY signal_id ORDER BY ts)) AS x
GROUP BY signal_id, bucket
"""
COARSE = [
    f"INSERT INTO rollups_15m ({', '.join(ROLLUP_COLUMNS)}) {coarser(source='rollups_1m', width='15 minutes')}",
    f"INSERT INTO rollups_1h ({', '.join(ROLLUP_COLUMNS)}) {coarser(source='rollups_15m', width='1 hour')}",
]


def bench_plant() -> dict:
    signals = [{"key": "bench.net_output", "kind": "net_output", "unit": "MW", "min": -50, "max": 1000}]
    signals += [
        {"key": f"bench.s{i:03d}", "kind": "active_power", "unit": "MW", "min": -50, "max": 1000}
        for i in range(1, WIDE_SIGNALS)
    ]
    signals.append({"key": "bench.check", "kind": "other", "unit": "MW", "min": -50, "max": 1000})
    return {
        "plant": {"key": "bench", "name": "Bench", "capacity_mw": 500, "partners": ["eps", "socar"]},
        "signals": signals,
        "commitments": [{"valid_from": "2026-01-01T00:00:00Z", "committed_mw": 480, "tolerance_mw": 10}],
    }


async def load(conn: asyncpg.Connection, days: int, long_signals: int, wide_step_s: int) -> dict[str, int]:
    await conn.execute("SET synchronous_commit = off")
    ids = {r["key"]: r["id"] for r in await conn.fetch("SELECT key, id FROM signals WHERE key LIKE 'bench.%'")}
    ordered = [ids["bench.net_output"]] + [ids[f"bench.s{i:03d}"] for i in range(1, WIDE_SIGNALS)]
    start = END - timedelta(days=days)
    await conn.fetchval("SELECT ensure_readings_partitions($1, $2)", start, END)
    t0 = time.perf_counter()
    for d in range(days):
        day = start + timedelta(days=d)
        groups = [(ordered[:long_signals], 1)]
        if d == days - 1:
            groups.append((ordered[long_signals:], wide_step_s))
        for chosen, step in groups:
            for chunk in range(0, len(chosen), 20):
                part = chosen[chunk : chunk + 20]
                await conn.execute(GENERATE, part, day, OMEGA, step)
                await conn.execute(ROLLUP, part, day)
        if (d + 1) % 5 == 0 or d == days - 1:
            print(f"  day {d + 1}/{days} loaded ({time.perf_counter() - t0:.0f} s)", flush=True)
    for sql in COARSE:
        await conn.execute(sql)
    await conn.execute("ANALYZE readings; ANALYZE rollups_1m; ANALYZE rollups_15m; ANALYZE rollups_1h")
    return ids


async def check_rollups_match_ingest(conn: asyncpg.Connection, ids: dict[str, int]) -> None:
    """One hour of bench.net_output's values written through ingest's store into bench.check: same rollups."""
    sid, check = ids["bench.net_output"], ids["bench.check"]
    day = END - timedelta(days=1)
    rows = [
        (
            check,
            day + timedelta(seconds=i),
            480.0 + 5.0 * math.sin(i * OMEGA + sid) + (sid % 7),
            1073741824 if i % 997 == 0 else 0,
        )
        for i in range(3600)
    ]
    await write_readings(conn, rows, notify_channel=None)
    for table, n in (("rollups_1m", 60), ("rollups_15m", 4), ("rollups_1h", 1)):
        sql = f"""SELECT {", ".join(ROLLUP_COLUMNS[1:])} FROM {table} WHERE signal_id = $1 AND bucket >= $2
                  AND bucket < $3 ORDER BY bucket"""
        mine = await conn.fetch(sql, sid, day, day + timedelta(hours=1))
        theirs = await conn.fetch(sql, check, day, day + timedelta(hours=1))
        assert len(mine) == n == len(theirs), f"{table}: {len(mine)} rows, ingest wrote {len(theirs)}"
        for a, b in zip(mine, theirs, strict=True):
            for x, y in zip(a, b, strict=True):  # float sums may differ in the last bits (summation order)
                assert x == y or (isinstance(x, float) and math.isclose(x, y, rel_tol=1e-9)), (table, a, b)
    print("  rollups (1 min, 15 min, 1 h) of generated data equal those written through ingest's write path")


def start_api(url: str, port: int, *, cache: bool = True) -> subprocess.Popen:
    env = {
        **os.environ,
        "BASELOAD_DATABASE_URL": url,
        "BASELOAD_API_LATE_DATA_WINDOW_S": "0",
        "BASELOAD_API_CACHE_MAX_ENTRIES": "100000" if cache else "0",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "services.cli", "serve", "api", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


async def wait_ready(client: httpx.AsyncClient, proc: subprocess.Popen) -> None:
    for _ in range(200):
        if proc.poll() is not None:
            raise RuntimeError(proc.stderr.read().decode() if proc.stderr else "api exited")
        try:
            if (await client.get("/readyz")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.1)
    raise RuntimeError("api did not become ready")


async def latencies(call: Callable[[], Awaitable[httpx.Response]], n: int) -> tuple[float, float]:
    await call()  # warm up (plans, catalog, page cache)
    times = []
    for _ in range(n):
        t = time.perf_counter()
        response = await call()
        times.append((time.perf_counter() - t) * 1000)
        assert response.status_code == 200, response.text[:300]
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, math.ceil(0.99 * len(times)) - 1)]


async def sustained(call: Callable[[], Awaitable[httpx.Response]], clients: int, seconds: float) -> float:
    done = 0
    stop = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal done
        while time.perf_counter() < stop:
            response = await call()
            assert response.status_code == 200
            done += 1

    t = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(clients)))
    return done / (time.perf_counter() - t)


# The targets of issue 10, next to the figures: p50 in ms (the first two from PostgreSQL alone, i.e. cache off).
TARGETS = {"hourly": 10.0, "compliance": 50.0, "wide": 200.0}


async def measure(base: str, token: str, days: int, n: int, *, full: bool = True) -> dict[str, float]:
    """Latency figures printed; returns the p50 of each target scenario."""
    headers = {"Authorization": f"Bearer {token}"}
    month = {"start": (END - timedelta(days=days)).isoformat(), "end": END.isoformat()}
    day = {"start": (END - timedelta(days=1)).isoformat(), "end": END.isoformat()}
    limits = httpx.Limits(max_connections=16, max_keepalive_connections=16)
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60, limits=limits) as client:

        def get(path: str, **params: str) -> Callable[[], Awaitable[httpx.Response]]:
            return lambda: client.get(path, params=params)

        hourly = get("/v1/signals/bench.s001/aggregates", **month, every="1h", fn="avg")
        compliance = get("/v1/plants/bench/compliance", **month)
        wide = get(
            "/v1/plants/bench/aggregates",
            **day,
            every="1m",
            fn="avg",
            signals=",".join(["bench.net_output"] + [f"bench.s{i:03d}" for i in range(1, WIDE_SIGNALS)]),
        )
        figures = {
            "hourly": (f"hourly avg, 1 signal, {days} days ({days * 24} buckets)", await latencies(hourly, n)),
            "compliance": (
                f"15-min compliance, {days} days ({days * 96} periods)",
                await latencies(compliance, max(5, n // 2)),
            ),
            "wide": (
                "1-min avg, 200 signals, 1 day (one plant request, 288,000 buckets)",
                await latencies(wide, max(5, n // 5)),
            ),
        }

        async def two_hundred() -> httpx.Response:
            sem = asyncio.Semaphore(8)

            async def one(i: int) -> httpx.Response:
                async with sem:
                    return await client.get(f"/v1/signals/bench.s{i:03d}/aggregates", params={**day, "every": "1m"})

            responses = await asyncio.gather(*(one(i) for i in range(1, WIDE_SIGNALS)), one(1))
            return next((r for r in responses if r.status_code != 200), responses[0])

        if full:
            figures["two_hundred"] = (
                "1-min avg, 200 signals, 1 day (200 requests, 8 at a time)",
                await latencies(two_hundred, 5),
            )
        for key, (name, (p50, p99)) in figures.items():
            target = f"   target p50 ≤ {TARGETS[key]:g} ms" if key in TARGETS else ""
            print(f"  {name:<70} p50 {p50:8.1f} ms   p99 {p99:8.1f} ms{target}")
        if full:
            rps = await sustained(hourly, 8, 10.0)
            print(f"  sustained, 8 concurrent clients, hourly 30-day aggregates: {rps:,.0f} requests/s")
        return {key: figures[key][1][0] for key in TARGETS}


def load_average() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


async def compress(url: str) -> None:
    """The compression job over every closed day (all of the bench's: its data ends on END)."""
    conn = await asyncpg.connect(url)
    try:
        run = await compress_closed(conn, timedelta(hours=1), lock_timeout_ms=10_000)
        print(
            f"compressed {run.readings:,} readings of {run.days} days into {run.blocks:,} blocks and "
            f"{run.packed.minutes:,} minute rollups into {run.packed.days:,} packed signal-days in {run.seconds:.0f} s"
        )
        await conn.execute("VACUUM ANALYZE rollups_1m, rollup_days, reading_blocks")
    finally:
        await conn.close()


async def measure_phases(url: str, token: str, args: argparse.Namespace) -> None:
    """Hot, then (with --compress) compressed."""
    print("== hot: readings in partitions, 1-minute rollups as rows ==")
    await measure_api(url, token, args)
    if args.compress:
        await compress(url)
        print("== compressed: readings in blocks, 1-minute rollups in packed days ==")
        await measure_api(url, token, args)


async def measure_api(url: str, token: str, args: argparse.Namespace) -> None:
    """Both api configurations, without the closed-bucket cache (every request from PostgreSQL) and with it (the
    default), alternating for `--rounds` rounds; then the median p50 of each target scenario per configuration.
    Other work on the machine moves these figures: the load average is printed with them."""
    p50s: dict[bool, list[dict[str, float]]] = {False: [], True: []}
    for round_ in range(args.rounds):
        for cache in (False, True):
            proc = start_api(url, PORT, cache=cache)
            try:
                async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{PORT}") as probe:
                    await wait_ready(probe, proc)
                label = "with the closed-bucket cache (default)" if cache else "without the cache (PostgreSQL alone)"
                print(
                    f"round {round_ + 1}/{args.rounds}: latency over HTTP on 127.0.0.1, {label}; client, api and "
                    f"PostgreSQL share this machine (load average {load_average()}):"
                )
                figures = await measure(f"http://127.0.0.1:{PORT}", token, args.days, args.requests, full=cache)
                p50s[cache].append(figures)
                print(f"  api RSS after the run: {psutil.Process(proc.pid).memory_info().rss / 2**20:.0f} MB")
            finally:
                proc.terminate()
                proc.wait(timeout=10)
    print(f"median p50 over {args.rounds} round(s) (load average {load_average()}):")
    for key, target in TARGETS.items():
        off, on = (statistics.median(r[key] for r in p50s[cache]) for cache in (False, True))
        print(f"  {key:<12} cache off {off:8.1f} ms   cache on {on:8.1f} ms   target ≤ {target:g} ms")


async def measure_only(url: str, args: argparse.Namespace) -> None:
    """Measure against a database an earlier `--keep` run loaded."""
    conn = await asyncpg.connect(url)
    _, token = await auth.create_key(conn, role="partner", name="bench", partner="socar")
    await conn.close()
    await measure_phases(url, token, args)


async def run(args: argparse.Namespace) -> None:
    if args.reuse:
        await measure_only(args.reuse, args)
        return
    external = os.environ.get("BASELOAD_DATABASE_URL") or os.environ.get("DATABASE_URL")
    data_dir = None if external else Path(tempfile.mkdtemp(prefix="baseload-bench-"))
    server = asyncpg_dsn(external) if external else start_embedded(data_dir)  # type: ignore[arg-type]
    name = f"baseload_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(with_database(server, "postgres"))
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = with_database(server, name)
    try:
        await upgrade_async(url)
        conn = await asyncpg.connect(url, server_settings={"timezone": "UTC"})
        await apply_plant(conn, parse_plant(bench_plant()))
        print(
            f"loading {args.days} days × {args.long_signals} signals at 1 Hz + 1 day × {WIDE_SIGNALS} signals "
            f"(every {args.wide_step_s} s) into {name}"
        )
        t = time.perf_counter()
        ids = await load(conn, args.days, args.long_signals, args.wide_step_s)
        total = await conn.fetchval("SELECT count(*) FROM readings")
        print(f"  {total:,} readings in {time.perf_counter() - t:.0f} s")
        await check_rollups_match_ingest(conn, ids)
        _, token = await auth.create_key(conn, role="partner", name="bench", partner="socar")
        await conn.close()
        await measure_phases(url, token, args)
    finally:
        if args.keep:
            print(f"kept: {url} (embedded data dir: {data_dir})")
        else:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
        if data_dir is not None and not args.keep:
            stop_embedded(data_dir)
            shutil.rmtree(data_dir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--long-signals", type=int, default=LONG_SIGNALS, help="signals loaded over all days (≥ 2)")
    parser.add_argument("--wide-step-s", type=int, default=1, help="sampling step of the 200-signal day")
    parser.add_argument("--requests", type=int, default=50, help="timed requests per scenario")
    parser.add_argument("--keep", action="store_true", help="keep the database (and embedded server) afterwards")
    parser.add_argument("--reuse", metavar="URL", help="measure only, on a database a --keep run left")
    parser.add_argument("--rounds", type=int, default=1, help="alternate cache off/on this many times (medians)")
    parser.add_argument(
        "--compress", action="store_true", help="then compress every day (blocks, packed minutes) and measure again"
    )
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
