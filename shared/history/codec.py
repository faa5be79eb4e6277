"""The block codec of compressed history: one signal's readings over a span as a few bytes each, losslessly.

    payload = version byte (1) + zstd(body)

The body (little-endian) holds `n`, then three columns, each chosen so the general-purpose codec (zstd) finds
long runs of identical bytes:
- timestamps (µs since the Unix epoch, UTC): the first one and the first delta, then delta-of-delta (0 for a
  regular sampler);
- values, in the first of three modes that reproduces every value bit for bit:
  decimal (one exponent e for the block: v == m / 10**e with |m| < 2**53, mantissas stored as deltas), float32
  (every value is a float32 widened, as OPC UA and Modbus floats are: XOR of consecutive 32-bit patterns) or raw
  float64 (XOR of consecutive 64-bit patterns, Gorilla's idea without its bit packing);
- qualities: run-length (value, length) pairs.
Integer columns are zigzag-encoded, cut to the narrowest width (0, 1, 2, 4 or 8 bytes) that holds them and
byte-shuffled (all first bytes, then all second bytes, ...). Everything is vectorised with numpy.

Pure: no I/O. `decode_block(encode_block(t, v, q))` returns `t`, `v`, `q` bit for bit.
"""

from __future__ import annotations

import struct
import threading
from dataclasses import dataclass

import numpy as np
import zstandard
from numpy.typing import NDArray

VERSION = 1
ZSTD_LEVEL = 3  # measured on hour blocks at 1 Hz: level 9 is < 1 % smaller and ~9 times slower
_DECIMAL, _FLOAT32, _FLOAT64 = 0, 1, 2
_MAX_EXPONENT = 22  # 10**22 is the largest power of ten a float64 holds exactly, so m / 10**e is one rounding
_MANTISSA_LIMIT = 2**53  # mantissas are exact in float64 below this
_WIDTHS = (0, 1, 2, 4, 8)
_U32 = struct.Struct("<I")
_contexts = threading.local()  # zstd contexts are not thread-safe
_I64 = struct.Struct("<q")


class CodecError(ValueError):
    """A payload this codec cannot read (unknown version, truncated or corrupt) or input it cannot encode."""


@dataclass(frozen=True, slots=True, eq=False)  # numpy arrays have no single truth value
class DecodedBlock:
    """A block's readings in ascending, unique time order."""

    ts_us: NDArray[np.int64]
    values: NDArray[np.float64]
    qualities: NDArray[np.int32]

    def __len__(self) -> int:
        return len(self.ts_us)


def encode_block(ts_us: NDArray[np.int64], values: NDArray[np.float64], qualities: NDArray[np.int32]) -> bytes:
    """Encode one block; `ts_us` must be strictly ascending and the three arrays equally long."""
    ts = np.ascontiguousarray(ts_us, dtype=np.int64)
    v = np.ascontiguousarray(values, dtype=np.float64)
    q = np.ascontiguousarray(qualities, dtype=np.int32)
    n = len(ts)
    if len(v) != n or len(q) != n:
        raise CodecError(f"arrays differ in length: {n} timestamps, {len(v)} values, {len(q)} qualities")
    if n > 1 and not bool(np.all(ts[1:] > ts[:-1])):
        raise CodecError("timestamps must be strictly ascending")
    body = bytearray(_U32.pack(n))
    if n:
        _put_timestamps(body, ts)
        _put_values(body, v)
        _put_qualities(body, q)
    return bytes([VERSION]) + _compressor().compress(bytes(body))


def decode_block(payload: bytes) -> DecodedBlock:
    """Decode a payload written by `encode_block`."""
    if not payload or payload[0] != VERSION:
        raise CodecError(f"unknown block version {payload[0] if payload else None}")
    try:
        body = _decompressor().decompress(payload[1:])
    except zstandard.ZstdError as exc:
        raise CodecError(f"corrupt block: {exc}") from exc
    reader = _Reader(memoryview(body))
    n = reader.u32()
    if n == 0:
        empty = DecodedBlock(np.empty(0, np.int64), np.empty(0, np.float64), np.empty(0, np.int32))
        return empty if reader.done() else _trailing()
    ts = _get_timestamps(reader, n)
    values = _get_values(reader, n)
    qualities = _get_qualities(reader, n)
    if not reader.done():
        _trailing()
    return DecodedBlock(ts, values, qualities)


