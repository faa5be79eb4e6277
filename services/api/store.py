"""All of the api's SQL. Aggregates read the 1-minute rollups (sub-minute buckets, raw pages and frequency read
readings)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from services.api.buckets import MINUTE, Bucketing
from services.api.catalog import Catalog, Plant, Signal
from shared.db import one
from shared.quality import GOOD_SQL_PREDICATE
from shared.settlement import Reading
from shared.settlement.frequency import BAND_DEVIATION_SQL
from shared.settlement.integral import micros
from shared.settlement.rollup import RollupColumns

Conn = asyncpg.Connection

GOOD = GOOD_SQL_PREDICATE  # a literal range in the SQL text, so the planner sees it


def _columns(good: bool) -> dict[str, str]:
    """Rollup column names for the quality filter: good_* (Good only) or the plain ones (all readings)."""
    p = "good_" if good else ""
    return {k: p + k for k in ("count", "sum", "min", "max", "first_ts", "first_value", "last_ts", "last_value")}


def _bucket_sql(b: Bucketing, col: str, first_param: int) -> tuple[str, str, list[Any]]:
    """SQL for the start and end of the bucket holding `col`, and the parameters they use."""
    n = first_param
    if b.edges is None:
        start = f"date_bin(${n}::interval, {col}, ${n + 1}::timestamptz)"
        return start, f"({start} + ${n}::interval)", [b.every, b.origin]
    edges = f"${n}::timestamptz[]"
    return f"({edges})[width_bucket({col}, {edges})]", f"({edges})[width_bucket({col}, {edges}) + 1]", [list(b.edges)]


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
    """The newest reading (ts, value, quality int4) of each signal, found through its newest rollup row."""
    rows = await conn.fetch(
        """SELECT s.id, r.last_ts, r.last_value, q.quality
           FROM unnest($1::int4[]) AS s(id)
           CROSS JOIN LATERAL (SELECT last_ts, last_value FROM rollups_1m WHERE signal_id = s.id
                               ORDER BY bucket DESC LIMIT 1) AS r
           LEFT JOIN LATERAL (SELECT quality FROM readings WHERE signal_id = s.id AND ts = r.last_ts) AS q ON true""",
        list(signal_ids),
    )
    return {r["id"]: (r["last_ts"], r["last_value"], r["quality"] or 0) for r in rows}


GRID_FUNCTIONS = ("avg", "min", "max", "first", "last")


def grid_names(fns: Sequence[str]) -> list[str]:
    """The arrays `aggregate_grid` returns for `fns`, in order."""
    return list(dict.fromkeys(["count", *[f for f in fns if f in GRID_FUNCTIONS]]))


def _aggregate_exprs(c: dict[str, str], fns: Sequence[str], one_row: bool) -> dict[str, str]:
    """SQL per output array; over one rollup row per bucket (1m) or grouped minute rows. Only what is asked."""
    if one_row:
        exprs = {
            "count": f"{c['count']}::int8",
            "avg": f"{c['sum']} / {c['count']}",
            "min": c["min"],
            "max": c["max"],
            "first": c["first_value"],
            "last": c["last_value"],
        }
    else:
        exprs = {
            "count": f"sum({c['count']})::int8",
            "avg": f"sum({c['sum']}) / sum({c['count']})",
            "min": f"min({c['min']})",
            "max": f"max({c['max']})",
            "first": f"(min(ARRAY[date_part('epoch', {c['first_ts']}), {c['first_value']}]))[2]",
            "last": f"(max(ARRAY[date_part('epoch', {c['last_ts']}), {c['last_value']}]))[2]",
        }
    return {k: exprs[k] for k in grid_names(fns)}


def _grid_index(b: Bucketing) -> Any:
    """Epoch seconds of a bucket start → its index in `b.starts()`."""
    if b.edges is None:
        origin, width = b.start.timestamp(), b.every.total_seconds()
        return lambda epoch: round((epoch - origin) / width)
    index = {e.timestamp(): i for i, e in enumerate(b.edges[:-1])}
    return lambda epoch: index[epoch]


async def aggregate_grid(
    conn: Conn, signal_ids: Sequence[int], b: Bucketing, fns: Sequence[str], *, good: bool
) -> dict[int, dict[str, list[Any]]]:
    """Per signal, arrays aligned to `b.starts()`: count (0 where empty) and each of `fns` except twa (None where
    empty), from the coarsest rollup table aligned with the buckets. Arrays are built in PostgreSQL, one index scan
    per signal; bucket times are placed only for signals with empty buckets, so wide requests cost little in Python.
    """
    c = _columns(good)
    table, width = rollup_table(bucket_edges(b))
    one_row = b.edges is None and b.every == width
    exprs = _aggregate_exprs(c, fns, one_row)
    if one_row:
        inner = f"""SELECT bucket AS b, {", ".join(f"{e} AS {k}" for k, e in exprs.items())} FROM {table}
                    WHERE signal_id = s.id AND bucket >= $2 AND bucket < $3 AND {c["count"]} > 0"""
        params: list[Any] = []
    else:
        start, _, params = _bucket_sql(b, "bucket", 4)
        inner = f"""SELECT {start} AS b, {", ".join(f"{e} AS {k}" for k, e in exprs.items())} FROM {table}
                    WHERE signal_id = s.id AND bucket >= $2 AND bucket < $3 AND {c["count"]} > 0 GROUP BY 1"""
    arrays = ", ".join(f"array_agg({k} ORDER BY b) AS {k}" for k in exprs)
    # The bucket times come in the same statement as the values (one snapshot): a second query could see a bucket
    # that a concurrent write has just filled, and the two would no longer line up.
    sql = f"""SELECT s.id, x.* FROM unnest($1::int4[]) AS s(id)
              CROSS JOIN LATERAL (SELECT count(*) AS n, array_agg(date_part('epoch', b) ORDER BY b) AS bucket_epochs,
                                         {arrays} FROM ({inner}) AS g) AS x"""
    rows = await conn.fetch(sql, list(signal_ids), b.start, b.end, *params)
    size = b.count
    position = _grid_index(b)
    out: dict[int, dict[str, list[Any]]] = {}
    for r in rows:
        if r["n"] == size:
            out[r["id"]] = {k: list(r[k]) for k in exprs}
        else:
            out[r["id"]] = _spread(r, list(exprs), [position(t) for t in r["bucket_epochs"] or []], size)
    for sid in signal_ids:
        out.setdefault(sid, _spread({}, list(exprs), [], size))
    return out


def _spread(row: Any, names: Sequence[str], positions: Sequence[int], size: int) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for k in names:
        dense: list[Any] = [0] * size if k == "count" else [None] * size
        for i, v in zip(positions, row[k] if positions else (), strict=True):
            dense[i] = v
        out[k] = dense
    return out


# Rollup rows for the exact held integral (shared/settlement/rollup.py): the rows inside [$2, $3) plus the two
# before $2 and the one at or after $3, at any distance (the holds at the edges depend on them).
_ROLLUP_ROWS_SQL = """
SELECT s.id AS signal_id, {arrays} FROM unnest($1::int4[]) AS s(id) CROSS JOIN LATERAL (
    SELECT * FROM (
        (SELECT {cols} FROM {table} WHERE signal_id = s.id AND bucket < $2 ORDER BY bucket DESC LIMIT 2)
        UNION ALL
        (SELECT {cols} FROM {table} WHERE signal_id = s.id AND bucket >= $2 AND bucket < $3)
        UNION ALL
        (SELECT {cols} FROM {table} WHERE signal_id = s.id AND bucket >= $3 ORDER BY bucket LIMIT 1)
    ) AS u
) AS x GROUP BY s.id
"""
_US = "(extract(epoch FROM {0}) * 1000000)::int8"
ROLLUP_COLUMNS = {
    "start_us": _US.format("bucket"),
    "first_us": _US.format("first_ts"),
    "last_us": _US.format("last_ts"),
    "last_value": "last_value",
    "last_good": "good_last_ts IS NOT DISTINCT FROM last_ts",
    "last_step_s": "last_step_s",
    "max_step_s": "max_step_s",
    "area": "area",
    "good_area": "good_area",
    "good_held_s": "good_held_s",
}
# Rollup tables, coarsest first, with their bucket widths (all aligned to UTC midnight).
ROLLUP_TABLES = (("rollups_1h", timedelta(hours=1)), ("rollups_15m", timedelta(minutes=15)), ("rollups_1m", MINUTE))


def rollup_table(edges: Sequence[datetime]) -> tuple[str, timedelta]:
    """The coarsest rollup table whose buckets fall on every edge."""
    return next((t, w) for t, w in ROLLUP_TABLES if aligned(edges, w))


def aligned(edges: Sequence[datetime], width: timedelta) -> bool:
    step = width // timedelta(microseconds=1)
    return all(micros(e) % step == 0 for e in edges)


def bucket_edges(b: Bucketing) -> list[datetime]:
    """[start of every bucket, end of the last] of a bucketing."""
    return list(b.edges) if b.edges is not None else [*b.starts(), b.end]


async def rollup_rows(
    conn: Conn, signal_ids: Sequence[int], start: datetime, end: datetime, *, table: str = "rollups_1m"
) -> dict[int, RollupColumns]:
    """Per signal, its rollup rows of `table` covering [start, end) with the context rows the edges need, as
    columns in time order (one row per signal comes back: arrays built in PostgreSQL)."""
    cols = ", ".join(f"{expr} AS {name}" for name, expr in ROLLUP_COLUMNS.items())
    arrays = ", ".join(f"array_agg(x.{name} ORDER BY x.start_us) AS {name}" for name in ROLLUP_COLUMNS)
    rows = await conn.fetch(
        _ROLLUP_ROWS_SQL.format(cols=cols, arrays=arrays, table=table), list(signal_ids), start, end
    )
    out = {sid: RollupColumns(*([] for _ in ROLLUP_COLUMNS)) for sid in signal_ids}
    for r in rows:
        out[r["signal_id"]] = RollupColumns(*(list(r[name]) for name in ROLLUP_COLUMNS))
    return out


# Raw readings of every quality in [$2, $3) plus the two before $2 and the one at or after $3 (any distance).
_RAW_READINGS_SQL = """
SELECT s.id AS signal_id, x.* FROM unnest($1::int4[]) AS s(id) CROSS JOIN LATERAL (
    (SELECT ts, value, quality FROM readings WHERE signal_id = s.id AND ts < $2 ORDER BY ts DESC LIMIT 2)
    UNION ALL
    (SELECT ts, value, quality FROM readings WHERE signal_id = s.id AND ts >= $2 AND ts < $3)
    UNION ALL
    (SELECT ts, value, quality FROM readings WHERE signal_id = s.id AND ts >= $3 ORDER BY ts LIMIT 1)
) AS x ORDER BY 1, x.ts
"""


async def raw_readings(
    conn: Conn, signal_ids: Sequence[int], start: datetime, end: datetime
) -> dict[int, list[Reading]]:
    """Per signal, its readings (every quality, time order) in [start, end) with the context the edges need."""
    rows = await conn.fetch(_RAW_READINGS_SQL, list(signal_ids), start, end)
    out: dict[int, list[Reading]] = {sid: [] for sid in signal_ids}
    for r in rows:
        out[r["signal_id"]].append(Reading(r["ts"], r["value"], r["quality"]))
    return out


# Sub-minute buckets from raw readings ({q}: the quality filter): count, avg, min, max, first, last of the readings
# in each bucket. Held area and coverage come from `raw_readings` and shared.settlement, not from here.
_RAW_BUCKETS_SQL = """
SELECT signal_id, date_part('epoch', date_bin($4, ts, $5)) AS epoch, count(*) AS count, avg(value) AS avg,
       min(value) AS min, max(value) AS max, (array_agg(value ORDER BY ts))[1] AS first,
       (array_agg(value ORDER BY ts DESC))[1] AS last
