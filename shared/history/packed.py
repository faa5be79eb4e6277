"""Packed 1-minute rollups (issue 14): moving a signal-day of rollups_1m rows into one rollup_days row and back, and
reading both. The contract (shared/history/__init__.py): every (signal_id, minute) is in exactly one of rollups_1m
and rollup_days; only compressed days are packed; a reader reads both in one statement (one snapshot).

The SQL here takes a connection and is used by ingest (pack, unpack: services/ingest/blocks.py) and by readers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import asyncpg
import numpy as np
from numpy.typing import NDArray

from shared.history.minutes_codec import (
    BY_NAME,
    COLUMNS,
    FLOAT,
    INT,
    TS,
    Column,
    Minutes,
    decode_minutes,
    encode_minutes,
)
from shared.history.spans import from_us
from shared.pgbinary import unpack_array

_ELEMENT = {TS: "ts", INT: ">i8", FLOAT: ">f8"}
_ZERO = {TS: "'epoch'::timestamptz", INT: "0", FLOAT: "0"}


def _array(expr: str) -> str:
    return f"array_send(array_agg({expr}))"


def _cell(c: Column) -> str:
    x = f"coalesce({c.name}, {_ZERO[c.kind]})" if c.nullable else c.name
    return f"{x}::int8" if c.kind == INT else x


# Every column of rollups_1m rows as binary arrays, one row per signal (NULL cells: 0 and a mask column).
_SELECT_ARRAYS = ", ".join(
    [f"{_array(_cell(c))} AS {c.name}" for c in COLUMNS]
    + [f"{_array(f'{c.name} IS NULL')} AS {c.name}__null" for c in COLUMNS if c.nullable]
)
ROWS_OF_DAY_SQL = f"""SELECT signal_id, {_SELECT_ARRAYS} FROM rollups_1m
WHERE signal_id = ANY($1::int4[]) AND bucket >= $2 AND bucket < $3 GROUP BY signal_id"""


def minutes_from_record(record: asyncpg.Record) -> Minutes:
    """A `ROWS_OF_DAY_SQL` row as `Minutes` in bucket order (array_agg keeps no order)."""
    values = {c.name: unpack_array(record[c.name], _ELEMENT[c.kind]) for c in COLUMNS}
    nulls = {c.name: unpack_array(record[f"{c.name}__null"], "?") for c in COLUMNS if c.nullable}
    order = np.argsort(values["bucket"], kind="stable")
    if not bool(np.all(order[1:] > order[:-1])):
        values = {k: v[order] for k, v in values.items()}
        nulls = {k: v[order] for k, v in nulls.items()}
    return Minutes(values, nulls)


@dataclass(frozen=True, slots=True)
class PackedDay:
    """One row of rollup_days."""

    signal_id: int
    day: date
    minutes: int
    first_bucket: datetime
    last_bucket: datetime
    last_ts: datetime
    last_value: float
    good_last_ts: datetime | None
    good_last_value: float | None
    payload: bytes


DAY_COLUMNS = (
    "signal_id",
    "day",
    "minutes",
    "first_bucket",
    "last_bucket",
    "last_ts",
    "last_value",
    "good_last_ts",
    "good_last_value",
    "payload",
)


def pack(signal_id: int, day: date, minutes: Minutes) -> PackedDay:
    """A signal-day's minutes (at least one) as its rollup_days row."""
    v, n = minutes.values, len(minutes)
    good = np.flatnonzero(~minutes.nulls["good_last_ts"])
    last_good = int(good[-1]) if len(good) else None
    return PackedDay(
        signal_id,
        day,
        n,
        from_us(int(v["bucket"][0])),
        from_us(int(v["bucket"][-1])),
        from_us(int(v["last_ts"][-1])),
        float(v["last_value"][-1]),
        None if last_good is None else from_us(int(v["good_last_ts"][last_good])),
        None if last_good is None else float(v["good_last_value"][last_good]),
        encode_minutes(minutes),
    )


def record(day: PackedDay) -> tuple[Any, ...]:
    return tuple(getattr(day, name) for name in DAY_COLUMNS)


