"""The append path's partial rollups, computed in numpy (shared/settlement/partials.py), equal the rows PostgreSQL's
SQL fold computes from the same readings; and writing batches through the append path leaves the same rollups as
the SQL fold does, through merges, batches before stored rows and interleaved (stale, recomputed) rows."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta

import asyncpg
import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.ingest import store
from shared.settlement import partials
from shared.settlement.partials import Partials

T0 = datetime(2026, 11, 20, 22, 40, tzinfo=UTC)  # 2.5 hours from here cross midnight: two partitions
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
US = timedelta(microseconds=1)
T0_US = (T0 - EPOCH) // US
TABLES = ("rollups_1m", "rollups_15m", "rollups_1h")
SUMS = {"sum", "good_sum", "area", "good_area", "good_held_s"}
GOOD_NULLABLE = {"good_min", "good_max", "good_first_ts", "good_first_value", "good_last_ts", "good_last_value"}
QUALITIES = [0, 0, 0, 0x00960000, 0x40900000, 0x808A0000 - 2**32]  # Good, GoodLocalOverride, Uncertain, Bad (int4)

Reading = tuple[int, int, float, int]  # signal id, µs after T0, value, quality


@st.composite
def samplings(draw: st.DrawFn) -> list[Reading]:
    """Irregular runs per signal (sub-second to half-minute spacing, jitter, gaps), mixed qualities, any sign.
    No subnormal values: PostgreSQL refuses a product of non-zero floats that rounds to 0 ("value out of range:
    underflow"), so its fold cannot take them (a subnormal value times a step)."""
    out: dict[tuple[int, int], Reading] = {}
    for _ in range(draw(st.integers(1, 6))):
        signal, t = draw(st.integers(1, 3)), draw(st.integers(0, 9_000_000_000))
        spacing = draw(st.sampled_from([100_000, 1_000_000, 2_500_000, 7_300_000, 30_000_000]))
        value = draw(st.floats(-500, 500, allow_subnormal=False))
        for _ in range(draw(st.integers(1, 40))):
            if draw(st.integers(0, 2)) == 0:  # report by exception: a change beyond the deadband
                value = draw(st.floats(-1000, 1000, allow_subnormal=False))
            out[(signal, t)] = (signal, t, value, draw(st.sampled_from(QUALITIES)))
            t += spacing + draw(st.integers(0, 1_700_000))
    return list(out.values())


def columns(readings: list[Reading], absolute: bool = False) -> tuple[Partials, Partials, Partials]:
    sig = np.array([r[0] for r in readings], dtype=np.int32)
    ts = np.array([T0_US + r[1] for r in readings], dtype=np.int64)
    value = np.array([abs(r[2]) if absolute else r[2] for r in readings])
    return partials.batch_partials(sig, ts, value, np.array([r[3] for r in readings], dtype=np.int32))


def as_rows(p: Partials) -> dict[tuple[int, int], dict[str, object]]:
    """(signal, bucket µs) → columns, NULL as None, as the rollup tables hold them."""
    out = {}
    for i in range(len(p)):
        row = {name: column[i].item() for name, column in zip(store.ROLLUP_COLUMNS, p.columns(), strict=True)}
        for name in GOOD_NULLABLE if row["good_count"] == 0 else ():
            row[name] = None
        row["last_step_s"] = None if np.isnan(p.last_step_s[i]) else row["last_step_s"]
        out[(row["signal_id"], row["bucket"])] = row
    return out


async def stored(conn: asyncpg.Connection, table: str) -> dict[tuple[int, int], dict[str, object]]:
    out = {}
    for r in await conn.fetch(f"SELECT * FROM {table}"):
        row = {k: (v - EPOCH) // US if isinstance(v, datetime) else v for k, v in dict(r).items()}
        out[(row["signal_id"], row["bucket"])] = row
    return out


def assert_equal(got: dict, want: dict, scale: dict, what: str) -> None:
    """Column by column: equal, and sums within 1e-12 of the same sum over |value| (summation order differs)."""
    assert got.keys() == want.keys(), what
    for key, row in got.items():
        for name in store.ROLLUP_COLUMNS:
            if name in SUMS:
                assert abs(row[name] - want[key][name]) <= 1e-12 * scale[key][name], (what, key, name)
            else:
                assert row[name] == want[key][name], (what, key, name, row[name], want[key][name])


async def write(conn: asyncpg.Connection, batches: list[list[Reading]], *, append: bool) -> list[str]:
    await conn.execute("TRUNCATE readings, rollups_1m, rollups_15m, rollups_1h")
    paths = []
    for batch in batches:
        rows = [(i, s, T0 + us * US, v, q) for i, (s, us, v, q) in enumerate(batch)]
        async with conn.transaction():
            paths.append((await store.write_rows(conn, rows, try_append=append, hot_from=T0)).path)
    return paths


async def connect(url: str) -> asyncpg.Connection:
    conn = await asyncpg.connect(url)
    await store.prepare_connection(conn)
    await store.ensure_partitions(conn, [T0.replace(hour=0, minute=0), T0.replace(hour=0, minute=0) + timedelta(1)])
    return conn


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(readings=samplings())
def test_a_batch_s_partial_rollups_equal_the_sql_fold_of_its_readings(
    database_url: str, readings: list[Reading]
) -> None:
    async def run() -> None:
        conn = await connect(database_url)
        try:
            assert await write(conn, [readings], append=False) == ["dedup"]  # the SQL fold, into empty tables
            for table, mine, scale in zip(TABLES, columns(readings), columns(readings, absolute=True), strict=True):
                assert_equal(as_rows(mine), await stored(conn, table), as_rows(scale), table)
        finally:
            await conn.close()

    asyncio.run(run())


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(readings=samplings(), seed=st.integers(0, 2**32 - 1))
def test_the_append_path_leaves_the_rollups_the_sql_fold_leaves(
    database_url: str, readings: list[Reading], seed: int
) -> None:
    # Random splits in time order, with batches swapped (a batch before stored rows, or interleaved with them) and
    # sometimes one posted twice (the append fails on the duplicate and the batch goes the SQL way).
    rnd = random.Random(seed)
    readings = sorted(readings, key=lambda r: (r[1], r[0]))
    if rnd.random() < 0.3:
        rnd.shuffle(readings)
    cuts = sorted(rnd.sample(range(1, len(readings)), k=min(len(readings) - 1, rnd.randint(0, 5))))
    batches = [readings[a:b] for a, b in zip([0, *cuts], [*cuts, len(readings)], strict=True)]
    if len(batches) > 1 and rnd.random() < 0.5:
        i = rnd.randrange(len(batches) - 1)
        batches[i], batches[i + 1] = batches[i + 1], batches[i]
    replay = rnd.random() < 0.2
    batches += [rnd.choice(batches)] if replay else []

    async def run() -> None:
        conn = await connect(database_url)
        try:
            paths = await write(conn, batches, append=True)
            assert paths[: len(batches) - replay] == ["append"] * (len(batches) - replay)
            appended = {t: await stored(conn, t) for t in TABLES}
            await write(conn, batches, append=False)
            for table, scale in zip(TABLES, columns(readings, absolute=True), strict=True):
                assert_equal(appended[table], await stored(conn, table), as_rows(scale), table)
        finally:
            await conn.close()

    asyncio.run(run())
