"""The reader returns the same readings whether they are hot, in blocks, or split between the two."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from services.ingest.store import write_readings
from shared.history.reader import readings_between
from tests.integration.history.helpers import compress

DAY0 = datetime(2026, 3, 1, tzinfo=UTC)
QUALITIES = [0, 0, 0, 0x40900000, 0x808A0000 - 2**32]


async def _signals(db: asyncpg.Pool) -> list[int]:
    return [r["id"] for r in await db.fetch("SELECT id FROM signals ORDER BY key LIMIT 3")]


def _sampled(rnd: random.Random, sids: list[int]) -> list[tuple[int, datetime, float, int]]:
    """Irregular readings over three days with gaps of minutes to hours (so context crosses blocks)."""
    rows = []
    for sid in sids:
        t = DAY0 + timedelta(seconds=rnd.randint(0, 600))
        while t < DAY0 + timedelta(days=3):
            rows.append((sid, t, round(rnd.uniform(-5, 500), rnd.choice([0, 1, 3])), rnd.choice(QUALITIES)))
            t += timedelta(microseconds=rnd.choice([250_000, 1_000_000, 7_300_123, 3_600_000_000, 9_000_000_000]))
    return rows


def _expected(rows: list, sid: int, lo: datetime, hi: datetime, before: int, after: int, limit: int | None) -> list:
    mine = sorted((ts, v, q) for s, ts, v, q in rows if s == sid)
    inside = [r for r in mine if lo <= r[0] < hi]
    return [r for r in mine if r[0] < lo][-before:][:before] + inside[:limit] + [r for r in mine if r[0] >= hi][:after]


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_readings_are_the_same_hot_compressed_or_split(db: asyncpg.Pool, seed: int) -> None:
    rnd = random.Random(seed)
    sids = await _signals(db)
    rows = _sampled(rnd, sids)
    async with db.acquire() as conn:
        await write_readings(conn, rows, notify_channel=None)
    windows = []
    for _ in range(25):
        lo = DAY0 + timedelta(seconds=rnd.randint(-7200, 3 * 86400))
        windows.append((lo, lo + timedelta(seconds=rnd.choice([1, 30, 3600, 5000, 86400, 200000]))))
    cases = [
        (lo, hi, rnd.choice([0, 1, 2]), rnd.choice([0, 1]), rnd.choice([None, None, 1, 7, 5000])) for lo, hi in windows
    ]

    async def check(stage: str) -> None:
        for lo, hi, before, after, limit in cases:
            got = await readings_between(db, sids, lo, hi, before=before, after=0 if limit else after, limit=limit)
            for sid in sids:
                want = _expected(rows, sid, lo, hi, before, 0 if limit else after, limit)
                assert got[sid].rows() == want, (stage, sid, lo, hi, before, after, limit)

    await check("hot")
    await compress(db, DAY0, DAY0 + timedelta(days=1, hours=7))  # a block day and a partly compressed one
    await check("split")
    await compress(db, DAY0 + timedelta(days=1, hours=7), DAY0 + timedelta(days=4))
    assert await db.fetchval("SELECT count(*) FROM readings") == 0
    await check("compressed")


async def test_each_signal_may_have_its_own_range(db: asyncpg.Pool) -> None:
    sids = await _signals(db)
    rows = [(sid, DAY0 + timedelta(minutes=m), float(m), 0) for sid in sids for m in range(0, 180, 7)]
    async with db.acquire() as conn:
        await write_readings(conn, rows, notify_channel=None)
    await compress(db, DAY0, DAY0 + timedelta(hours=1))
    starts = [DAY0 + timedelta(minutes=30 * i) for i in range(len(sids))]
    got = await readings_between(db, sids, starts, DAY0 + timedelta(hours=2), before=2)
    for sid, lo in zip(sids, starts, strict=True):
        assert got[sid].rows() == _expected(rows, sid, lo, DAY0 + timedelta(hours=2), 2, 0, None)
