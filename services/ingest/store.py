"""All of ingest's SQL: the signal catalog, partitions, the one-transaction write path and idempotency."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from operator import itemgetter

import asyncpg
import numpy as np

from services.ingest import blocks
from services.ingest.validation import SignalInfo
from shared.contracts import READINGS_CHANNEL, encode_readings_changed
from shared.db import one
from shared.history.spans import hot_from as history_hot_from
from shared.quality import GOOD_SQL_PREDICATE
from shared.settlement import partials

STAGING_DDL = """
CREATE TEMP TABLE IF NOT EXISTS ingest_staging (
    idx int4 NOT NULL, signal_id int4 NOT NULL, ts timestamptz NOT NULL, value float8 NOT NULL, quality int4 NOT NULL
) ON COMMIT DELETE ROWS
"""
STAGING_COLUMNS = ("idx", "signal_id", "ts", "value", "quality")

# One statement: take the staged rows, insert what is new, and fold exactly the inserted rows into the 1-minute
# rollups. Readings are immutable, so folding is a pure merge and stays exact under late, out-of-order and
# duplicate data. Two variants of the first step:
#  - dedup: first occurrence within the batch wins, ON CONFLICT DO NOTHING skips what is already stored;
#  - append: a plain INSERT for live data newer than anything stored (about 30 % cheaper); any duplicate makes
#    it fail with a unique violation, and the caller falls back to dedup. The primary key keeps both exact.
_DEDUP_INSERT = """
WITH inserted AS (
    INSERT INTO readings (signal_id, ts, value, quality)
    SELECT DISTINCT ON (signal_id, ts) signal_id, ts, value, quality
    FROM ingest_staging ORDER BY signal_id, ts, idx
    ON CONFLICT (signal_id, ts) DO NOTHING
    RETURNING signal_id, ts, value, quality
)"""
_APPEND_INSERT = """
WITH inserted AS (
    INSERT INTO readings (signal_id, ts, value, quality)
    SELECT signal_id, ts, value, quality FROM ingest_staging
    RETURNING signal_id, ts, value, quality
)"""
ROLLUP_COLUMNS = (
    "signal_id",
    "bucket",
    "count",
    "sum",
    "min",
    "max",
    "first_ts",
    "first_value",
    "last_ts",
    "last_value",
    "good_count",
    "good_sum",
    "good_min",
    "good_max",
    "good_first_ts",
    "good_first_value",
    "good_last_ts",
    "good_last_value",
    "area",
    "good_area",
    "good_held_s",
    "max_step_s",
    "last_step_s",
)


def coarser(*, source: str, width: str) -> str:
    """SQL aggregating rollup-shaped rows of `source` into `width` buckets: sums, extremes, first/last, and the inner
    areas with the pairs joining consecutive source rows inside the coarser bucket (steps of any length: a coarse row
    is exact only while its max_step_s is within the maximum gap; readers fall back to finer rows otherwise)."""
    return f"""SELECT signal_id, b AS bucket, sum(count)::int4 AS count, sum(sum) AS sum, min(min) AS min,
        max(max) AS max, min(first_ts) AS first_ts, (array_agg(first_value ORDER BY bucket))[1] AS first_value,
        max(last_ts) AS last_ts, (array_agg(last_value ORDER BY bucket DESC))[1] AS last_value,
        sum(good_count)::int4 AS good_count, sum(good_sum) AS good_sum, min(good_min) AS good_min,
        max(good_max) AS good_max, min(good_first_ts) AS good_first_ts,
        (array_agg(good_first_value ORDER BY bucket) FILTER (WHERE good_count > 0))[1] AS good_first_value,
        max(good_last_ts) AS good_last_ts,
        (array_agg(good_last_value ORDER BY bucket DESC) FILTER (WHERE good_count > 0))[1] AS good_last_value,
        sum(area + coalesce(prev_value * pair, 0)) AS area,
        sum(good_area + CASE WHEN prev_good THEN prev_value * pair ELSE 0 END) AS good_area,
        sum(good_held_s + CASE WHEN prev_good THEN pair ELSE 0 END) AS good_held_s,
        max(greatest(max_step_s, coalesce(pair, 0))) AS max_step_s,
        (array_agg(coalesce(last_step_s, pair) ORDER BY bucket DESC))[1] AS last_step_s
    FROM (SELECT *, date_part('epoch', first_ts - lag(last_ts) OVER w) AS pair, lag(last_value) OVER w AS prev_value,
                 lag(good_last_ts IS NOT DISTINCT FROM last_ts) OVER w AS prev_good
          FROM (SELECT *, date_bin('{width}', bucket, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS b FROM {source}) AS s
          WINDOW w AS (PARTITION BY signal_id, b ORDER BY bucket)) AS x
    GROUP BY signal_id, b"""


# The gap joining a stored row to a batch after it (stored last reading → batch's first) or before it.
_AFTER = "date_part('epoch', excluded.first_ts - r.last_ts)"
_BEFORE = "date_part('epoch', r.first_ts - excluded.last_ts)"


def merge_into(table: str, source: str) -> str:
    """Upsert rollup-shaped rows: sums and extremes merge; the integral columns extend a row the batch comes after
    (its stored last reading joined to the batch's first) or before (the batch's last reading joined to the stored
    first: concurrent batches of one live stream commit out of order); any interleaving marks the row stale
    (area = NaN) for a recompute in the same transaction."""
    return f"""INSERT INTO {table} AS r ({", ".join(ROLLUP_COLUMNS)})
    SELECT * FROM {source}
    ON CONFLICT (signal_id, bucket) DO UPDATE SET
        count = r.count + excluded.count,
        sum = r.sum + excluded.sum,
        min = least(r.min, excluded.min),
        max = greatest(r.max, excluded.max),
        first_value = CASE WHEN excluded.first_ts < r.first_ts THEN excluded.first_value ELSE r.first_value END,
        first_ts = least(r.first_ts, excluded.first_ts),
        last_value = CASE WHEN excluded.last_ts > r.last_ts THEN excluded.last_value ELSE r.last_value END,
        last_ts = greatest(r.last_ts, excluded.last_ts),
        good_count = r.good_count + excluded.good_count,
        good_sum = r.good_sum + excluded.good_sum,
        good_min = least(r.good_min, excluded.good_min),
        good_max = greatest(r.good_max, excluded.good_max),
        good_first_value = CASE WHEN r.good_first_ts IS NULL OR excluded.good_first_ts < r.good_first_ts
            THEN excluded.good_first_value ELSE r.good_first_value END,
        good_first_ts = least(r.good_first_ts, excluded.good_first_ts),
        good_last_value = CASE WHEN r.good_last_ts IS NULL OR excluded.good_last_ts > r.good_last_ts
            THEN excluded.good_last_value ELSE r.good_last_value END,
        good_last_ts = greatest(r.good_last_ts, excluded.good_last_ts),
        area = CASE WHEN excluded.first_ts > r.last_ts THEN r.area + r.last_value * {_AFTER} + excluded.area
            WHEN excluded.last_ts < r.first_ts THEN excluded.area + excluded.last_value * {_BEFORE} + r.area
            ELSE 'NaN' END,
        good_area = r.good_area + excluded.good_area + CASE
            WHEN excluded.first_ts > r.last_ts AND r.good_last_ts = r.last_ts THEN r.last_value * {_AFTER}
            WHEN excluded.last_ts < r.first_ts AND excluded.good_last_ts = excluded.last_ts
                THEN excluded.last_value * {_BEFORE}
            ELSE 0 END,
        good_held_s = r.good_held_s + excluded.good_held_s + CASE
            WHEN excluded.first_ts > r.last_ts AND r.good_last_ts = r.last_ts THEN {_AFTER}
            WHEN excluded.last_ts < r.first_ts AND excluded.good_last_ts = excluded.last_ts THEN {_BEFORE}
            ELSE 0 END,
        max_step_s = greatest(r.max_step_s, excluded.max_step_s, CASE WHEN excluded.first_ts > r.last_ts
            THEN {_AFTER} WHEN excluded.last_ts < r.first_ts THEN {_BEFORE} END),
        last_step_s = CASE WHEN excluded.last_ts < r.first_ts THEN coalesce(r.last_step_s, {_BEFORE})
            ELSE coalesce(excluded.last_step_s, {_AFTER}) END
    RETURNING signal_id, bucket, area = 'NaN' AS stale"""


# Besides count/sum/min/max/first/last, each minute keeps what the exact held integral needs (shared/settlement/
# rollup.py): over consecutive readings inside the minute, the area Σ vᵢ·(tᵢ₊₁ − tᵢ) (all qualities; Good-only with
# its held seconds), the longest step and the step into the last reading. A batch newer than the stored minute
# extends it (a cheap merge: the stored last reading is joined to the batch's first); a batch reaching into or
# before a stored minute marks it (area = NaN) and `RECOMPUTE_SQL` rebuilds those minutes from raw readings in the
# same transaction. Holds across minutes are resolved when reading, from the neighbours' first/last readings.
# The 15-minute and 1-hour rollups are derived from the batch's minute groups in the same statement and merged the
# same way; stale ones are rebuilt from the finer table (`recompute_coarser`).
_FOLD_INTO_ROLLUPS = f""", stepped AS (
    SELECT signal_id, ts, value, {GOOD_SQL_PREDICATE} AS good,
        date_bin('1 minute', ts, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS bucket,
        lead(ts) OVER (PARTITION BY signal_id ORDER BY ts) AS next_ts
    FROM inserted
), steps AS (
    SELECT *, CASE WHEN next_ts < bucket + interval '1 minute' THEN date_part('epoch', next_ts - ts) END AS step
    FROM stepped
), minutes AS (
    SELECT signal_id, bucket,
        count(*)::int4 AS count, sum(value) AS sum, min(value) AS min, max(value) AS max,
        min(ts) AS first_ts, (array_agg(value ORDER BY ts))[1] AS first_value,
        max(ts) AS last_ts, (array_agg(value ORDER BY ts))[count(*)] AS last_value,
        (count(*) FILTER (WHERE good))::int4 AS good_count,
        coalesce(sum(value) FILTER (WHERE good), 0) AS good_sum,
        min(value) FILTER (WHERE good) AS good_min, max(value) FILTER (WHERE good) AS good_max,
        min(ts) FILTER (WHERE good) AS good_first_ts,
        (array_agg(value ORDER BY ts) FILTER (WHERE good))[1] AS good_first_value,
        max(ts) FILTER (WHERE good) AS good_last_ts,
        (array_agg(value ORDER BY ts) FILTER (WHERE good))[count(*) FILTER (WHERE good)] AS good_last_value,
        coalesce(sum(value * step), 0) AS area,
        coalesce(sum(value * step) FILTER (WHERE good), 0) AS good_area,
        coalesce(sum(step) FILTER (WHERE good), 0) AS good_held_s,
        coalesce(max(step), 0) AS max_step_s,
        (array_agg(step ORDER BY ts DESC) FILTER (WHERE step IS NOT NULL))[1] AS last_step_s
    FROM steps
    GROUP BY 1, 2
), m15 AS (
    {coarser(source="minutes", width="15 minutes")}
), h1 AS (
    {coarser(source="m15", width="1 hour")}
), merged AS (
    {merge_into("rollups_1m", "minutes")}
), merged_15m AS (
    {merge_into("rollups_15m", "m15")}
), merged_1h AS (
    {merge_into("rollups_1h", "h1")}
)
SELECT coalesce(sum(count), 0)::int4 AS inserted, min(first_ts) AS start_ts, max(last_ts) AS end_ts,
       array_agg(DISTINCT signal_id) AS signal_ids, (SELECT count(*) FROM merged)::int4 AS buckets,
       (SELECT array_agg(signal_id) FROM merged WHERE stale) AS stale_ids,
       (SELECT array_agg(bucket) FROM merged WHERE stale) AS stale_buckets,
       (SELECT array_agg(signal_id) FROM merged_15m WHERE stale) AS stale_15m_ids,
       (SELECT array_agg(bucket) FROM merged_15m WHERE stale) AS stale_15m_buckets,
       (SELECT array_agg(signal_id) FROM merged_1h WHERE stale) AS stale_1h_ids,
       (SELECT array_agg(bucket) FROM merged_1h WHERE stale) AS stale_1h_buckets
FROM minutes
"""


def recompute_minutes(source: str) -> str:
    """SQL rebuilding the integral columns of the given ($1 signal ids, $2 minutes) rows of rollups_1m from the raw
    readings in `source` (see `_FOLD_INTO_ROLLUPS`): `readings`, or the merged readings of compressed blocks."""
    return f"""
WITH t AS (
    SELECT * FROM unnest($1::int4[], $2::timestamptz[]) AS t(signal_id, bucket)
), steps AS (
    SELECT t.signal_id, t.bucket, x.ts, x.value, {GOOD_SQL_PREDICATE} AS good,
        date_part('epoch', lead(x.ts) OVER (PARTITION BY t.signal_id, t.bucket ORDER BY x.ts) - x.ts) AS step
    FROM t JOIN {source} AS x
        ON x.signal_id = t.signal_id AND x.ts >= t.bucket AND x.ts < t.bucket + interval '1 minute'
), minutes AS (
    SELECT signal_id, bucket, coalesce(sum(value * step), 0) AS area,
        coalesce(sum(value * step) FILTER (WHERE good), 0) AS good_area,
        coalesce(sum(step) FILTER (WHERE good), 0) AS good_held_s, coalesce(max(step), 0) AS max_step_s,
        (array_agg(step ORDER BY ts DESC) FILTER (WHERE step IS NOT NULL))[1] AS last_step_s
    FROM steps GROUP BY 1, 2
)
UPDATE rollups_1m AS r SET area = m.area, good_area = m.good_area, good_held_s = m.good_held_s,
    max_step_s = m.max_step_s, last_step_s = m.last_step_s
FROM minutes AS m WHERE r.signal_id = m.signal_id AND r.bucket = m.bucket
"""


RECOMPUTE_SQL = recompute_minutes("readings")


def recompute_coarser(table: str, finer: str, width: str) -> str:
    """SQL rebuilding the given ($1 signal ids, $2 bucket starts) rows of `table` from the `finer` table."""
    # Each row's finer rows by their primary key (OFFSET 0 keeps the planner from hash-joining the whole table).
    source = f"""(SELECT f.* FROM unnest($1::int4[], $2::timestamptz[]) AS t(signal_id, bucket)
        CROSS JOIN LATERAL (SELECT * FROM {finer} AS f WHERE f.signal_id = t.signal_id AND f.bucket >= t.bucket
                            AND f.bucket < t.bucket + interval '{width}' OFFSET 0) AS f) AS finer"""
    updates = ", ".join(f"{c} = excluded.{c}" for c in ROLLUP_COLUMNS[2:])
    return f"""INSERT INTO {table} ({", ".join(ROLLUP_COLUMNS)}) {coarser(source=source, width=width)}
    ON CONFLICT (signal_id, bucket) DO UPDATE SET {updates}"""


RECOMPUTE_15M_SQL = recompute_coarser("rollups_15m", "rollups_1m", "15 minutes")
RECOMPUTE_1H_SQL = recompute_coarser("rollups_1h", "rollups_15m", "1 hour")
WRITE_SQL = _DEDUP_INSERT + _FOLD_INTO_ROLLUPS
APPEND_SQL = _APPEND_INSERT + _FOLD_INTO_ROLLUPS  # the append path folding in SQL (bench/blocks.py compares it)

# The append path proper: the batch's partial rollup rows come computed (shared/settlement/partials.py, in the
# ingest process) and PostgreSQL only merges them with `merge_into`'s rules. One array parameter per column;
# times as µs since the Unix epoch (no Python datetime per value); NaN stands for NULL in the nullable columns
# (never a reading's value: values are finite) and the Good columns are NULL where a row has no Good reading.
_TIMES = {"bucket", "first_ts", "last_ts", "good_first_ts", "good_last_ts"}
_COUNTS = {"signal_id", "count", "good_count"}


def _partial_rows(first: int) -> str:
    """Rollup-shaped rows from the arrays $first … of a `partials.Partials`."""
    types = ["int8" if c in _TIMES else "int4" if c in _COUNTS else "float8" for c in ROLLUP_COLUMNS]
    arrays = ", ".join(f"${first + i}::{t}[]" for i, t in enumerate(types))
    out = []
    for column in ROLLUP_COLUMNS:
        value = f"TIMESTAMPTZ 'epoch' + {column} * interval '1 microsecond'" if column in _TIMES else column
        if column.startswith("good_") and column not in ("good_count", "good_sum", "good_area", "good_held_s"):
            value = f"CASE WHEN good_count > 0 THEN {value} END"
        out.append(f"nullif({value}, 'NaN') AS {column}" if column == "last_step_s" else f"{value} AS {column}")
    return f"SELECT {', '.join(out)} FROM unnest({arrays}) AS u({', '.join(ROLLUP_COLUMNS)})"


_N = len(ROLLUP_COLUMNS)
MERGE_PARTIALS_SQL = f"""WITH minutes AS ({_partial_rows(1)}), m15 AS ({_partial_rows(1 + _N)}),
h1 AS ({_partial_rows(1 + 2 * _N)}), merged AS (
    {merge_into("rollups_1m", "minutes")}
), merged_15m AS (
    {merge_into("rollups_15m", "m15")}
), merged_1h AS (
    {merge_into("rollups_1h", "h1")}
)
SELECT (SELECT array_agg(signal_id) FROM merged WHERE stale) AS stale_ids,
       (SELECT array_agg(bucket) FROM merged WHERE stale) AS stale_buckets,
       (SELECT array_agg(signal_id) FROM merged_15m WHERE stale) AS stale_15m_ids,
       (SELECT array_agg(bucket) FROM merged_15m WHERE stale) AS stale_15m_buckets,
       (SELECT array_agg(signal_id) FROM merged_1h WHERE stale) AS stale_1h_ids,
       (SELECT array_agg(bucket) FROM merged_1h WHERE stale) AS stale_1h_buckets
"""
READING_COLUMNS = ("signal_id", "ts", "value", "quality")
# PostgreSQL's binary COPY format of a readings row: blocks.COPY_ROW (the history job reads the same rows).
_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + bytes(8)
_COPY_TRAILER = b"\xff\xff"

# Late readings into compressed days (services/ingest/blocks.py): the readings a block merge stored are folded like
# inserted rows; stale minutes are rebuilt from the merged readings of those minutes.
LATE_DDL = """
CREATE TEMP TABLE IF NOT EXISTS history_inserted (
    signal_id int4 NOT NULL, ts timestamptz NOT NULL, value float8 NOT NULL, quality int4 NOT NULL
) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS history_minutes (
    signal_id int4 NOT NULL, ts timestamptz NOT NULL, value float8 NOT NULL, quality int4 NOT NULL
) ON COMMIT DELETE ROWS
"""
# Columns of (signal_id, µs since the Unix epoch, value, quality): no Python datetime per reading.
_FILL_LATE = """INSERT INTO {table} (signal_id, ts, value, quality)
SELECT s, TIMESTAMPTZ 'epoch' + t * interval '1 microsecond', v, q
FROM unnest($1::int4[], $2::int8[], $3::float8[], $4::int4[]) AS u(s, t, v, q)"""
LATE_FOLD_SQL = "WITH inserted AS (SELECT signal_id, ts, value, quality FROM history_inserted)" + _FOLD_INTO_ROLLUPS
LATE_RECOMPUTE_SQL = recompute_minutes("history_minutes")

# Staged readings whose stored twin differs (a different value or quality at the same signal and time).
CONFLICTS_SQL = """
SELECT s.idx FROM ingest_staging AS s
JOIN readings AS r ON r.signal_id = s.signal_id AND r.ts = s.ts
WHERE r.value <> s.value OR r.quality <> s.quality
ORDER BY s.idx
"""


@dataclass(frozen=True, slots=True)
class WriteOutcome:
    """What one write did: how many rows were new, which staged indices conflict, what it touched."""

    inserted: int
    path: str  # "append" or "dedup"
    conflicts: list[int]
    signal_ids: list[int]
    start: datetime | None
    end: datetime | None


@dataclass(frozen=True, slots=True)
class StoredResponse:
    request_hash: bytes
    status_code: int
    content_type: str
    body: bytes
    replayed: bool = False  # read back for a retry with the same Idempotency-Key


async def prepare_connection(conn: asyncpg.Connection) -> None:
    """Pool `init`: the per-connection staging table."""
    await conn.execute(STAGING_DDL)


async def load_catalog(conn: asyncpg.Connection | asyncpg.Pool) -> dict[str, SignalInfo]:
    rows = await conn.fetch("SELECT id, key, min_value, max_value, plant_id FROM signals")
    return {r["key"]: SignalInfo(r["id"], r["key"], r["min_value"], r["max_value"], r["plant_id"]) for r in rows}


async def newest_per_signal(conn: asyncpg.Connection | asyncpg.Pool) -> dict[int, datetime | None]:
    """The newest stored reading time of every signal (None: no readings yet), via the rollups' index."""
    rows = await conn.fetch(
        """SELECT s.id, latest.last_ts FROM signals AS s
           LEFT JOIN LATERAL (SELECT last_ts FROM rollups_1m WHERE signal_id = s.id ORDER BY bucket DESC LIMIT 1)
               AS latest ON true"""
    )
    return {r["id"]: r["last_ts"] for r in rows}


async def existing_partition_days(conn: asyncpg.Connection | asyncpg.Pool) -> set[datetime]:
    rows = await conn.fetch(
        """SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
           WHERE i.inhparent = 'readings'::regclass"""
    )
    days = set()
    for row in rows:
        suffix = row["relname"].removeprefix("readings_")
        if suffix.isdigit() and len(suffix) == 8:
            days.add(datetime.strptime(suffix, "%Y%m%d").replace(tzinfo=UTC))
    return days


async def ensure_partitions(conn: asyncpg.Connection | asyncpg.Pool, days: Sequence[datetime]) -> int:
    """Create the daily partitions of `days` that are missing (each day on its own: backfills are sparse)."""
    created = 0
    for day in sorted(days):
        created += await conn.fetchval("SELECT ensure_readings_partitions($1, $1)", day)
    return created


async def ensure_partitions_ahead(conn: asyncpg.Connection | asyncpg.Pool, now: datetime, days_ahead: int) -> int:
    return await conn.fetchval(
        "SELECT ensure_readings_partitions($1, $2)", now - timedelta(days=1), now + timedelta(days=days_ahead)
    )


async def write_rows(
    conn: asyncpg.Connection,
    rows: Sequence[tuple[int, int, datetime, float, int]],
    *,
    notify_channel: str | None = None,
    try_append: bool = False,
    hot_from: datetime | None = None,
    oldest: datetime | None = None,
    merge_turn: AbstractAsyncContextManager[object] | None = None,
) -> WriteOutcome:
    """Store (idx, signal_id, ts, value, quality) rows exactly once and fold them into the rollups.

    Runs inside the caller's transaction (the edge commits); the NOTIFY is delivered on commit only.
    `try_append` first tries the cheaper plain insert (for rows believed newer than anything stored); its merge of
    the rollups runs inside `merge_turn` (the caller may order concurrent batches' merges by their time).
    Rows of compressed days (shared/history) are merged into their blocks instead: only a batch reaching before
    `hot_from` (default: the start of today, UTC) checks for them, so a live batch pays one comparison (of
    `oldest`, when the caller knows it).
    """
    hot: Sequence[tuple[int, int, datetime, float, int]] = rows
    late: list[tuple[int, int, datetime, float, int]] = []
    if rows:
        boundary = hot_from if hot_from is not None else history_hot_from(datetime.now(UTC))
        oldest = oldest if oldest is not None else min(r[2] for r in rows)
        if oldest < boundary:
            hot, late = await blocks.split_compressed(conn, rows, boundary, oldest)
    outcome = await _write_hot(conn, hot, try_append, merge_turn) if hot or not late else None
    if late:
        outcome = _combine(outcome, await _write_late(conn, late))
    assert outcome is not None
    if notify_channel and outcome.inserted:
        for payload in notification_payloads(outcome):
            await conn.execute("SELECT pg_notify($1, $2)", notify_channel, payload)
    return outcome


async def _write_hot(
    conn: asyncpg.Connection,
    rows: Sequence[tuple[int, int, datetime, float, int]],
    try_append: bool,
    merge_turn: AbstractAsyncContextManager[object] | None = None,
) -> WriteOutcome:
    if try_append:
        try:
            async with conn.transaction():  # a savepoint: a duplicate rolls back only the attempt
                return await _append(conn, rows, merge_turn)
        except asyncpg.UniqueViolationError:
            pass
    await conn.copy_records_to_table("ingest_staging", records=rows, columns=STAGING_COLUMNS)
    result = one(await conn.fetchrow(WRITE_SQL))
    inserted = result["inserted"]
    await _recompute_stale(conn, result, RECOMPUTE_SQL)
    conflicts: list[int] = []
    if inserted < len(rows):
        # The staging side is small and unanalysed; without this the planner hashes every stored reading.
        await conn.execute("SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off")
        conflicts = [r["idx"] for r in await conn.fetch(CONFLICTS_SQL)]
    return WriteOutcome(
        inserted, "dedup", conflicts, list(result["signal_ids"] or ()), result["start_ts"], result["end_ts"]
    )


async def _append(
    conn: asyncpg.Connection,
    rows: Sequence[tuple[int, int, datetime, float, int]],
    merge_turn: AbstractAsyncContextManager[object] | None = None,
) -> WriteOutcome:
    """Every row new (any duplicate fails the COPY on the primary key): COPY them straight into `readings`, and
    merge the batch's partial rollups computed here; PostgreSQL folds no reading."""
    signal_id, ts_us, value, quality = reading_columns(rows)
    await conn.copy_to_table(
        "readings", source=_binary_copy(signal_id, ts_us, value, quality), columns=READING_COLUMNS, format="binary"
    )
    levels = partials.batch_partials(signal_id, ts_us, value, quality)
    args = [column.tolist() for level in levels for column in level.columns()]
    async with merge_turn or nullcontext():
        merged = one(await conn.fetchrow(MERGE_PARTIALS_SQL, *args))
    await _recompute_stale(conn, merged, RECOMPUTE_SQL)
    first, last = int(ts_us.min()), int(ts_us.max())
    ids = np.unique(signal_id).tolist()
    return WriteOutcome(len(rows), "append", [], ids, _from_micros(first), _from_micros(last))


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)
# PostgreSQL's timestamps count µs from 2000-01-01.
_PG_EPOCH_US = (datetime(2000, 1, 1, tzinfo=UTC) - _EPOCH) // _US


def reading_columns(
    rows: Sequence[tuple[int, int, datetime, float, int]],
) -> tuple[partials.I32, partials.I64, partials.F64, partials.I32]:
    """(signal id, µs since the Unix epoch, value, quality) arrays of (idx, signal_id, ts, value, quality) rows.
    A batch repeats a few scan times over many signals: each distinct time is converted once."""
    n = len(rows)
    times = list(map(itemgetter(2), rows))
    micros = dict.fromkeys(times, 0)
    for ts in micros:
        micros[ts] = (ts - _EPOCH) // _US
    return (
        np.fromiter(map(itemgetter(1), rows), np.int32, n),
        np.fromiter(map(micros.__getitem__, times), np.int64, n),
        np.fromiter(map(itemgetter(3), rows), np.float64, n),
        np.fromiter(map(itemgetter(4), rows), np.int32, n),
    )


async def _binary_copy(
    signal_id: partials.I32, ts_us: partials.I64, value: partials.F64, quality: partials.I32
) -> AsyncIterator[bytes]:
    """Readings in PostgreSQL's binary COPY format, built column-wise, as the one chunk of a COPY source."""
    out = np.empty(len(ts_us), dtype=blocks.COPY_ROW)
    out["fields"], out["l1"], out["l2"], out["l3"], out["l4"] = len(READING_COLUMNS), 4, 8, 8, 4
    out["signal_id"], out["ts"], out["value"], out["quality"] = signal_id, ts_us - _PG_EPOCH_US, value, quality
    yield _COPY_HEADER + out.tobytes() + _COPY_TRAILER


def _from_micros(us: int) -> datetime:
    return _EPOCH + us * _US


async def _recompute_stale(conn: asyncpg.Connection, result: asyncpg.Record, minutes_sql: str) -> None:
    if result["stale_ids"]:  # late data inside stored minutes: rebuild their integral columns from readings
        await conn.execute(minutes_sql, result["stale_ids"], result["stale_buckets"])
    if result["stale_15m_ids"]:  # and the coarser rows it lands in, from the finer ones
        await conn.execute(RECOMPUTE_15M_SQL, result["stale_15m_ids"], result["stale_15m_buckets"])
    if result["stale_1h_ids"]:
        await conn.execute(RECOMPUTE_1H_SQL, result["stale_1h_ids"], result["stale_1h_buckets"])


async def _write_late(conn: asyncpg.Connection, rows: Sequence[tuple[int, int, datetime, float, int]]) -> WriteOutcome:
    """Rows of compressed days: merged into their blocks, the new ones folded into the rollups."""
    merged = await blocks.merge_late(conn, rows)
    if not merged.new.ts_us:
        return WriteOutcome(0, "compressed", merged.conflicts, [], None, None)
    await conn.execute(LATE_DDL)
    await conn.execute(_FILL_LATE.format(table="history_inserted"), *merged.new.args())
    await conn.execute(_FILL_LATE.format(table="history_minutes"), *merged.minutes.args())
    result = one(await conn.fetchrow(LATE_FOLD_SQL))
    await _recompute_stale(conn, result, LATE_RECOMPUTE_SQL)
    signal_ids = list(result["signal_ids"] or ())
    return WriteOutcome(
        result["inserted"], "compressed", merged.conflicts, signal_ids, result["start_ts"], result["end_ts"]
    )


def _combine(hot: WriteOutcome | None, late: WriteOutcome) -> WriteOutcome:
    if hot is None:
        return late
    starts = [t for t in (hot.start, late.start) if t is not None]
    ends = [t for t in (hot.end, late.end) if t is not None]
    return WriteOutcome(
        hot.inserted + late.inserted,
        late.path,
        sorted(hot.conflicts + late.conflicts),
        sorted(set(hot.signal_ids) | set(late.signal_ids)),
        min(starts, default=None),
        max(ends, default=None),
    )


async def write_readings(
    conn: asyncpg.Connection,
    rows: Sequence[tuple[int, datetime, float, int]],
    *,
    notify_channel: str | None = READINGS_CHANNEL,
) -> WriteOutcome:
    """Bulk write (signal_id, ts, value, quality int4) rows in one transaction, creating partitions as needed.

    For tools, benchmarks and tests; the HTTP path does the same through `write_rows`.
    """
    days = {ts.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0) for _, ts, _, _ in rows}
    await prepare_connection(conn)
    await ensure_partitions(conn, sorted(days))
    async with conn.transaction():
        return await write_rows(conn, [(i, *row) for i, row in enumerate(rows)], notify_channel=notify_channel)