FROM readings WHERE signal_id = ANY($1) AND ts >= $2 AND ts < $3 AND {q} GROUP BY 1, 2
"""

RAW_NAMES = ("count", "avg", "min", "max", "first", "last")


async def raw_buckets(
    conn: Conn, signal_ids: Sequence[int], b: Bucketing, *, good: bool
) -> dict[int, dict[str, list[Any]]]:
    """Per signal, arrays aligned to `b.starts()` (fixed sub-minute widths) of `RAW_NAMES`, in one query:
    count (0 where empty), avg … last (None where empty)."""
    sql = _RAW_BUCKETS_SQL.format(q=GOOD if good else "true")
    rows = await conn.fetch(sql, list(signal_ids), b.start, b.end, b.every, b.origin)
    size, position = b.count, _grid_index(b)
    out = {sid: {k: [0] * size if k == "count" else [None] * size for k in RAW_NAMES} for sid in signal_ids}
    for r in rows:
        i = position(r["epoch"])
        for k in RAW_NAMES:
            out[r["signal_id"]][k][i] = r[k]
    return out


async def readings_page(
    conn: Conn, signal_id: int, start: datetime, end: datetime, *, after: datetime | None, limit: int
) -> list[asyncpg.Record]:
    """Raw readings in ts order, `limit` of them, after the keyset cursor `after` when given."""
    if after is None:
        return await conn.fetch(
            """SELECT ts, value, quality FROM readings WHERE signal_id = $1 AND ts >= $2 AND ts < $3
               ORDER BY ts LIMIT $4""",
            signal_id,
            start,
            end,
            limit,
        )
    return await conn.fetch(
        """SELECT ts, value, quality FROM readings WHERE signal_id = $1 AND ts >= $2 AND ts < $3 AND ts > $5
           ORDER BY ts LIMIT $4""",
        signal_id,
        start,
        end,
        limit,
        after,
    )


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


# Frequency quality from raw readings with the settlement hold rule (shared/settlement/integral.py): holds are taken
# over readings of every quality (with the two before $2 and the one after $3 as context), clipped to [$2, $3), and
# only Good readings' holds count. Band membership in integer mHz (shared/settlement/frequency.py). $5 = max gap.
_HELD_SQL = f"""
WITH x AS (
    (SELECT ts, value, quality FROM readings WHERE signal_id = $1 AND ts < $2 ORDER BY ts DESC LIMIT 2)
    UNION ALL
    (SELECT ts, value, quality FROM readings WHERE signal_id = $1 AND ts >= $2 AND ts < $3)
    UNION ALL
    (SELECT ts, value, quality FROM readings WHERE signal_id = $1 AND ts >= $3 ORDER BY ts LIMIT 1)
), r AS (
    SELECT ts, value, {GOOD} AS good, date_part('epoch', lead(ts) OVER w - ts) AS gap,
           date_part('epoch', ts - lag(ts) OVER w) AS previous_step
    FROM x WINDOW w AS (ORDER BY ts)
), held AS (
    SELECT *, ts + make_interval(secs => CASE WHEN gap <= $5 THEN gap ELSE least(coalesce(previous_step, 0), $5) END)
              AS held_to
    FROM r
), h AS (
    SELECT ts, value, good, ts >= $2 AS inside, {BAND_DEVIATION_SQL.format(value="value", nominal="$4::float8")} AS dev,
           coalesce(previous_step > $5, true) AS after_gap, least(held_to, $3) AS held_to,
           greatest(0, date_part('epoch', least(held_to, $3) - greatest(ts, $2))) AS hold
    FROM held WHERE ts < $3 AND held_to > $2
)
"""


async def frequency_summary(
    conn: Conn,
    signal_id: int,
    start: datetime,
    end: datetime,
    *,
    nominal: float,
    bands_mhz: Sequence[int],
    max_gap_s: float,
) -> asyncpg.Record:
    """min, max, time-weighted mean, samples, covered seconds and seconds inside each ±band (Good readings)."""
    inside = ", ".join(
        f"coalesce(sum(hold) FILTER (WHERE dev <= ${6 + i}), 0) AS inside_{i}" for i in range(len(bands_mhz))
    )
    sql = (
        _HELD_SQL
        + f"""SELECT min(value) FILTER (WHERE inside) AS min, max(value) FILTER (WHERE inside) AS max,
                                 sum(value * hold) / nullif(sum(hold), 0) AS mean,
                                 count(*) FILTER (WHERE inside) AS samples, coalesce(sum(hold), 0) AS covered,
                                 {inside} FROM h WHERE good"""
    )
    return one(await conn.fetchrow(sql, signal_id, start, end, nominal, float(max_gap_s), *map(int, bands_mhz)))


async def frequency_excursions(
    conn: Conn,
    signal_id: int,
    start: datetime,
    end: datetime,
    *,
    nominal: float,
    band_mhz: int,
    max_gap_s: float,
    min_s: float,
    limit: int,
) -> list[asyncpg.Record]:
    """Runs of Good readings beyond ±band (a reading back inside, a non-Good reading or a gap longer than the
    maximum ends a run): start, end (the last reading's hold), extreme value, samples."""
    sql = (
        _HELD_SQL
        + """, g AS (
        SELECT *, sum(CASE WHEN dev <= $6 OR after_gap OR NOT good THEN 1 ELSE 0 END) OVER (ORDER BY ts) AS grp
        FROM h
    )
    SELECT greatest(min(ts), $2) AS start, max(held_to) AS end, (max(ARRAY[dev::float8, value]))[2] AS extreme,
           count(*) AS samples
    FROM g WHERE dev > $6 AND good GROUP BY grp
    HAVING date_part('epoch', max(held_to) - greatest(min(ts), $2)) >= $7
    ORDER BY 1 LIMIT $8"""
    )
    return await conn.fetch(sql, signal_id, start, end, nominal, float(max_gap_s), int(band_mhz), float(min_s), limit)
