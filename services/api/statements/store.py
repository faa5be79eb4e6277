"""All SQL of statements: the plant's chain, revisions, as-of reads, readings for digests, keys and provenance."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import asyncpg

from shared.history.minutes_codec import decode_minutes
from shared.history.reader import readings_between
from shared.history.spans import day_start, from_us, to_us
from shared.ledger.digest import Row
from shared.quality import from_db

LOCK_NAMESPACE = 0x5354  # pg advisory lock (namespace, plant_id): one issuer per plant chain at a time


@dataclass(frozen=True, slots=True)
class Stored:
    id: int
    plant_id: int
    kind: str
    period_start: datetime
    period_end: datetime
    revision: int
    sequence: int
    issued_at: datetime
    kid: str
    hash: str
    previous: str | None
    reason: str | None
    jws: str


COLUMNS = (
    "id, plant_id, kind, period_start, period_end, revision, sequence, issued_at, kid, hash, previous, reason, jws"
)


def _stored(row: asyncpg.Record) -> Stored:
    return Stored(*(row[c] for c in COLUMNS.split(", ")))


async def lock_plant(conn: asyncpg.Connection, plant_id: int, *, wait: bool = True) -> bool:
    """Serialise issuing for one plant until the transaction ends (replicas never fork or double-issue)."""
    if wait:
        await conn.execute("SELECT pg_advisory_xact_lock($1, $2)", LOCK_NAMESPACE, plant_id)
        return True
    return bool(await conn.fetchval("SELECT pg_try_advisory_xact_lock($1, $2)", LOCK_NAMESPACE, plant_id))


async def chain_tip(conn: asyncpg.Connection, plant_id: int) -> tuple[int, str | None]:
    row = await conn.fetchrow(
        "SELECT sequence, hash FROM statements WHERE plant_id = $1 ORDER BY sequence DESC LIMIT 1", plant_id
    )
    return (row["sequence"], row["hash"]) if row else (0, None)


async def latest(conn: asyncpg.Connection, plant_id: int, kind: str, period_start: datetime) -> Stored | None:
    row = await conn.fetchrow(
        f"SELECT {COLUMNS} FROM statements WHERE plant_id = $1 AND kind = $2"
        " AND period_start = $3 ORDER BY revision DESC LIMIT 1",
        plant_id,
        kind,
        period_start,
    )
    return _stored(row) if row else None


async def insert(conn: asyncpg.Connection, s: Stored) -> int:
    return await conn.fetchval(
        """INSERT INTO statements (plant_id, kind, period_start, period_end, revision, sequence, issued_at, kid, hash,
               previous, reason, jws) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id""",
        s.plant_id,
        s.kind,
        s.period_start,
        s.period_end,
        s.revision,
        s.sequence,
        s.issued_at,
        s.kid,
        s.hash,
        s.previous,
        s.reason,
        s.jws,
    )


async def as_of(
    conn: asyncpg.Connection, plant_id: int, start: datetime, end: datetime, at: datetime | None, kinds: Sequence[str]
) -> list[Stored]:
    """Per (kind, period) in [start, end) the newest revision issued at or before `at` (None: now)."""
    rows = await conn.fetch(
        f"""SELECT DISTINCT ON (kind, period_start) {COLUMNS} FROM statements
            WHERE plant_id = $1 AND period_start >= $2 AND period_start < $3 AND kind = ANY($4::text[])
              AND ($5::timestamptz IS NULL OR issued_at <= $5)
            ORDER BY kind, period_start, revision DESC""",
        plant_id,
        start,
        end,
        list(kinds),
        at,
    )
    return sorted((_stored(r) for r in rows), key=lambda s: (s.period_start, s.kind != "day"))


async def revisions(conn: asyncpg.Connection, plant_id: int, kind: str, period_start: datetime) -> list[Stored]:
    rows = await conn.fetch(
        f"SELECT {COLUMNS} FROM statements WHERE plant_id = $1 AND kind = $2"
        " AND period_start = $3 ORDER BY revision DESC",
        plant_id,
        kind,
        period_start,
    )
    return [_stored(r) for r in rows]


async def chain(conn: asyncpg.Connection, plant_id: int, since: datetime | None) -> list[Stored]:
    """The plant's statements in chain order (from the first one issued at or after `since`)."""
    rows = await conn.fetch(
        f"SELECT {COLUMNS} FROM statements WHERE plant_id = $1"
        " AND ($2::timestamptz IS NULL OR issued_at >= $2) ORDER BY sequence",
        plant_id,
        since,
    )
    return [_stored(r) for r in rows]


