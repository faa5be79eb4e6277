"""All of the api's SQL. Aggregates read the 1-minute rollups (sub-minute buckets, raw pages and frequency read
readings)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import numpy as np
import numpy.typing as npt

from services.api import raw
from services.api.buckets import MINUTE, Bucketing
from services.api.catalog import Catalog, Plant, Signal
from shared.db import one
from shared.history.columns import Columns
from shared.history.packed import context_mask, row_columns
from shared.history.reader import readings_between
from shared.history.spans import DAY, day_start
from shared.pgbinary import unpack_array
from shared.quality import GOOD_SQL_PREDICATE
from shared.settlement.integral import micros
from shared.settlement.rollup import RollupColumns

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


# Rollup rows for the exact held integral (shared/settlement/rollup.py): per signal the rows inside [$2, $3) plus the
# two before $2 and the one at or after $3, at any distance (the holds at the edges depend on them). One row comes
# back: each column an array over all the signals' rows in PostgreSQL's binary form (array_send), read straight into
# numpy, with the signal's position in $1 (`k`): no Python object per value. No ORDER BY in array_agg (it sorts once
# per column): rows come in order of signal and time from the ordered parts, and are sorted in numpy should they not.
_ROLLUP_ROWS_SQL = """
SELECT NULL::int8 AS packed_k, NULL::bytea AS payload, array_send(array_agg(s.k - 1)) AS k, {arrays}
FROM unnest($1::int4[]) WITH ORDINALITY AS s(id, k) CROSS JOIN LATERAL (
    (SELECT * FROM (SELECT * FROM {table} WHERE signal_id = s.id AND bucket < $2 ORDER BY bucket DESC LIMIT 2) AS b
     ORDER BY bucket)
    UNION ALL
    (SELECT * FROM {table} WHERE signal_id = s.id AND bucket >= $2 AND bucket < $3)
    UNION ALL
    (SELECT * FROM {table} WHERE signal_id = s.id AND bucket >= $3 ORDER BY bucket LIMIT 1)
) AS x
"""
# rollups_1m's minutes of packed days (shared/history/packed.py) come in the same statement (one snapshot: a day
# packed between two statements would be read twice or not at all): per signal the packed days overlapping
# [$2, $3) ($4 = the first day, $5 = the day after the last) and, for the context rows, the two packed days before
# and the one after (a packed day holds at least one minute). Rows are cut to the range and context in numpy.
_PACKED_SQL = """
UNION ALL
SELECT s.k - 1, d.payload, {nulls}
FROM unnest($1::int4[]) WITH ORDINALITY AS s(id, k) CROSS JOIN LATERAL (
    (SELECT payload FROM rollup_days WHERE signal_id = s.id AND day < $4 ORDER BY day DESC LIMIT 2)
    UNION ALL
    (SELECT payload FROM rollup_days WHERE signal_id = s.id AND day >= $4 AND day < $5)
    UNION ALL
    (SELECT payload FROM rollup_days WHERE signal_id = s.id AND day >= $5 ORDER BY day LIMIT 1)
) AS d
"""
# name: (SQL expression, binary element type); NULLs would break the fixed stride, so they become NaN. A row's start
# is not read: it is its first reading's time floored to the table's width.
ROLLUP_COLUMNS = {
    "first_us": ("first_ts", "ts"),
    "last_us": ("last_ts", "ts"),
    "last_value": ("last_value", ">f8"),
    "last_good": ("good_last_ts IS NOT DISTINCT FROM last_ts", "?"),
    "last_step_s": ("coalesce(last_step_s, 'NaN')", ">f8"),
    "max_step_s": ("max_step_s", ">f8"),
}
INNER_COLUMNS = {  # the inner areas, by quality filter
    True: {"good_area": ("good_area", ">f8"), "good_held_s": ("good_held_s", ">f8")},
    False: {"area": ("area", ">f8")},
}
# Rollup tables, coarsest first, with their bucket widths (all aligned to UTC midnight).
ROLLUP_TABLES = (("rollups_1h", timedelta(hours=1)), ("rollups_15m", timedelta(minutes=15)), ("rollups_1m", MINUTE))


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


@dataclass(slots=True)
class RollupRead:
    """Rollup rows of many signals: the columns (rows ordered by signal, then time), each row's signal as an index
    into the signal ids asked for, and the per-row aggregate columns asked for (grid_count, grid_sum, …)."""

    columns: RollupColumns
    group: npt.NDArray[np.int64]
    grid: dict[str, npt.NDArray[Any]]


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
    """The rollup rows of `table` (rows of `width`) covering [start, end) of each signal, with the context rows the
    edges need; the inner areas of the quality filter `good`, and the aggregate columns of the functions `grid`."""
    wanted = ROLLUP_COLUMNS | INNER_COLUMNS[good] | _grid_sql(good, grid)
    arrays = ", ".join(f"array_send(array_agg({expr})) AS {name}" for name, (expr, _) in wanted.items())
    sql = _ROLLUP_ROWS_SQL.format(arrays=arrays, table=table)
    args: list[Any] = [list(signal_ids), start, end]
    if table == "rollups_1m":
        sql += _PACKED_SQL.format(nulls=", ".join(["NULL::bytea"] * (len(wanted) + 1)))
        args += [day_start(start).date(), (day_start(end - _ONE_US) + DAY).date()]
    rows = await conn.fetch(sql, *args)
    hot = one(next((r for r in rows if r["payload"] is None), None))
    got = {name: unpack_array(hot[name], element) for name, (_, element) in wanted.items()}
    group = unpack_array(hot["k"], ">i8")
    payloads = [(r["packed_k"], r["payload"]) for r in rows if r["payload"] is not None]
    if payloads:
        c = _columns(good)
        names = {f"grid_{GRID_COLUMNS[g]}": c[GRID_COLUMNS[g]] for g in grid}
        packed_group, packed_got = row_columns(payloads, good, names)
        got = {name: np.concatenate((got[name], packed_got[name])) for name in got}
        group = np.concatenate((group, packed_group))
    first = got["first_us"]
    starts = first - first % (width // timedelta(microseconds=1))
    later = (group[1:] > group[:-1]) | ((group[1:] == group[:-1]) & (starts[1:] > starts[:-1]))
    if not later.all():  # array_agg kept no order: rows in order of signal, then time
        order = np.lexsort((starts, group))
        got, starts, group = {name: v[order] for name, v in got.items()}, starts[order], group[order]
    if payloads:  # packed days hold whole days: cut to the range and its context rows
        n = len(signal_ids)
        lo, hi = np.full(n, micros(start), np.int64), np.full(n, micros(end), np.int64)
        keep = context_mask(group, starts, lo, hi, before=2, after=1)
        got, starts, group = {name: v[keep] for name, v in got.items()}, starts[keep], group[keep]
    empty = np.zeros(0)
    columns = RollupColumns(
        starts,
        got["first_us"],
        got["last_us"],
        got["last_value"],
        got["last_good"],
        got["last_step_s"],
        got["max_step_s"],
        got.get("area", empty),
        got.get("good_area", empty),
        got.get("good_held_s", empty),
    )
    return RollupRead(columns, group, {name: v for name, v in got.items() if name.startswith("grid_")})


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
