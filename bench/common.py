"""Bench scaffolding shared by the bench scripts: a throwaway database and services run as real processes."""

from __future__ import annotations

import asyncio
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

from shared.embedded import start_embedded, stop_embedded, with_database
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
async def service_process(service: str, url: str, port: int, **env: str) -> AsyncIterator[psutil.Process]:
    """`baseload serve <service>` as a child process on 127.0.0.1:<port>, ready when /healthz answers."""
    child = subprocess.Popen(  # noqa: ASYNC220 - started once, before any load
        [sys.executable, "-m", "services.cli", "serve", service, "--port", str(port)],
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


def postgres_cpu_seconds() -> float:
    """CPU used so far by every PostgreSQL server process on this machine (the bench's server among them)."""
    total = 0.0
    for proc in psutil.process_iter(["name"]):
        if proc.info["name"] == "postgres":
            try:
                total += cpu_seconds(proc)
            except psutil.Error:
                continue
    return total


def now() -> float:
    return time.perf_counter()


class StorageMeter:
    """Write-ahead log and disk bytes per stored reading since `start` (the whole server's WAL: use a bench server)."""

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
            readings = await conn.fetchval("SELECT count(*) FROM readings")
            sizes = await conn.fetch(
                """SELECT 'readings' AS kind, sum(pg_table_size(t.relid)) AS heap,
                          sum(pg_indexes_size(t.relid)) AS indexes
                   FROM pg_partition_tree('readings') AS t WHERE t.isleaf
                   UNION ALL
                   SELECT 'rollups', sum(pg_table_size(c.oid)), sum(pg_indexes_size(c.oid))
                   FROM pg_class AS c WHERE c.relkind = 'r' AND c.relname LIKE 'rollups%'"""
            )
        finally:
            await conn.close()
        per = max(readings, 1)
        parts = ", ".join(
            f"{r['kind']} {(r['heap'] + r['indexes']) / per:.0f} B (indexes {r['indexes'] / per:.0f} B)" for r in sizes
        )
        total = sum(r["heap"] + r["indexes"] for r in sizes) / per
        return (
            f"  storage per reading ({readings:,} stored): WAL {float(wal) / per:.0f} B; disk {total:.0f} B = {parts}"
        )
