"""The SQL of retention: drop whole day partitions, delete compressed blocks, rollup rows and packed days of minute
rollups by bounded ranges of one signal (primary-key ranges).

Every statement runs in the caller's short transaction with `lock_timeout` set, so a busy table makes the job give
up on that unit and retry on its next round instead of queueing ingest behind it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import asyncpg

# One retention run at a time across every ingest process (a session lock: the run spans many transactions).
RETENTION_LOCK = "baseload.retention"


@dataclass(frozen=True, slots=True)
class Partition:
    name: str
    day: datetime
    bytes: int
    rows_estimate: int


async def try_lock(conn: asyncpg.Connection) -> bool:
    return bool(await conn.fetchval("SELECT pg_try_advisory_lock(hashtext($1))", RETENTION_LOCK))


async def unlock(conn: asyncpg.Connection) -> None:
    await conn.execute("SELECT pg_advisory_unlock(hashtext($1))", RETENTION_LOCK)


async def set_lock_timeout(conn: asyncpg.Connection, timeout_ms: int) -> None:
    """For the current transaction only."""
    await conn.execute("SELECT set_config('lock_timeout', $1, true)", f"{timeout_ms}ms")


async def partitions(conn: asyncpg.Connection, days: list[datetime]) -> list[Partition]:
    """The readings partitions of `days` that exist, with their size (the row count is the planner's estimate)."""
    names = {f"readings_{day:%Y%m%d}": day for day in days}
    rows = await conn.fetch(
        """SELECT c.relname, pg_total_relation_size(c.oid) AS bytes, greatest(c.reltuples, 0)::int8 AS rows
           FROM pg_inherits AS i JOIN pg_class AS c ON c.oid = i.inhrelid
           WHERE i.inhparent = 'readings'::regclass AND c.relname = ANY($1::text[])""",
        list(names),
    )
    return sorted(
        (Partition(r["relname"], names[r["relname"]], r["bytes"], r["rows"]) for r in rows), key=lambda p: p.day
    )


async def drop_partition(conn: asyncpg.Connection, partition: Partition) -> bool:
    """Drop one day's partition; True once gone. Takes an exclusive lock on `readings` for a moment (the caller
    sets lock_timeout: while it waits, new writes queue behind it)."""
    await conn.execute(f"DROP TABLE IF EXISTS {_ident(partition.name)}")
    return True


async def oldest_bucket(conn: asyncpg.Connection, table: str, signal_id: int) -> datetime | None:
    return await conn.fetchval(  # the primary key (signal_id, bucket) answers this from one index page
        f"SELECT bucket FROM {table} WHERE signal_id = $1 ORDER BY bucket LIMIT 1", signal_id
    )


async def delete_rollups(conn: asyncpg.Connection, table: str, signal_id: int, start: datetime, end: datetime) -> int:
    """Delete one signal's rows of `table` with start <= bucket < end (a primary-key range)."""
    status = await conn.execute(
        f"DELETE FROM {table} WHERE signal_id = $1 AND bucket >= $2 AND bucket < $3", signal_id, start, end
    )
    return int(status.split()[-1])


async def oldest_packed_day(conn: asyncpg.Connection, signal_id: int) -> date | None:
    return await conn.fetchval("SELECT day FROM rollup_days WHERE signal_id = $1 ORDER BY day LIMIT 1", signal_id)


async def delete_packed_days(conn: asyncpg.Connection, signal_id: int, start: date, end: date) -> int:
    """Delete one signal's packed days of minute rollups with start <= day < end; the minute rows they held."""
    return int(
        await conn.fetchval(
            """WITH gone AS (DELETE FROM rollup_days WHERE signal_id = $1 AND day >= $2 AND day < $3 RETURNING minutes)
               SELECT coalesce(sum(minutes), 0)::int8 FROM gone""",
            signal_id,
            start,
            end,
        )
    )


async def oldest_block(conn: asyncpg.Connection, signal_id: int) -> datetime | None:
    return await conn.fetchval(
        "SELECT block_start FROM reading_blocks WHERE signal_id = $1 ORDER BY block_start LIMIT 1", signal_id
    )


@dataclass(frozen=True, slots=True)
class Blocks:
    blocks: int
    readings: int
    bytes: int


async def delete_blocks(conn: asyncpg.Connection, signal_id: int, start: datetime, end: datetime) -> Blocks:
    """Delete one signal's compressed blocks lying wholly in [start, end), each as a whole."""
    row = await conn.fetchrow(
        """WITH gone AS (
               DELETE FROM reading_blocks
               WHERE signal_id = $1 AND block_start >= $2 AND block_start < $3 AND block_end <= $3
               RETURNING count, pg_column_size(payload) AS bytes
           )
           SELECT count(*) AS blocks, coalesce(sum(count), 0)::int8 AS readings,
                  coalesce(sum(bytes), 0)::int8 AS bytes FROM gone""",
        signal_id,
        start,
        end,
    )
    assert row is not None
    return Blocks(row["blocks"], row["readings"], row["bytes"])


async def blocks_before(conn: asyncpg.Connection, end: datetime) -> Blocks:
    """What `delete_blocks` would take up to `end`, over every signal (for a dry run)."""
    row = await conn.fetchrow(
        """SELECT count(*) AS blocks, coalesce(sum(count), 0)::int8 AS readings,
                  coalesce(sum(pg_column_size(payload)), 0)::int8 AS bytes
           FROM reading_blocks WHERE block_end <= $1""",
        end,
    )
    assert row is not None
    return Blocks(row["blocks"], row["readings"], row["bytes"])


async def signal_ids(conn: asyncpg.Connection) -> list[int]:
    return [r["id"] for r in await conn.fetch("SELECT id FROM signals ORDER BY id")]


def _ident(name: str) -> str:
    if not name.replace("_", "").isalnum():
        raise ValueError(f"unexpected relation name {name!r}")
    return f'"{name}"'
