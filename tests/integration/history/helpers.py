"""Moving readings into blocks for read-path tests: hour blocks per signal, in one transaction, so every
(signal, ts) stays in exactly one place (the compression job's contract, shared/history/__init__.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import numpy as np

from services.ingest.blocks import pack_day, rollup_signals
from shared.history.codec import encode_block
from shared.history.minutes_codec import COLUMNS, INT, TS, decode_minutes
from shared.history.spans import day_start

HOUR_US = 3_600_000_000
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def at(us: int) -> datetime:
    return EPOCH + timedelta(microseconds=us)


async def compress(db: asyncpg.Pool, start: datetime, end: datetime) -> int:
    """Move every reading in [start, end) (hour-aligned) out of `readings` into hour blocks, and when the range is
    whole UTC days, their minute rollups into packed days (the compression job's step); returns how many readings."""
    async with db.acquire() as conn, conn.transaction():
        moved = await _move_readings(conn, start, end)
        if start == day_start(start) and end == day_start(end):
            day = start
            while day < end:
                await pack_day(conn, day.date(), await rollup_signals(conn))
                day += timedelta(days=1)
        return moved


async def _move_readings(conn: asyncpg.Connection, start: datetime, end: datetime) -> int:
    rows = await conn.fetch(
        """DELETE FROM readings WHERE ts >= $1 AND ts < $2
           RETURNING signal_id, (extract(epoch FROM ts) * 1000000)::int8 AS us, value, quality""",
        start,
        end,
    )
    groups: dict[tuple[int, int], list[tuple[int, float, int]]] = {}
    for r in rows:
        groups.setdefault((r["signal_id"], r["us"] - r["us"] % HOUR_US), []).append((r["us"], r["value"], r["quality"]))
    blocks = []
    for (sid, hour), readings in groups.items():
        readings.sort()
        ts = np.array([x[0] for x in readings], np.int64)
        payload = encode_block(ts, np.array([x[1] for x in readings]), np.array([x[2] for x in readings], np.int32))
        blocks.append((sid, hour, hour + HOUR_US, int(ts[0]), int(ts[-1]), len(ts), payload))
    await conn.executemany(
        """INSERT INTO reading_blocks (signal_id, block_start, block_end, first_ts, last_ts, count, payload)
           VALUES ($1, $2, $3, $4, $5, $6, $7)""",
        [(sid, at(a), at(b), at(c), at(d), n, p) for sid, a, b, c, d, n, p in blocks],
    )
    return len(rows)


async def minute_rows(conn: asyncpg.Connection | asyncpg.Pool) -> list[tuple[Any, ...]]:
    """Every 1-minute rollup as a rollups_1m row tuple, hot or packed (shared/history/packed.py), in (signal, bucket)
    order; fails on a minute stored twice or a packed day whose description differs from its payload."""
    rows = [tuple(r) for r in await conn.fetch("SELECT * FROM rollups_1m")]
    for d in await conn.fetch("SELECT * FROM rollup_days"):
        m = decode_minutes(d["payload"])
        v = m.values
        assert len(m) == d["minutes"] >= 1
        assert (at(int(v["bucket"][0])), at(int(v["bucket"][-1]))) == (d["first_bucket"], d["last_bucket"])
        assert all(at(int(b)).date() == d["day"] for b in v["bucket"])
        assert (at(int(v["last_ts"][-1])), float(v["last_value"][-1])) == (d["last_ts"], d["last_value"])
        good = np.flatnonzero(~m.nulls["good_last_ts"])
        newest_good = (
            (at(int(v["good_last_ts"][good[-1]])), float(v["good_last_value"][good[-1]])) if len(good) else None
        )
        assert newest_good == ((d["good_last_ts"], d["good_last_value"]) if d["good_last_ts"] else None)
        for i in range(len(m)):
            row: list[Any] = [d["signal_id"]]
            for c in COLUMNS:
                if c.nullable and m.nulls[c.name][i]:
                    row.append(None)
                elif c.kind == TS:
                    row.append(at(int(v[c.name][i])))
                elif c.kind == INT:
                    row.append(int(v[c.name][i]))
                else:
                    row.append(float(v[c.name][i]))
            rows.append(tuple(row))
    keys = [(r[0], r[1]) for r in rows]
    assert len(set(keys)) == len(keys), "a minute is stored twice (a row of rollups_1m and a packed day)"
    return sorted(rows, key=lambda r: (r[0], r[1]))
