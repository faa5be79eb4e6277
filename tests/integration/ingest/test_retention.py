"""Retention on real PostgreSQL: whole expired day partitions go, nothing inside the horizon is touched, rollups keep
their own horizon, statements stay; the maintenance worker and `baseload retention` run it."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx

from services.ingest.app import create_app
from services.ingest.retention_job import RetentionReport, apply_retention
from services.ingest.settings import Settings
from services.ingest.store import write_readings
from tests.support import REPO_ROOT, make_key, serving

NOW = datetime(2026, 11, 27, 10, 30, tzinfo=UTC)  # with 7 days: the horizon is 2026-11-20 10:30
ROLLUPS = ("rollups_1m", "rollups_15m", "rollups_1h")


def day(d: int) -> datetime:
    return datetime(2026, 11, d, tzinfo=UTC)


async def load_days(db: asyncpg.Pool, days: list[datetime], *, every: timedelta = timedelta(minutes=7)) -> None:
    """Two signals, a reading every `every` from each day's midnight to the next."""
    signal_ids = [r["id"] for r in await db.fetch("SELECT id FROM signals ORDER BY id LIMIT 2")]
    rows = []
    for start in days:
        ts = start
        while ts < start + timedelta(days=1):
            rows += [(sid, ts, float(ts.timestamp() % 977) + sid, 0) for sid in signal_ids]
            ts += every
    async with db.acquire() as conn:
        await write_readings(conn, rows)


async def partition_days(db: asyncpg.Pool) -> set[str]:
    rows = await db.fetch(
        """SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
           WHERE i.inhparent = 'readings'::regclass"""
    )
    return {r["relname"].removeprefix("readings_") for r in rows}


async def fingerprint(db: asyncpg.Pool, table: str, column: str, start: datetime, end: datetime) -> tuple[int, str]:
    """Count and checksum of every row of `table` with start <= column < end."""
    row = await db.fetchrow(
        f"""SELECT count(*) AS n, md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) AS digest
            FROM {table} AS t WHERE {column} >= $1 AND {column} < $2""",
        start,
        end,
    )
    return row["n"], row["digest"]


async def retain(db: asyncpg.Pool, settings: Settings, *, dry_run: bool = False) -> RetentionReport:
    async with db.acquire() as conn:
        return await apply_retention(conn, settings, NOW, dry_run=dry_run)


def baseload(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "services.cli", *args],
        cwd=REPO_ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


async def test_whole_expired_days_are_dropped_and_the_boundary_day_is_kept_untouched(db: asyncpg.Pool) -> None:
    await load_days(db, [day(d) for d in range(17, 23)])
    horizon = NOW - timedelta(days=7)
    inside = {t: await fingerprint(db, t, "bucket", day(20), day(23)) for t in ROLLUPS}
    kept_readings = await fingerprint(db, "readings", "ts", day(20), day(23))
    before_horizon_on_the_20th = await fingerprint(db, "readings", "ts", day(20), horizon)
    assert before_horizon_on_the_20th[0] > 0

    report = await retain(db, Settings(retention_days=7))

    assert [p.day for p in report.partitions] == [day(17), day(18), day(19)]
    assert report.bytes_freed > 0 and report.skipped == 0
    days = await partition_days(db)
    assert {"20261117", "20261118", "20261119"}.isdisjoint(days)
    assert {"20261120", "20261121", "20261122"} <= days
    assert await db.fetchval("SELECT count(*) FROM readings WHERE ts < $1", day(20)) == 0
    # The boundary day stays whole, readings before the horizon included: only whole days are dropped.
    assert await fingerprint(db, "readings", "ts", day(20), day(23)) == kept_readings
    assert await fingerprint(db, "readings", "ts", day(20), horizon) == before_horizon_on_the_20th
    # Rollups have their own horizon, unset by default: every row stays, the dropped days' included.
    assert all(report.rollup_rows[t] == 0 for t in ROLLUPS)
    for table in ROLLUPS:
        assert await fingerprint(db, table, "bucket", day(20), day(23)) == inside[table]
        assert await db.fetchval(f"SELECT count(*) FROM {table} WHERE bucket < $1", day(18)) > 0

    again = await retain(db, Settings(retention_days=7))
    assert again.partitions == [] and again.skipped == 0


