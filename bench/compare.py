"""Side by side: Baseload (JSON and line protocol) against InfluxDB 1.x and VictoriaMetrics, when installed.

One load generator posts the same readings to each system (a fresh store per round, rounds interleaved A B C D A B C
D …, medians of `--repeats`) and prints per system: readings/s with 1 and 4 clients (half the readings each), server
CPU-s per 1 M readings during the 4-client half (every server process: ingest and the embedded PostgreSQL's process
tree; influxd; victoria-metrics), bytes on disk per reading once the store has settled (InfluxDB and
VictoriaMetrics: their data directory after a clean stop, less its size when empty; Baseload: the readings, blocks
and rollups tables with their indexes), and the latency of one comparable query (hourly mean of one signal over the
loaded range). InfluxDB and VictoriaMetrics are optional (`apt-get install influxdb victoria-metrics`, binaries
`influxd` and `victoria-metrics` on PATH); each is started here on 127.0.0.1 with its own temporary data directory
and stopped afterwards. Prints figures; asserts nothing.

    .venv/bin/python bench/compare.py --readings 1000000 --signals 200 --batch 5000 --repeats 3
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import psutil
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import cpu_seconds, now, service_process
from bench.ingest import blast
from shared import auth
from shared.embedded import pgdata_path, start_embedded, stop_embedded, with_database
from shared.migrate import upgrade_async
from tests.support import free_port

UNCERTAIN = 0x40000000  # OPC UA StatusCode Uncertain: one reading in a thousand carries it
QUERIES = 15  # timed repetitions of the comparable query (after one untimed)
SETTLE_MAX_S = 30.0  # longest wait for a store's background flushes before its size is read


@dataclass(frozen=True)
class Load:
    """The readings of one round, as JSON batches and as line-protocol batches (same readings, same batching)."""

    json: list[bytes]
    lines: list[bytes]
    readings: int
    batch: int
    start: datetime  # the first reading's time, on the hour
    end: datetime  # the hour after the last reading
    signal_keys: list[str]


def generate(readings: int, signals: int, batch: int, start: datetime) -> Load:
    """Time-major like a gateway (every signal each second), values a 3-decimal random walk per signal."""
    width = max(3, len(str(signals - 1)))
    units = [f"u{s:0{width}d}" for s in range(signals)]
    rand = random.Random(42)
    values = [100.0 + s for s in range(signals)]
    t0 = int(start.timestamp())
    json_bodies, line_bodies = [], []
    for first in tqdm(range(0, readings, batch), desc="generating batches", unit="batch", leave=False):
        items, lines = [], []
        for n in range(first, min(first + batch, readings)):
            second, s = divmod(n, signals)
            values[s] = round(values[s] + rand.gauss(0, 0.05), 3)
            quality = UNCERTAIN if rand.random() < 0.001 else 0
            ts = t0 + second
            iso = datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            items.append({"signal": f"{units[s]}.p", "ts": iso, "value": values[s], "quality": quality})
            lines.append(f"power,site=bench,unit={units[s]} p={values[s]!r},quality={quality}i {ts}")
        json_bodies.append(json.dumps({"readings": items}).encode())
        line_bodies.append("\n".join(lines).encode())
    last = t0 + (readings - 1) // signals
    end = datetime.fromtimestamp(last - last % 3600 + 3600, UTC)
    return Load(json_bodies, line_bodies, readings, batch, start, end, [f"{u}.p" for u in units])


@dataclass
class Round:
    rate_1: float = 0.0
    rate_4: float = 0.0
    cpu_per_m: float = 0.0
    bytes_per_reading: float = 0.0
    query_ms: float = 0.0
    stored: int = 0
    extra: dict[str, float] = field(default_factory=dict)


class System:
    """One store under test: started fresh for a round, loaded, measured, stopped."""

    name = ""
    path = ""
    headers: dict[str, str]

    def bodies(self, load: Load) -> list[bytes]:
        return load.lines

    async def start(self, load: Load) -> None:
        """A fresh, empty store, ready for writes."""

    async def stop(self) -> None:
        """Stopped, its data removed."""

    def cpu(self) -> float:
        """CPU seconds used so far by the store's server processes."""
        raise NotImplementedError

    async def after_load(self) -> None:
        """Flush what the store flushes on its own later, before its size is read."""

    async def bytes_on_disk(self) -> int:
        raise NotImplementedError

    async def stored(self, load: Load) -> int:
        raise NotImplementedError

    async def query(self, http: httpx.AsyncClient, load: Load) -> None:
        raise NotImplementedError

    @property
    def url(self) -> str:
        raise NotImplementedError


