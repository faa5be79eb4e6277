"""The staging rows of a write as one PostgreSQL binary COPY body, built in numpy: no Python code per row.

Rows are (idx, signal_id, ts, value, quality) as `store.STAGING_DDL` declares them (int4, int4, timestamptz,
float8, int4). asyncpg's `copy_records_to_table` encodes each row's fields in turn (the datetime through Python
objects); here each column is converted once, and each distinct timestamp once (a batch carries a few hundred
distinct times for thousands of readings). Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta

import numpy as np

# PostgreSQL's binary COPY format: signature, flags (int32), header extension length (int32); per row the field
# count (int16) and each field as length (int32) + big-endian value; the trailer is a field count of -1.
HEADER = b"PGCOPY\n\xff\r\n\x00" + (0).to_bytes(4, "big") + (0).to_bytes(4, "big")
TRAILER = (-1).to_bytes(2, "big", signed=True)
_ROW = np.dtype(
    [
        ("fields", ">i2"),
        ("idx_len", ">i4"),
        ("idx", ">i4"),
        ("signal_len", ">i4"),
        ("signal_id", ">i4"),
        ("ts_len", ">i4"),
        ("ts", ">i8"),  # µs since 2000-01-01 00:00 UTC (the timestamptz wire value)
        ("value_len", ">i4"),
        ("value", ">f8"),
        ("quality_len", ">i4"),
        ("quality", ">i4"),
    ]
)
_EMPTY_ROW = np.array([(5, 4, 0, 4, 0, 8, 0, 8, 0.0, 4, 0)], dtype=_ROW)
PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)


def pg_microseconds(ts: datetime) -> int:
    """A timestamptz's wire value; a naive datetime is taken as UTC (as asyncpg takes it)."""
    return ((ts if ts.tzinfo is not None else ts.replace(tzinfo=UTC)) - PG_EPOCH) // MICROSECOND


def binary_copy(rows: Sequence[tuple[int, int, datetime, float, int]]) -> bytes:
    """`COPY ingest_staging (idx, signal_id, ts, value, quality) FROM STDIN (FORMAT binary)`'s body for `rows`."""
    out = np.repeat(_EMPTY_ROW, len(rows))
    if rows:
        indices, signal_ids, stamps, values, qualities = zip(*rows, strict=True)
        out["idx"] = indices
        out["signal_id"] = signal_ids
        out["value"] = values
        out["quality"] = qualities
        wire = {ts: pg_microseconds(ts) for ts in set(stamps)}
        out["ts"] = list(map(wire.__getitem__, stamps))
    return HEADER + out.tobytes() + TRAILER


async def source(body: bytes) -> AsyncIterator[bytes]:
    """`body` as an async iterable, the `source` asyncpg's `copy_to_table` sends from the event loop (a file object
    it would read in a thread)."""
    yield body