# Unpacking: the rows back into rollups_1m ($1 signal ids, then every column as an array; timestamps as Unix µs).
_CASTS = {TS: "int8[]", INT: "int8[]", FLOAT: "float8[]"}
_AS_COLUMN = {TS: "TIMESTAMPTZ 'epoch' + {x} * interval '1 microsecond'", INT: "{x}::int4", FLOAT: "{x}"}
INSERT_ROWS_SQL = f"""INSERT INTO rollups_1m (signal_id, {", ".join(c.name for c in COLUMNS)})
SELECT s, {", ".join(_AS_COLUMN[c.kind].format(x=f"c{k}") for k, c in enumerate(COLUMNS))}
FROM unnest($1::int4[], {", ".join(f"${k + 2}::{_CASTS[c.kind]}" for k, c in enumerate(COLUMNS))})
    AS u(s, {", ".join(f"c{k}" for k in range(len(COLUMNS)))})"""


def insert_args(parts: Sequence[tuple[int, Minutes]]) -> list[list[Any]]:
    """The arguments of `INSERT_ROWS_SQL` for the minutes of several signals (NULL cells as None)."""
    ids: list[int] = []
    columns: list[list[Any]] = [[] for _ in COLUMNS]
    for signal_id, minutes in parts:
        ids.extend([signal_id] * len(minutes))
        for k, c in enumerate(COLUMNS):
            cells = minutes.values[c.name].tolist()
            if c.nullable:
                cells = [None if null else x for x, null in zip(cells, minutes.nulls[c.name].tolist(), strict=True)]
            columns[k].extend(cells)
    return [ids, *columns]


def context_mask(
    group: NDArray[np.int64],
    starts: NDArray[np.int64],
    lo: NDArray[np.int64],
    hi: NDArray[np.int64],
    *,
    before: int,
    after: int,
) -> NDArray[np.bool_]:
    """Of rows sorted by (group, start), those a range read keeps: per group g every row with lo[g] ≤ start < hi[g],
    the `before` last ones before lo[g] and the `after` first ones at or after hi[g] (packed days hold whole days, so
    a read gets more rows than it wants and cuts them here)."""
    groups = len(lo)
    early, late = starts < lo[group], starts >= hi[group]
    n_early = np.bincount(group[early], minlength=groups)
    n_inside = np.bincount(group[~early & ~late], minlength=groups)
    first = np.searchsorted(group, np.arange(groups))
    pos = np.arange(len(group)) - first[group]
    edge = n_early[group]
    return (~early & ~late) | (early & (pos >= edge - before)) | (late & (pos < edge + n_inside[group] + after))


def row_columns(
    payloads: Sequence[tuple[int, bytes]], good: bool, grid: Mapping[str, str] | None = None
) -> tuple[NDArray[np.int64], dict[str, NDArray[Any]]]:
    """Packed days' minutes as the columns the rollup readers read from SQL (services/api/store.py, rollups.py):
    first_us, last_us, last_value, last_good, last_step_s (NaN for NULL), max_step_s, the inner areas of `good`, and
    `grid` (name: rollups_1m column; NULL as NaN, counts int32); with each row's group (the payload's `k`)."""
    inner = ["good_area", "good_held_s"] if good else ["area"]
    parts = [decode_minutes(payload) for _, payload in payloads]
    out: dict[str, list[NDArray[Any]]] = {}
    for m in parts:
        v, null = m.values, m.nulls
        cells: dict[str, NDArray[Any]] = {
            "first_us": v["first_ts"],
            "last_us": v["last_ts"],
            "last_value": v["last_value"],
            "last_good": ~null["good_last_ts"] & (v["good_last_ts"] == v["last_ts"]),
            "last_step_s": np.where(null["last_step_s"], np.nan, v["last_step_s"]),
            "max_step_s": v["max_step_s"],
        }
        for name in inner:
            cells[name] = v[name]
        for name, column in (grid or {}).items():
            x = v[column]
            if BY_NAME[column].kind != FLOAT:
                cells[name] = x.astype(np.int32)
            else:
                cells[name] = np.where(null[column], np.nan, x) if column in null else x
        for name, x in cells.items():
            out.setdefault(name, []).append(x)
    group = np.repeat(np.array([k for k, _ in payloads], np.int64), [len(m) for m in parts])
    return group, {name: np.concatenate(xs) for name, xs in out.items()}
