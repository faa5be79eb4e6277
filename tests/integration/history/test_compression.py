"""Compression of closed days (services/ingest/compaction.py) and late readings into them: every reading stays
exactly once, the rollups stay exact, the partition's space is given back."""

from __future__ import annotations

import asyncio
import struct
from datetime import UTC, date, datetime, timedelta

import asyncpg
import pytest

from services.ingest import store
from services.ingest.compaction import compress_closed, compress_day
from services.ingest.store import write_readings
from shared.history.codec import decode_block
from shared.history.reader import readings_between
from shared.history.spans import day_lock_key, from_us, to_us
from tests.integration.history.helpers import minute_rows

DAY0 = datetime(2025, 3, 10, tzinfo=UTC)
NOW = datetime(2025, 3, 20, tzinfo=UTC)  # the three days below are closed
AFTER = timedelta(hours=48)
ROLLUPS = ("rollups_1m", "rollups_15m", "rollups_1h")


def bits(value: float) -> bytes:
    return struct.pack("<d", value)


def initial_rows(day: datetime) -> list[tuple[int, datetime, float, int]]:
    """Three signals over a few hours of `day` and the next: 1 Hz, every 7 s and a few irregular ones."""
    rows = []
    for k in range(0, 4 * 3600, 1):
        rows.append((1, day + timedelta(hours=20, seconds=k), round(480 + (k % 97) * 0.25, 3), 0))
    for k in range(0, 8 * 3600, 7):
        rows.append((2, day + timedelta(hours=20, seconds=k), float(k % 13) - 6.0, 0 if k % 5 else 1083703296))
    for s in (0.5, 61.25, 3599.999, 86400 + 5, 86400 * 2 + 3):
        rows.append((3, day + timedelta(seconds=s), -0.0 if s < 1 else s / 4, 0))
    return rows


async def all_readings(conn: asyncpg.Connection) -> dict[tuple[int, int], tuple[bytes, int]]:
    """Every reading, hot or in a block: (signal, ts µs) -> (value bits, quality); fails on a reading stored twice."""
    out: dict[tuple[int, int], tuple[bytes, int]] = {}
    for r in await conn.fetch("SELECT signal_id, ts, value, quality FROM readings"):
        out[(r["signal_id"], to_us(r["ts"]))] = (bits(r["value"]), r["quality"])
    hot = len(out)
    in_blocks = 0
    for b in await conn.fetch("SELECT * FROM reading_blocks"):
        block = decode_block(b["payload"])
        assert len(block) == b["count"]
        assert from_us(int(block.ts_us[0])) == b["first_ts"] and from_us(int(block.ts_us[-1])) == b["last_ts"]
        assert b["block_start"] <= b["first_ts"] and b["last_ts"] < b["block_end"]
        for t, v, q in zip(block.ts_us.tolist(), block.values.tolist(), block.qualities.tolist(), strict=True):
            out[(b["signal_id"], t)] = (bits(v), q)
        in_blocks += len(block)
    assert len(out) == hot + in_blocks, "a reading is stored twice"
    return out


async def through_reader(conn: asyncpg.Connection, ids: list[int]) -> dict[tuple[int, int], tuple[bytes, int]]:
    """Every reading of `ids` as the read paths see it (shared/history/reader.py: hot rows and blocks as one)."""
    found = await readings_between(conn, ids, DAY0 - timedelta(days=1), NOW)
    out: dict[tuple[int, int], tuple[bytes, int]] = {}
    for sid, columns in found.items():
        for t, v, q in zip(columns.ts_us.tolist(), columns.values.tolist(), columns.qualities.tolist(), strict=True):
            assert (sid, t) not in out
            out[(sid, t)] = (bits(v), q)
    return out


async def rollups(conn: asyncpg.Connection) -> dict[str, list[tuple]]:
    """Every rollup row; the 1-minute ones hot or packed (each minute once)."""
    out = {t: [tuple(r) for r in await conn.fetch(f"SELECT * FROM {t} ORDER BY signal_id, bucket")] for t in ROLLUPS}
    out["rollups_1m"] = await minute_rows(conn)
    return out


async def recomputed_rollups(conn: asyncpg.Connection) -> dict[str, list[tuple]]:
    """The rollups of every stored reading folded in one go (no incremental merge), rolled back afterwards."""
    readings = await all_readings(conn)
    tr = conn.transaction()
    await tr.start()
    try:
        await conn.execute(
            "DELETE FROM rollups_1m; DELETE FROM rollup_days; DELETE FROM rollups_15m; DELETE FROM rollups_1h"
        )
        await conn.execute(store.LATE_DDL)
        records = [(s, from_us(t), struct.unpack("<d", v)[0], q) for (s, t), (v, q) in readings.items()]
        await conn.copy_records_to_table(
            "history_inserted", records=records, columns=("signal_id", "ts", "value", "quality")
        )
        result = await conn.fetchrow(store.LATE_FOLD_SQL)
        assert not result["stale_ids"]
        return await rollups(conn)
    finally:
        await tr.rollback()