def _trailing() -> DecodedBlock:
    raise CodecError("corrupt block: trailing bytes")


def _compressor() -> zstandard.ZstdCompressor:
    # Building a context costs ~0.2 ms (more than encoding an hour block), so one per thread is kept.
    found: zstandard.ZstdCompressor | None = getattr(_contexts, "compressor", None)
    if found is None:
        # A checksum (4 bytes) so a damaged payload fails loudly instead of decoding to other numbers.
        found = _contexts.compressor = zstandard.ZstdCompressor(level=ZSTD_LEVEL, write_checksum=True)
    return found


def _decompressor() -> zstandard.ZstdDecompressor:
    found: zstandard.ZstdDecompressor | None = getattr(_contexts, "decompressor", None)
    if found is None:
        found = _contexts.decompressor = zstandard.ZstdDecompressor()
    return found


# --- integer columns -------------------------------------------------------------------------------------------------


def _put_ints(body: bytearray, x: NDArray[np.int64]) -> None:
    """Zigzag, narrowest width, byte-shuffle; a width byte first (0: every value is 0, nothing follows)."""
    zz = (x.astype(np.uint64) << np.uint64(1)) ^ (x >> np.int64(63)).astype(np.uint64)
    top = int(zz.max()) if len(zz) else 0
    width = next(w for w in _WIDTHS if top < 1 << (8 * w))
    body.append(width)
    if width:
        narrow = zz.astype(f"<u{width}")
        body += narrow.view(np.uint8).reshape(len(x), width).T.tobytes()


def _get_ints(reader: _Reader, n: int) -> NDArray[np.int64]:
    width = reader.byte()
    if width not in _WIDTHS:
        raise CodecError(f"corrupt block: integer width {width}")
    if width == 0:
        return np.zeros(n, np.int64)
    planes = np.frombuffer(reader.take(n * width), np.uint8).reshape(width, n)
    zz = np.ascontiguousarray(planes.T).view(f"<u{width}").reshape(n).astype(np.uint64)
    return ((zz >> np.uint64(1)).astype(np.int64)) ^ -((zz & np.uint64(1)).astype(np.int64))


# --- timestamps ------------------------------------------------------------------------------------------------------


def _put_timestamps(body: bytearray, ts: NDArray[np.int64]) -> None:
    body += _I64.pack(int(ts[0]))
    deltas = np.diff(ts)
    body += _I64.pack(int(deltas[0]) if len(deltas) else 0)
    _put_ints(body, np.diff(deltas))


def _get_timestamps(reader: _Reader, n: int) -> NDArray[np.int64]:
    first, first_delta = reader.i64(), reader.i64()
    dod = _get_ints(reader, max(n - 2, 0))
    deltas = np.cumsum(np.concatenate(([first_delta], dod)).astype(np.int64)) if n > 1 else np.empty(0, np.int64)
    ts = first + np.concatenate(([0], np.cumsum(deltas))).astype(np.int64)
    if n > 1 and not bool(np.all(ts[1:] > ts[:-1])):
        raise CodecError("corrupt block: timestamps not ascending")
    return ts


# --- values ----------------------------------------------------------------------------------------------------------


