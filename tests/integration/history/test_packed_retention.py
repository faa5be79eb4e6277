"""Retention of packed 1-minute rollups: a packed day goes whole once it is entirely older than the 1-minute horizon
(like compressed readings), its minutes counted as rows of rollups_1m; nothing newer is touched."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg

from services.ingest.compaction import compress_closed
from services.ingest.retention_job import apply_retention
from services.ingest.settings import Settings
from services.ingest.store import write_readings
from tests.integration.history.helpers import minute_rows

NOW = datetime(2026, 11, 27, 10, 30, tzinfo=UTC)  # 1-minute horizon at 9 days: 2026-11-18 10:30


def day(d: int) -> datetime:
    return datetime(2026, 11, d, tzinfo=UTC)


async def test_packed_days_older_than_the_one_minute_horizon_go_whole(db: asyncpg.Pool) -> None:
    signal_ids = [r["id"] for r in await db.fetch("SELECT id FROM signals ORDER BY id LIMIT 2")]
    rows = [
        (sid, day(10) + timedelta(minutes=3 * k), float(k % 977) + sid, 0)
        for k in range(13 * 480)  # the 10th to the 22nd, every 3 minutes
        for sid in signal_ids
    ]
    async with db.acquire() as conn:
        await write_readings(conn, rows)
        run = await compress_closed(conn, timedelta(hours=48), lock_timeout_ms=5000, now=NOW)
    assert run.days >= 13 and run.packed.days == 13 * 2
    assert await db.fetchval("SELECT count(*) FROM rollups_1m WHERE bucket < $1", day(23)) == 0
    before = await minute_rows(db)
    gone = [r for r in before if r[1] < day(18)]
    settings = Settings(retention_days=7, rollup_retention_days=12, rollup_1m_retention_days=9)

    async with db.acquire() as conn:
        report = await apply_retention(conn, settings, NOW)

    assert report.rollup_rows["rollups_1m"] == len(gone) == 8 * 480 * 2
    # The 18th reaches inside the horizon (10:30): packed as a whole day, it stays whole.
    assert await minute_rows(db) == [r for r in before if r[1] >= day(18)]
    assert await db.fetchval("SELECT min(day) FROM rollup_days") == day(18).date()
    async with db.acquire() as conn:
        again = await apply_retention(conn, settings, NOW)
    assert again.rollup_rows["rollups_1m"] == 0
