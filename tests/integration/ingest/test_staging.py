"""The staging rows' binary COPY body (services/ingest/staging.py) stores in PostgreSQL exactly what asyncpg's
`copy_records_to_table` stores for the same rows."""

from __future__ import annotations

import asyncio
import math
from datetime import UTC, datetime, timedelta, timezone

import asyncpg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.ingest import staging, store

INT4 = st.integers(-(2**31), 2**31 - 1)
stamps = st.datetimes(
    min_value=datetime(1, 1, 2),
    max_value=datetime(9999, 12, 30),
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-8))]),
)
rows_st = st.lists(
    st.tuples(INT4, INT4, st.one_of(stamps, st.datetimes()), st.floats(width=64), INT4),
    max_size=40,
)
EDGES = [
    (0, 1, datetime(2000, 1, 1, tzinfo=UTC), 0.0, 0),
    (1, 2, datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC), -0.0, -(2**31)),
    (2, 3, datetime(2026, 11, 25, 10, 0, 0, 250000, tzinfo=timezone(timedelta(hours=1))), math.inf, 2**31 - 1),
    (2**31 - 1, 2**31 - 1, datetime(2026, 11, 25, 9, 0, 0, 250000, tzinfo=UTC), -math.inf, 0x40900000),
    (5, 7, datetime(2026, 11, 25, 10, 0), math.nan, -2139488256),  # naive: taken as UTC
]


async def staged(conn: asyncpg.Connection) -> list[tuple[object, ...]]:
    rows = await conn.fetch("SELECT idx, signal_id, ts, value::text, quality FROM ingest_staging ORDER BY idx, ts")
    return [tuple(r) for r in rows]


async def both_ways(conn: asyncpg.Connection, rows: list[tuple[int, int, datetime, float, int]]) -> None:
    async with conn.transaction():
        await conn.copy_records_to_table("ingest_staging", records=rows, columns=store.STAGING_COLUMNS)
        by_asyncpg = await staged(conn)
    async with conn.transaction():
        body = staging.binary_copy(rows)
        await conn.copy_to_table(
            "ingest_staging", source=staging.source(body), columns=store.STAGING_COLUMNS, format="binary"
        )
        by_numpy = await staged(conn)
    assert by_numpy == by_asyncpg


async def staged_both_ways(database_url: str, rows: list[tuple[int, int, datetime, float, int]]) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        await store.prepare_connection(conn)
        await both_ways(conn, rows)
    finally:
        await conn.close()


async def test_edge_values_stage_as_asyncpg_stages_them(database_url: str) -> None:
    await staged_both_ways(database_url, EDGES)
    await staged_both_ways(database_url, [])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=rows_st)
def test_generated_rows_stage_as_asyncpg_stages_them(
    database_url: str, rows: list[tuple[int, int, datetime, float, int]]
) -> None:
    asyncio.run(staged_both_ways(database_url, rows))