async def test_rollups_go_by_their_own_horizons_and_nothing_newer_is_touched(db: asyncpg.Pool) -> None:
    await load_days(db, [day(d) for d in range(10, 23)], every=timedelta(minutes=3))
    settings = Settings(retention_days=7, rollup_retention_days=12, rollup_1m_retention_days=9)
    # Horizons 2026-11-18 10:30 (1 min) and 2026-11-15 10:30 (15 min, 1 h): the hour 10:00-11:00 of the 15th
    # reaches inside the horizon, so it stays; only whole buckets older than their horizon go.
    fine, coarse = NOW - timedelta(days=9), NOW - timedelta(days=12)
    first_kept = {"rollups_1m": fine, "rollups_15m": coarse, "rollups_1h": coarse.replace(minute=0)}
    kept = {t: await fingerprint(db, t, "bucket", first_kept[t], day(23)) for t in ROLLUPS}
    older = {t: await db.fetchval(f"SELECT count(*) FROM {t} WHERE bucket < $1", first_kept[t]) for t in ROLLUPS}

    report = await retain(db, settings)

    assert report.rollup_rows == older and all(n > 0 for n in older.values())
    for table in ROLLUPS:
        assert await db.fetchval(f"SELECT min(bucket) FROM {table}") == first_kept[table]
        assert await fingerprint(db, table, "bucket", first_kept[table], day(23)) == kept[table]
    assert [p.day for p in report.partitions] == [day(d) for d in range(10, 20)]


async def store_blocks(db: asyncpg.Pool, days: list[datetime]) -> None:
    """Hour blocks of two signals over `days`, as the compression job leaves them (payloads opaque here)."""
    signal_ids = [r["id"] for r in await db.fetch("SELECT id FROM signals ORDER BY id LIMIT 2")]
    rows = [
        (sid, start, start + timedelta(hours=1), start, start + timedelta(minutes=59), 60, os.urandom(90))
        for d in days
        for start in (d + timedelta(hours=h) for h in range(24))
        for sid in signal_ids
    ]
    await db.executemany(
        """INSERT INTO reading_blocks (signal_id, block_start, block_end, first_ts, last_ts, count, payload)
           VALUES ($1, $2, $3, $4, $5, $6, $7)""",
        rows,
    )
    await db.executemany(
        "INSERT INTO compressed_days (day, readings, blocks, payload_bytes) VALUES ($1, 2880, 48, 4320)",
        [(d.date(),) for d in days],
    )


async def test_compressed_days_older_than_the_horizon_go_block_by_block_and_the_boundary_day_stays(
    db: asyncpg.Pool,
) -> None:
    await store_blocks(db, [day(17), day(18), day(20), day(21)])
    kept = await fingerprint(db, "reading_blocks", "block_start", day(20), day(22))
    settings = Settings(retention_days=7)  # horizon 2026-11-20 10:30: the 20th reaches inside it

    dry = await retain(db, settings, dry_run=True)
    assert (dry.blocks.blocks, dry.blocks.readings) == (96, 96 * 60)
    assert await db.fetchval("SELECT count(*) FROM reading_blocks") == 192

    report = await retain(db, settings)

    assert (report.blocks.blocks, report.blocks.readings) == (96, 96 * 60) and report.blocks.bytes > 96 * 90
    assert await db.fetchval("SELECT min(block_start) FROM reading_blocks") == day(20)
    assert await fingerprint(db, "reading_blocks", "block_start", day(20), day(22)) == kept
    # compressed_days is the compression job's record of what it moved; retention leaves it as it is.
    assert await db.fetchval("SELECT count(*) FROM compressed_days") == 4
    again = await retain(db, settings)
    assert again.blocks.blocks == 0


async def test_published_statements_and_provenance_are_never_dropped(db: asyncpg.Pool) -> None:
    await load_days(db, [day(15), day(16)])
    plant_id = await db.fetchval("SELECT id FROM plants LIMIT 1")
    await db.execute("INSERT INTO signing_keys (kid, jwk) VALUES ('k1', '{}')")
    await db.execute(
        """INSERT INTO statements (plant_id, kind, period_start, period_end, revision, sequence, issued_at, kid, hash,
                                   jws)
           VALUES ($1, 'day', $2, $3, 1, 1, $3, 'k1', 'sha256:x', 'jws')""",
        plant_id,
        day(15),
        day(16),
    )
    await make_key(db, role="gateway", name="gw-provenance")
    key_id = await db.fetchval("SELECT id FROM api_keys WHERE name = 'gw-provenance'")
    await db.execute(
        """INSERT INTO ingest_batches (api_key_id, received_at, count, digest, signal_ids, first_ts, last_ts)
           VALUES ($1, $2, 1, 'd', '{1}', $2, $2)""",
        key_id,
        day(15),
    )
    statements = await db.fetch("SELECT * FROM statements ORDER BY id")

    report = await retain(db, Settings(retention_days=7, rollup_retention_days=7))

    assert len(report.partitions) == 2 and report.rollup_rows["rollups_1m"] > 0
    assert await db.fetch("SELECT * FROM statements ORDER BY id") == statements
    assert await db.fetchval("SELECT count(*) FROM ingest_batches") == 1


