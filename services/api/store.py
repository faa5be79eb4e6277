"""All of the api's SQL. Aggregates read the 1-minute rollups (sub-minute buckets, raw pages and frequency read
readings)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from services.api.buckets import MINUTE, Bucketing
from services.api.catalog import Catalog, Plant, Signal
from services.api.energy import Integral
from shared.db import UNAVAILABLE_ERRORS, asyncpg_dsn
from shared.quality import GOOD_SQL_PREDICATE

Conn = asyncpg.Connection | asyncpg.Pool

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
        [Signal(r["id"], r["key"], r["plant_id"], r["kind"], r["unit"], r["min_value"], r["max_value"],
                r["description"]) for r in signals],
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
    return list(dict.fromkeys(["count", "minutes", *[f for f in fns if f in GRID_FUNCTIONS]]))


def _aggregate_exprs(c: dict[str, str], fns: Sequence[str], one_row: bool) -> dict[str, str]:
    """SQL per output array; over one rollup row per bucket (1m) or grouped minute rows. Only what is asked."""
    if one_row:
        exprs = {"count": f"{c['count']}::int8", "avg": f"{c['sum']} / {c['count']}", "min": c["min"], "max": c["max"],
                 "first": c["first_value"], "last": c["last_value"], "minutes": "1"}
    else:
        exprs = {"count": f"sum({c['count']})::int8", "avg": f"sum({c['sum']}) / sum({c['count']})",
                 "min": f"min({c['min']})",
                 "max": f"max({c['max']})",
                 "first": f"(min(ARRAY[date_part('epoch', {c['first_ts']}), {c['first_value']}]))[2]",
                 "last": f"(max(ARRAY[date_part('epoch', {c['last_ts']}), {c['last_value']}]))[2]",
                 "minutes": "count(*)"}
    return {k: exprs[k] for k in grid_names(fns)}


def _grid_index(b: Bucketing) -> Any:
    """Epoch seconds of a bucket start → its index in `b.starts()`."""
    if b.edges is None:
        origin, width = b.start.timestamp(), b.every.total_seconds()
        return lambda epoch: round((epoch - origin) / width)
    index = {e.timestamp(): i for i, e in enumerate(b.edges[:-1])}
    return lambda epoch: index[epoch]


async def aggregate_grid(conn: Conn, signal_ids: Sequence[int], b: Bucketing, fns: Sequence[str], *,
                         good: bool) -> dict[int, dict[str, list[Any]]]:
    """Per signal, arrays aligned to `b.starts()`: count and minutes with counted readings (0 where empty) and
    each of `fns` except twa (None where empty). Arrays are built in PostgreSQL, one index scan per signal;
    bucket times are fetched only for signals with empty buckets, so wide requests cost little in Python.
    """
    c = _columns(good)
    one_row = b.edges is None and b.every == MINUTE
    exprs = _aggregate_exprs(c, fns, one_row)
    if one_row:
        inner = f"""SELECT bucket AS b, {', '.join(f'{e} AS {k}' for k, e in exprs.items())} FROM rollups_1m
                    WHERE signal_id = s.id AND bucket >= $2 AND bucket < $3 AND {c['count']} > 0"""
        params: list[Any] = []
    else:
        start, _, params = _bucket_sql(b, "bucket", 4)
        inner = f"""SELECT {start} AS b, {', '.join(f'{e} AS {k}' for k, e in exprs.items())} FROM rollups_1m
                    WHERE signal_id = s.id AND bucket >= $2 AND bucket < $3 AND {c['count']} > 0 GROUP BY 1"""
    arrays = ", ".join(f"array_agg({k} ORDER BY b) AS {k}" for k in exprs)
    sql = f"""SELECT s.id, x.* FROM unnest($1::int4[]) AS s(id)
              CROSS JOIN LATERAL (SELECT count(*) AS n, {arrays} FROM ({inner}) AS g) AS x"""
    rows = await conn.fetch(sql, list(signal_ids), b.start, b.end, *params)
    size = b.count
    out: dict[int, dict[str, list[Any]]] = {}
    sparse = []
    for r in rows:
        if r["n"] == size:
            out[r["id"]] = {k: list(r[k]) for k in exprs}
        else:
            sparse.append(r)
    if sparse:
        times_sql = f"""SELECT s.id, (SELECT array_agg(date_part('epoch', b) ORDER BY b) FROM ({inner}) AS g) AS t
                        FROM unnest($1::int4[]) AS s(id)"""
        times = {r["id"]: r["t"] or [] for r in await conn.fetch(times_sql, [r["id"] for r in sparse], b.start,
                                                                  b.end, *params)}
        position = _grid_index(b)
        for r in sparse:
            out[r["id"]] = _spread(r, list(exprs), [position(t) for t in times[r["id"]]], size)
    for sid in signal_ids:
        out.setdefault(sid, _spread({}, list(exprs), [], size))
    return out


def _spread(row: Any, names: Sequence[str], positions: Sequence[int], size: int) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for k in names:
        dense: list[Any] = [0] * size if k in ("count", "minutes") else [None] * size
        for i, v in zip(positions, row[k] if positions else (), strict=True):
            dense[i] = v
        out[k] = dense
    return out


# The sample-and-hold (or trapezoid) integral from minute rows. Within a minute the n good samples are taken as
# evenly spaced over [first_ts, last_ts] (exact for fixed-rate scans); between minutes the true first/last
# samples are joined. A sample holds until the next one if that comes within $4 seconds; otherwise (a gap, or the
# end of the data) it holds as long as the step before it, at most $4 s. A hold crossing a bucket edge is split.
# Result: area (value·s) and covered seconds per signal and bucket.
_INTEGRAL_SQL = """
WITH m AS (
    SELECT signal_id, bucket, {count} AS n, {sum} AS s, {first_ts} AS ft, {first_value} AS fv, {last_ts} AS lt,
           {last_value} AS lv, lead({first_ts}) OVER w AS nft, lead({first_value}) OVER w AS nfv,
           lag({last_ts}) OVER w AS plt
    FROM rollups_1m WHERE signal_id = ANY($1) AND bucket >= $2 AND bucket < $3 AND {count} > 0
    WINDOW w AS (PARTITION BY signal_id ORDER BY bucket)
), p AS (
    SELECT signal_id, s, fv, lv, nfv, lt, {pb} AS pb, {pe} AS pe,
           CASE WHEN n > 1 THEN date_part('epoch', lt - ft) / (n - 1) ELSE 0 END AS spacing,
           (n - 1) AS steps, date_part('epoch', nft - lt) AS gap,
           CASE WHEN n > 1 THEN date_part('epoch', lt - ft) / (n - 1)
                ELSE coalesce(date_part('epoch', ft - plt), 0) END AS previous_step
    FROM m
), h AS (
    SELECT *, coalesce(gap <= $4, false) AS bridged,
           CASE WHEN gap <= $4 THEN gap ELSE least(previous_step, $4) END AS hold
    FROM p
), q AS (
    SELECT *, least(hold, date_part('epoch', pe - lt)) AS t1 FROM h
), r AS MATERIALIZED (
    SELECT *, CASE WHEN spacing > $4 THEN (s - lv) * $4 ELSE {inner} END AS inner_area,
           steps * least(spacing, $4) AS inner_cov,
           CASE WHEN {trapezoid} AND bridged THEN lv + (nfv - lv) * t1 / gap END AS vb
    FROM q
), parts AS (
    SELECT signal_id, pb AS b,
           inner_area + CASE WHEN vb IS NULL THEN lv * t1 ELSE (lv + vb) / 2 * t1 END AS area,
           inner_cov + t1 AS covered
    FROM r
    UNION ALL
    SELECT signal_id, pe AS b,
           CASE WHEN vb IS NULL THEN lv * (hold - t1) ELSE (vb + nfv) / 2 * (hold - t1) END, hold - t1
    FROM r WHERE hold > t1
)
SELECT signal_id, b, sum(area) AS area, sum(covered) AS covered FROM parts
WHERE b >= $5 AND b < $6 GROUP BY 1, 2 ORDER BY 1, 2
"""


async def integrals(conn: Conn, signal_ids: Sequence[int], b: Bucketing, *, good: bool, method: str,
                    max_gap_s: float) -> dict[tuple[int, datetime], Integral]:
    """Time integral of each signal per bucket (see `_INTEGRAL_SQL`)."""
    start, end, params = _bucket_sql(b, "bucket", 7)
    trapezoid = method == "trapezoid"
    inner = "(s - (fv + lv) / 2) * spacing" if trapezoid else "(s - lv) * spacing"
    sql = _INTEGRAL_SQL.format(**_columns(good), pb=start, pe=end, inner=inner, trapezoid="true" if trapezoid
                               else "false")
    rows = await conn.fetch(sql, list(signal_ids), b.start - 2 * MINUTE, b.end + MINUTE, float(max_gap_s), b.start,
                            b.end, *params)
    return {(r["signal_id"], r["b"]): Integral(r["area"], r["covered"]) for r in rows}


# Sub-minute buckets from raw readings ({q}: the quality filter). Per bucket: count, avg, min, max, first, last of
# the readings in it, and the sample-and-hold integral as in `_INTEGRAL_SQL` but exact: a reading holds until the
# next one if that comes within $5 s, else as long as the step before it, at most $5 s; a hold is split over the
# buckets it crosses. The last reading before $2 and the first at or after $4 give the steps at the edges.
_RAW_BUCKETS_SQL = """
WITH x AS (
    SELECT signal_id, ts, value FROM readings WHERE signal_id = ANY($1) AND ts >= $2 AND ts < $4 AND {q}
    UNION ALL
    SELECT s.id, e.ts, e.value FROM unnest($1::int4[]) AS s(id)
    CROSS JOIN LATERAL (SELECT ts, value FROM readings WHERE signal_id = s.id AND ts < $2 AND {q}
                        ORDER BY ts DESC LIMIT 1) AS e
    UNION ALL
    SELECT s.id, e.ts, e.value FROM unnest($1::int4[]) AS s(id)
    CROSS JOIN LATERAL (SELECT ts, value FROM readings WHERE signal_id = s.id AND ts >= $4 AND {q}
                        ORDER BY ts LIMIT 1) AS e
), r AS (
    SELECT signal_id, ts, value, date_part('epoch', lead(ts) OVER w - ts) AS gap,
           date_part('epoch', ts - lag(ts) OVER w) AS previous_step
    FROM x WINDOW w AS (PARTITION BY signal_id ORDER BY ts)
), h AS (
    SELECT signal_id, ts, value,
           ts + make_interval(secs => CASE WHEN gap <= $5 THEN gap ELSE least(coalesce(previous_step, 0), $5) END)
               AS held_to
    FROM r WHERE ts >= $2 AND ts < $4
), held AS (
    SELECT h.signal_id, k AS b,
           sum(h.value * date_part('epoch', least(h.held_to, k + $6) - greatest(h.ts, k))) AS area,
           sum(date_part('epoch', least(h.held_to, k + $6) - greatest(h.ts, k))) AS covered
    FROM h CROSS JOIN LATERAL generate_series(date_bin($6, h.ts, $7), h.held_to, $6) AS k
    WHERE h.held_to > h.ts AND k < h.held_to AND k >= $3 AND k < $4
    GROUP BY 1, 2
), agg AS (
    SELECT signal_id, date_bin($6, ts, $7) AS b, count(*) AS count, avg(value) AS avg, min(value) AS min,
           max(value) AS max, (array_agg(value ORDER BY ts))[1] AS first,
           (array_agg(value ORDER BY ts DESC))[1] AS last
    FROM r WHERE ts >= $3 AND ts < $4 GROUP BY 1, 2
)
SELECT signal_id, date_part('epoch', b) AS epoch, coalesce(a.count, 0) AS count, a.avg, a.min, a.max, a.first,
       a.last, coalesce(d.area, 0) AS area, coalesce(d.covered, 0) AS covered