def dir_bytes(path: Path) -> int:
    """Bytes allocated on disk under `path` (like `du`: sparse and preallocated files count what they occupy)."""
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            try:
                total += os.stat(os.path.join(root, name)).st_blocks * 512
            except FileNotFoundError:
                continue
    return total


async def settle(size: Callable[[], int]) -> int:
    """The size once it has not changed for 3 s (background flushes and merges), or after `SETTLE_MAX_S`."""
    last, stable_since, deadline = size(), now(), now() + SETTLE_MAX_S
    while now() < deadline and now() - stable_since < 3:
        await asyncio.sleep(0.5)
        current = size()
        if current != last:
            last, stable_since = current, now()
    return last


@asynccontextmanager
async def child(args: Sequence[str], ready_url: str, log: Path) -> AsyncIterator[psutil.Process]:
    """A server process on loopback, ready when `ready_url` answers 2xx; terminated (then killed) afterwards."""
    with open(log, "wb") as out:  # noqa: ASYNC230 - once per round, before any load
        proc = subprocess.Popen(list(args), stdout=out, stderr=subprocess.STDOUT)  # noqa: ASYNC220
    try:
        async with httpx.AsyncClient(timeout=2) as http:
            for _ in range(300):
                try:
                    if (await http.get(ready_url)).is_success:
                        break
                except httpx.TransportError:
                    pass
                if proc.poll() is not None:
                    raise RuntimeError(f"{args[0]} exited: {log.read_text()[-500:]}")  # noqa: ASYNC240
                await asyncio.sleep(0.1)
            else:
                raise RuntimeError(f"{args[0]} did not start")
        yield psutil.Process(proc.pid)
    finally:
        proc.terminate()
        try:
            proc.wait(15)  # a server's clean stop, once per round
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class External(System):
    """A third-party server binary run from a temporary directory."""

    binary = ""

    def __init__(self) -> None:
        self.headers = {}
        self.dir: Path | None = None
        self.port = 0
        self.process: psutil.Process | None = None
        self._stack: AsyncExitStack | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        raise NotImplementedError

    ready_path = ""

    async def start(self, load: Load) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix=f"baseload-compare-{self.name.split()[0].lower()}-"))
        self.port = free_port()
        self._stack = AsyncExitStack()
        self.process = await self._stack.enter_async_context(
            child(self.command(), self.url + self.ready_path, self.dir / "server.log")
        )
        await self.prepare()
        self.baseline = self.data_size()

    baseline = 0  # bytes of the empty store, not counted against the readings

    async def prepare(self) -> None: ...

    async def stop(self) -> None:
        if self._stack is not None:
            await self._stack.aclose()
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)

    def cpu(self) -> float:
        assert self.process is not None
        return cpu_seconds(self.process)

    def data_size(self) -> int:
        assert self.dir is not None
        return dir_bytes(self.dir / "data")

    async def bytes_on_disk(self) -> int:
        """Read after a clean stop: a server flushes what it still holds in memory when it stops (the last thing
        measured in a round)."""
        await settle(self.data_size)
        if self._stack is not None:
            await self._stack.aclose()
        return self.data_size() - self.baseline


