"""The SQL of compressed history (issue 14) for ingest: reading a day partition, writing and merging blocks, the
compressed-day markers and the per-day lock. The job is services/ingest/compaction.py; the contract is in
shared/history/__init__.py."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import asyncpg
import numpy as np
from numpy.typing import NDArray

from shared.history import packed
from shared.history.codec import DecodedBlock, decode_block, encode_block
from shared.history.merge import merge_into_block
from shared.history.minutes_codec import decode_minutes
from shared.history.spans import BLOCK_SPAN, block_starts_us, day_lock_key, day_merge_key, from_us, to_us

PG_EPOCH_US = 946_684_800_000_000  # PostgreSQL's binary timestamps count µs from 2000-01-01 UTC
_COPY_SIGNATURE = b"PGCOPY\n\xff\r\n\x00"
_COPY_HEADER = len(_COPY_SIGNATURE) + 8  # flags and header-extension length, both int32 (0)
# One binary COPY row of (signal_id int4, ts timestamptz, value float8, quality int4): field count, then each
# field's length and bytes, big-endian; never NULL (the columns are NOT NULL).
COPY_ROW = np.dtype(
    [
        ("fields", ">i2"),
        ("l1", ">i4"),
        ("signal_id", ">i4"),
        ("l2", ">i4"),
        ("ts", ">i8"),
        ("l3", ">i4"),
        ("value", ">f8"),
        ("l4", ">i4"),
        ("quality", ">i4"),
    ]
)
MINUTE_US = 60_000_000
MAX_DAY_RANGE = 7  # a batch reaching back further is looked at row by row for its days
EMPTY = DecodedBlock(np.empty(0, np.int64), np.empty(0, np.float64), np.empty(0, np.int32))
Row = tuple[int, int, datetime, float, int]  # (batch index, signal_id, ts, value, quality)
BLOCK_COLUMNS = ("signal_id", "block_start", "block_end", "first_ts", "last_ts", "count", "payload")


@dataclass(frozen=True, slots=True)
class BlockRow:
    """One row of reading_blocks."""

    signal_id: int
    block_start: datetime
    first_ts: datetime
    last_ts: datetime
    count: int
    payload: bytes

    def record(self) -> tuple[int, datetime, datetime, datetime, datetime, int, bytes]:
        return (
            self.signal_id,
            self.block_start,
            self.block_start + BLOCK_SPAN,
            self.first_ts,
            self.last_ts,
            self.count,
            self.payload,
        )


def partition_name(day: date) -> str:
    """The readings partition of a UTC day (as ensure_readings_partitions() names it)."""
    return f"readings_{day:%Y%m%d}"


async def lock_days(conn: asyncpg.Connection, days: Sequence[date], *, shared: bool = False) -> None:
    """Take the per-day locks (transaction-scoped) in one order, so two writers never wait on each other in a cycle:
    writers shared, the compression job exclusive (shared/history/__init__.py)."""
    function = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
    for day in sorted(set(days)):
        await conn.execute(f"SELECT {function}($1)", day_lock_key(day))


async def lock_merges(conn: asyncpg.Connection, days: Sequence[date]) -> None:
    """Writers merging into compressed days' blocks, one at a time per day (a block is read, merged, rewritten)."""
    for day in sorted(set(days)):
        await conn.execute("SELECT pg_advisory_xact_lock($1)", day_merge_key(day))


async def compressed_among(conn: asyncpg.Connection, days: Sequence[date]) -> set[date]:
    rows = await conn.fetch("SELECT day FROM compressed_days WHERE day = ANY($1::date[])", list(days))
    return {r["day"] for r in rows}


async def compressed_days(conn: asyncpg.Connection | asyncpg.Pool) -> set[date]:
    return {r["day"] for r in await conn.fetch("SELECT day FROM compressed_days")}