FROM agg AS a FULL JOIN held AS d USING (signal_id, b)
"""

RAW_NAMES = ("count", "avg", "min", "max", "first", "last", "area", "covered")


async def raw_buckets(conn: Conn, signal_ids: Sequence[int], b: Bucketing, *, good: bool, max_gap_s: float
                      ) -> dict[int, dict[str, list[Any]]]:
    """Per signal, arrays aligned to `b.starts()` (fixed sub-minute widths) of `RAW_NAMES`, in one query:
    count (0 where empty), avg … last (None where empty), held area (value·s) and covered seconds."""
    sql = _RAW_BUCKETS_SQL.format(q=GOOD if good else "true")
    lo = b.start - timedelta(seconds=max_gap_s)
    rows = await conn.fetch(sql, list(signal_ids), lo, b.start, b.end, float(max_gap_s), b.every, b.origin)
    size, position = b.count, _grid_index(b)
    out = {sid: {k: [0] * size if k in ("count", "area", "covered") else [None] * size for k in RAW_NAMES}
           for sid in signal_ids}
    for r in rows:
        i = position(r["epoch"])
        for k in RAW_NAMES:
            out[r["signal_id"]][k][i] = r[k]
    return out


async def readings_page(conn: Conn, signal_id: int, start: datetime, end: datetime, *, after: datetime | None,
                        limit: int) -> list[asyncpg.Record]:
    """Raw readings in ts order, `limit` of them, after the keyset cursor `after` when given."""
    if after is None:
        return await conn.fetch(
            """SELECT ts, value, quality FROM readings WHERE signal_id = $1 AND ts >= $2 AND ts < $3
               ORDER BY ts LIMIT $4""",
            signal_id, start, end, limit,
        )
    return await conn.fetch(
        """SELECT ts, value, quality FROM readings WHERE signal_id = $1 AND ts >= $2 AND ts < $3 AND ts > $5
           ORDER BY ts LIMIT $4""",
        signal_id, start, end, limit, after,
    )


async def commitment_rows(conn: Conn, plant_id: int, start: datetime, end: datetime
                          ) -> tuple[list[asyncpg.Record], list[asyncpg.Record], list[asyncpg.Record]]:
    """Commitments, per-period schedule overrides and exclusions touching [start, end)."""
    flat = await conn.fetch(
        """SELECT valid_from, valid_to, committed_mw, tolerance_mw, tolerance_pct, settlement_period_s
           FROM commitments WHERE plant_id = $1 AND valid_from < $3 AND (valid_to IS NULL OR valid_to > $2)
           ORDER BY valid_from""",
        plant_id, start, end,
    )
    schedule = await conn.fetch(
        """SELECT period_start, committed_mw FROM commitment_schedule
           WHERE plant_id = $1 AND period_start >= $2 AND period_start < $3""",
        plant_id, start, end,
    )
    exclusions = await conn.fetch(
        """SELECT starts_at, ends_at, reason FROM commitment_exclusions
           WHERE plant_id = $1 AND starts_at < $3 AND ends_at > $2 ORDER BY starts_at""",
        plant_id, start, end,
    )
    return flat, schedule, exclusions


# Frequency quality from raw Good readings, held as in `_INTEGRAL_SQL` ($5 = the longest hold).
_HELD_SQL = f"""
WITH r AS (
    SELECT ts, value, date_part('epoch', lead(ts) OVER (ORDER BY ts) - ts) AS gap,
           date_part('epoch', ts - lag(ts) OVER (ORDER BY ts)) AS previous_step
    FROM readings WHERE signal_id = $1 AND ts >= $2 AND ts < $3 AND {GOOD}
), h AS (
    SELECT ts, value, abs(value - $4) AS dev, coalesce(previous_step > $5, true) AS after_gap,
           least(CASE WHEN gap <= $5 THEN gap ELSE least(coalesce(previous_step, 0), $5) END,
                 date_part('epoch', $3 - ts)) AS hold
    FROM r
)
"""


async def frequency_summary(conn: Conn, signal_id: int, start: datetime, end: datetime, *, nominal: float,
                            bands: Sequence[float], max_gap_s: float) -> asyncpg.Record:
    """min, max, time-weighted mean, samples, covered seconds and seconds inside each ±band."""
    inside = ", ".join(f"coalesce(sum(hold) FILTER (WHERE dev <= ${6 + i}), 0) AS inside_{i}"
                       for i in range(len(bands)))
    sql = _HELD_SQL + f"""SELECT min(value) AS min, max(value) AS max, sum(value * hold) / nullif(sum(hold), 0) AS mean,
                                 count(*) AS samples, coalesce(sum(hold), 0) AS covered, {inside} FROM h"""
    return await conn.fetchrow(sql, signal_id, start, end, nominal, float(max_gap_s), *map(float, bands))


async def frequency_excursions(conn: Conn, signal_id: int, start: datetime, end: datetime, *, nominal: float,
                               band: float, max_gap_s: float, min_s: float, limit: int) -> list[asyncpg.Record]:
    """Runs of samples beyond ±band (a gap longer than the hold ends a run): start, end, extreme value."""
    sql = _HELD_SQL + """, g AS (
        SELECT *, sum(CASE WHEN dev <= $6 OR after_gap THEN 1 ELSE 0 END) OVER (ORDER BY ts) AS grp FROM h
    )
    SELECT min(ts) AS start, max(ts + hold * interval '1 second') AS end,
           (max(ARRAY[dev, value]))[2] AS extreme, count(*) AS samples
    FROM g WHERE dev > $6 GROUP BY grp
    HAVING date_part('epoch', max(ts + hold * interval '1 second') - min(ts)) >= $7
    ORDER BY 1 LIMIT $8"""
    return await conn.fetch(sql, signal_id, start, end, nominal, float(max_gap_s), float(band), float(min_s), limit)


async def listen_for_changes(url: str, channel: str, on_payload: Callable[[str], None],
                             on_state: Callable[[bool], None], *, check_every_s: float = 5.0) -> None:
    """LISTEN on `channel` until cancelled, reconnecting; `on_state(True)` once listening, `False` when not."""
    while True:
        conn = None
        try:
            conn = await asyncpg.connect(asyncpg_dsn(url), timeout=5)
            await conn.add_listener(channel, lambda _c, _pid, _ch, payload: on_payload(payload))
            on_state(True)
            while not conn.is_closed():
                await asyncio.sleep(check_every_s)
                await conn.fetchval("SELECT 1", timeout=5)  # notices a half-open connection
        except (*UNAVAILABLE_ERRORS, asyncpg.PostgresError):
            pass
        finally:
            on_state(False)
            if conn is not None and not conn.is_closed():
                conn.terminate()
        await asyncio.sleep(1.0)
