"""The tools' SQL: readings of given signals over a time range (hot or compressed), streamed in chunks."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from shared.history.columns import UNIX_EPOCH
from shared.history.reader import count_between, readings_between


async def unknown_signals(conn: asyncpg.Connection, keys: Sequence[str]) -> list[str]:
    known = {r["key"] for r in await conn.fetch("SELECT key FROM signals WHERE key = ANY($1::text[])", list(keys))}
    return [k for k in keys if k not in known]


async def signal_ids(conn: asyncpg.Connection, keys: Sequence[str]) -> dict[str, int]:
    return {
        r["key"]: r["id"]
        for r in await conn.fetch("SELECT key, id FROM signals WHERE key = ANY($1::text[])", list(keys))
    }


async def count_readings(conn: asyncpg.Connection, keys: Sequence[str], start: datetime, end: datetime) -> int:
    """How many readings the export of `keys` over [start, end) writes, hot or compressed."""
    return await count_between(conn, list((await signal_ids(conn, keys)).values()), start, end)


async def stream_readings(
    conn: asyncpg.Connection, key: str, start: datetime, end: datetime, chunk: int
) -> AsyncIterator[list[dict[str, Any]]]:
    """One signal's readings {key, ts, value, quality} in time order, `chunk` at a time (hot or compressed: pages of
    shared/history's reader, keyed by the last time sent, in one snapshot so a compression running meanwhile
    neither repeats nor drops a reading)."""
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        sid = (await signal_ids(conn, [key]))[key]
        lo = start
        while lo < end:
            page = (await readings_between(conn, [sid], lo, end, limit=chunk))[sid]
            if not len(page):
                return
            yield [{"key": key, "ts": ts, "value": v, "quality": q} for ts, v, q in page.rows()]
            lo = UNIX_EPOCH + timedelta(microseconds=int(page.ts_us[-1]) + 1)
