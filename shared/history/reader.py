"""The one way to read raw readings: hot rows of `readings` and closed blocks of `reading_blocks`, merged.

Every (signal, ts) lives in exactly one of the two (shared/history/__init__.py), so a range's readings are the
union of its hot rows and the readings of the blocks that overlap it. Both come back in ONE statement, so they are
read in one snapshot: a compression committing between two statements could otherwise make a reading appear
twice or not at all. Hot rows travel as three binary arrays per signal (`array_send`), decoded with numpy; only
the blocks that can hold wanted readings are sent and decoded (shared/history/codec.py).

The hold context many computations need (the `before` readings before `start` and the `after` readings at or
after `end`, at any distance) is found in the same statement: the newest `before` hot rows before `start` and the
`before + 1` newest blocks starting before it (every block holds at least one reading, the newest may start
before `start` and hold none before it); symmetrically after `end`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import asyncpg

from shared.history.codec import decode_block
from shared.history.columns import Columns, hot_columns, merge, micros, select

# $1 ids, $2 starts, $3 ends (per signal), $4 before, $5 after, $6 limit of readings in range (NULL: all).
# `{range_blocks}` is the block set inside [start, end): all of them, or (with a limit) only as many as can hold the
# first `limit` readings.
_SQL = """
WITH s AS (SELECT * FROM unnest($1::int4[], $2::timestamptz[], $3::timestamptz[]) AS s(id, lo, hi))
SELECT s.id AS signal_id, NULL::bytea AS payload, h.ts, h.value, h.quality FROM s CROSS JOIN LATERAL (
    SELECT array_send(array_agg(x.ts)) AS ts, array_send(array_agg(x.value)) AS value,
           array_send(array_agg(x.quality)) AS quality
    FROM (
        (SELECT * FROM (SELECT ts, value, quality FROM readings WHERE signal_id = s.id AND ts < s.lo
                        ORDER BY ts DESC LIMIT $4) AS b ORDER BY ts)
        UNION ALL
        (SELECT ts, value, quality FROM readings WHERE signal_id = s.id AND ts >= s.lo AND ts < s.hi
         ORDER BY ts LIMIT $6)
        UNION ALL
        (SELECT ts, value, quality FROM readings WHERE signal_id = s.id AND ts >= s.hi ORDER BY ts LIMIT $5)
    ) AS x
) AS h WHERE h.ts IS NOT NULL
UNION ALL
SELECT s.id, k.payload, NULL, NULL, NULL FROM s CROSS JOIN LATERAL (
    SELECT a.payload FROM (
        SELECT payload, last_ts FROM reading_blocks WHERE signal_id = s.id AND block_start < s.lo
        ORDER BY block_start DESC LIMIT $4 + 1
    ) AS a WHERE $4 > 0 OR a.last_ts >= s.lo
    UNION ALL
    {range_blocks}
    UNION ALL
    (SELECT payload FROM reading_blocks WHERE signal_id = s.id AND block_start >= s.hi ORDER BY block_start LIMIT $5)
) AS k
"""
_RANGE_BLOCKS = (
    "SELECT payload FROM reading_blocks WHERE signal_id = s.id AND block_start >= s.lo AND block_start < s.hi"
)
# Blocks in order until those before them hold `limit` readings: together they hold the first `limit` ones.
_RANGE_BLOCKS_LIMITED = """SELECT b.payload FROM (
        SELECT payload, sum(count) OVER (ORDER BY block_start) - count AS earlier FROM reading_blocks
        WHERE signal_id = s.id AND block_start >= s.lo AND block_start < s.hi
    ) AS b WHERE b.earlier < $6"""
SQL = _SQL.format(range_blocks=_RANGE_BLOCKS)
SQL_LIMITED = _SQL.format(range_blocks=_RANGE_BLOCKS_LIMITED)


async def readings_between(
    conn: asyncpg.Connection | asyncpg.Pool,
    signal_ids: Sequence[int],
    start: datetime | Sequence[datetime],
    end: datetime | Sequence[datetime],
    *,
    before: int = 0,
    after: int = 0,
    limit: int | None = None,
) -> dict[int, Columns]:
    """Per signal (every id present, EMPTY when it has none), its readings of every quality with start ≤ ts < end
    in time order (the first `limit` of them when given), preceded by the `before` readings before start and
    followed by the `after` first readings at or after end, wherever they are. `start`/`end` may differ per
    signal (sequences aligned with `signal_ids`). One statement, so one snapshot even on a pool."""
    ids = list(dict.fromkeys(signal_ids))
    if not ids:
        return {}
    n = len(signal_ids)
    starts = [start] * n if isinstance(start, datetime) else list(start)
    ends = [end] * n if isinstance(end, datetime) else list(end)
    bounds = {sid: (lo, hi) for sid, lo, hi in zip(signal_ids, starts, ends, strict=True)}
    rows = await conn.fetch(
        SQL if limit is None else SQL_LIMITED,
        ids,
        [bounds[i][0] for i in ids],
        [bounds[i][1] for i in ids],
        before,
        after,
        limit,
    )
    parts: dict[int, list[Columns]] = {sid: [] for sid in ids}
    for r in rows:
        if r["payload"] is None:
            parts[r["signal_id"]].append(hot_columns(r["ts"], r["value"], r["quality"]))
        else:
            block = decode_block(r["payload"])
            parts[r["signal_id"]].append(Columns(block.ts_us, block.values, block.qualities))
    out = {}
    for sid in ids:
        lo, hi = bounds[sid]
        out[sid] = select(merge(parts[sid]), micros(lo), micros(hi), before=before, after=after, limit=limit)
    return out


# Hot rows are counted in place; of the blocks that may overlap [$2, $3) (those starting inside it and the newest
# one starting before it), those wholly inside count by their `count`, the others are decoded.
_COUNT_SQL = """
WITH s AS (SELECT unnest($1::int4[]) AS id)
SELECT (SELECT count(*) FROM readings WHERE signal_id = ANY($1::int4[]) AND ts >= $2 AND ts < $3) AS hot,
       coalesce(sum(b.count) FILTER (WHERE b.first_ts >= $2 AND b.last_ts < $3), 0) AS whole,
       array_agg(b.payload) FILTER (WHERE b.last_ts >= $2 AND b.first_ts < $3
                                    AND NOT (b.first_ts >= $2 AND b.last_ts < $3)) AS partial
FROM s LEFT JOIN LATERAL (
    (SELECT count, first_ts, last_ts, payload FROM reading_blocks WHERE signal_id = s.id AND block_start < $2
     ORDER BY block_start DESC LIMIT 1)
    UNION ALL
    (SELECT count, first_ts, last_ts, payload FROM reading_blocks WHERE signal_id = s.id AND block_start >= $2
     AND block_start < $3)
) AS b ON true
"""


async def count_between(
    conn: asyncpg.Connection | asyncpg.Pool, signal_ids: Sequence[int], start: datetime, end: datetime
) -> int:
    """How many readings `signal_ids` have with start ≤ ts < end, hot or compressed (one statement)."""
    row = await conn.fetchrow(_COUNT_SQL, list(dict.fromkeys(signal_ids)), start, end)
    assert row is not None  # an aggregate without GROUP BY always returns a row
    lo, hi = micros(start), micros(end)
    partial = 0
    for payload in row["partial"] or ():
        ts = decode_block(payload).ts_us
        partial += int(((ts >= lo) & (ts < hi)).sum())
    return int(row["hot"]) + int(row["whole"]) + partial