def notification_payloads(outcome: WriteOutcome) -> list[str]:
    """The `READINGS_CHANNEL` payloads for a write (the contract lives in shared/contracts.py)."""
    assert outcome.start is not None and outcome.end is not None
    return encode_readings_changed(outcome.signal_ids, outcome.start, outcome.end)


async def find_response(conn: asyncpg.Connection | asyncpg.Pool, api_key_id: int, key: str) -> StoredResponse | None:
    row = await conn.fetchrow(
        "SELECT request_hash, status_code, content_type, body FROM idempotency_keys WHERE api_key_id = $1 AND key = $2",
        api_key_id,
        key,
    )
    if row is None:
        return None
    return StoredResponse(row["request_hash"], row["status_code"], row["content_type"], row["body"], replayed=True)


async def lock_idempotency_key(conn: asyncpg.Connection, api_key_id: int, key: str) -> None:
    """Serialise concurrent requests with the same key until the first one commits."""
    await conn.execute("SELECT pg_advisory_xact_lock($1, hashtext($2))", api_key_id, key)


async def save_response(conn: asyncpg.Connection, api_key_id: int, key: str, response: StoredResponse) -> None:
    await conn.execute(
        """INSERT INTO idempotency_keys (api_key_id, key, request_hash, status_code, content_type, body)
           VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING""",
        api_key_id,
        key,
        response.request_hash,
        response.status_code,
        response.content_type,
        response.body,
    )


