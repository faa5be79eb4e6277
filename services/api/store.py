"""All of the api's SQL. Aggregates read the 1-minute rollups (sub-minute buckets, raw pages and frequency read
readings)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import numpy as np
import numpy.typing as npt

from services.api import raw
from services.api.buckets import Bucketing
from services.api.catalog import Catalog, Plant, Signal
from shared.history import rollups
from shared.history.columns import Columns
from shared.history.reader import readings_between
from shared.history.rollups import RollupRead
from shared.quality import GOOD_SQL_PREDICATE
from shared.settlement.integral import micros

Conn = asyncpg.Connection

GOOD = GOOD_SQL_PREDICATE  # a literal range in the SQL text, so the planner sees it
_ONE_US = timedelta(microseconds=1)


def _columns(good: bool) -> dict[str, str]:
    """Rollup column names for the quality filter: good_* (Good only) or the plain ones (all readings)."""
    p = "good_" if good else ""
    return {k: p + k for k in ("count", "sum", "min", "max", "first_ts", "first_value", "last_ts", "last_value")}


async def load_catalog(conn: Conn) -> Catalog:
    plants = await conn.fetch(
        """SELECT p.id, p.key, p.name, p.capacity_mw, p.timezone,
                  coalesce(array_agg(pp.partner ORDER BY pp.partner) FILTER (WHERE pp.partner IS NOT NULL), '{}')
                      AS partners
           FROM plants p LEFT JOIN plant_partners pp ON pp.plant_id = p.id GROUP BY p.id ORDER BY p.key"""
    )
    signals = await conn.fetch(
        "SELECT id, key, plant_id, kind, unit, min_value, max_value, description FROM signals ORDER BY key"
    )
    return Catalog.build(
        [Plant(r["id"], r["key"], r["name"], r["capacity_mw"], r["timezone"], tuple(r["partners"])) for r in plants],
        [
            Signal(
                r["id"], r["key"], r["plant_id"], r["kind"], r["unit"], r["min_value"], r["max_value"], r["description"]
            )
            for r in signals
        ],
    )


async def latest_values(conn: Conn, signal_ids: Sequence[int]) -> dict[int, tuple[datetime, float, int]]:
    """The newest reading (ts, value, quality int4) of each signal, found through its newest minute rollup (a row of
    rollups_1m or a packed day's newest)."""
    rows = await conn.fetch(
        """SELECT s.id, r.last_ts, r.last_value
           FROM unnest($1::int4[]) AS s(id)
           CROSS JOIN LATERAL (SELECT last_ts, last_value FROM (
               (SELECT last_ts, last_value FROM rollups_1m WHERE signal_id = s.id ORDER BY bucket DESC LIMIT 1)
               UNION ALL
               (SELECT last_ts, last_value FROM rollup_days WHERE signal_id = s.id ORDER BY day DESC LIMIT 1)
           ) AS x ORDER BY last_ts DESC LIMIT 1) AS r""",
        list(signal_ids),
    )
    if not rows:
        return {}
    ids, times = [r["id"] for r in rows], [r["last_ts"] for r in rows]
    # The quality is not in the rollups: the reading itself, hot or in a block.
    found = await readings_between(conn, ids, times, [t + _ONE_US for t in times])
    return {
        r["id"]: (r["last_ts"], r["last_value"], int(q[0]) if len(q := found[r["id"]].qualities) else 0) for r in rows
    }


def _grid_index(b: Bucketing) -> Any:
    """Epoch seconds of a bucket start → its index in `b.starts()`."""
    if b.edges is None:
        origin, width = b.start.timestamp(), b.every.total_seconds()
        return lambda epoch: round((epoch - origin) / width)
    index = {e.timestamp(): i for i, e in enumerate(b.edges[:-1])}
    return lambda epoch: index[epoch]


def aligned(bounds_us: npt.NDArray[np.int64], width: timedelta) -> bool:
    """Every bucket edge (epoch µs) falls on a row boundary of a rollup table of `width`."""
    return bool((bounds_us % (width // timedelta(microseconds=1)) == 0).all())


def bucket_edges(b: Bucketing) -> list[datetime]:
    """[start of every bucket, end of the last] of a bucketing."""
    return list(b.edges) if b.edges is not None else [*b.starts(), b.end]


# Per-row aggregate columns (Good-only or all) for the aggregate functions, read in the same statement.
GRID_COLUMNS = {
    "count": "count",
    "avg": "sum",
    "min": "min",
    "max": "max",
    "first": "first_value",
    "last": "last_value",
}


def _grid_sql(good: bool, names: Sequence[str]) -> dict[str, tuple[str, str]]:
    """grid_<column> per aggregate function in `names` ("count", "avg", …)."""
    c = _columns(good)
    out = {}
    for name in names:
        column = GRID_COLUMNS[name]
        out[f"grid_{column}"] = (c[column], ">i4") if column == "count" else (f"coalesce({c[column]}, 'NaN')", ">f8")
    return out


async def rollup_rows(
    conn: Conn,
    signal_ids: Sequence[int],
    start: datetime,
    end: datetime,
    *,
    table: str,
    width: timedelta,
    good: bool,
    grid: Sequence[str] = (),
) -> RollupRead:
    """The rollup rows of `table` covering [start, end) of each signal with the context rows the edges need (the one
    reader, shared.history.rollups), plus the per-row aggregate columns of the functions `grid` (`extra`)."""
    columns = _columns(good)
    return await rollups.rollup_rows(
        conn,
        signal_ids,
        start,
        end,
        table=table,
        width=width,
        good=good,
        extra=_grid_sql(good, grid),
        packed_extra={f"grid_{GRID_COLUMNS[g]}": columns[GRID_COLUMNS[g]] for g in grid},
    )


async def raw_columns(conn: Conn, signal_ids: Sequence[int], start: datetime, end: datetime) -> dict[int, Columns]:
    """Per signal, its readings (every quality, time order) in [start, end) with the context the hold rule needs at
    the edges (the two before start and the first at or after end, at any distance), hot or compressed."""
    return await readings_between(conn, signal_ids, start, end, before=2, after=1)


RAW_NAMES = raw.RAW_NAMES


async def raw_buckets(
    conn: Conn, signal_ids: Sequence[int], b: Bucketing, *, good: bool
) -> dict[int, dict[str, list[Any]]]:
    """Per signal, arrays aligned to `b.starts()` (fixed sub-minute widths) of `RAW_NAMES`: count (0 where empty),
    avg … last (None where empty), from its readings in [b.start, b.end) (Good ones only with `good`)."""
    got = await readings_between(conn, signal_ids, b.start, b.end)
    origin, every = micros(b.origin), b.every // _ONE_US
    start = micros(b.start)
    return {
        sid: raw.bucket_stats(got[sid], origin_us=origin, every_us=every, start_us=start, size=b.count, good=good)
        for sid in signal_ids
    }


async def readings_page(
    conn: Conn, signal_id: int, start: datetime, end: datetime, *, after: datetime | None, limit: int
) -> list[dict[str, Any]]:
    """Raw readings {ts, value, quality} in ts order, `limit` of them, after the keyset cursor `after` when given."""
    lo = start if after is None else max(start, after + _ONE_US)
    got = await readings_between(conn, [signal_id], lo, end, limit=limit)
    return [{"ts": ts, "value": v, "quality": q} for ts, v, q in got[signal_id].rows()]


async def plant_net_output(conn: Conn, plant_key: str) -> tuple[int, int] | None:
    """(plant id, net-output signal id) of a plant, or None when either is missing."""
    row = await conn.fetchrow(
        """SELECT p.id, s.id AS signal_id FROM plants AS p
           JOIN signals AS s ON s.plant_id = p.id AND s.kind = 'net_output'
           WHERE p.key = $1 ORDER BY s.key LIMIT 1""",
        plant_key,
    )
    return None if row is None else (row["id"], row["signal_id"])


async def commitment_rows(
    conn: Conn, plant_id: int, start: datetime, end: datetime
) -> tuple[list[asyncpg.Record], list[asyncpg.Record], list[asyncpg.Record]]:
    """Commitments, per-period schedule overrides and exclusions touching [start, end)."""
    flat = await conn.fetch(
        """SELECT id, valid_from, valid_to, committed_mw, tolerance_mw, tolerance_pct, settlement_period_s
           FROM commitments WHERE plant_id = $1 AND valid_from < $3 AND (valid_to IS NULL OR valid_to > $2)
           ORDER BY valid_from""",
        plant_id,
        start,
        end,
    )
    schedule = await conn.fetch(
        """SELECT period_start, committed_mw FROM commitment_schedule
           WHERE plant_id = $1 AND period_start >= $2 AND period_start < $3""",
        plant_id,
        start,
        end,
    )
    exclusions = await conn.fetch(
        """SELECT starts_at, ends_at, reason FROM commitment_exclusions
           WHERE plant_id = $1 AND starts_at < $3 AND ends_at > $2 ORDER BY starts_at""",
        plant_id,
        start,
        end,
    )
    return flat, schedule, exclusions


async def frequency_readings(conn: Conn, signal_id: int, start: datetime, end: datetime) -> Columns:
    """A frequency signal's readings for the report over [start, end) (services/api/frequency.py): every quality,
    with the hold context at the edges."""
    return (await raw_columns(conn, [signal_id], start, end))[signal_id]