class Influx(External):
    name = "InfluxDB"
    binary = "influxd"
    path = "/write?db=bench&precision=s"
    ready_path = "/ping"

    def command(self) -> list[str]:
        assert self.dir is not None
        data = self.dir / "data"
        config = self.dir / "influxdb.conf"
        # Defaults except: loopback only, no self-monitoring or usage reporting, no per-request logs, and the
        # in-memory cache written to compressed TSM files once writes stop for 1 s (default 10 min), so that the
        # size after the load is its settled, compressed size.
        config.write_text(
            f"""reporting-disabled = true
bind-address = "127.0.0.1:{free_port()}"
[meta]
  dir = "{data}/meta"
[data]
  dir = "{data}/data"
  wal-dir = "{data}/wal"
  query-log-enabled = false
  cache-snapshot-write-cold-duration = "1s"
[monitor]
  store-enabled = false
[http]
  bind-address = "127.0.0.1:{self.port}"
  log-enabled = false
[continuous_queries]
  enabled = false
"""
        )
        return [self.binary, "-config", str(config)]

    async def prepare(self) -> None:
        async with httpx.AsyncClient(base_url=self.url) as http:
            (await http.post("/query", params={"q": "CREATE DATABASE bench"})).raise_for_status()

    def _select(self, what: str, load: Load, extra: str = "") -> dict[str, str]:
        start, end = int(load.start.timestamp()), int(load.end.timestamp())
        where = f"time >= {start}s AND time < {end}s{extra}"
        return {"db": "bench", "epoch": "s", "q": f'SELECT {what} FROM "power" WHERE {where}'}

    async def stored(self, load: Load) -> int:
        async with httpx.AsyncClient(base_url=self.url, timeout=60) as http:
            body = (await http.get("/query", params=self._select('count("p")', load))).json()
        return int(body["results"][0]["series"][0]["values"][0][1])

    async def query(self, http: httpx.AsyncClient, load: Load) -> None:
        key = load.signal_keys[0].split(".")[0]
        params = self._select('mean("p")', load, f" AND \"unit\" = '{key}' GROUP BY time(1h)")
        response = await http.get(f"{self.url}/query", params=params)
        response.raise_for_status()
        assert response.json()["results"][0]["series"][0]["values"], response.text


class Victoria(External):
    name = "VictoriaMetrics"
    binary = "victoria-metrics"
    path = "/write?precision=s"
    ready_path = "/health"

    def command(self) -> list[str]:
        assert self.dir is not None
        # -search.disableCache: no rollup-result cache, so every query is computed (as Baseload's and Influx's are).
        return [
            self.binary,
            f"-storageDataPath={self.dir / 'data'}",
            f"-httpListenAddr=127.0.0.1:{self.port}",
            "-retentionPeriod=1y",
            "-search.disableCache",
            "-loggerLevel=ERROR",
        ]

    async def after_load(self) -> None:
        async with httpx.AsyncClient(base_url=self.url) as http:
            (await http.get("/internal/force_flush")).raise_for_status()

    async def stored(self, load: Load) -> int:
        span = int((load.end - load.start).total_seconds())
        params = {"query": f"sum(count_over_time(power_p[{span}s]))", "time": str(int(load.end.timestamp()) - 1)}
        async with httpx.AsyncClient(base_url=self.url, timeout=60) as http:
            body = (await http.get("/api/v1/query", params=params)).json()
        result = body["data"]["result"]
        return int(float(result[0]["value"][1])) if result else 0

    async def query(self, http: httpx.AsyncClient, load: Load) -> None:
        key = load.signal_keys[0].split(".")[0]
        params = {
            "query": f'avg_over_time(power_p{{unit="{key}"}}[1h])',
            "start": str(int(load.start.timestamp()) + 3600),  # each point averages the hour before it
            "end": str(int(load.end.timestamp())),
            "step": "3600",
        }
        response = await http.get(f"{self.url}/api/v1/query_range", params=params)
        response.raise_for_status()
        assert response.json()["data"]["result"], response.text