async def partition_exists(conn: asyncpg.Connection, day: date) -> bool:
    return bool(await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", partition_name(day)))


async def estimated_rows(conn: asyncpg.Connection | asyncpg.Pool, days: Sequence[date]) -> int:
    """The planner's row estimate of the days' partitions (for a progress bar; exact after ANALYZE)."""
    value = await conn.fetchval(
        "SELECT coalesce(sum(greatest(reltuples, 0)), 0)::int8 FROM pg_class WHERE relname = ANY($1::text[])",
        [partition_name(d) for d in days],
    )
    return int(value)


async def partition_signals(conn: asyncpg.Connection, day: date) -> list[int]:
    """The signals with readings in the day's partition (a skip scan over its primary key: one probe per signal)."""
    name = partition_name(day)
    rows = await conn.fetch(
        f"""WITH RECURSIVE s(id) AS (
                (SELECT signal_id FROM {name} ORDER BY signal_id LIMIT 1)
                UNION ALL
                SELECT (SELECT signal_id FROM {name} WHERE signal_id > s.id ORDER BY signal_id LIMIT 1)
                FROM s WHERE s.id IS NOT NULL
            ) SELECT id FROM s WHERE id IS NOT NULL"""
    )
    return [r["id"] for r in rows]


async def count_partition(conn: asyncpg.Connection, day: date) -> int:
    return int(await conn.fetchval(f"SELECT count(*) FROM {partition_name(day)}"))


async def stream_signal(
    conn: asyncpg.Connection, day: date, signal_id: int, sink: Callable[[NDArray[np.void]], Awaitable[None]]
) -> None:
    """One signal's readings of the day, ts ascending, as arrays of `COPY_ROW` (binary COPY parsed by numpy: no
    Python object per reading)."""
    parser = _CopyParser()

    async def receive(chunk: bytes) -> None:
        rows = parser.feed(chunk)
        if len(rows):
            await sink(rows)

    await conn.copy_from_query(
        f"SELECT signal_id, ts, value, quality FROM {partition_name(day)} WHERE signal_id = {int(signal_id)} "
        "ORDER BY ts",
        output=receive,
        format="binary",
    )
    parser.finish()


class _CopyParser:
    def __init__(self) -> None:
        self.buffer = b""
        self.header_seen = False
        self.ended = False

    def feed(self, chunk: bytes) -> NDArray[np.void]:
        data = self.buffer + chunk
        if not self.header_seen:
            if len(data) < _COPY_HEADER:
                self.buffer = data
                return np.empty(0, COPY_ROW)
            if not data.startswith(_COPY_SIGNATURE):
                raise ValueError("not a binary COPY stream")
            data, self.header_seen = data[_COPY_HEADER:], True
        whole = len(data) // COPY_ROW.itemsize * COPY_ROW.itemsize
        rows = np.frombuffer(data[:whole], COPY_ROW)
        self.buffer = data[whole:]
        if len(rows) and rows["fields"][-1] == -1:  # cannot happen: the trailer is 2 bytes, never a whole row
            raise ValueError("unexpected binary COPY trailer")
        if len(rows) and not bool(np.all(rows["fields"] == 4)):
            raise ValueError("unexpected binary COPY row")
        return rows

    def finish(self) -> None:
        if self.buffer not in (b"", b"\xff\xff"):
            raise ValueError(f"binary COPY stream ended with {len(self.buffer)} stray bytes")


def unix_us(pg_ts: NDArray[np.int64]) -> NDArray[np.int64]:
    return pg_ts.astype(np.int64) + PG_EPOCH_US


async def insert_blocks(conn: asyncpg.Connection, blocks: Sequence[BlockRow]) -> None:
    if blocks:
        await conn.copy_records_to_table("reading_blocks", records=[b.record() for b in blocks], columns=BLOCK_COLUMNS)


async def mark_compressed(conn: asyncpg.Connection, day: date, readings: int, blocks: int, payload_bytes: int) -> None:
    await conn.execute(
        "INSERT INTO compressed_days (day, readings, blocks, payload_bytes) VALUES ($1, $2, $3, $4)",
        day,
        readings,
        blocks,
        payload_bytes,
    )


async def truncate_partition(conn: asyncpg.Connection, day: date, lock_timeout_ms: int) -> None:
    """Empty the day's partition and give its files back at commit (only the partition is locked, briefly)."""
    await conn.execute(f"SET LOCAL lock_timeout = {int(lock_timeout_ms)}")
    await conn.execute(f"TRUNCATE {partition_name(day)}")


async def drop_partition(conn: asyncpg.Connection, day: date, lock_timeout_ms: int) -> str:
    """Drop a compressed day's emptied partition in a short transaction of its own: "dropped", "absent" or
    "not_empty" (a row written around the contract: left in place for a human). A lock timeout raises
    LockNotAvailableError."""
    name = partition_name(day)
    async with conn.transaction():
        if not await partition_exists(conn, day) or not await compressed_among(conn, [day]):
            return "absent"
        await conn.execute(f"SET LOCAL lock_timeout = {int(lock_timeout_ms)}")
        if await conn.fetchval(f"SELECT EXISTS (SELECT 1 FROM {name})"):
            return "not_empty"
        await conn.execute(f"DROP TABLE {name}")
        return "dropped"


# --- late readings into compressed days -------------------------------------------------------------------------


async def fetch_blocks(
    conn: asyncpg.Connection, keys: Sequence[tuple[int, datetime]]
) -> dict[tuple[int, datetime], bytes]:
    rows = await conn.fetch(
        """SELECT b.signal_id, b.block_start, b.payload
           FROM unnest($1::int4[], $2::timestamptz[]) AS k(signal_id, block_start)
           JOIN reading_blocks AS b USING (signal_id, block_start)""",
        [k[0] for k in keys],
        [k[1] for k in keys],
    )
    return {(r["signal_id"], r["block_start"]): r["payload"] for r in rows}


async def upsert_blocks(conn: asyncpg.Connection, blocks: Sequence[BlockRow]) -> None:
    if not blocks:
        return
    columns = list(zip(*(b.record() for b in blocks), strict=True))
    await conn.execute(
        """INSERT INTO reading_blocks (signal_id, block_start, block_end, first_ts, last_ts, count, payload)
           SELECT * FROM unnest($1::int4[], $2::timestamptz[], $3::timestamptz[], $4::timestamptz[],
                                $5::timestamptz[], $6::int4[], $7::bytea[])
           ON CONFLICT (signal_id, block_start) DO UPDATE SET first_ts = excluded.first_ts,
               last_ts = excluded.last_ts, count = excluded.count, payload = excluded.payload""",
        *[list(c) for c in columns],
    )


@dataclass(frozen=True, slots=True)
class Columns:
    """Readings of several signals as columns, ready for `unnest` (timestamps as µs since the Unix epoch)."""

    signal_ids: list[int]
    ts_us: list[int]
    values: list[float]
    qualities: list[int]

    def extend(self, signal_id: int, block: DecodedBlock, mask: NDArray[np.bool_] | None = None) -> None:
        ts, values, qualities = block.ts_us, block.values, block.qualities
        if mask is not None:
            ts, values, qualities = ts[mask], values[mask], qualities[mask]
        self.signal_ids.extend([signal_id] * len(ts))
        self.ts_us.extend(ts.tolist())
        self.values.extend(values.tolist())
        self.qualities.extend(qualities.tolist())

    def args(self) -> tuple[list[int], list[int], list[float], list[int]]:
        return self.signal_ids, self.ts_us, self.values, self.qualities


@dataclass(frozen=True, slots=True)
class LateMerge:
    """What merging late readings into blocks did (the blocks are written already)."""

    new: Columns  # readings stored by the merge: fold them into the rollups
    minutes: Columns  # every stored reading of the minutes those fall in (to rebuild stale minutes from)
    conflicts: list[int]  # batch indices whose stored twin differs


async def split_compressed(
    conn: asyncpg.Connection, rows: Sequence[Row], hot_from: datetime, oldest: datetime
) -> tuple[Sequence[Row], list[Row]]:
    """(hot rows, rows of compressed days) of a batch reaching back to `oldest` < `hot_from`. Locks the days before
    `hot_from` the rows may touch (shared, until commit), so the compression job cannot move a day between this check
    and the write, while other writers of those days go on; merges into compressed days take the day's merge lock."""
    first, last = utc_date(oldest), utc_date(hot_from - timedelta(microseconds=1))
    if (last - first).days <= MAX_DAY_RANGE:  # live data reaching into yesterday: no look at every row
        days = [first + timedelta(days=k) for k in range((last - first).days + 1)]
    else:  # a backfill: only the days it has
        days = sorted({utc_date(r[2]) for r in rows if r[2] < hot_from})
    await lock_days(conn, days, shared=True)
    compressed = await compressed_among(conn, days)
    if not compressed:
        return rows, []
    await lock_merges(conn, sorted(compressed))
    hot: list[Row] = []
    late: list[Row] = []
    for row in rows:
        (late if row[2] < hot_from and utc_date(row[2]) in compressed else hot).append(row)
    return hot, late


async def merge_late(conn: asyncpg.Connection, rows: Sequence[tuple[int, int, datetime, float, int]]) -> LateMerge:
    """Merge (idx, signal_id, ts, value, quality) rows of compressed days into their blocks: decode, merge with the
    hot path's exactly-once rules (shared/history/merge.py), re-encode, write back, and unpack the minute rollups
    of the signal-days that got new readings; in the caller's transaction."""
    idx = np.array([r[0] for r in rows], np.int64)
    signal = np.array([r[1] for r in rows], np.int64)
    ts = np.array([to_us(r[2]) for r in rows], np.int64)
    values = np.array([r[3] for r in rows], np.float64)
    qualities = np.array([r[4] for r in rows], np.int32)
    starts = block_starts_us(ts)
    order = np.lexsort((starts, signal))
    edges = np.flatnonzero((np.diff(signal[order]) != 0) | (np.diff(starts[order]) != 0)) + 1
    groups = np.split(order, edges)
    keys = [(int(signal[g[0]]), from_us(int(starts[g[0]]))) for g in groups]
    stored = await fetch_blocks(conn, keys)
    out = LateMerge(Columns([], [], [], []), Columns([], [], [], []), [])
    written = []
    for key, g in zip(keys, groups, strict=True):
        payload = stored.get(key)
        block = decode_block(payload) if payload is not None else EMPTY
        merged = merge_into_block(block, idx[g], ts[g], values[g], qualities[g])
        out.conflicts.extend(int(i) for i in merged.conflicts)
        if not len(merged.new):
            continue
        b = merged.block
        written.append(
            BlockRow(
                key[0],
                key[1],
                from_us(int(b.ts_us[0])),
                from_us(int(b.ts_us[-1])),
                len(b),
                encode_block(b.ts_us, b.values, b.qualities),
            )
        )
        out.new.extend(key[0], merged.new)
        out.minutes.extend(key[0], b, np.isin(b.ts_us // MINUTE_US, np.unique(merged.new.ts_us // MINUTE_US)))
    await upsert_blocks(conn, written)
    # The caller folds the new readings into rollups_1m: their signal-days' packed minutes become rows again first,
    # so each minute keeps one truth (packed again by the compression job's next run).
    await unpack_days(conn, [(b.signal_id, utc_date(b.block_start)) for b in written])
    out.conflicts.sort()
    return out


def utc_date(ts: datetime) -> date:
    return ts.astimezone(UTC).date()


def day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return start, start + timedelta(days=1)


# --- packed 1-minute rollups (shared/history/packed.py) -------------------------------------------------------------

PACK_SIGNALS = 100  # signals per statement when packing a day: bounded memory whatever the plant's size


@dataclass
class Packed:
    """What packing did: rollup_days rows written, the minute rows they hold, payload bytes."""

    days: int = 0
    minutes: int = 0
    payload_bytes: int = 0

    def add(self, other: Packed) -> None:
        self.days += other.days
        self.minutes += other.minutes
        self.payload_bytes += other.payload_bytes


async def pack_day(conn: asyncpg.Connection, day: date, signal_ids: Sequence[int]) -> Packed:
    """Move the rollups_1m rows of `day` of `signal_ids` into one rollup_days row per signal, in the caller's
    transaction, which holds the day's lock exclusively (no writer changes these rows meanwhile)."""
    lo, hi = day_bounds(day)
    done = Packed()
    for i in range(0, len(signal_ids), PACK_SIGNALS):
        chunk = list(signal_ids[i : i + PACK_SIGNALS])
        found = await conn.fetch(packed.ROWS_OF_DAY_SQL, chunk, lo, hi)
        rows = await asyncio.to_thread(_pack_all, found, day)
        if not rows:
            continue
        await conn.copy_records_to_table(
            "rollup_days", records=[packed.record(r) for r in rows], columns=packed.DAY_COLUMNS
        )
        status = await conn.execute(
            "DELETE FROM rollups_1m WHERE signal_id = ANY($1::int4[]) AND bucket >= $2 AND bucket < $3", chunk, lo, hi
        )
        moved = sum(r.minutes for r in rows)
        if int(status.split()[-1]) != moved:  # never delete what was not packed
            raise RuntimeError(f"packing {day}: packed {moved} minute rows, deleting {status}")
        done.add(Packed(len(rows), moved, sum(len(r.payload) for r in rows)))
    return done


def _pack_all(found: Sequence[asyncpg.Record], day: date) -> list[packed.PackedDay]:
    return [packed.pack(r["signal_id"], day, packed.minutes_from_record(r)) for r in found]


async def rollup_signals(conn: asyncpg.Connection) -> list[int]:
    """The signals with rows in rollups_1m (a skip scan over its primary key: one probe per signal)."""
    rows = await conn.fetch(
        """WITH RECURSIVE s(id) AS (
               (SELECT signal_id FROM rollups_1m ORDER BY signal_id LIMIT 1)
               UNION ALL
               SELECT (SELECT signal_id FROM rollups_1m WHERE signal_id > s.id ORDER BY signal_id LIMIT 1)
               FROM s WHERE s.id IS NOT NULL
           ) SELECT id FROM s WHERE id IS NOT NULL"""
    )
    return [r["id"] for r in rows]


# Per signal of $2, the days before $1 that hold rollups_1m rows (a skip scan over the primary key: one probe per day
# found), of the compressed days only: minutes a late reading unpacked, or written before migration 0013.
_UNPACKED_SQL = """
WITH RECURSIVE hot(signal_id, bucket) AS (
    SELECT s.id, (SELECT bucket FROM rollups_1m WHERE signal_id = s.id AND bucket < $1 ORDER BY bucket LIMIT 1)
    FROM unnest($2::int4[]) AS s(id)
    UNION ALL
    SELECT h.signal_id, (SELECT bucket FROM rollups_1m WHERE signal_id = h.signal_id
                         AND bucket >= date_bin('1 day', h.bucket, TIMESTAMPTZ 'epoch') + interval '1 day'
                         AND bucket < $1 ORDER BY bucket LIMIT 1)
    FROM hot AS h WHERE h.bucket IS NOT NULL
)
SELECT h.signal_id, c.day FROM hot AS h
JOIN compressed_days AS c ON c.day = (h.bucket AT TIME ZONE 'UTC')::date
ORDER BY c.day, h.signal_id
"""


async def unpacked_days(conn: asyncpg.Connection, before: datetime) -> dict[date, list[int]]:
    """Compressed days before `before` with signals whose minutes are still rows of rollups_1m (to pack)."""
    out: dict[date, list[int]] = {}
    for r in await conn.fetch(_UNPACKED_SQL, before, await rollup_signals(conn)):
        out.setdefault(r["day"], []).append(r["signal_id"])
    return out


async def unpack_days(conn: asyncpg.Connection, keys: Sequence[tuple[int, date]]) -> int:
    """Move packed signal-days back into rows of rollups_1m (a late reading is to be folded into them), in the
    caller's transaction, which holds the days' merge locks; returns the minute rows restored."""
    if not keys:
        return 0
    keys = sorted(set(keys))
    gone = await conn.fetch(
        """DELETE FROM rollup_days AS d USING unnest($1::int4[], $2::date[]) AS k(signal_id, day)
           WHERE d.signal_id = k.signal_id AND d.day = k.day RETURNING d.signal_id, d.payload""",
        [k[0] for k in keys],
        [k[1] for k in keys],
    )
    if not gone:
        return 0
    parts = [(r["signal_id"], decode_minutes(r["payload"])) for r in gone]
    await conn.execute(packed.INSERT_ROWS_SQL, *packed.insert_args(parts))
    return sum(len(m) for _, m in parts)
