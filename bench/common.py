"""Bench scaffolding shared by the bench scripts: a throwaway database and services run as real processes."""

from __future__ import annotations

import asyncio
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
import httpx
import psutil

from shared.db import one
from shared.embedded import SERVER_SETTINGS, start_embedded, stop_embedded, with_database
from shared.migrate import upgrade_async

REPO = Path(__file__).resolve().parent.parent


@asynccontextmanager
async def bench_database() -> AsyncIterator[str]:
    """A fresh migrated database: on BASELOAD_DATABASE_URL's server if set, else on a new embedded server."""
    external = os.environ.get("BASELOAD_DATABASE_URL") or os.environ.get("DATABASE_URL")
    data_dir = None
    if external:
        server = external
    else:
        data_dir = Path(tempfile.mkdtemp(prefix="baseload-bench-"))
        # The embedded server's own settings (shared.embedded.SERVER_SETTINGS): what `baseload db start` runs.
        server = await asyncio.to_thread(start_embedded, data_dir)
    name = f"baseload_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(with_database(server, "postgres"))
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    url = with_database(server, name)
    await upgrade_async(url)
    try:
        yield url
    finally:
        admin = await asyncpg.connect(with_database(server, "postgres"))
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
        if data_dir is not None:
            await asyncio.to_thread(stop_embedded, data_dir)
            shutil.rmtree(data_dir, ignore_errors=True)