async def hot_signal_days(conn: asyncpg.Connection) -> set[tuple[int, date]]:
    """(signal, day) of the minutes of closed days that are rows of rollups_1m, not packed."""
    rows = await conn.fetch(
        "SELECT DISTINCT signal_id, (bucket AT TIME ZONE 'UTC')::date AS day FROM rollups_1m WHERE bucket < $1", NOW
    )
    return {(r["signal_id"], r["day"]) for r in rows}


async def partitions(conn: asyncpg.Connection) -> set[str]:
    rows = await conn.fetch("SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid")
    return {r["relname"] for r in rows}


@pytest.fixture
async def conn(database_url: str) -> asyncpg.Connection:
    c = await asyncpg.connect(database_url, server_settings={"timezone": "UTC"})
    yield c
    await c.close()


async def compress(conn: asyncpg.Connection) -> None:
    run = await compress_closed(conn, AFTER, lock_timeout_ms=2000, now=NOW)
    assert not run.deferred


async def test_compression_keeps_every_reading_once_and_drops_the_partitions(conn: asyncpg.Connection) -> None:
    await write_readings(conn, initial_rows(DAY0))
    before, rollups_before = await all_readings(conn), await rollups(conn)
    assert {"readings_20250310", "readings_20250311", "readings_20250312"} <= await partitions(conn)
    assert await through_reader(conn, [1, 2, 3]) == before
    await compress(conn)
    assert await all_readings(conn) == before
    assert await through_reader(conn, [1, 2, 3]) == before  # the read paths see the same readings, once each
    assert await conn.fetchval("SELECT count(*) FROM readings WHERE ts < $1", NOW) == 0
    assert await rollups(conn) == rollups_before  # the same rollups, the minutes packed
    assert await hot_signal_days(conn) == set()
    assert await conn.fetchval("SELECT count(*) FROM rollup_days") == 3 + 2 + 1  # signal 3 has 3 days
    assert not {"readings_20250310", "readings_20250311", "readings_20250312"} & await partitions(conn)
    days = await conn.fetch("SELECT day, readings, blocks FROM compressed_days ORDER BY day")
    assert [r["day"] for r in days][:3] == [date(2025, 3, 10), date(2025, 3, 11), date(2025, 3, 12)]
    assert sum(r["readings"] for r in days) == len(before)
    # A partition asked for again (ingest ahead of time, a backfill) is not recreated for a compressed day.
    assert await store.ensure_partitions(conn, [DAY0]) == 0
    await compress(conn)  # idempotent
    assert await all_readings(conn) == before


async def test_late_readings_into_a_compressed_day_are_stored_once_with_exact_rollups(
    conn: asyncpg.Connection,
) -> None:
    await write_readings(conn, initial_rows(DAY0))
    await compress(conn)
    before = await all_readings(conn)
    t = DAY0 + timedelta(hours=20)
    late = [
        (1, t + timedelta(seconds=10.5), 1.25, 0),  # inside a stored minute, between two readings
        (1, t + timedelta(seconds=10), 480.0 + 10 * 0.25, 0),  # an identical duplicate
        (1, t + timedelta(seconds=11), 7.0, 0),  # a conflicting value: refused, the stored one stays
        (2, t + timedelta(hours=30), 3.0, 0),  # an hour with no block yet (day 2)
        (2, t + timedelta(hours=30), 4.0, 0),  # the same reading twice in the batch: the first wins
        (3, DAY0 + timedelta(seconds=0.5), 0.0, 0),  # 0.0 against a stored -0.0: the same number, a duplicate
        (4, t, 1.5, 0),  # a signal with no readings at all
    ]
    async with conn.transaction():
        await store.prepare_connection(conn)
        outcome = await store.write_rows(conn, [(i, *r) for i, r in enumerate(late)], notify_channel=None)
    assert (outcome.inserted, outcome.conflicts, outcome.path) == (3, [2, 4], "compressed")
    after = await all_readings(conn)
    assert len(after) == len(before) + 3
    assert await through_reader(conn, [1, 2, 3, 4]) == after
    assert after[(1, to_us(t + timedelta(seconds=10.5)))] == (bits(1.25), 0)
    assert after[(1, to_us(t + timedelta(seconds=11)))] == before[(1, to_us(t + timedelta(seconds=11)))]
    assert after[(2, to_us(t + timedelta(hours=30)))] == (bits(3.0), 0)
    assert after[(3, to_us(DAY0 + timedelta(seconds=0.5)))] == (bits(-0.0), 0)
    assert not await partitions(conn) & {"readings_20250310", "readings_20250311"}  # nothing recreated
    # The signal-days that got new readings had their minutes unpacked to fold them (signal 4 had none: its new
    # minute is a row); the others stayed packed.
    day0 = DAY0.date()
    assert await hot_signal_days(conn) == {(1, day0), (2, day0 + timedelta(days=2)), (4, day0)}
    assert await rollups(conn) == await recomputed_rollups(conn)
    packed = await rollups(conn)
    await compress(conn)  # the job packs them again
    assert await hot_signal_days(conn) == set()
    assert await rollups(conn) == packed
    # The same batch again (a gateway's retry): nothing new, nothing twice.
    async with conn.transaction():
        again = await store.write_rows(conn, [(i, *r) for i, r in enumerate(late)], notify_channel=None)
    assert (again.inserted, again.conflicts) == (0, [2, 4])
    assert await all_readings(conn) == after