async def test_a_busy_table_makes_it_skip_and_retry_on_the_next_run(db: asyncpg.Pool) -> None:
    await load_days(db, [day(18)])
    settings = Settings(retention_days=7, retention_lock_timeout_ms=50)
    async with db.acquire() as reader, reader.transaction():
        await reader.execute("LOCK TABLE readings IN ACCESS SHARE MODE")  # a long read in flight
        report = await retain(db, settings)
        assert report.partitions == [] and report.skipped == 1
    assert "20261118" in await partition_days(db)
    report = await retain(db, settings)
    assert [p.day for p in report.partitions] == [day(18)]


async def test_a_run_out_of_time_leaves_the_rest_for_the_next(db: asyncpg.Pool) -> None:
    await load_days(db, [day(17), day(18)])
    settings = Settings(retention_days=7, rollup_retention_days=7)
    async with db.acquire() as conn:
        spent = await apply_retention(conn, settings, NOW, budget_s=0)
    assert spent.unfinished and spent.partitions == [] and sum(spent.rollup_rows.values()) == 0
    assert {"20261117", "20261118"} <= await partition_days(db)
    report = await retain(db, settings)
    assert not report.unfinished and len(report.partitions) == 2 and report.rollup_rows["rollups_1m"] > 0


async def test_one_run_at_a_time_and_a_dry_run_drops_nothing(db: asyncpg.Pool) -> None:
    await load_days(db, [day(18)])
    settings = Settings(retention_days=7)
    async with db.acquire() as other:
        await other.execute("SELECT pg_advisory_lock(hashtext('baseload.retention'))")
        assert (await retain(db, settings)).ran is False
        await other.execute("SELECT pg_advisory_unlock(hashtext('baseload.retention'))")
    report = await retain(db, settings, dry_run=True)
    assert [p.day for p in report.partitions] == [day(18)]
    assert "20261118" in await partition_days(db)


async def test_the_maintenance_worker_drops_expired_days_and_counts_them(database_url: str, db: asyncpg.Pool) -> None:
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    old, kept = today - timedelta(days=9), today - timedelta(days=3)
    await load_days(db, [old, kept])
    token = await make_key(db, role="gateway", name="gw-retention")
    signal = await db.fetchval("SELECT key FROM signals ORDER BY id LIMIT 1")
    app = create_app(Settings(database_url=database_url, retention_days=7))
    async with serving(app) as url, httpx.AsyncClient(base_url=url, timeout=30) as client:
        for _ in range(100):
            if f"{old:%Y%m%d}" not in await partition_days(db):
                break
            await asyncio.sleep(0.1)
        assert f"{old:%Y%m%d}" not in await partition_days(db)
        assert f"{kept:%Y%m%d}" in await partition_days(db)
        metrics = (await client.get("/metrics")).text
        assert "baseload_retention_partitions_dropped_total 1.0" in metrics
        # The write side still refuses what retention would drop.
        too_old = (datetime.now(UTC) - timedelta(days=7, minutes=1)).isoformat()
        response = await client.post(
            "/v1/readings",
            json={"readings": [{"signal": signal, "ts": too_old, "value": 1.0}]},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert response.status_code == 200
        assert [r["code"] for r in response.json()["rejected"]] == ["too_old"]


async def test_the_command_runs_it_at_once(database_url: str, db: asyncpg.Pool) -> None:
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    old = today - timedelta(days=40)
    await load_days(db, [old])
    env = {"BASELOAD_DATABASE_URL": database_url, "BASELOAD_INGEST_RETENTION_DAYS": "30"}
    dry = await asyncio.to_thread(baseload, "retention", "--dry-run", env=env)
    assert dry.returncode == 0, dry.stderr
    assert "would drop 1 readings partitions" in dry.stdout and f"{old:%Y-%m-%d}" in dry.stdout
    assert f"{old:%Y%m%d}" in await partition_days(db)
    done = await asyncio.to_thread(baseload, "retention", env=env)
    assert done.returncode == 0, done.stderr
    assert "dropped 1 readings partitions" in done.stdout and "rollups_1h horizon none" in done.stdout
    assert f"{old:%Y%m%d}" not in await partition_days(db)
