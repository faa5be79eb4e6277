"""Moving readings into blocks for read-path tests: hour blocks per signal, in one transaction, so every
(signal, ts) stays in exactly one place (the compression job's contract, shared/history/__init__.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
import numpy as np

from shared.history.codec import encode_block

HOUR_US = 3_600_000_000
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def at(us: int) -> datetime:
    return EPOCH + timedelta(microseconds=us)


async def compress(db: asyncpg.Pool, start: datetime, end: datetime) -> int:
    """Move every reading in [start, end) (hour-aligned) out of `readings` into hour blocks; returns how many."""
    async with db.acquire() as conn, conn.transaction():
        rows = await conn.fetch(
            """DELETE FROM readings WHERE ts >= $1 AND ts < $2
               RETURNING signal_id, (extract(epoch FROM ts) * 1000000)::int8 AS us, value, quality""",
            start,
            end,
        )
        groups: dict[tuple[int, int], list[tuple[int, float, int]]] = {}
        for r in rows:
            groups.setdefault((r["signal_id"], r["us"] - r["us"] % HOUR_US), []).append(
                (r["us"], r["value"], r["quality"])
            )
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