@asynccontextmanager
async def service_process(
    service: str, url: str, port: int, module: str = "services.cli", **env: str
) -> AsyncIterator[psutil.Process]:
    """`baseload serve <service>` as a child process on 127.0.0.1:<port>, ready when /healthz answers (`module`: a
    bench-only variant of the command line, e.g. bench.plain_rollups)."""
    child = subprocess.Popen(  # noqa: ASYNC220 - started once, before any load
        [sys.executable, "-m", module, "serve", service, "--port", str(port)],
        env={**os.environ, "BASELOAD_DATABASE_URL": url, **env},
        cwd=REPO,
    )
    try:
        async with httpx.AsyncClient() as client:
            for _ in range(200):
                try:
                    if (await client.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    await asyncio.sleep(0.05)
            else:
                raise RuntimeError(f"{service} did not start")
        yield psutil.Process(child.pid)
    finally:
        child.terminate()
        child.wait(10)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


class RssSampler:
    """Peak resident memory of a process, sampled in the background."""

    def __init__(self, process: psutil.Process) -> None:
        self.process = process
        self.peak = process.memory_info().rss
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            self.peak = max(self.peak, self.process.memory_info().rss)
            await asyncio.sleep(0.1)

    def __enter__(self) -> RssSampler:
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    def __exit__(self, *_: object) -> None:
        assert self._task is not None
        self._task.cancel()

    @property
    def peak_mb(self) -> float:
        return self.peak / 2**20


def cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


class PostgresCpu:
    """CPU seconds used by one PostgreSQL server: its postmaster, every live child and the children it has reaped
    (backends that exited). Only that server: helpers and tests on other servers of the machine do not count, but
    everything on that server does (hence the bench's own embedded server by default)."""

    def __init__(self, postmaster: psutil.Process | None) -> None:
        self.postmaster = postmaster

    @classmethod
    async def of(cls, url: str) -> PostgresCpu:
        """The server behind `url`; when its processes are not visible here (e.g. in a container) the figures are
        NaN."""
        conn = await asyncpg.connect(url)
        try:  # while the backend lives (it exits with the connection)
            backend = psutil.Process(await conn.fetchval("SELECT pg_backend_pid()"))
            if backend.name() == "postgres":  # not another process with that pid (a container's own pid space)
                return cls(backend.parent())
        except psutil.Error:
            pass
        finally:
            await conn.close()
        return cls(None)

    def seconds(self) -> float:
        if self.postmaster is None:
            return math.nan
        times = self.postmaster.cpu_times()
        total = times.user + times.system + times.children_user + times.children_system
        for child in self.postmaster.children(recursive=True):
            try:
                total += cpu_seconds(child)
            except psutil.Error:  # exited between listing and reading: its time moves to children_* above
                continue
        return total


async def server_settings(url: str) -> dict[str, str]:
    """The values of SERVER_SETTINGS' names that the server behind `url` runs with."""
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch(
            "SELECT name, current_setting(name) AS value FROM unnest($1::text[]) AS name", [*SERVER_SETTINGS]
        )
    finally:
        await conn.close()
    return {r["name"]: r["value"] for r in rows}


def now() -> float:
    return time.perf_counter()


class StorageMeter:
    """Write-ahead log and disk bytes per stored reading since `start` (the whole server's WAL: use a bench server);
    readings count hot rows and those in compressed blocks alike."""

    def __init__(self, url: str, wal_start: str) -> None:
        self.url, self.wal_start = url, wal_start

    @classmethod
    async def start(cls, url: str) -> StorageMeter:
        conn = await asyncpg.connect(url)
        try:
            return cls(url, await conn.fetchval("SELECT pg_current_wal_lsn()::text"))
        finally:
            await conn.close()

    async def report(self) -> str:
        conn = await asyncpg.connect(self.url)
        try:
            await conn.execute("CHECKPOINT")  # the full-page images that follow a checkpoint count too
            wal = await conn.fetchval("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1::text::pg_lsn)", self.wal_start)
            readings = await conn.fetchval(
                "SELECT (SELECT count(*) FROM readings) + (SELECT coalesce(sum(count), 0) FROM reading_blocks)"
            )
            sizes = await conn.fetch(
                """SELECT 'readings' AS kind, sum(pg_table_size(t.relid)) AS heap,
                          sum(pg_indexes_size(t.relid)) AS indexes
                   FROM pg_partition_tree('readings') AS t WHERE t.isleaf
                   UNION ALL
                   SELECT 'rollups', sum(pg_table_size(c.oid)), sum(pg_indexes_size(c.oid))
                   FROM pg_class AS c WHERE c.relkind = 'r' AND c.relname LIKE 'rollups%'
                   UNION ALL  -- compressed history (issue 14); pg_table_size includes the TOAST table
                   SELECT 'blocks', pg_table_size('reading_blocks'), pg_indexes_size('reading_blocks')"""
            )
            rollups = await rollup_report(conn)
        finally:
            await conn.close()
        per = max(readings, 1)
        parts = ", ".join(
            f"{r['kind']} {(r['heap'] + r['indexes']) / per:.0f} B (indexes {r['indexes'] / per:.0f} B)" for r in sizes
        )
        total = sum(r["heap"] + r["indexes"] for r in sizes) / per
        return (
            f"  storage per reading ({readings:,} stored): WAL {float(wal) / per:.0f} B; disk {total:.0f} B = {parts}\n"
            + rollups
        )


async def rollup_report(conn: asyncpg.Connection) -> str:
    """Per rollup table: bytes per live row (heap + indexes), dead row versions, the share of updates that were HOT
    (heap-only: no new index entry, prunable in the page), and how many heap pages one signal's rows sit on."""
    await asyncio.sleep(1)  # backends flush their table statistics within a second of their transaction
    pgstattuple = await conn.fetchval("SELECT count(*) FROM pg_available_extensions WHERE name = 'pgstattuple'")
    if pgstattuple:
        try:
            await conn.execute("CREATE EXTENSION IF NOT EXISTS pgstattuple")
        except asyncpg.PostgresError:  # not a superuser on an external server: the statistics view alone
            pgstattuple = 0
    lines = []
    for table in ("rollups_1m", "rollups_15m", "rollups_1h"):
        stats = one(
            await conn.fetchrow(
                """SELECT pg_table_size(relid) AS heap, pg_indexes_size(relid) AS indexes, n_live_tup, n_dead_tup,
                      n_tup_upd, n_tup_hot_upd, (SELECT reloptions FROM pg_class WHERE oid = relid) AS options
               FROM pg_stat_user_tables WHERE relid = $1::text::regclass""",
                table,
            )
        )
        rows = await conn.fetchval(f"SELECT count(*) FROM {table}")
        signal = await conn.fetchval(f"SELECT signal_id FROM {table} LIMIT 1")
        pages = await conn.fetchval(
            f"SELECT count(DISTINCT (ctid::text::point)[0]) FROM {table} WHERE signal_id = $1", signal
        )
        per_signal = await conn.fetchval(f"SELECT count(*) FROM {table} WHERE signal_id = $1", signal)
        line = (
            f"  {table}: {rows:,} rows, {(stats['heap'] + stats['indexes']) / max(rows, 1):.0f} B/row "
            f"(heap {stats['heap'] / max(rows, 1):.0f}); dead versions {stats['n_dead_tup']:,}; "
            f"updates {stats['n_tup_upd']:,} of which HOT {stats['n_tup_hot_upd'] / max(stats['n_tup_upd'], 1):.0%}; "
            f"one signal's {per_signal} rows on {pages} pages; options {stats['options'] or 'default'}"
        )
        if pgstattuple:
            tuples = one(await conn.fetchrow(f"SELECT * FROM pgstattuple('{table}')"))
            line += (
                f"; pgstattuple: live {tuples['tuple_percent']:.0f} %, dead {tuples['dead_tuple_percent']:.0f} %,"
                f" free {tuples['free_percent']:.0f} %"
            )
        lines.append(line)
    return "\n".join(lines)