class Baseload(System):
    """Ingest (and, for the query, the api) as `baseload serve` processes over the embedded PostgreSQL."""

    def __init__(self, server: str, server_dir: Path, fmt: str) -> None:
        self.server, self.server_dir, self.fmt = server, server_dir, fmt
        self.name = "Baseload JSON" if fmt == "json" else "Baseload line protocol"
        self.path = "/v1/readings" if fmt == "json" else "/api/v2/write?bucket=bench&precision=s"
        self.database = ""
        self.ingest: psutil.Process | None = None
        self._stack: AsyncExitStack | None = None
        self.port = 0
        self.api_port = 0
        self.read_token = ""
        self.wal_start = ""

    def bodies(self, load: Load) -> list[bytes]:
        return load.json if self.fmt == "json" else load.lines

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self, load: Load) -> None:
        self.database = f"baseload_compare_{uuid.uuid4().hex[:8]}"
        admin = await asyncpg.connect(with_database(self.server, "postgres"))
        try:
            await admin.execute(f'CREATE DATABASE "{self.database}"')
        finally:
            await admin.close()
        url = with_database(self.server, self.database)
        await upgrade_async(url)
        token = await self._plant(url, load)
        scheme = "Bearer" if self.fmt == "json" else "Token"
        self.headers = {"Authorization": f"{scheme} {token}"}
        if self.fmt == "json":
            self.headers["Content-Type"] = "application/json"
        self.port = free_port()
        self._stack = AsyncExitStack()
        self.ingest = await self._stack.enter_async_context(
            service_process("ingest", url, self.port, BASELOAD_INGEST_LOG_LEVEL="warning")
        )
        self.wal_start = await self._fetchval("SELECT pg_current_wal_lsn()::text")

    async def _plant(self, url: str, load: Load) -> str:
        conn = await asyncpg.connect(url)
        try:
            plant = await conn.fetchval(
                "INSERT INTO plants (key, name, capacity_mw) VALUES ('bench', 'Bench', 500) RETURNING id"
            )
            await conn.executemany(
                "INSERT INTO signals (key, plant_id, kind, unit, min_value, max_value)"
                " VALUES ($1, $2, 'x', 'MW', -1e9, 1e9)",
                [(key, plant) for key in load.signal_keys],
            )
            # The line `power,site=bench,unit=u000 p=…,quality=0i` is signal u000.p (the quality field is its status).
            await conn.execute(
                "INSERT INTO line_protocol_maps (scope, plant_id, templates, aliases)"
                " VALUES ('plant:bench', $1, ARRAY['{tag:unit}.{field}'], '{}')",
                plant,
            )
            _, token = await auth.create_key(conn, role="gateway", name="bench", plants=("bench",))
            _, self.read_token = await auth.create_key(conn, role="operator", name="bench-reader")
            return token
        finally:
            await conn.close()

    async def _fetchval(self, sql: str, *args: object) -> Any:
        conn = await asyncpg.connect(with_database(self.server, self.database))
        try:
            return await conn.fetchval(sql, *args)
        finally:
            await conn.close()

    def cpu(self) -> float:
        assert self.ingest is not None
        return cpu_seconds(self.ingest) + postgres_tree_cpu(self.server_dir)

    async def bytes_on_disk(self) -> int:
        # Readings (every partition, and compressed blocks where they exist) and the rollups, indexes and TOAST
        # included; WAL is reported apart (recycled after checkpoints).
        return int(
            await self._fetchval(
                """SELECT coalesce((SELECT sum(pg_total_relation_size(relid)) FROM pg_partition_tree('readings')
                                    WHERE isleaf), 0)
                        + coalesce((SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class AS c
                                    WHERE c.relkind = 'r' AND c.relnamespace = 'public'::regnamespace
                                      AND c.relname IN ('rollups_1m', 'rollups_15m', 'rollups_1h', 'reading_blocks')),
                                   0)"""
            )
        )

    async def wal_bytes(self) -> float:
        return float(
            await self._fetchval("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1::text::pg_lsn)", self.wal_start)
        )

    async def stored(self, load: Load) -> int:
        return int(await self._fetchval("SELECT count(*) FROM readings"))

    async def start_api(self) -> None:
        assert self._stack is not None
        self.api_port = free_port()
        url = with_database(self.server, self.database)
        # No in-memory cache of closed buckets and no statement issuer: every query is computed from the database.
        await self._stack.enter_async_context(
            service_process(
                "api",
                url,
                self.api_port,
                BASELOAD_API_CACHE_MAX_ENTRIES="0",
                BASELOAD_API_STATEMENTS_EVERY_S="0",
                BASELOAD_API_LOG_LEVEL="warning",
            )
        )

    async def query(self, http: httpx.AsyncClient, load: Load) -> None:
        params = {
            "start": load.start.isoformat(),
            "end": load.end.isoformat(),
            "every": "1h",
            "fn": "avg",
            "quality": "all",
        }
        response = await http.get(
            f"http://127.0.0.1:{self.api_port}/v1/signals/{load.signal_keys[0]}/aggregates",
            params=params,
            headers={"Authorization": f"Bearer {self.read_token}"},
        )
        response.raise_for_status()

    async def stop(self) -> None:
        if self._stack is not None:
            await self._stack.aclose()
        admin = await asyncpg.connect(with_database(self.server, "postgres"))
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')
        finally:
            await admin.close()