async def stated_periods(
    conn: asyncpg.Connection, plant_id: int, kind: str, start: datetime, end: datetime
) -> list[datetime]:
    rows = await conn.fetch(
        "SELECT DISTINCT period_start FROM statements WHERE plant_id = $1 AND kind = $2"
        " AND period_start >= $3 AND period_start < $4 ORDER BY 1",
        plant_id,
        kind,
        start,
        end,
    )
    return [r["period_start"] for r in rows]


async def overlapping(
    conn: asyncpg.Connection, plant_id: int, kind: str, start: datetime, end: datetime
) -> list[datetime]:
    """Starts of stated periods that overlap [start, end)."""
    rows = await conn.fetch(
        "SELECT DISTINCT period_start FROM statements WHERE plant_id = $1 AND kind = $2"
        " AND period_start < $4 AND period_end > $3 ORDER BY 1",
        plant_id,
        kind,
        start,
        end,
    )
    return [r["period_start"] for r in rows]


async def last_stated_end(conn: asyncpg.Connection, plant_id: int, kind: str) -> datetime | None:
    return await conn.fetchval(
        "SELECT max(period_end) FROM statements WHERE plant_id = $1 AND kind = $2", plant_id, kind
    )


async def readings(conn: asyncpg.Connection, signals: dict[int, str], start: datetime, end: datetime) -> list[Row]:
    """The readings (any quality) of `signals` that the numbers of [start, end) depend on, for the digest: every
    reading in [start, end), and per signal the two before start and the first at or after end, at any distance
    (shared/settlement's hold rule), hot or compressed."""
    got = await readings_between(conn, list(signals), start, end, before=2, after=1)
    return [Row(signals[sid], ts, value, from_db(quality)) for sid, c in got.items() for ts, value, quality in c.rows()]


# The minutes with data of one signal are rows of rollups_1m or minutes of packed days (shared/history/packed.py):
# both are read in one statement (one snapshot), packed days decoded for their buckets only.
_MINUTES_SQL = """
(SELECT bucket, NULL::bytea AS payload FROM rollups_1m WHERE signal_id = $1 AND bucket >= $2 AND bucket < $3)
UNION ALL
(SELECT NULL, payload FROM rollup_days WHERE signal_id = $1 AND day >= $4 AND day < $5
     AND last_bucket >= $2 AND first_bucket < $3)
"""


async def minutes_with_data(conn: asyncpg.Connection, signal_id: int, start: datetime, end: datetime) -> list[datetime]:
    """The minute buckets with a rollup of `signal_id` in [start, end), ascending."""
    rows = await conn.fetch(_MINUTES_SQL, signal_id, start, end, *_days(start, end))
    return sorted(b for r in rows for b in _buckets(r, start, end))


async def next_data(conn: asyncpg.Connection, signal_id: int, after: datetime) -> datetime | None:
    """The first minute bucket at or after `after` with a rollup of `signal_id`."""
    rows = await conn.fetch(
        """(SELECT bucket, NULL::bytea AS payload FROM rollups_1m WHERE signal_id = $1 AND bucket >= $2
            ORDER BY bucket LIMIT 1)
           UNION ALL
           (SELECT NULL, payload FROM rollup_days WHERE signal_id = $1 AND day >= $3 AND last_bucket >= $2
            ORDER BY day LIMIT 1)""",
        signal_id,
        after,
        day_start(after).date(),
    )
    return min((b for r in rows for b in _buckets(r, after, None)), default=None)


def _days(start: datetime, end: datetime) -> tuple[date, date]:
    """The UTC days overlapping [start, end): the first, and the day after the last."""
    return day_start(start).date(), (day_start(end - timedelta(microseconds=1)) + timedelta(days=1)).date()


