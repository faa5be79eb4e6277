"""Rollups stay exactly consistent with raw readings under late, out-of-order and duplicate data."""

from __future__ import annotations

import asyncio
import math
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import asyncpg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.ingest.store import write_readings
from shared import quality as q
from shared.schema import metadata

T0 = datetime(2026, 11, 20, 23, 58, tzinfo=UTC)  # the 3 minutes cross midnight, so two partitions
QUALITIES = [0, q.to_db(0x40900000), q.to_db(0x808A0000)]

reading = st.tuples(
    st.sampled_from([1, 2]),  # signal id
    st.integers(min_value=0, max_value=179),  # seconds after T0
    st.integers(min_value=-50, max_value=50).map(lambda v: v / 4),  # exact binary fractions
    st.sampled_from(QUALITIES),
)
batches = st.lists(st.lists(reading, min_size=1, max_size=40), min_size=1, max_size=6)


def expected_rollups(all_batches: list[list[tuple[int, int, float, int]]]) -> dict:
    """Model: first write of a (signal, ts) wins; fold per (signal, minute) from scratch."""
    first: dict[tuple[int, int], tuple[float, int]] = {}
    for batch in all_batches:
        for sig, sec, value, quality in batch:
            first.setdefault((sig, sec), (value, quality))
    groups: dict[tuple[int, datetime], list[tuple[int, float, int]]] = defaultdict(list)
    for (sig, sec), (value, quality) in first.items():
        ts = T0 + timedelta(seconds=sec)
        groups[(sig, ts.replace(second=0))].append((sec, value, quality))
    out = {}
    for key, rows in groups.items():
        rows.sort()
        good = [r for r in rows if r[2] >= 0 and r[2] < 0x40000000]
        out[key] = (
            len(rows),
            sum(r[1] for r in rows),
            min(r[1] for r in rows),
            max(r[1] for r in rows),
            rows[0][0],
            rows[0][1],
            rows[-1][0],
            rows[-1][1],
            len(good),
            sum(r[1] for r in good),
            min((r[1] for r in good), default=None),
            max((r[1] for r in good), default=None),
            good[0][0] if good else None,
            good[0][1] if good else None,
            good[-1][0] if good else None,
            good[-1][1] if good else None,
        )
    return out


def seconds(ts: datetime | None) -> int | None:
    return None if ts is None else int((ts - T0).total_seconds())


async def stored_rollups(conn: asyncpg.Connection) -> dict:
    rows = await conn.fetch("SELECT * FROM rollups_1m")
    return {
        (r["signal_id"], r["bucket"]): (
            r["count"],
            r["sum"],
            r["min"],
            r["max"],
            seconds(r["first_ts"]),
            r["first_value"],
            seconds(r["last_ts"]),
            r["last_value"],
            r["good_count"],
            r["good_sum"],
            r["good_min"],
            r["good_max"],
            seconds(r["good_first_ts"]),
            r["good_first_value"],
            seconds(r["good_last_ts"]),
            r["good_last_value"],
        )
        for r in rows
    }


async def write_all(url: str, all_batches: list[list[tuple[int, int, float, int]]]) -> dict:
    conn = await asyncpg.connect(url, server_settings={"timezone": "UTC"})
    try:
        await conn.execute("TRUNCATE readings, rollups_1m")
        for batch in all_batches:
            rows = [(sig, T0 + timedelta(seconds=sec), value, quality) for sig, sec, value, quality in batch]
            await write_readings(conn, rows)
        return await stored_rollups(conn)
    finally:
        await conn.close()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(all_batches=batches)
def test_rollups_equal_a_recomputation_from_raw(database_url: str, all_batches: list) -> None:
    stored = asyncio.run(write_all(database_url, all_batches))
    assert stored == expected_rollups(all_batches)  # quarter-unit values: float sums are exact


async def test_late_reading_updates_a_past_minute_exactly(db: asyncpg.Pool) -> None:
    async with db.acquire() as conn:
        await write_readings(conn, [(1, T0 + timedelta(seconds=s), 10.0, 0) for s in (10, 20, 30)])
        await write_readings(
            conn,
            [
                (1, T0 + timedelta(seconds=5), 4.0, 0),
                (1, T0 + timedelta(seconds=59), 1.0, 0),
                (1, T0 + timedelta(seconds=20), 99.0, 0),
            ],
        )  # the last is a conflicting duplicate
    row = await db.fetchrow("SELECT * FROM rollups_1m WHERE signal_id = 1 AND bucket = $1", T0)
    assert (row["count"], row["sum"], row["min"], row["max"]) == (5, 35.0, 1.0, 10.0)
    assert (row["first_value"], row["last_value"]) == (4.0, 1.0)
    assert math.isclose(row["good_sum"] / row["good_count"], 7.0)


async def test_the_coarse_rollup_tables_leave_room_in_each_page_for_their_updates(db: asyncpg.Pool) -> None:
    # Migration 0012 and shared/schema.py state the same storage parameters (the schema comparison does not see
    # them); without room in the page every upsert of a batch would move its row to another page.
    tables = ["rollups_1m", "rollups_15m", "rollups_1h"]
    rows = await db.fetch("SELECT relname, reloptions FROM pg_class WHERE relname = any($1::text[])", tables)
    assert {r["relname"]: r["reloptions"] for r in rows} == {
        "rollups_1m": None,
        "rollups_15m": ["fillfactor=50"],
        "rollups_1h": ["fillfactor=50"],
    }
    assert {t: metadata.tables[t].dialect_options["postgresql"]["with"] for t in tables} == {
        "rollups_1m": None,
        "rollups_15m": {"fillfactor": 50},
        "rollups_1h": {"fillfactor": 50},
    }