def postgres_tree_cpu(data_dir: Path) -> float:
    """CPU of the embedded server: the postmaster, its live children and the children it has reaped (backends
    that ended), so other PostgreSQL servers on the machine (the test suite's) do not count."""
    pid = int((pgdata_path(data_dir) / "postmaster.pid").read_text().split()[0])
    main = psutil.Process(pid)
    times = main.cpu_times()
    total = times.user + times.system + times.children_user + times.children_system
    for proc in main.children():
        try:
            total += cpu_seconds(proc)
        except psutil.Error:
            continue
    return total


async def run_round(system: System, load: Load) -> Round:
    result = Round()
    await system.start(load)
    try:
        bodies = system.bodies(load)
        half = len(bodies) // 2
        first, second = bodies[:half], bodies[half:]
        seconds, _ = await blast(system.url, system.path, system.headers, first, 1)
        n1 = half * load.batch  # every batch but the last is full
        result.rate_1 = n1 / seconds
        cpu0 = system.cpu()
        seconds, _ = await blast(system.url, system.path, system.headers, second, 4)
        n4 = load.readings - n1
        result.rate_4 = n4 / seconds
        result.cpu_per_m = (system.cpu() - cpu0) / n4 * 1e6
        await system.after_load()
        result.stored = await system.stored(load)
        if isinstance(system, Baseload):
            result.extra["wal"] = await system.wal_bytes() / load.readings
            await system.start_api()
        async with httpx.AsyncClient(timeout=60) as http:
            await system.query(http, load)
            timings = []
            for _ in range(QUERIES):
                t = now()
                await system.query(http, load)
                timings.append(now() - t)
        result.query_ms = statistics.median(timings) * 1000
        result.bytes_per_reading = await system.bytes_on_disk() / load.readings
    finally:
        await system.stop()
    return result


def cell(values: list[float], fmt: Callable[[float], str]) -> str:
    if not values:
        return "—"
    med = statistics.median(values)
    return f"{fmt(med)} ({fmt(min(values))}–{fmt(max(values))})" if len(values) > 1 else fmt(med)


def thousands(x: float) -> str:
    return f"{x / 1000:,.0f} k"