def _buckets(row: asyncpg.Record, start: datetime, end: datetime | None) -> list[datetime]:
    """A row's bucket, or a packed day's buckets, within [start, end)."""
    if row["payload"] is None:
        return [row["bucket"]]
    buckets = decode_minutes(row["payload"]).values["bucket"]
    lo, hi = to_us(start), None if end is None else to_us(end)
    inside = buckets[(buckets >= lo) & (buckets < hi)] if hi is not None else buckets[buckets >= lo]
    return [from_us(b) for b in inside.tolist()]


async def first_stated(conn: asyncpg.Connection, plant_id: int, kind: str) -> datetime | None:
    return await conn.fetchval(
        "SELECT min(period_start) FROM statements WHERE plant_id = $1 AND kind = $2", plant_id, kind
    )


async def first_data(conn: asyncpg.Connection, signal_id: int) -> datetime | None:
    """The first minute bucket with a rollup of `signal_id`, a row of rollups_1m or a packed day's first."""
    return await conn.fetchval(
        """SELECT min(b) FROM (
               (SELECT bucket AS b FROM rollups_1m WHERE signal_id = $1 ORDER BY bucket LIMIT 1)
               UNION ALL
               (SELECT first_bucket FROM rollup_days WHERE signal_id = $1 ORDER BY day LIMIT 1)
           ) AS x""",
        signal_id,
    )


# --- signing keys --------------------------------------------------------------------------------------------------


async def register_keys(conn: asyncpg.Connection, jwks: Sequence[dict[str, Any]]) -> None:
    """Publish public keys (never private parts); keys stay published after they stop signing."""
    await conn.executemany(
        "INSERT INTO signing_keys (kid, jwk) VALUES ($1, $2::jsonb) ON CONFLICT (kid) DO NOTHING",
        [(k["kid"], json.dumps(k)) for k in jwks],
    )


async def published_keys(conn: asyncpg.Connection) -> list[dict[str, Any]]:
    rows = await conn.fetch("SELECT jwk FROM signing_keys ORDER BY created_at, kid")
    return [json.loads(r["jwk"]) for r in rows]


# --- late data -----------------------------------------------------------------------------------------------------


async def batches_seen_until(conn: asyncpg.Connection, plant_id: int) -> datetime | None:
    return await conn.fetchval("SELECT batches_seen_until FROM statement_issuer WHERE plant_id = $1", plant_id)


async def set_batches_seen_until(conn: asyncpg.Connection, plant_id: int, at: datetime) -> None:
    await conn.execute(
        """INSERT INTO statement_issuer (plant_id, batches_seen_until) VALUES ($1, $2)
                          ON CONFLICT (plant_id) DO UPDATE SET batches_seen_until = excluded.batches_seen_until""",
        plant_id,
        at,
    )


async def late_batches(
    conn: asyncpg.Connection, signal_ids: Sequence[int], since: datetime, until: datetime, margin: timedelta
) -> list[asyncpg.Record]:
    """Ingest batches received in (since - margin, until] that touched `signal_ids`."""
    return await conn.fetch(
        """SELECT id, received_at, first_ts, last_ts FROM ingest_batches
           WHERE received_at > $2 AND received_at <= $3 AND signal_ids && $1::int4[] ORDER BY id""",
        list(signal_ids),
        since - margin,
        until,
    )


async def batches_touching(
    conn: asyncpg.Connection, signal_ids: Sequence[int], start: datetime, end: datetime, limit: int
) -> list[asyncpg.Record]:
    """Provenance: the accepted batches with readings of `signal_ids` between start and end."""
    return await conn.fetch(
        """SELECT b.id, b.received_at, b.count, b.digest, b.first_ts, b.last_ts, b.signal_ids, k.name AS sender,
                  k.role AS sender_role
           FROM ingest_batches AS b JOIN api_keys AS k ON k.id = b.api_key_id
           WHERE b.signal_ids && $1::int4[] AND b.first_ts < $3 AND b.last_ts >= $2 ORDER BY b.id LIMIT $4""",
        list(signal_ids),
        start,
        end,
        limit,
    )
