"""Late batches into a compressed day behave exactly as into a hot day: the same outcome (new readings, refused
conflicts), the same readings stored, the same rollups; and the rollup property test holds over compressed days."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import asyncpg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.ingest import store
from services.ingest.blocks import unpack_days
from services.ingest.compaction import compress_closed
from shared import quality as q
from shared.history.spans import to_us
from tests.integration.history.test_compression import all_readings, rollups
from tests.integration.ingest import test_rollups as rollup_model

COMPRESSED = datetime(2025, 3, 10, 23, 58, tzinfo=UTC)  # three minutes across midnight: two compressed days
NOW = datetime(2025, 3, 20, tzinfo=UTC)
QUALITIES = [0, q.to_db(0x40900000), q.to_db(0x808A0000)]
TS_COLUMNS = ("bucket", "first_ts", "last_ts", "good_first_ts", "good_last_ts")

reading = st.tuples(
    st.sampled_from([1, 2]),
    st.integers(min_value=0, max_value=179),
    st.integers(min_value=-50, max_value=50).map(lambda v: v / 4),
    st.sampled_from(QUALITIES),
)
batches = st.lists(st.lists(reading, min_size=1, max_size=30), min_size=1, max_size=4)


def hot_base() -> datetime:
    """Three minutes across tomorrow's midnight (UTC): hot days, partitions made ahead."""
    return datetime.now(UTC).replace(hour=23, minute=58, second=0, microsecond=0) + timedelta(days=1)


async def write(conn: asyncpg.Connection, base: datetime, batch: list[tuple[int, int, float, int]]) -> tuple:
    rows = [
        (i, sig, base + timedelta(seconds=sec), value, quality) for i, (sig, sec, value, quality) in enumerate(batch)
    ]
    async with conn.transaction():
        outcome = await store.write_rows(conn, rows, notify_channel=None)
    return outcome.inserted, outcome.conflicts


def shifted(rows: dict[str, list[tuple]], names: list[str], shift: timedelta, base: datetime) -> dict[str, list]:
    """The rollup rows within [base, base + 1 day) with their times moved back by `shift`."""
    out = {}
    positions = [names.index(c) for c in TS_COLUMNS]
    for table, table_rows in rows.items():
        kept = []
        for row in table_rows:
            if not base - timedelta(hours=1) <= row[1] < base + timedelta(days=1):
                continue
            row = list(row)
            for p in positions:
                if row[p] is not None:
                    row[p] -= shift
            kept.append(tuple(row))
        out[table] = kept
    return out


async def scenario(url: str, initial: list, late: list[list]) -> None:
    conn = await asyncpg.connect(url, server_settings={"timezone": "UTC"})
    try:
        await conn.execute(
            "TRUNCATE readings, reading_blocks, compressed_days, rollups_1m, rollup_days, rollups_15m, rollups_1h"
        )
        await store.prepare_connection(conn)
        hot = hot_base()
        shift = hot - COMPRESSED
        await store.ensure_partitions(conn, [COMPRESSED.replace(hour=0, minute=0), COMPRESSED + timedelta(days=1)])
        for base in (COMPRESSED, hot):
            await write(conn, base, initial)
        run = await compress_closed(conn, timedelta(hours=48), lock_timeout_ms=5000, now=NOW)
        assert run.days == 2
        for batch in late:
            assert await write(conn, COMPRESSED, batch) == await write(conn, hot, batch)
        readings = await all_readings(conn)
        middle, shift_us = to_us(COMPRESSED + shift / 2), to_us(hot) - to_us(COMPRESSED)
        cold = {(s, t): v for (s, t), v in readings.items() if t < middle}
        warm = {(s, t - shift_us): v for (s, t), v in readings.items() if t >= middle}
        assert cold == warm
        names = [a.name for a in (await conn.prepare("SELECT * FROM rollups_1m")).get_attributes()]
        stored = await rollups(conn)
        assert shifted(stored, names, timedelta(0), COMPRESSED) == shifted(stored, names, shift, hot)
    finally:
        await conn.close()


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(initial=st.lists(reading, min_size=1, max_size=40), late=batches)
def test_late_batches_into_a_compressed_day_match_the_hot_path(database_url: str, initial: list, late: list) -> None:
    asyncio.run(scenario(database_url, initial, late))


async def model_scenario(url: str, all_batches: list[list[tuple[int, int, float, int]]]) -> dict:
    """The rollup property test's batches with the day compressed after the first one: the rest arrive late."""
    conn = await asyncpg.connect(url, server_settings={"timezone": "UTC"})
    try:
        await conn.execute(
            "TRUNCATE readings, reading_blocks, compressed_days, rollups_1m, rollup_days, rollups_15m, rollups_1h"
        )
        await store.ensure_partitions(
            conn, [rollup_model.T0.replace(hour=0, minute=0), rollup_model.T0 + timedelta(days=1)]
        )
        for i, batch in enumerate(all_batches):
            rows = [
                (sig, rollup_model.T0 + timedelta(seconds=sec), value, quality) for sig, sec, value, quality in batch
            ]
            await store.write_readings(conn, rows)
            if i == 0:
                await compress_closed(
                    conn, timedelta(hours=48), lock_timeout_ms=5000, now=rollup_model.T0 + timedelta(days=10)
                )
        assert await conn.fetchval("SELECT count(*) FROM readings") == 0  # everything went into blocks
        # Late batches unpacked the minutes they touched; the job packs them again; then all are unpacked to compare
        # (a round trip through the codec and back into rows).
        await compress_closed(conn, timedelta(hours=48), lock_timeout_ms=5000, now=rollup_model.T0 + timedelta(days=10))
        async with conn.transaction():
            keys = [(r["signal_id"], r["day"]) for r in await conn.fetch("SELECT signal_id, day FROM rollup_days")]
            await unpack_days(conn, keys)
        assert await conn.fetchval("SELECT count(*) FROM rollup_days") == 0
        return await rollup_model.stored_rollups(conn)
    finally:
        await conn.close()


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(all_batches=rollup_model.batches)
def test_rollups_over_compressed_days_equal_a_recomputation_from_raw(database_url: str, all_batches: list) -> None:
    stored = asyncio.run(model_scenario(database_url, all_batches))
    assert stored == rollup_model.expected_rollups(all_batches)
