"""The codec of packed 1-minute rollups (issue 14): one signal's rollups_1m rows of a closed UTC day as one payload,
losslessly, decoded with a few vectorised numpy steps whatever the number of columns (a request reads hundreds).

    payload = version byte (1) + zstd(body)

Every column becomes a row of one int64 matrix (k columns × n minutes):
- timestamps and integers as they are, or as the difference from their base column (`good_count` - `count`,
  `first_ts` - `bucket`, ...: 0 while every reading is Good);
- floats as decimal mantissas when the whole column is m / 10**e bit for bit (codec.py's decimal mode: 3-decimal
  readings become small integers), else as their IEEE bit pattern, or as the bit-pattern difference from their
  base column (`good_sum` against `sum`: 0 while every reading is Good);
- NULL cells (nullable columns: a mask per column) as their base's value, i.e. 0.
Each row is stored as its first value and the deltas that follow (zigzag), rows grouped by the narrowest byte width
that holds them (0, 1, 2, 4 or 8) and byte-shuffled per group, so zstd finds long runs of equal bytes.

Body (little-endian): n (u32); then, with n > 0: per column its mode (u8: 0 integer, 1 integer against base, 2
float bits, 3 float bits against base, 4 + e decimal with exponent e) and width (u8); per column its first value
(i64); a NULL-mask flag (u8: 0 none, 1 bitmap of nullable columns × n follows); then the width groups in order of
width, each its rows' delta bytes shuffled.

Pure: no I/O. `decode_minutes(encode_minutes(m))` returns `m` bit for bit, NULLs included.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import zstandard
from numpy.typing import NDArray

from shared.history.codec import CodecError, _compressor, _decimal, _decompressor

VERSION = 1
TS, INT, FLOAT = "ts", "int", "float"


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    kind: str  # TS (µs since the Unix epoch), INT or FLOAT
    base: str | None = None  # stored against this (earlier, never NULL) column
    nullable: bool = False


# rollups_1m's columns after signal_id, in table order (shared/schema.py `_rollup_table`).
COLUMNS = (
    Column("bucket", TS),
    Column("count", INT),
    Column("sum", FLOAT),
    Column("min", FLOAT),
    Column("max", FLOAT),
    Column("first_ts", TS, "bucket"),
    Column("first_value", FLOAT),
    Column("last_ts", TS, "first_ts"),
    Column("last_value", FLOAT),
    Column("good_count", INT, "count"),
    Column("good_sum", FLOAT, "sum"),
    Column("good_min", FLOAT, "min", nullable=True),
    Column("good_max", FLOAT, "max", nullable=True),
    Column("good_first_ts", TS, "first_ts", nullable=True),
    Column("good_first_value", FLOAT, "first_value", nullable=True),
    Column("good_last_ts", TS, "last_ts", nullable=True),
    Column("good_last_value", FLOAT, "last_value", nullable=True),
    Column("area", FLOAT),
    Column("good_area", FLOAT, "area"),
    Column("good_held_s", FLOAT),
    Column("max_step_s", FLOAT),
    Column("last_step_s", FLOAT, "max_step_s", nullable=True),
)
BY_NAME = {c.name: c for c in COLUMNS}
NULLABLE = tuple(c.name for c in COLUMNS if c.nullable)
_DTYPE = {TS: np.int64, INT: np.int64, FLOAT: np.float64}
_INT, _INT_BASE, _BITS, _BITS_BASE, _DECIMAL = 0, 1, 2, 3, 4
_MAX_EXPONENT = 22  # codec.py's decimal mode: 10**22 is the largest power of ten a float64 holds exactly
_WIDTHS = (0, 1, 2, 4, 8)


@dataclass(frozen=True, slots=True, eq=False)  # numpy arrays have no single truth value
class Minutes:
    """One signal's minute rows in ascending bucket order: `values[name]` per column (int64 for TS and INT, float64
    for FLOAT; a NULL cell holds 0), `nulls[name]` per nullable column (True where NULL)."""

    values: dict[str, NDArray]
    nulls: dict[str, NDArray[np.bool_]]

    def __len__(self) -> int:
        return len(self.values["bucket"])


def encode_minutes(minutes: Minutes) -> bytes:
    """Encode one signal-day of minute rows (every column of `COLUMNS`; buckets strictly ascending)."""
    n = len(minutes.values["bucket"])
    values = {c.name: np.ascontiguousarray(minutes.values[c.name], dtype=_DTYPE[c.kind]) for c in COLUMNS}
    if any(len(x) != n for x in values.values()):
        raise CodecError("columns differ in length")
    bucket = values["bucket"]
    if n > 1 and not bool(np.all(bucket[1:] > bucket[:-1])):
        raise CodecError("buckets must be strictly ascending")
    if not n:
        return bytes([VERSION]) + _compressor().compress(np.uint32(0).tobytes())
    nulls = np.zeros((len(NULLABLE), n), np.bool_)
    for j, name in enumerate(NULLABLE):
        if name in minutes.nulls:
            nulls[j] = np.asarray(minutes.nulls[name], np.bool_)
    null_of = {name: nulls[j] for j, name in enumerate(NULLABLE)}
    matrix = np.empty((len(COLUMNS), n), np.int64)
    modes = np.empty(len(COLUMNS), np.uint8)
    for k, c in enumerate(COLUMNS):
        modes[k], matrix[k] = _transform(c, values, null_of.get(c.name))
    firsts = matrix[:, 0].copy()
    deltas = np.empty_like(matrix)
    deltas[:, 0] = 0
    np.subtract(matrix[:, 1:], matrix[:, :-1], out=deltas[:, 1:])
    zz = (deltas.astype(np.uint64) << np.uint64(1)) ^ (deltas >> np.int64(63)).astype(np.uint64)
    top = zz.max(axis=1)
    widths = np.select([top == 0, top < 2**8, top < 2**16, top < 2**32], [0, 1, 2, 4], 8).astype(np.uint8)
    parts = [np.uint32(n).tobytes(), np.stack((modes, widths), axis=1).tobytes(), firsts.astype("<i8").tobytes()]
    if bool(nulls.any()):
        parts += [b"\x01", np.packbits(nulls).tobytes()]
    else:
        parts.append(b"\x00")
    for width in _WIDTHS[1:]:
        rows = np.flatnonzero(widths == width)
        if len(rows):  # rows of one width: all their first bytes, then all second bytes, ...
            narrow = zz[rows].astype(f"<u{width}")
            parts.append(narrow.view(np.uint8).reshape(-1, width).T.tobytes())
    return bytes([VERSION]) + _compressor().compress(b"".join(parts))


def decode_minutes(payload: bytes) -> Minutes:
    """Decode a payload written by `encode_minutes`."""
    if not payload or payload[0] != VERSION:
        raise CodecError(f"unknown minutes version {payload[0] if payload else None}")
    try:
        body = _decompressor().decompress(payload[1:])
    except zstandard.ZstdError as exc:
        raise CodecError(f"corrupt minutes: {exc}") from exc
    k = len(COLUMNS)
    if len(body) < 4:
        raise CodecError("corrupt minutes: truncated")
    n = int(np.frombuffer(body, "<u4", 1)[0])
    if n == 0:
        if len(body) != 4:
            raise CodecError("corrupt minutes: trailing bytes")
        return Minutes(
            {c.name: np.empty(0, _DTYPE[c.kind]) for c in COLUMNS}, {name: np.empty(0, np.bool_) for name in NULLABLE}
        )
    header = 4 + 2 * k + 8 * k + 1
    if len(body) < header:
        raise CodecError("corrupt minutes: truncated")
    modes, widths = np.frombuffer(body, np.uint8, 2 * k, 4).reshape(k, 2).T
    firsts = np.frombuffer(body, "<i8", k, 4 + 2 * k).astype(np.int64)
    at = header
    nulls = np.zeros((len(NULLABLE), n), np.bool_)
    if body[header - 1] == 1:
        size = (len(NULLABLE) * n + 7) // 8
        if len(body) < at + size:
            raise CodecError("corrupt minutes: truncated")
        bits = np.unpackbits(np.frombuffer(body, np.uint8, size, at), count=len(NULLABLE) * n)
        nulls = bits.astype(np.bool_).reshape(len(NULLABLE), n)
        at += size
    elif body[header - 1] != 0:
        raise CodecError("corrupt minutes: NULL flag")
    # Rows of width 0 are constant (their first value); only the others are unshuffled, unzigzagged and summed.
    matrix = np.repeat(firsts[:, None], n, axis=1)
    for width in _WIDTHS[1:]:
        rows = np.flatnonzero(widths == width)
        if len(rows):
            size = len(rows) * n * width
            if len(body) < at + size:
                raise CodecError("corrupt minutes: truncated")
            planes = np.frombuffer(body, np.uint8, size, at).reshape(width, len(rows) * n)
            zz = np.ascontiguousarray(planes.T).view(f"<u{width}").reshape(len(rows), n).astype(np.uint64)
            deltas = (zz >> np.uint64(1)).view(np.int64) ^ -(zz & np.uint64(1)).view(np.int64)
            deltas[:, 0] = firsts[rows]
            matrix[rows] = np.cumsum(deltas, axis=1)
            at += size
    if at != len(body) or not bool(np.isin(widths, _WIDTHS).all()):
        raise CodecError("corrupt minutes: trailing bytes or bad width")
    return _untransform(matrix, modes, nulls)


def _transform(c: Column, values: dict[str, NDArray], null: NDArray[np.bool_] | None) -> tuple[int, NDArray[np.int64]]:
    """(mode, int64 row) of one column; NULL cells take the base's value (a difference of 0)."""
    x = values[c.name]
    base = values[c.base] if c.base is not None else None
    if null is not None and bool(null.any()):
        x = np.where(null, base if base is not None else 0, x).astype(x.dtype)
    if c.kind != FLOAT:
        return (_INT, x) if base is None else (_INT_BASE, x - base)
    if base is not None:
        return _BITS_BASE, x.view(np.int64) - base.view(np.int64)
    decimal = _decimal(x)
    if decimal is not None:
        return _DECIMAL + decimal[0], decimal[1]
    return _BITS, x.view(np.int64)


