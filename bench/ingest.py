"""Ingest benchmark: readings/s and batch latency through HTTP (JSON and line protocol), server RSS, and the raw
limit of the same database for the same rows. Prints figures; asserts nothing. Bounded in time and count.

    make bench            # or: .venv/bin/python bench/ingest.py [--batches 120] [--clients 1,2,4]
    .venv/bin/python bench/ingest.py --batches 240 --clients 1,4 --paced-seconds 0 --no-raw --compare-plain --rounds 2

Each phase prints readings/s, batch latency, and CPU seconds per million readings of the ingest process and of the
bench's PostgreSQL server (that server's processes only) with the write-ahead log it wrote; at the end, disk and WAL
per stored reading and, per rollup table, bytes per row, dead row versions and HOT updates. Line-protocol load is
what a gateway carrying OPC UA status sends: tags and an integer `quality` field on every line. `--compare-plain`
alternates today's write path with the fold as it was before exact rollups (bench/plain_rollups.py) and prints the
cost of exact rollups (issue 10's budget: at most 10 % of HTTP JSON throughput).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import statistics
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    PostgresCpu,
    RssSampler,
    StorageMeter,
    bench_database,
    cpu_seconds,
    now,
    percentile,
    server_settings,
    service_process,
)
from services.ingest import store
from shared import auth
from shared.embedded import SERVER_SETTINGS
from tests.support import free_port

SIGNALS = 200
BATCH = 5000  # 200 signals at 1 Hz: 25 seconds of plant data per batch
COARSE = ("rollups_15m", "rollups_1h")


async def make_plant(url: str) -> tuple[str, list[int]]:
    conn = await asyncpg.connect(url)
    try:
        plant = await conn.fetchval(
            "INSERT INTO plants (key, name, capacity_mw) VALUES ('bench', 'Bench', 500) RETURNING id"
        )
        await conn.executemany(
            "INSERT INTO signals (key, plant_id, kind, unit, min_value, max_value)"
            " VALUES ($1, $2, 'x', 'MW', -1e9, 1e9)",
            [(f"u{i:03d}.p", plant) for i in range(SIGNALS)],
        )
        ids = [r["id"] for r in await conn.fetch("SELECT id FROM signals WHERE plant_id = $1 ORDER BY key", plant)]
        _, token = await auth.create_key(conn, role="gateway", name="bench", plants=("bench",))
        return token, ids
    finally:
        await conn.close()


def json_batches(start: datetime, count: int) -> list[bytes]:
    out = []
    for b in range(count):
        t0 = start + timedelta(seconds=b * (BATCH // SIGNALS))
        readings = [
            {"signal": f"u{s:03d}.p", "ts": (t0 + timedelta(seconds=k)).isoformat(), "value": 100 + s + k / 7}
            for k in range(BATCH // SIGNALS)
            for s in range(SIGNALS)
        ]
        out.append(json.dumps({"readings": readings}).encode())
    return out


# OPC UA StatusCodes a gateway forwards: Good (0), and now and then GoodLocalOverride / UncertainLastUsableValue.
QUALITIES = (0,) * 48 + (0x00960000, 0x40900000)


def line_batches(start: datetime, count: int) -> list[bytes]:
    """Gateway lines: `u007,site=bench,unit=u007 p=107.142857,quality=0i 1764000000` (tags, quality, seconds)."""
    out = []
    for b in range(count):
        t0 = int((start + timedelta(seconds=b * (BATCH // SIGNALS))).timestamp())
        lines = [
            f"u{s:03d},site=bench,unit=u{s:03d} p={100 + s + k / 7},quality={QUALITIES[(s + k) % 50]}i {t0 + k}"
            for k in range(BATCH // SIGNALS)
            for s in range(SIGNALS)
        ]
        out.append("\n".join(lines).encode())
    return out


async def blast(
    url: str, path: str, headers: dict[str, str], bodies: list[bytes], clients: int
) -> tuple[float, list[float]]:
    """Post every body once with `clients` concurrent clients; returns (seconds, per-batch latencies)."""
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    latencies: list[float] = []

    async def client() -> None:
        async with httpx.AsyncClient(base_url=url, timeout=60, headers=headers) as http:
            while not queue.empty():
                body = queue.get_nowait()
                t = now()
                response = await http.post(path, content=body)
                if response.status_code not in (200, 204):
                    raise RuntimeError(f"{response.status_code}: {response.text[:300]}")
                latencies.append(now() - t)

    started = now()
    await asyncio.gather(*(client() for _ in range(clients)))
    return now() - started, latencies


async def paced(url: str, headers: dict[str, str], bodies: list[bytes], per_second: float) -> list[float]:
    """Offer batches at a fixed rate (open loop) and collect latencies."""
    latencies: list[float] = []
    async with httpx.AsyncClient(base_url=url, timeout=60, headers=headers) as http:

        async def one(body: bytes) -> None:
            t = now()
            response = await http.post("/v1/readings", content=body)
            response.raise_for_status()
            latencies.append(now() - t)

        tasks = []
        start = now()
        for i, body in enumerate(bodies):
            await asyncio.sleep(max(0.0, start + i / per_second - now()))
            tasks.append(asyncio.create_task(one(body)))
        await asyncio.gather(*tasks)
    return latencies


async def raw_limit(
    url: str, ids: list[int], start: datetime, batches: int, connections: int = 2, append: bool = False
) -> float:
    """The database alone: COPY into staging + the same statement as ingest (dedup or append path)."""
    rows_per_batch = [
        [
            (i, ids[s], start + timedelta(seconds=b * 25 + k), 100.0 + s + k / 7, 0)
            for i, (k, s) in enumerate((k, s) for k in range(BATCH // SIGNALS) for s in range(SIGNALS))
        ]
        for b in range(batches)
    ]
    pool = await asyncpg.create_pool(url, min_size=connections, max_size=connections, init=store.prepare_connection)
    await pool.execute("SELECT ensure_readings_partitions($1, $2)", start, start + timedelta(days=2))
    queue: asyncio.Queue[list] = asyncio.Queue()
    for rows in rows_per_batch:
        queue.put_nowait(rows)

    async def worker() -> None:
        async with pool.acquire() as conn:
            while not queue.empty():
                rows = queue.get_nowait()
                async with conn.transaction():
                    await store.write_rows(conn, rows, try_append=append)

    t = now()
    await asyncio.gather(*(worker() for _ in range(connections)))
    elapsed = now() - t
    await pool.close()
    return batches * BATCH / elapsed


class CpuMeter:
    """CPU seconds spent by the ingest process and by the bench's PostgreSQL server, and the WAL it wrote, between
    two readings; printed per million readings."""

    def __init__(self, ingest: psutil.Process, postgres: PostgresCpu, url: str) -> None:
        self.ingest, self.postgres, self.url = ingest, postgres, url
        self._ingest0 = self._pg0 = 0.0
        self._wal0 = 0

    async def _wal(self) -> int:
        conn = await asyncpg.connect(self.url)
        try:
            return int(await conn.fetchval("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')"))
        finally:
            await conn.close()

    async def mark(self) -> None:
        self._wal0 = await self._wal()
        self._ingest0, self._pg0 = cpu_seconds(self.ingest), self.postgres.seconds()

    async def split(self, readings: int) -> Figures:
        ingest, pg = cpu_seconds(self.ingest) - self._ingest0, self.postgres.seconds() - self._pg0
        wal = await self._wal() - self._wal0
        per = 1e6 / readings
        return Figures(0.0, ingest * per, pg * per, wal / readings)


@dataclass(frozen=True, slots=True)
class Figures:
    """One phase: readings/s, CPU seconds per million readings (ingest, PostgreSQL), WAL bytes per reading."""

    rate: float
    ingest_cpu: float
    postgres_cpu: float
    wal: float

    def __str__(self) -> str:
        return (
            f"CPU-s per 1M: ingest {self.ingest_cpu:.2f}, postgres {self.postgres_cpu:.2f}; "
            f"WAL {self.wal:.0f} B/reading"
        )


def report(name: str, readings: int, seconds: float, latencies: list[float], cpu: Figures | str = "") -> None:
    print(
        f"  {name:<34} {readings / seconds:>10,.0f} readings/s   p50 {percentile(latencies, 50) * 1000:6.1f} ms"
        f"   p99 {percentile(latencies, 99) * 1000:6.1f} ms   ({readings:,} in {seconds:.1f} s; {cpu})",
        flush=True,
    )


async def main(args: argparse.Namespace) -> None:
    if not args.compare_plain:
        await run(args, plain=args.plain_rollups)
        return
    # Today's write path and the plain fold alternate, each on a fresh database, so both see the same machine.
    results: dict[bool, list[dict[int, Figures]]] = {False: [], True: []}
    for round_ in range(args.rounds):
        for variant in (False, True):
            print(
                f"--- round {round_ + 1}: {'plain fold' if variant else 'exact rollups'}; {load_average()}", flush=True
            )
            results[variant].append(await run(args, plain=variant))
    print(f"Exact rollups against the plain fold, medians of {args.rounds} rounds ({load_average()}):")
    for clients in args.clients:
        exact, plain = (median_figures([r[clients] for r in results[variant]]) for variant in (False, True))
        print(
            f"  HTTP JSON, {clients} client(s): {exact.rate:,.0f} vs {plain.rate:,.0f} readings/s "
            f"({exact.rate / plain.rate - 1:+.0%}); CPU-s per 1M ingest {exact.ingest_cpu:.2f} vs "
            f"{plain.ingest_cpu:.2f}, postgres {exact.postgres_cpu:.2f} vs {plain.postgres_cpu:.2f} "
            f"({exact.postgres_cpu / plain.postgres_cpu - 1:+.0%}); WAL {exact.wal:.0f} vs {plain.wal:.0f} B/reading"
        )


def median_figures(rounds: list[Figures]) -> Figures:
    return Figures(*(statistics.median(getattr(f, name) for f in rounds) for name in Figures.__slots__))


def load_average() -> str:
    return "load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


async def run(args: argparse.Namespace, *, plain: bool) -> dict[int, Figures]:
    """One run on a fresh database: the JSON phases' figures by number of clients (printed as they come)."""
    figures: dict[int, Figures] = {}
    async with bench_database() as url:
        token, ids = await make_plant(url)
        settings = await server_settings(url)
        differ = {k: v for k, v in settings.items() if v != SERVER_SETTINGS[k]}
        print(f"PostgreSQL settings: {settings}" + (f" — NOT those of the embedded server: {differ}" if differ else ""))
        # Bench-only switches, to compare storage parameters in one run.
        for tables, options in ((("rollups_1m",), args.rollup_options), (COARSE, args.coarse_rollup_options)):
            for table in tables if options else ():
                await _execute(url, f"ALTER TABLE {table} SET ({options})")
        postgres = await PostgresCpu.of(url)
        storage = await StorageMeter.start(url)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        # Start a day back, well inside retention; each phase writes its own time range (no accidental duplicates).
        start = datetime.now(UTC).replace(microsecond=0, second=0) - timedelta(days=1)
        print(
            f"Ingest benchmark: batches of {BATCH} readings ({SIGNALS} signals at 1 Hz), {args.batches} batches per run"
        )
        module = "bench.plain_rollups" if plain else "services.cli"
        if plain:
            print("  (bench-only: ingest folds the rollups as before exact rollups: 1-minute sums/extremes only)")
        async with service_process("ingest", url, port, module=module) as proc:
            with RssSampler(proc) as rss:
                meter = CpuMeter(proc, postgres, url)
                headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
                offset = 0
                for clients in args.clients:
                    bodies = json_batches(start + timedelta(seconds=offset), args.batches)
                    offset += args.batches * 25
                    await meter.mark()
                    seconds, lat = await blast(base, "/v1/readings", headers, bodies, clients)
                    n = len(bodies) * BATCH
                    figures[clients] = dataclasses.replace(await meter.split(n), rate=n / seconds)
                    report(f"HTTP JSON, {clients} client(s)", n, seconds, lat, figures[clients])
                # A replay of everything just sent (a gateway retrying after an outage): all duplicates.
                await meter.mark()
                seconds, lat = await blast(base, "/v1/readings", headers, bodies, max(args.clients))
                n = len(bodies) * BATCH
                report("HTTP JSON replay (all duplicates)", n, seconds, lat, await meter.split(n))
                lines = line_batches(start + timedelta(seconds=offset), args.batches)
                offset += args.batches * 25
                await meter.mark()
                seconds, lat = await blast(
                    base, "/api/v2/write?precision=s", {"Authorization": f"Token {token}"}, lines, max(args.clients)
                )
                n = len(lines) * BATCH
                report(f"line protocol, {max(args.clients)} client(s)", n, seconds, lat, await meter.split(n))
                if args.paced_seconds:
                    paced_bodies = json_batches(start + timedelta(seconds=offset), args.paced_seconds * 10)
                    offset += len(paced_bodies) * 25
                    lat = await paced(base, headers, paced_bodies, per_second=10)
                    print(
                        f"  {'offered 50,000 readings/s':<34} {'':>10}               p50 "
                        f"{percentile(lat, 50) * 1000:6.1f} ms   p99 {percentile(lat, 99) * 1000:6.1f} ms"
                        f"   ({len(lat)} batches over {args.paced_seconds} s)"
                    )
            print(f"  ingest server peak RSS: {rss.peak_mb:.0f} MB")
            print(await storage.report())
        offset += 100
        for append in (False, True) if args.raw else ():
            limit = await raw_limit(url, ids, start + timedelta(seconds=offset), args.batches, append=append)
            offset += args.batches * 25
            path = "append" if append else "dedup"
            print(
                f"  {f'raw database limit, {path} path':<34} {limit:>10,.0f} readings/s   "
                "(2 connections: the write path's statements, no HTTP)"
            )
    return figures


async def _execute(url: str, sql: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batches", type=int, default=120)
    parser.add_argument("--clients", type=lambda s: [int(x) for x in s.split(",")], default=[1, 2, 4])
    parser.add_argument("--paced-seconds", type=int, default=10, help="0 skips the paced phase")
    parser.add_argument("--no-raw", dest="raw", action="store_false", help="skip the raw database limit")
    parser.add_argument(
        "--plain-rollups",
        action="store_true",
        help="bench-only: fold rollups as before exact rollups (bench/plain_rollups.py), to measure their cost",
    )
    parser.add_argument(
        "--rollup-options",
        help="bench-only: storage parameters set on rollups_1m before the load, e.g. 'fillfactor = 70'",
    )
    parser.add_argument("--coarse-rollup-options", help="bench-only: the same for rollups_15m and rollups_1h")
    parser.add_argument(
        "--compare-plain",
        action="store_true",
        help="alternate today's write path and --plain-rollups (--rounds each); print the medians side by side",
    )
    parser.add_argument("--rounds", type=int, default=2, help="rounds of each variant with --compare-plain")
    asyncio.run(main(parser.parse_args()))