async def test_a_batch_across_hot_and_compressed_days_writes_each_part_once(conn: asyncpg.Connection) -> None:
    await write_readings(conn, initial_rows(DAY0))
    await compress(conn)
    hot_day = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    batch = [
        (1, DAY0 + timedelta(hours=21, seconds=0.25), 2.0, 0),
        (1, hot_day + timedelta(seconds=30), 3.0, 0),
        (1, hot_day - timedelta(days=1, seconds=-5), 4.0, 0),  # yesterday: hot (not compressed)
    ]
    outcome = await write_readings(conn, batch)
    assert outcome.inserted == 3 and outcome.conflicts == []
    assert await conn.fetchval("SELECT count(*) FROM readings WHERE signal_id = 1 AND ts >= $1", NOW) == 2
    assert outcome.start == batch[0][1] and outcome.end == batch[1][1]
    assert await rollups(conn) == await recomputed_rollups(conn)


async def test_a_writer_of_a_day_being_compressed_waits_and_then_merges(database_url: str) -> None:
    job = await asyncpg.connect(database_url, server_settings={"timezone": "UTC"})
    writer = await asyncpg.connect(database_url, server_settings={"timezone": "UTC"})
    try:
        await write_readings(job, initial_rows(DAY0))
        late = (1, DAY0 + timedelta(hours=20, seconds=0.5), 9.5, 0)
        async with job.transaction():
            await job.execute("SELECT pg_advisory_xact_lock($1)", day_lock_key(DAY0.date()))  # the job's day lock
            write = asyncio.create_task(write_readings(writer, [late]))
            for _ in range(100):  # the writer waits on the day's lock (shared against the job's exclusive)
                waiting = await job.fetchval(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
                )
                if waiting:
                    break
                await asyncio.sleep(0.05)
            assert waiting == 1 and not write.done()
            assert await compress_day(job, DAY0.date(), lock_timeout_ms=5000) is not None
        outcome = await asyncio.wait_for(write, 30)
        assert (outcome.inserted, outcome.path) == (1, "compressed")
        found = await all_readings(job)
        assert found[(1, to_us(late[1]))] == (bits(9.5), 0)
        assert await job.fetchval("SELECT count(*) FROM readings_20250310") == 0  # emptied, dropped by the next run
        await compress(job)
        assert await all_readings(job) == found
        assert not {"readings_20250310"} & await partitions(job)
        assert await rollups(job) == await recomputed_rollups(job)
    finally:
        await job.close()
        await writer.close()


async def test_concurrent_late_writers_into_one_block_lose_nothing(database_url: str) -> None:
    conns = [await asyncpg.connect(database_url, server_settings={"timezone": "UTC"}) for _ in range(4)]
    try:
        await write_readings(conns[0], initial_rows(DAY0))
        await compress(conns[0])
        t = DAY0 + timedelta(hours=21)
        batches = [[(1, t + timedelta(seconds=k + w / 8), float(w), 0) for k in range(0, 600, 3)] for w in range(1, 5)]
        await asyncio.gather(*(write_readings(c, b) for c, b in zip(conns, batches, strict=True)))
        found = await all_readings(conns[0])
        for batch in batches:
            for sig, ts, value, quality in batch:
                assert found[(sig, to_us(ts))] == (bits(value), quality)
        assert await rollups(conns[0]) == await recomputed_rollups(conns[0])
    finally:
        for c in conns:
            await c.close()
