"""The compressed-history tables: a compressed day keeps no readings partition, blocks describe their span."""

from __future__ import annotations

from datetime import UTC, date, datetime

import asyncpg
import numpy as np
import pytest

from shared.history.codec import encode_block

DAY = datetime(2025, 3, 10, tzinfo=UTC)


async def test_a_compressed_day_gets_no_new_partition(db: asyncpg.Pool) -> None:
    await db.execute(
        "INSERT INTO compressed_days (day, readings, blocks, payload_bytes) VALUES ($1, 0, 0, 0)", date(2025, 3, 10)
    )
    created = await db.fetchval("SELECT ensure_readings_partitions($1, $2)", DAY, datetime(2025, 3, 11, tzinfo=UTC))
    assert created == 1  # the 11th only
    assert await db.fetchval("SELECT to_regclass('readings_20250310')") is None
    assert await db.fetchval("SELECT to_regclass('readings_20250311')") is not None


async def test_a_block_must_lie_inside_its_span(db: asyncpg.Pool) -> None:
    payload = encode_block(np.array([0], np.int64), np.array([1.0]), np.array([0], np.int32))
    insert = (
        "INSERT INTO reading_blocks VALUES (1, $1::timestamptz, $1::timestamptz + interval '1 hour', $2, $2, 1, $3)"
    )
    await db.execute(insert, DAY, DAY, payload)
    with pytest.raises(asyncpg.CheckViolationError):
        await db.execute(insert, datetime(2025, 3, 10, 1, tzinfo=UTC), datetime(2025, 3, 10, 2, tzinfo=UTC), payload)
