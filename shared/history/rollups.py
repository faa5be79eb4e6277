"""Exact held integrals over any bucket edges, read from the rollup tables where their rows fit and from raw
readings only where they do not.

Each bucket is split into pieces (shared/settlement/pieces.py): its middle from rollups_1h, the shoulders from
rollups_15m and rollups_1m (not on compressed days: their minute rows may be packed), the parts finer than a minute
from raw readings (shared/history/reader.py). A row with a step longer than the maximum gap inside cannot give the
held integral exactly (shared/settlement/rollup.py): its span is read from the next finer table instead, down to
raw readings. Every piece goes through shared.settlement
(`column_integrals` for rows, `held_arrays` for readings), so the sum equals the raw held integral over the bucket.

Rows are read as PostgreSQL binary arrays (array_send → numpy), one statement per table for every range of a
level, like the api's reads (services/api/store.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, time, timedelta
from typing import Any

import asyncpg
import numpy as np
import numpy.typing as npt

from shared.db import one
from shared.history.packed import context_mask, row_columns
from shared.history.reader import readings_between
from shared.history.spans import DAY, day_start, to_us
from shared.pgbinary import unpack_array
from shared.settlement.integral import EPOCH, Integrals, held_arrays
from shared.settlement.pieces import RAW, Piece, clusters, demote, plan
from shared.settlement.rollup import RollupColumns, column_integrals, inexact_rows

_US = timedelta(microseconds=1)
# Rollup tables, coarsest first, with their bucket widths (all aligned to UTC midnight).
ROLLUP_TABLES = (
    ("rollups_1h", timedelta(hours=1)),
    ("rollups_15m", timedelta(minutes=15)),
    ("rollups_1m", timedelta(minutes=1)),
)
MINUTE_US = 60_000_000

# Per entry ($1 signal, $2 start, $3 end) the rows inside [start, end) plus the two before start and the one at or
# after end, at any distance (the holds at the edges depend on them); `k` is the entry's position. No ORDER BY in
# array_agg (it sorts once per column): rows come in entry and time order from the ordered parts, and are sorted in
# numpy should they not.
_ROWS_SQL = """
SELECT NULL::int8 AS packed_k, NULL::bytea AS payload, array_send(array_agg(s.k - 1)) AS k, {arrays}
FROM unnest($1::int4[], $2::timestamptz[], $3::timestamptz[]) WITH ORDINALITY AS s(id, lo, hi, k) CROSS JOIN LATERAL (
    (SELECT * FROM (SELECT * FROM {table} WHERE signal_id = s.id AND bucket < s.lo ORDER BY bucket DESC LIMIT 2) AS b
     ORDER BY bucket)
    UNION ALL
    (SELECT * FROM {table} WHERE signal_id = s.id AND bucket >= s.lo AND bucket < s.hi)
    UNION ALL
    (SELECT * FROM {table} WHERE signal_id = s.id AND bucket >= s.hi ORDER BY bucket LIMIT 1)
) AS x
"""
# rollups_1m's minutes of packed days (shared/history/packed.py), in the same statement (one snapshot): per entry
# the packed days overlapping [lo, hi) ($4/$5: the first day and the day after the last) and, for the context rows,
# the two before and the one after (a packed day holds at least one minute); cut to range and context in numpy.
_PACKED_SQL = """
UNION ALL
SELECT s.k - 1, d.payload, {nulls}
FROM unnest($1::int4[], $4::date[], $5::date[]) WITH ORDINALITY AS s(id, lo, hi, k) CROSS JOIN LATERAL (
    (SELECT payload FROM rollup_days WHERE signal_id = s.id AND day < s.lo ORDER BY day DESC LIMIT 2)
    UNION ALL
    (SELECT payload FROM rollup_days WHERE signal_id = s.id AND day >= s.lo AND day < s.hi)
    UNION ALL
    (SELECT payload FROM rollup_days WHERE signal_id = s.id AND day >= s.hi ORDER BY day LIMIT 1)
) AS d
"""
# name: (SQL expression, binary element type); NULLs would break the fixed stride, so they become NaN. A row's start
# is not read: it is its first reading's time floored to the table's width.
ROW_COLUMNS = {
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


@dataclass(slots=True)
class RollupRead:
    """Rollup rows of many ranges: the columns (rows ordered by entry, then time), each row's entry as an index
    into the ranges asked for, and the extra columns asked for by name."""

    columns: RollupColumns
    group: npt.NDArray[np.int64]
    extra: dict[str, npt.NDArray[Any]]


async def rollup_rows(
    conn: asyncpg.Connection,
    signal_ids: Sequence[int],
    start: datetime | Sequence[datetime],
    end: datetime | Sequence[datetime],
    *,
    table: str,
    width: timedelta,
    good: bool,
    extra: Mapping[str, tuple[str, str]] | None = None,
    packed_extra: Mapping[str, str] | None = None,
) -> RollupRead:
    """The rows of `table` (rows of `width`) covering [start, end) of each signal (start/end per signal when
    sequences; a signal may appear more than once), with the context rows the edges need; the inner areas of the
    quality filter `good`, and `extra` columns (name: (SQL expression, binary element type)). For rollups_1m, whose
    closed days are packed, each extra column also names the rollups_1m column it is in `packed_extra`."""
    n = len(signal_ids)
    starts = list(start) if isinstance(start, Sequence) else [start] * n
    ends = list(end) if isinstance(end, Sequence) else [end] * n
    wanted = ROW_COLUMNS | INNER_COLUMNS[good] | dict(extra or {})
    arrays = ", ".join(f"array_send(array_agg({expr})) AS {name}" for name, (expr, _) in wanted.items())
    sql = _ROWS_SQL.format(arrays=arrays, table=table)
    args: list[Any] = [list(signal_ids), starts, ends]
    packed = table == "rollups_1m"
    if packed:
        if set(extra or {}) - set(packed_extra or {}):
            raise ValueError("extra columns of rollups_1m need their column in packed_extra (packed days)")
        sql += _PACKED_SQL.format(nulls=", ".join(["NULL::bytea"] * (len(wanted) + 1)))
        args += [[day_start(t).date() for t in starts], [(day_start(t - _US) + DAY).date() for t in ends]]
    rows = await conn.fetch(sql, *args)
    row = one(next((r for r in rows if r["payload"] is None), None))
    got = {name: unpack_array(row[name], element) for name, (_, element) in wanted.items()}
    group = unpack_array(row["k"], ">i8")
    payloads = [(r["packed_k"], r["payload"]) for r in rows if r["payload"] is not None]
    if payloads:
        packed_group, packed_got = row_columns(payloads, good, packed_extra)
        got = {name: np.concatenate((got[name], packed_got[name])) for name in got}
        group = np.concatenate((group, packed_group))
    first = got["first_us"]
    row_starts = first - first % (width // _US)
    later = (group[1:] > group[:-1]) | ((group[1:] == group[:-1]) & (row_starts[1:] > row_starts[:-1]))
    if not later.all():  # array_agg kept no order: rows in order of entry, then time
        order = np.lexsort((row_starts, group))
        got, row_starts, group = {name: v[order] for name, v in got.items()}, row_starts[order], group[order]
    if payloads:  # packed days hold whole days: cut to each entry's range and its context rows
        lo = np.array([to_us(t) for t in starts], np.int64)
        hi = np.array([to_us(t) for t in ends], np.int64)
        keep = context_mask(group, row_starts, lo, hi, before=2, after=1)
        got, row_starts, group = {name: v[keep] for name, v in got.items()}, row_starts[keep], group[keep]
    empty = np.zeros(0)
    columns = RollupColumns(
        row_starts,
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
    return RollupRead(columns, group, {name: got[name] for name in (extra or {})})


@dataclass
class ReadStats:
    """What one `held_integrals` call read (for benchmarks and tests)."""

    rollup_rows: dict[str, int]
    readings: int = 0
    statements: int = 0


def _at(us: int) -> datetime:
    return EPOCH + timedelta(microseconds=us)


# Pieces of one table further apart than this many rows are read as separate ranges (the rows between them are not).
_CLUSTER_ROWS = 16


async def held_integrals(
    conn: asyncpg.Connection,
    signal_id: int,
    bounds_us: npt.NDArray[np.int64],
    *,
    max_gap_s: float,
    good_only: bool = True,
    stats: ReadStats | None = None,
) -> Integrals:
    """The exact held integral of one signal in each bucket [bounds[i], bounds[i+1]) (epoch µs, any edges): equal
    to `shared.settlement.integral.held_arrays` over its raw readings, read from the coarsest rollup rows that fit.

    Minute pieces on a compressed day are read from raw readings (its blocks): a compressed day's rollups_1m rows
    may be stored packed elsewhere (issue 14); its 15-minute and hourly rows stay."""
    stats = stats if stats is not None else ReadStats({})
    widths = [w // _US for _, w in ROLLUP_TABLES]
    pending = plan(bounds_us.tolist(), widths)
    n = len(bounds_us) - 1
    area, covered = np.zeros(n), np.zeros(n, np.int64)
    for table, width in ROLLUP_TABLES:
        w = width // _US
        mine = [p for p in pending if p.width_us == w]
        if not mine:
            continue
        done, rest = await _from_rows(conn, signal_id, mine, table, w, max_gap_s, good_only, stats)
        if w == MINUTE_US:
            done, rest = await _unless_compressed(conn, done, rest, stats)
        pending = [p for p in pending if p.width_us != w] + rest
        for p, (a, c) in done:
            area[p.bucket] += a
            covered[p.bucket] += c
    raw = sorted((p for p in pending if p.width_us == RAW), key=lambda p: p.lo_us)
    for p, (a, c) in await _from_readings(conn, signal_id, raw, max_gap_s, good_only, stats):
        area[p.bucket] += a
        covered[p.bucket] += c
    return Integrals(area, covered)


Done = list[tuple[Piece, tuple[float, int]]]
_DAY_US = 86_400_000_000


async def _unless_compressed(
    conn: asyncpg.Connection, done: Done, rest: list[Piece], stats: ReadStats
) -> tuple[Done, list[Piece]]:
    """Minute pieces touching a compressed day go to raw readings. Asked AFTER the minute rows were read: a day
    compressed before that read is seen here, and one compressed after it was read whole, so no race with the job."""
    if not done:
        return done, rest
    lo, hi = min(p.lo_us for p, _ in done), max(p.hi_us for p, _ in done)
    rows = await conn.fetch(
        "SELECT day FROM compressed_days WHERE day >= $1::date AND day <= $2::date",
        _at(lo).date(),
        _at(hi - 1).date(),
    )
    stats.statements += 1
    packed = {(datetime.combine(r["day"], time(), UTC) - EPOCH) // _US for r in rows}

    def touches(p: Piece) -> bool:
        return p.lo_us - p.lo_us % _DAY_US in packed or (p.hi_us - 1) - (p.hi_us - 1) % _DAY_US in packed

    kept = [(p, x) for p, x in done if not touches(p)]
    return kept, rest + [replace(p, width_us=RAW) for p, _ in done if touches(p)]


def _run_of(runs: list[list[Piece]]) -> Any:
    """Piece → the index of the run it (or the piece it was cut from) belongs to."""
    starts = np.array([run[0].lo_us for run in runs], dtype=np.int64)
    return lambda p: int(np.searchsorted(starts, p.lo_us, side="right")) - 1


async def _from_rows(
    conn: asyncpg.Connection,
    signal_id: int,
    pieces: list[Piece],
    table: str,
    width_us: int,
    max_gap_s: float,
    good_only: bool,
    stats: ReadStats,
) -> tuple[Done, list[Piece]]:
    """The pieces of one table's width: those its rows give exactly, with their integrals, and the rest split to
    finer widths (the spans of rows with a step longer than the maximum gap)."""
    pieces = sorted(pieces, key=lambda p: p.lo_us)
    runs = clusters(pieces, max_gap_us=_CLUSTER_ROWS * width_us)
    got = await rollup_rows(
        conn,
        [signal_id] * len(runs),
        [_at(run[0].lo_us) for run in runs],
        [_at(run[-1].hi_us) for run in runs],
        table=table,
        width=timedelta(microseconds=width_us),
        good=good_only,
    )
    stats.statements += 1
    stats.rollup_rows[table] = stats.rollup_rows.get(table, 0) + len(got.group)
    c, run_of = got.columns, _run_of(runs)
    # Bucket edges: every piece edge, all aligned to the width, so each row falls inside one bucket. Each run's rows
    # are their own group (their holds never meet); a run's buckets outside its pieces are read and left unused.
    bounds = np.array(sorted({e for p in pieces for e in (p.lo_us, p.hi_us)}), dtype=np.int64)
    too_long = inexact_rows(c, bounds, max_gap_s=max_gap_s)
    ours = np.zeros(len(got.group), np.bool_)
    for p in pieces:
        ours |= (got.group == run_of(p)) & (c.start_us >= p.lo_us) & (c.start_us < p.hi_us)
    bad = sorted(set(c.start_us[too_long & ours].tolist()))
    kept = demote(pieces, bad, [w // _US for _, w in ROLLUP_TABLES])
    if bad:
        bounds = np.union1d(bounds, np.array([*bad, *(s + width_us for s in bad)], dtype=np.int64))
    # A row with a long step changes only its own bucket's inner area, and no bucket kept from this table holds one
    # (they were cut out above, or are another run's context): marked exact so that the rest can be combined.
    c = replace(c, max_step_s=np.where(too_long, 0.0, c.max_step_s))
    held = column_integrals(c, bounds, max_gap_s=max_gap_s, good_only=good_only, group=got.group, groups=len(runs))
    n = len(bounds) - 1
    done: Done = []
    for p in kept:
        if p.width_us == width_us:
            i = int(np.searchsorted(bounds, p.lo_us)) + run_of(p) * n
            done.append((p, (float(held.area[i]), int(held.covered_us[i]))))
    return done, [p for p in kept if p.width_us != width_us]


# Raw pieces closer than this are read at once (with the readings between them).
_RAW_CLUSTER_US = 300_000_000


async def _from_readings(
    conn: asyncpg.Connection,
    signal_id: int,
    pieces: list[Piece],
    max_gap_s: float,
    good_only: bool,
    stats: ReadStats,
) -> Done:
    """The raw pieces' integrals: each run of nearby pieces read at once, with the hold context at its edges."""
    done: Done = []
    for run in clusters(pieces, max_gap_us=_RAW_CLUSTER_US):
        lo, hi = run[0].lo_us, run[-1].hi_us
        r = (await readings_between(conn, [signal_id], _at(lo), _at(hi), before=2, after=1))[signal_id]
        stats.statements += 1
        stats.readings += len(r)
        bounds = np.array(sorted({e for p in run for e in (p.lo_us, p.hi_us)}), dtype=np.int64)
        held = held_arrays(r.ts_us, r.values, r.good(), bounds, max_gap_s=max_gap_s, good_only=good_only)
        for p in run:
            i = int(np.searchsorted(bounds, p.lo_us))
            done.append((p, (float(held.area[i]), int(held.covered_us[i]))))
    return done
