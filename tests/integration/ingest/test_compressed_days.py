"""Ingest over HTTP into a compressed day: late readings merge into their blocks exactly once, a retry stores
nothing twice, the day's partition is not recreated."""

from __future__ import annotations

from datetime import timedelta

import asyncpg

from services.ingest.compaction import compress_closed
from shared.history.codec import decode_block
from shared.history.spans import to_us
from tests.integration.ingest.conftest import Ingest
from tests.integration.ingest.test_readings import NOW, reading

OLD = (NOW - timedelta(days=5)).replace(hour=12, minute=0, second=0)


async def test_late_readings_over_http_merge_into_a_compressed_day_once(ingest: Ingest, db: asyncpg.Pool) -> None:
    first = await ingest.post([reading(at=OLD + timedelta(seconds=i), value=150.0 + i) for i in range(0, 60, 2)])
    assert first.json()["accepted"] == 30
    async with db.acquire() as conn:
        run = await compress_closed(conn, timedelta(hours=48), lock_timeout_ms=5000)
    assert run.readings == 30 and not run.deferred
    partition = f"readings_{OLD:%Y%m%d}"
    assert await db.fetchval("SELECT to_regclass($1)", partition) is None

    late = [reading(at=OLD + timedelta(seconds=i), value=150.0 + i) for i in range(0, 60, 3)]  # half stored already
    late.append(reading(at=NOW, value=160.0))  # and a live one in the same batch
    response = await ingest.post(late)
    assert response.json() == {"accepted": 11, "duplicates": 10, "rejected": []}
    retry = await ingest.post(late)
    assert retry.json() == {"accepted": 0, "duplicates": 21, "rejected": []}

    assert await db.fetchval("SELECT to_regclass($1)", partition) is None  # no partition came back for the day
    payloads = await db.fetch("SELECT payload FROM reading_blocks")
    stamps = sorted(t for p in payloads for t in decode_block(p["payload"]).ts_us.tolist())
    expected = sorted({to_us(OLD + timedelta(seconds=i)) for i in [*range(0, 60, 2), *range(0, 60, 3)]})
    assert stamps == expected
    assert await db.fetchval("SELECT count(*) FROM readings") == 1  # the live reading, hot
    assert await db.fetchval("SELECT sum(count) FROM rollups_1m") == len(expected) + 1
    metrics = (await ingest.client.get("/metrics")).text
    assert 'baseload_ingest_write_path_total{path="compressed"}' in metrics
