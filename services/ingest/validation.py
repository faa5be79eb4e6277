"""Per-reading checks: each bad reading is rejected on its own with a code; the good ones go on."""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import overload

import numpy as np

from shared import quality as q

# Rejection codes, also listed in the README.
UNKNOWN_SIGNAL = "unknown_signal"
FORBIDDEN_SIGNAL = "forbidden_signal"
NON_FINITE_VALUE = "non_finite_value"
OUT_OF_RANGE = "out_of_range"
FUTURE_TIMESTAMP = "future_timestamp"
TOO_OLD = "too_old"
INVALID_QUALITY = "invalid_quality"
INVALID_TIMESTAMP = "invalid_timestamp"
INVALID_VALUE = "invalid_value"
INVALID_READING = "invalid_reading"
# The smallest normal float64. PostgreSQL refuses a float8 product of non-zero factors that rounds to 0 ("value out
# of range: underflow"), which a subnormal value times a step in seconds can be; no instrument reads one.
SMALLEST_NORMAL = 2.2250738585072014e-308
CONFLICTING_VALUE = "conflicting_value"


@dataclass(frozen=True, slots=True)
class SignalInfo:
    id: int
    key: str
    min_value: float
    max_value: float
    plant_id: int | None = None


@dataclass(frozen=True, slots=True)
class Rejection:
    index: int
    code: str
    message: str


@dataclass(frozen=True, slots=True)
class Window:
    """Timestamps a reading may carry: not older than the retention horizon, not beyond the clock skew."""

    not_before: datetime
    not_after: datetime

    @classmethod
    def around(cls, now: datetime, *, retention_days: int, max_future_skew_s: float) -> Window:
        return cls(now - timedelta(days=retention_days), now + timedelta(seconds=max_future_skew_s))


NEVER_AFTER = datetime.max.replace(tzinfo=UTC)
NEVER_BEFORE = datetime.min.replace(tzinfo=UTC)

# (index in the request, signal id, ts, value, quality as stored int4)
Row = tuple[int, int, datetime, float, int]


@dataclass(slots=True)
class Checked:
    rows: list[Row] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    oldest: datetime = NEVER_AFTER  # the rows' time span (an empty one when there are no rows)
    newest: datetime = NEVER_BEFORE
    signal_ids: frozenset[int] = frozenset()