async def forget_old_responses(conn: asyncpg.Connection | asyncpg.Pool, older_than: datetime) -> int:
    result = await conn.execute("DELETE FROM idempotency_keys WHERE created_at < $1", older_than)
    return int(result.split()[-1])


async def touch_key(conn: asyncpg.Connection | asyncpg.Pool, api_key_id: int) -> None:
    """Mark a gateway as heard from (the alerts service's deadman rules read it)."""
    await conn.execute("UPDATE api_keys SET last_seen_at = now() WHERE id = $1", api_key_id)


async def load_signal_maps(conn: asyncpg.Connection | asyncpg.Pool) -> dict[str, tuple[int, list[str], dict[str, str]]]:
    """Line-protocol signal maps by scope: (plant id, templates, key-mapping table), as the plant files gave them."""
    rows = await conn.fetch("SELECT scope, plant_id, templates, aliases::text AS aliases FROM line_protocol_maps")
    return {row["scope"]: (row["plant_id"], list(row["templates"]), json.loads(row["aliases"])) for row in rows}


async def record_batch(conn: asyncpg.Connection, api_key_id: int, outcome: WriteOutcome, digest: str) -> None:
    """Provenance of an accepted batch (who sent it, when, how many new readings, its digest), in the write's
    transaction; received_at is the transaction's start."""
    await conn.execute(
        """INSERT INTO ingest_batches (api_key_id, received_at, count, digest, signal_ids, first_ts, last_ts)
           VALUES ($1, now(), $2, $3, $4, $5, $6)""",
        api_key_id,
        outcome.inserted,
        digest,
        outcome.signal_ids,
        outcome.start,
        outcome.end,
    )
