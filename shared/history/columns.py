"""One signal's readings as columns (epoch µs, value, quality), and merging the parts the reader fetches. Pure.

Hot rows arrive as PostgreSQL binary array images (`array_send`), blocks as decoded payloads
(shared/history/codec.py); both become `Columns`, merged in time order, then cut to the wanted range and context.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import numpy.typing as npt

from shared.pgbinary import unpack_array

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
I32 = npt.NDArray[np.int32]

UNIX_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True, eq=False)  # numpy arrays have no single truth value
class Columns:
    """One signal's readings as columns, in ascending time order: epoch µs (UTC), value, quality (int4 as stored)."""

    ts_us: I64
    values: F64
    qualities: I32

    def __len__(self) -> int:
        return len(self.ts_us)

    def good(self) -> npt.NDArray[np.bool_]:
        """OPC UA severity Good (the top two bits of the StatusCode are 00)."""
        return (self.qualities.astype(np.int64) >> 30) & 0b11 == 0

    def times(self) -> list[datetime]:
        """The timestamps as aware UTC datetimes (exact)."""
        return [UNIX_EPOCH + _US * t for t in self.ts_us.tolist()]

    def rows(self) -> list[tuple[datetime, float, int]]:
        """(ts, value, quality) tuples, Python types (what the record-based callers used to get)."""
        return list(zip(self.times(), self.values.tolist(), self.qualities.tolist(), strict=True))

    def take(self, index: slice | npt.NDArray[np.intp] | npt.NDArray[np.bool_]) -> Columns:
        return Columns(self.ts_us[index], self.values[index], self.qualities[index])


EMPTY = Columns(np.empty(0, np.int64), np.empty(0, np.float64), np.empty(0, np.int32))


def micros(ts: datetime) -> int:
    """Exact integer µs since the Unix epoch."""
    return (ts - UNIX_EPOCH) // _US


def merge(parts: Sequence[Columns]) -> Columns:
    """The union of disjoint sets of readings, in time order."""
    if not parts:
        return EMPTY
    if len(parts) == 1 and _ascending(parts[0].ts_us):
        return parts[0]
    parts = sorted(parts, key=lambda p: int(p.ts_us[0]) if len(p) else 0)  # disjoint sorted runs: usually in order
    ts = np.concatenate([p.ts_us for p in parts])
    values = np.concatenate([p.values for p in parts])
    qualities = np.concatenate([p.qualities for p in parts])
    if _ascending(ts):
        return Columns(ts, values, qualities)
    order = np.argsort(ts, kind="stable")  # blocks and hot rows arrive as sorted runs: timsort merges them
    return Columns(ts[order], values[order], qualities[order])


def _ascending(ts: I64) -> bool:
    return len(ts) < 2 or bool(np.all(ts[1:] > ts[:-1]))


def select(c: Columns, lo_us: int, hi_us: int, *, before: int, after: int, limit: int | None) -> Columns:
    """From merged readings, those in [lo, hi) (the first `limit`) with `before` readings before and `after` at or
    after hi."""
    i = int(np.searchsorted(c.ts_us, lo_us, side="left"))
    j = int(np.searchsorted(c.ts_us, hi_us, side="left"))
    if limit is not None:
        j = min(j, i + limit)
    if after:
        k = int(np.searchsorted(c.ts_us, hi_us, side="left"))
        inside = c.take(slice(max(0, i - before), j))
        tail = c.take(slice(k, k + after))
        if not len(tail):
            return inside
        return Columns(
            np.concatenate([inside.ts_us, tail.ts_us]),
            np.concatenate([inside.values, tail.values]),
            np.concatenate([inside.qualities, tail.qualities]),
        )
    return c.take(slice(max(0, i - before), j))


def hot_columns(ts: bytes, values: bytes, qualities: bytes) -> Columns:
    """Columns from the `array_send` images of int8-backed timestamptz[], float8[] and int4[] arrays."""
    return Columns(
        unpack_array(ts, "ts"),  # already native int64 / float64 / int32: no second copy
        unpack_array(values, ">f8"),
        unpack_array(qualities, ">i4"),
    )