def _untransform(matrix: NDArray[np.int64], modes: NDArray[np.uint8], nulls: NDArray[np.bool_]) -> Minutes:
    values: dict[str, NDArray] = {}
    for k, c in enumerate(COLUMNS):  # in column order: a base comes before the columns stored against it
        mode, row = int(modes[k]), matrix[k]
        if c.kind != FLOAT:
            if mode not in (_INT, _INT_BASE) or (mode == _INT_BASE) != (c.base is not None):
                raise CodecError(f"corrupt minutes: mode {mode} of {c.name}")
            values[c.name] = row if c.base is None else row + values[c.base]
        elif mode == _BITS:
            values[c.name] = row.view(np.float64)
        elif mode == _BITS_BASE and c.base is not None:
            values[c.name] = (row + values[c.base].view(np.int64)).view(np.float64)
        elif _DECIMAL <= mode <= _DECIMAL + _MAX_EXPONENT:
            values[c.name] = row.astype(np.float64) / 10.0 ** (mode - _DECIMAL)
        else:
            raise CodecError(f"corrupt minutes: mode {mode} of {c.name}")
    null_of = {}
    for j, name in enumerate(NULLABLE):
        null_of[name] = nulls[j]
        if bool(nulls[j].any()):
            values[name] = np.where(nulls[j], 0, values[name]).astype(values[name].dtype)
    return Minutes(values, null_of)