def _decimal(v: NDArray[np.float64]) -> tuple[int, NDArray[np.int64]] | None:
    """The smallest e, with the mantissas m, such that every v == m / 10^e bit for bit (integer m, so -0.0 never
    qualifies), or None."""
    with np.errstate(over="ignore", invalid="ignore"):
        if not bool(np.all(np.isfinite(v))):
            return None
        # The block's exponent is at least any sample's: find the sample's first, then check the whole block.
        sampled = _exponent_and_mantissas(v[:: max(1, len(v) // 16)], 0)
        return None if sampled is None else _exponent_and_mantissas(v, sampled[0])


def _exponent_and_mantissas(v: NDArray[np.float64], start: int) -> tuple[int, NDArray[np.int64]] | None:
    bits = v.view(np.int64)
    with np.errstate(over="ignore", invalid="ignore"):
        for e in range(start, _MAX_EXPONENT + 1):
            scale = 10.0**e
            m = np.rint(v * scale)
            if not bool(np.all(np.abs(m) < _MANTISSA_LIMIT)):
                return None  # larger exponents only make the mantissas larger
            mantissas = m.astype(np.int64)
            if bool(np.array_equal((mantissas.astype(np.float64) / scale).view(np.int64), bits)):
                return e, mantissas
    return None


def _put_values(body: bytearray, v: NDArray[np.float64]) -> None:
    decimal = _decimal(v)
    if decimal is not None:
        e, m = decimal
        body += bytes([_DECIMAL, e]) + _I64.pack(int(m[0]))
        _put_ints(body, np.diff(m))
        return
    with np.errstate(over="ignore", invalid="ignore"):
        narrow = v.astype(np.float32)
    if bool(np.array_equal(narrow.astype(np.float64).view(np.int64), v.view(np.int64))):
        bits32 = narrow.view(np.uint32)
        body.append(_FLOAT32)
        body += _shuffle(bits32 ^ np.concatenate(([np.uint32(0)], bits32[:-1])))
        return
    bits64 = v.view(np.uint64)
    body.append(_FLOAT64)
    body += _shuffle(bits64 ^ np.concatenate(([np.uint64(0)], bits64[:-1])))


def _get_values(reader: _Reader, n: int) -> NDArray[np.float64]:
    mode = reader.byte()
    if mode == _DECIMAL:
        e = reader.byte()
        if e > _MAX_EXPONENT:
            raise CodecError(f"corrupt block: decimal exponent {e}")
        first = reader.i64()
        m = np.empty(n, np.int64)
        m[0] = first
        m[1:] = _get_ints(reader, n - 1)
        return np.cumsum(m).astype(np.float64) / 10.0**e
    if mode == _FLOAT32:
        bits32 = np.bitwise_xor.accumulate(_unshuffle(reader, n, np.dtype("<u4")))
        return bits32.view(np.float32).astype(np.float64)
    if mode == _FLOAT64:
        bits64 = np.bitwise_xor.accumulate(_unshuffle(reader, n, np.dtype("<u8")))
        return bits64.view(np.float64).copy()
    raise CodecError(f"corrupt block: value mode {mode}")


def _shuffle(x: NDArray[np.unsignedinteger]) -> bytes:
    width = x.dtype.itemsize
    return x.astype(x.dtype.newbyteorder("<")).view(np.uint8).reshape(len(x), width).T.tobytes()


def _unshuffle(reader: _Reader, n: int, dtype: np.dtype) -> NDArray[np.unsignedinteger]:
    width = dtype.itemsize
    planes = np.frombuffer(reader.take(n * width), np.uint8).reshape(width, n)
    return np.ascontiguousarray(planes.T).view(dtype).reshape(n).astype(dtype.newbyteorder("="))


# --- qualities -------------------------------------------------------------------------------------------------------


def _put_qualities(body: bytearray, q: NDArray[np.int32]) -> None:
    starts = np.concatenate(([0], np.flatnonzero(q[1:] != q[:-1]) + 1))
    lengths = np.diff(np.concatenate((starts, [len(q)])))
    body += _U32.pack(len(starts))
    _put_ints(body, q[starts].astype(np.int64))
    _put_ints(body, lengths.astype(np.int64))


def _get_qualities(reader: _Reader, n: int) -> NDArray[np.int32]:
    runs = reader.u32()
    if not 1 <= runs <= n:
        raise CodecError(f"corrupt block: {runs} quality runs for {n} readings")
    values = _get_ints(reader, runs)
    lengths = _get_ints(reader, runs)
    if bool(np.any(lengths <= 0)) or int(lengths.sum()) != n:
        raise CodecError("corrupt block: quality runs do not cover the block")
    if bool(np.any((values < -(2**31)) | (values >= 2**31))):
        raise CodecError("corrupt block: quality out of range")
    return np.repeat(values.astype(np.int32), lengths)


class _Reader:
    """A cursor over the decompressed body that refuses to read past its end."""

    def __init__(self, body: memoryview) -> None:
        self.body, self.at = body, 0

    def take(self, size: int) -> memoryview:
        if size < 0 or self.at + size > len(self.body):
            raise CodecError("corrupt block: truncated")
        out = self.body[self.at : self.at + size]
        self.at += size
        return out

    def byte(self) -> int:
        return int(self.take(1)[0])

    def u32(self) -> int:
        return int(_U32.unpack(self.take(4))[0])

    def i64(self) -> int:
        return int(_I64.unpack(self.take(8))[0])

    def done(self) -> bool:
        return self.at == len(self.body)
