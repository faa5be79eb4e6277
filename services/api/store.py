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

from services.api.buckets import MINUTE, Bucketing
from services.api.catalog import Catalog, Plant, Signal
from shared.db import one
from shared.quality import GOOD_SQL_PREDICATE
from shared.settlement import Reading
from shared.settlement.frequency import BAND_DEVIATION_SQL
from shared.settlement.rollup import RollupColumns

Conn = asyncpg.Connection

GOOD = GOOD_SQL_PREDICATE  # a literal range in the SQL text, so the planner sees it


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
SELECT array_send(array_agg(s.k - 1)) AS k, {arrays}
FROM unnest($1::int4[]) WITH ORDINALITY AS s(id, k) CROSS JOIN LATERAL (
    (SELECT * FROM (SELECT * FROM {table} WHERE signal_id = s.id AND bucket < $2 ORDER BY bucket DESC LIMIT 2) AS b
     ORDER BY bucket)
    UNION ALL
    (SELECT * FROM {table} WHERE signal_id = s.id AND bucket >= $2 AND bucket < $3)
    UNION ALL
    (SELECT * FROM {table} WHERE signal_id = s.id AND bucket >= $3 ORDER BY bucket LIMIT 1)
) AS x
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
_PG_EPOCH_US = 946_684_800_000_000  # binary timestamptz: µs since 2000-01-01 UTC


def _grid_sql(good: bool, names: Sequence[str]) -> dict[str, tuple[str, str]]:
    """grid_<column> per aggregate function in `names` ("count", "avg", …)."""
    c = _columns(good)
    out = {}
    for name in names:
        column = GRID_COLUMNS[name]
        out[f"grid_{column}"] = (c[column], ">i4") if column == "count" else (f"coalesce({c[column]}, 'NaN')", ">f8")
    return out


def unpack_array(data: bytes | None, element: str) -> npt.NDArray[Any]:
    """A one-dimensional array without NULLs in PostgreSQL's binary form (array_send) → numpy; `element` a numpy
    type code of the big-endian element, or "ts" for timestamptz (→ epoch µs)."""
    code = ">i8" if element == "ts" else element
    if data is None or int.from_bytes(data[:4], "big") == 0:  # array_agg of no rows, or an empty array
        return np.zeros(0, np.dtype(code).newbyteorder("="))
    if int.from_bytes(data[:4], "big") != 1 or int.from_bytes(data[4:8], "big") != 0:
        raise ValueError("expected a one-dimensional array without NULLs")
    count = int.from_bytes(data[12:16], "big")
    cells = np.frombuffer(data, np.dtype([("n", ">i4"), ("v", code)]), count, offset=20)
    values = cells["v"].astype(np.dtype(code).newbyteorder("="))
    return values + _PG_EPOCH_US if element == "ts" else values


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
    row = one(await conn.fetchrow(_ROLLUP_ROWS_SQL.format(arrays=arrays, table=table), list(signal_ids), start, end))
    got = {name: unpack_array(row[name], element) for name, (_, element) in wanted.items()}
    group = unpack_array(row["k"], ">i8")
    first = got["first_us"]
    starts = first - first % (width // timedelta(microseconds=1))
    later = (group[1:] > group[:-1]) | ((group[1:] == group[:-1]) & (starts[1:] > starts[:-1]))
    if not later.all():  # array_agg kept no order: rows in order of signal, then time
        order = np.lexsort((starts, group))
        got, starts, group = {name: v[order] for name, v in got.items()}, starts[order], group[order]
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
