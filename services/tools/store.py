"""The tools' SQL: readings of given signals over a time range, streamed in chunks."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime

import asyncpg

EXPORT_SQL = """
SELECT s.key, r.ts, r.value, r.quality
FROM readings r JOIN signals s ON s.id = r.signal_id
WHERE s.key = $1 AND r.ts >= $2 AND r.ts < $3
ORDER BY r.ts
"""


async def unknown_signals(conn: asyncpg.Connection, keys: Sequence[str]) -> list[str]:
    known = {r["key"] for r in await conn.fetch("SELECT key FROM signals WHERE key = ANY($1::text[])", list(keys))}
    return [k for k in keys if k not in known]


async def count_readings(conn: asyncpg.Connection, keys: Sequence[str], start: datetime, end: datetime) -> int:
    return int(
        await conn.fetchval(
            "SELECT count(*) FROM readings r JOIN signals s ON s.id = r.signal_id"
            " WHERE s.key = ANY($1::text[]) AND r.ts >= $2 AND r.ts < $3",
            list(keys),
            start,
            end,
        )
    )


async def stream_readings(
    conn: asyncpg.Connection, key: str, start: datetime, end: datetime, chunk: int
) -> AsyncIterator[list[asyncpg.Record]]:
    """One signal's readings in time order, `chunk` rows at a time, from a server-side cursor."""
    async with conn.transaction(readonly=True):
        cursor = await conn.cursor(EXPORT_SQL, key, start, end)
        while rows := await cursor.fetch(chunk):
            yield rows
