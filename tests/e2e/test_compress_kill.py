"""`baseload compress` killed with SIGKILL at arbitrary points, then run again: no reading or 1-minute rollup is lost
or doubled (readings move into blocks, minute rollups into packed days)."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import struct
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import asyncpg

from services.ingest import store
from shared.history.codec import decode_block
from shared.history.spans import to_us
from tests.integration.history.helpers import minute_rows

REPO_ROOT = Path(__file__).resolve().parents[2]
DAY0 = datetime(2025, 5, 1, tzinfo=UTC)
SIGNALS, DAYS, EVERY_S = 12, 3, 10


async def content(conn: asyncpg.Connection) -> tuple[dict[tuple[int, int], tuple[bytes, int]], int]:
    """Every reading, hot or in a block, and how many are in blocks; fails on a reading stored twice."""
    out: dict[tuple[int, int], tuple[bytes, int]] = {}
    rows = await conn.fetch("SELECT signal_id, ts, value, quality FROM readings")
    for r in rows:
        out[(r["signal_id"], to_us(r["ts"]))] = (struct.pack("<d", r["value"]), r["quality"])
    in_blocks = 0
    for b in await conn.fetch("SELECT signal_id, payload FROM reading_blocks"):
        block = decode_block(b["payload"])
        for t, v, q in zip(block.ts_us.tolist(), block.values.tolist(), block.qualities.tolist(), strict=True):
            out[(b["signal_id"], t)] = (struct.pack("<d", v), q)
        in_blocks += len(block)
    assert len(out) == len(rows) + in_blocks, "a reading is stored twice"
    return out, in_blocks


def start_compress(url: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "services.cli", "compress", "--after-hours", "1"],
        cwd=REPO_ROOT,
        env={**os.environ, "BASELOAD_DATABASE_URL": url, "BASELOAD_DEBUG": ""},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def test_killed_compression_loses_and_doubles_nothing(database_url: str) -> None:
    conn = await asyncpg.connect(database_url, server_settings={"timezone": "UTC"})
    try:
        await conn.execute(
            "SELECT ensure_readings_partitions($1::timestamptz, $1::timestamptz + interval '2 days')", DAY0
        )
        await conn.execute(
            """INSERT INTO readings (signal_id, ts, value, quality)
               SELECT s, $1::timestamptz + make_interval(secs => k * $2::int),
                      round((sin(k * 0.01 + s) * 200)::numeric, 3)::float8,
                      CASE WHEN k % 500 < 3 THEN 1083703296 ELSE 0 END
               FROM generate_series(1, $3) AS s, generate_series(0, 86400 * $4::int / $2::int - 1) AS k""",
            DAY0,
            EVERY_S,
            SIGNALS,
            DAYS,
        )
        async with conn.transaction():  # the rollups, as ingest's write path folds them
            await conn.execute(store.LATE_DDL)
            await conn.execute("INSERT INTO history_inserted SELECT signal_id, ts, value, quality FROM readings")
            await conn.fetchrow(store.LATE_FOLD_SQL)
        await conn.execute("ANALYZE readings")
        expected, _ = await content(conn)
        minutes = await minute_rows(conn)
        assert len(minutes) == SIGNALS * DAYS * 1440
        assert len(expected) == SIGNALS * DAYS * 86400 // EVERY_S
        rng = random.Random(14)
        kills = 0
        for attempt in range(12):
            proc = start_compress(database_url)
            if attempt == 0:
                # The first kill lands while the compressor is inside a transaction, however fast this machine is.
                await _wait_for_open_transaction(conn, proc)
            try:
                # The last attempt runs to the end (a loaded machine may need longer than any kill delay).
                last = attempt == 11
                proc.wait(timeout=0 if attempt == 0 else 300 if last else rng.uniform(0.5, 3.0) + 0.3 * attempt)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
                kills += 1
            found, _ = await content(conn)
            assert found == expected, f"after attempt {attempt}"
            assert await minute_rows(conn) == minutes, f"minutes after attempt {attempt}"
            if proc.returncode == 0:
                break
        else:
            raise AssertionError("compression never finished")
        assert kills >= 1  # the test is about the kills: make the data bigger if the first run already finished
        start = time.monotonic()
        while await conn.fetchval("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()") > 1:
            assert time.monotonic() - start < 30  # a killed client's backend ends with its transaction
            await conn.execute("SELECT pg_sleep(0.1)")
        assert start_compress(database_url).wait(timeout=120) == 0
        found, in_blocks = await content(conn)
        assert found == expected and in_blocks == len(expected)
        assert await minute_rows(conn) == minutes
        assert await conn.fetchval("SELECT count(*) FROM rollups_1m") == 0  # every minute packed
        assert await conn.fetchval("SELECT count(*) FROM rollup_days") == SIGNALS * DAYS
        days = await conn.fetchval("SELECT count(*) FROM compressed_days WHERE day BETWEEN $1 AND $1 + 2", DAY0.date())
        assert days == DAYS  # (and the empty closed days the template database has: yesterday's)
        left = await conn.fetchval(
            "SELECT count(*) FROM pg_class WHERE relname IN ('readings_20250501', 'readings_20250502', "
            "'readings_20250503')"
        )
        assert left == 0
    finally:
        await conn.close()


async def _wait_for_open_transaction(conn: asyncpg.Connection, proc: subprocess.Popen[bytes]) -> None:
    """Until another session of this database is inside a transaction (or `proc` has ended)."""
    while proc.poll() is None:
        busy = await conn.fetchval(
            """SELECT count(*) FROM pg_stat_activity
               WHERE datname = current_database() AND pid <> pg_backend_pid() AND xact_start IS NOT NULL"""
        )
        if busy:
            return
        await asyncio.sleep(0.005)
