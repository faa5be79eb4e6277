"""Bench-only: `baseload serve ingest` with the write path's rollup fold as it was before exact rollups (issue 10).

    python -m bench.plain_rollups serve ingest --port N      # what `bench/ingest.py --plain-rollups` starts

Only the 1-minute count/sum/min/max/first/last columns are folded (no inner areas, steps, 15-minute or 1-hour
rollups): the same schema, the same readings, so the difference in throughput and CPU is the exact rollups' own
cost. Never used by the product; the rollups it leaves are not exact (the integral columns stay 0).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from datetime import datetime

import asyncpg

from services import cli
from services.ingest import store
from shared.db import one
from shared.quality import GOOD_SQL_PREDICATE

# services/ingest/store.py `_FOLD_INTO_ROLLUPS` at the commit before exact rollups (2433c87~1), with the stale_*
# columns `write_rows` reads added as NULL (nothing is ever stale without the integral columns).
_PLAIN_FOLD = f""", minutes AS (
    SELECT signal_id, date_bin('1 minute', ts, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS bucket,
        count(*)::int4 AS count, sum(value) AS sum, min(value) AS min, max(value) AS max,
        min(ts) AS first_ts, (array_agg(value ORDER BY ts))[1] AS first_value,
        max(ts) AS last_ts, (array_agg(value ORDER BY ts))[count(*)] AS last_value,
        (count(*) FILTER (WHERE good))::int4 AS good_count,
        coalesce(sum(value) FILTER (WHERE good), 0) AS good_sum,
        min(value) FILTER (WHERE good) AS good_min, max(value) FILTER (WHERE good) AS good_max,
        min(ts) FILTER (WHERE good) AS good_first_ts,
        (array_agg(value ORDER BY ts) FILTER (WHERE good))[1] AS good_first_value,
        max(ts) FILTER (WHERE good) AS good_last_ts,
        (array_agg(value ORDER BY ts) FILTER (WHERE good))[count(*) FILTER (WHERE good)] AS good_last_value
    FROM (SELECT signal_id, ts, value, {GOOD_SQL_PREDICATE} AS good FROM inserted) AS i
    GROUP BY 1, 2
), merged AS (
    INSERT INTO rollups_1m AS r (signal_id, bucket, count, sum, min, max, first_ts, first_value, last_ts,
        last_value, good_count, good_sum, good_min, good_max, good_first_ts, good_first_value, good_last_ts,
        good_last_value)
    SELECT * FROM minutes
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
        good_last_ts = greatest(r.good_last_ts, excluded.good_last_ts)
    RETURNING 1
)
SELECT coalesce(sum(count), 0)::int4 AS inserted, min(first_ts) AS start_ts, max(last_ts) AS end_ts,
       array_agg(DISTINCT signal_id) AS signal_ids, (SELECT count(*) FROM merged)::int4 AS buckets,
       NULL::int4[] AS stale_ids, NULL::timestamptz[] AS stale_buckets, NULL::int4[] AS stale_15m_ids,
       NULL::timestamptz[] AS stale_15m_buckets, NULL::int4[] AS stale_1h_ids, NULL::timestamptz[] AS stale_1h_buckets
FROM minutes
"""


async def _plain_append(
    conn: asyncpg.Connection, rows: Sequence[tuple[int, int, datetime, float, int]], _: object = None
) -> store.WriteOutcome:
    """The append path as it was then: the batch COPYed into staging, inserted and folded by one statement."""
    await conn.copy_records_to_table("ingest_staging", records=rows, columns=store.STAGING_COLUMNS)
    result = one(await conn.fetchrow(store._APPEND_INSERT + _PLAIN_FOLD))
    ids = list(result["signal_ids"] or ())
    return store.WriteOutcome(result["inserted"], "append", [], ids, result["start_ts"], result["end_ts"])


def use_plain_rollups() -> None:
    """Swap the write path's statement and append step (write_rows looks them up in the module at call time)."""
    store.WRITE_SQL = store._DEDUP_INSERT + _PLAIN_FOLD
    store._append = _plain_append


if __name__ == "__main__":
    use_plain_rollups()
    sys.exit(cli.main(sys.argv[1:]))