def parse_quality(raw: object) -> int | None:
    """A StatusCode as stored (int4), from a uint32 or a severity name; None when invalid."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return q.to_db(raw) if 0 <= raw <= q.UINT32_MAX else None
    if isinstance(raw, str):
        named = q.NAMED.get(raw.lower())
        return q.to_db(named) if named is not None else None
    return None


Item = tuple[int, str, datetime, float, object]  # (index in the request, signal key, ts, value, quality as sent)


class Columns(Sequence[Item]):
    """Readings as the decoders make them, in columns: to whoever iterates, a sequence of `Item` tuples; to
    `check_readings`, its columns (no tuple is made per reading on the way in)."""

    __slots__ = ("indices", "keys", "qualities", "stamps", "values")

    def __init__(
        self,
        indices: Sequence[int],
        keys: Sequence[str],
        stamps: Sequence[datetime],
        values: Sequence[float],
        qualities: Sequence[object],
    ) -> None:
        self.indices, self.keys, self.stamps, self.values, self.qualities = indices, keys, stamps, values, qualities

    def __len__(self) -> int:
        return len(self.keys)

    @overload
    def __getitem__(self, at: int) -> Item: ...

    @overload
    def __getitem__(self, at: slice) -> list[Item]: ...

    def __getitem__(self, at: int | slice) -> Item | list[Item]:
        if isinstance(at, slice):
            return list(self)[at]
        return (self.indices[at], self.keys[at], self.stamps[at], self.values[at], self.qualities[at])

    def __iter__(self) -> Iterator[Item]:
        return zip(self.indices, self.keys, self.stamps, self.values, self.qualities, strict=True)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sequence) and list(self) == list(other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Columns({list(self)!r})"


def check_readings(
    readings: Iterable[tuple[int, str, datetime, float, object]],
    catalog: dict[str, SignalInfo],
    window: Window,
    plant_ids: frozenset[int] | None = None,
) -> Checked:
    """Split (index, signal, ts, value, quality) tuples into storable rows and rejections; with `plant_ids` (a
    gateway key's plants), signals of other plants are refused.

    A batch whose readings all pass is proven so column by column (`_all_pass`: C loops and numpy, no Python code
    per reading); any other batch is judged reading by reading (`check_each`), so the outcome is the same."""
    if not isinstance(readings, Columns):
        readings = readings if isinstance(readings, list | tuple) else list(readings)
        columns = Columns(*zip(*readings, strict=True)) if readings else Columns((), (), (), (), ())
    else:
        columns = readings
    checked = _all_pass(columns, catalog, window, plant_ids)
    return checked if checked is not None else check_each(readings, catalog, window, plant_ids)


def _all_pass(
    columns: Columns, catalog: dict[str, SignalInfo], window: Window, plant_ids: frozenset[int] | None
) -> Checked | None:
    """The rows of a batch in which every reading passes every check of `check_each`; None when one may not."""
    if not columns:
        return None
    indices, keys, stamps, values = columns.indices, columns.keys, columns.stamps, columns.values
    raw_qualities = columns.qualities
    # Times: one kind (min/max raise TypeError on naive next to aware), inside the window at both ends.
    try:
        oldest, newest = min(stamps), max(stamps)
    except TypeError:
        return None
    if oldest.tzinfo is None or newest.tzinfo is None or oldest < window.not_before or newest > window.not_after:
        return None
    # Signals: each distinct key known and writable once; then ids and ranges by row, in C.
    known: list[SignalInfo] = []
    code_of: dict[str, int] = {}
    for key in set(keys):
        signal = catalog.get(key)
        if signal is None or (plant_ids is not None and signal.plant_id not in plant_ids):
            return None
        code_of[key] = len(known)
        known.append(signal)
    codes = np.fromiter(map(code_of.__getitem__, keys), dtype=np.intp, count=len(keys))
    # Qualities: ints and names only (no bool, no float), each distinct one valid.
    if not set(map(type, raw_qualities)) <= {int, str}:
        return None
    stored: dict[object, int] = {}
    for raw in set(raw_qualities):
        quality = parse_quality(raw)
        if quality is None:
            return None
        stored[raw] = quality
    if all(raw == db for raw, db in stored.items()):
        qualities: Sequence[object] = raw_qualities
    else:
        qualities = list(map(stored.__getitem__, raw_qualities))
    # Values: floats, finite, inside their signal's range unless the quality is Bad.
    if set(map(type, values)) != {float}:
        return None
    array = np.fromiter(values, dtype=np.float64, count=len(values))
    low = np.array([s.min_value for s in known], dtype=np.float64)[codes]
    high = np.array([s.max_value for s in known], dtype=np.float64)[codes]
    inside = (array >= low) & (array <= high)
    if any(db < 0 for db in stored.values()):
        inside |= np.fromiter(qualities, dtype=np.int64, count=len(qualities)) < 0
    normal = (array == 0) | (np.abs(array) >= SMALLEST_NORMAL)
    if not (np.isfinite(array).all() and inside.all() and normal.all()):
        return None
    ids = [s.id for s in known]
    signal_ids = list(map(ids.__getitem__, codes.tolist()))
    rows: list[Row] = list(zip(indices, signal_ids, stamps, values, qualities, strict=True))  # type: ignore[arg-type]
    return Checked(rows, [], oldest, newest, frozenset(ids))


def check_each(
    readings: Iterable[tuple[int, str, datetime, float, object]],
    catalog: dict[str, SignalInfo],
    window: Window,
    plant_ids: frozenset[int] | None = None,
) -> Checked:
    """`check_readings` one reading at a time: each rejection with its code and message."""
    out = Checked()
    rows, rejected = out.rows, out.rejected
    not_before, not_after = window.not_before, window.not_after
    isfinite = math.isfinite
    for index, key, ts, value, raw_quality in readings:
        signal = catalog.get(key)
        if signal is None:
            rejected.append(Rejection(index, UNKNOWN_SIGNAL, f"unknown signal {key!r}"))
            continue
        if plant_ids is not None and signal.plant_id not in plant_ids:
            rejected.append(Rejection(index, FORBIDDEN_SIGNAL, f"{key} belongs to a plant this key may not write"))
            continue
        if ts.tzinfo is None:
            rejected.append(Rejection(index, INVALID_TIMESTAMP, "ts needs a UTC offset (RFC 3339), e.g. ...Z"))
            continue
        quality = 0 if raw_quality.__class__ is int and raw_quality == 0 else parse_quality(raw_quality)
        if quality is None:
            rejected.append(
                Rejection(
                    index,
                    INVALID_QUALITY,
                    'quality must be an OPC UA StatusCode (0..4294967295) or "good", "uncertain", "bad"',
                )
            )
            continue
        if not isfinite(value):
            rejected.append(Rejection(index, NON_FINITE_VALUE, f"value {value!r} is not a finite number"))
            continue
        if value and abs(value) < SMALLEST_NORMAL:
            rejected.append(
                Rejection(
                    index, INVALID_VALUE, f"value {value!r} is subnormal: send 0 or a number of magnitude ≥ 2.2e-308"
                )
            )
            continue
        # A Bad-quality reading's value is not a measurement, so its range is not checked: the quality says it all.
        if quality >= 0 and not signal.min_value <= value <= signal.max_value:
            rejected.append(
                Rejection(
                    index,
                    OUT_OF_RANGE,
                    f"{value} is outside the physical range [{signal.min_value}, {signal.max_value}] of {key}",
                )
            )
            continue
        if ts > not_after:
            rejected.append(
                Rejection(
                    index,
                    FUTURE_TIMESTAMP,
                    f"ts {ts.isoformat()} is ahead of the server clock by more than the allowed skew",
                )
            )
            continue
        if ts < not_before:
            rejected.append(
                Rejection(
                    index, TOO_OLD, f"ts {ts.isoformat()} is older than the retention horizon {not_before.isoformat()}"
                )
            )
            continue
        rows.append((index, signal.id, ts, value, quality))
    if rows:
        out.oldest = min(row[2] for row in rows)
        out.newest = max(row[2] for row in rows)
        out.signal_ids = frozenset(row[1] for row in rows)
    return out


SPAN_COUNTED_BY_DAY = timedelta(days=7)


def utc_day(ts: datetime) -> datetime:
    utc = ts if ts.tzinfo is UTC else ts.astimezone(UTC)
    return utc.replace(hour=0, minute=0, second=0, microsecond=0)


def utc_days(rows: list[Row], oldest: datetime, newest: datetime) -> set[datetime]:
    """The UTC midnights of the days the rows fall on (for partition management).

    Live batches span seconds, so the days are taken from the time span alone; only a batch spanning more than
    a week (a sparse backfill) is looked at row by row, so that no partition is made for the days in between.
    """
    first, last = utc_day(oldest), utc_day(newest)
    if last - first <= SPAN_COUNTED_BY_DAY:
        return {first + timedelta(days=d) for d in range((last - first).days + 1)}
    return {utc_day(row[2]) for row in rows}