def print_table(results: dict[str, list[Round]], load: Load) -> None:
    names = list(results)
    rows = [
        ("readings/s, 1 client", lambda r: r.rate_1, thousands),
        ("readings/s, 4 clients", lambda r: r.rate_4, thousands),
        ("server CPU-s per 1 M readings (4 clients)", lambda r: r.cpu_per_m, lambda x: f"{x:.1f}"),
        ("bytes on disk per reading", lambda r: r.bytes_per_reading, lambda x: f"{x:.1f}"),
        ("hourly mean of 1 signal, ms", lambda r: r.query_ms, lambda x: f"{x:.1f}"),
    ]
    print()
    print("| | " + " | ".join(names) + " |")
    print("|---" * (len(names) + 1) + "|")
    for label, get, fmt in rows:
        print(f"| {label} | " + " | ".join(cell([get(r) for r in results[n]], fmt) for n in names) + " |")
    wal = {n: [r.extra["wal"] for r in results[n] if "wal" in r.extra] for n in names}
    print(
        "| write-ahead log per reading (no checkpoint) | "
        + " | ".join(cell(wal[n], lambda x: f"{x:.0f}") for n in names)
        + " |"
    )
    print()
    print("Median (min–max) of the rounds. Stored readings per round (must be the readings sent):")
    for n in names:
        print(f"  {n}: {sorted({r.stored for r in results[n]})}")


async def main(args: argparse.Namespace) -> None:
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(days=1)
    load = generate(args.readings, args.signals, args.batch, start)
    print(
        f"Side by side: {args.readings:,} readings per system and round ({args.signals} signals at 1 Hz from "
        f"{start:%Y-%m-%d %H:%M} UTC), batches of {args.batch:,}, {args.repeats} interleaved rounds; "
        f"half the readings with 1 client, half with 4. Load average at start: "
        + " ".join(f"{x:.2f}" for x in os.getloadavg())
    )
    data_dir = Path(tempfile.mkdtemp(prefix="baseload-compare-pg-"))
    try:
        server = await asyncio.to_thread(start_embedded, data_dir)  # shared.embedded.SERVER_SETTINGS
        systems: list[System] = [Baseload(server, data_dir, fmt) for fmt in args.baseload]
        for cls in (Influx, Victoria):
            if cls.name.lower().split()[0] in args.skip:
                continue
            if shutil.which(cls.binary):
                systems.append(cls())
            else:
                print(f"  ({cls.name}: `{cls.binary}` not installed, skipped)")
        results: dict[str, list[Round]] = {s.name: [] for s in systems}
        started = time.monotonic()
        with tqdm(total=args.repeats * len(systems), desc="rounds", unit="round") as bar:
            for _ in range(args.repeats):
                for system in systems:
                    bar.set_postfix_str(system.name)
                    results[system.name].append(await run_round(system, load))
                    bar.update()
                if time.monotonic() - started > args.max_minutes * 60:
                    print(f"  stopping after {len(next(iter(results.values())))} rounds: --max-minutes reached")
                    break
        print_table(results, load)
        print("Load average at the end: " + " ".join(f"{x:.2f}" for x in os.getloadavg()))
    finally:
        await asyncio.to_thread(stop_embedded, data_dir)
        shutil.rmtree(data_dir, ignore_errors=True)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--readings", type=int, default=1_000_000, help="readings per system and round")
    parser.add_argument("--signals", type=int, default=200, help="signals, each at 1 Hz")
    parser.add_argument("--batch", type=int, default=5_000, help="readings per request")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved rounds (medians are printed)")
    parser.add_argument(
        "--baseload",
        type=lambda s: [f for f in s.split(",") if f],
        default=["json", "line"],
        help="Baseload wire formats to load: json,line",
    )
    parser.add_argument("--skip", type=lambda s: s.lower().split(","), default=[], help="e.g. influxdb,victoriametrics")
    parser.add_argument("--max-minutes", type=float, default=15, help="no new round starts after this")
    args = parser.parse_args(argv)
    if not 1 <= args.readings <= 20_000_000 or args.batch < 1 or args.signals < 1 or not 1 <= args.repeats <= 10:
        parser.error("--readings 1..20,000,000, --repeats 1..10, --batch and --signals ≥ 1")
    return args


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
