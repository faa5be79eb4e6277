"""Request bodies to readings: gzip (every member, RFC 1952) and the JSON batch. Pure: no I/O, no HTTP types.

Every way a body can fail to decode ends here as a `BodyError` (one mapping, by exception type), which the app
renders as a 4xx in the common envelope. Rejection codes of single readings come from the field that failed to
decode, never from the text of a decoder's message.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from datetime import datetime
from operator import attrgetter
from typing import Any

import msgspec

from services.ingest.schemas import BatchIn, LooseBatchIn
from services.ingest.validation import (
    INVALID_QUALITY,
    INVALID_READING,
    INVALID_TIMESTAMP,
    INVALID_VALUE,
    Columns,
    Rejection,
)

Item = tuple[int, str, datetime, float, object]
GZIP_MAGIC = b"\x1f\x8b"

_batch_decoder = msgspec.json.Decoder(BatchIn)
# Columns of the typed batch, read in C (map over attrgetter): no Python code per reading.
_signal, _ts, _value, _quality = (attrgetter(name) for name in ("signal", "ts", "value", "quality"))
_loose_decoder = msgspec.json.Decoder(LooseBatchIn)


class BodyError(Exception):
    """A body that cannot be taken as a whole; rendered as `status` with `code` (nothing is stored)."""

    def __init__(self, status: int, code: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details or {}


class _LooseReading(msgspec.Struct):
    """One reading whose fields are checked one by one (numbers beyond float64 decode to ±inf, not an error)."""

    signal: str
    ts: Any
    value: Any
    quality: Any = 0


_reading_decoder = msgspec.json.Decoder(_LooseReading, float_hook=float)


def too_large(limit: int) -> BodyError:
    return BodyError(
        413, "payload_too_large", f"The body exceeds {limit} bytes (after decompression).", {"max_body_bytes": limit}
    )


def gunzip(body: bytes, limit: int) -> bytes:
    """Every member of a gzip stream, concatenated (RFC 1952 §2.2), never more than `limit` bytes decoded.

    Anything after the last member that is not another member (trailing junk, zero padding) is refused: a
    reader that stopped at the first member would silently drop the rest."""
    parts: list[bytes] = []
    size, rest = 0, body
    while True:
        decoder = zlib.decompressobj(wbits=31)
        try:
            out = decoder.decompress(rest, limit - size + 1)
        except zlib.error as exc:
            raise BodyError(400, "invalid_gzip", f"The gzip body does not decode: {exc}.") from None
        size += len(out)
        if size > limit or decoder.unconsumed_tail:
            raise too_large(limit)
        if not decoder.eof:
            raise BodyError(400, "invalid_gzip", "The gzip body is truncated.")
        parts.append(out)
        rest = decoder.unused_data
        if not rest:
            return b"".join(parts)
        if not rest.startswith(GZIP_MAGIC):
            raise BodyError(
                400,
                "invalid_gzip",
                f"{len(rest)} byte(s) after the gzip stream are not a gzip member.",
                {"trailing_bytes": len(rest)},
            )


def decode_error(exc: Exception) -> BodyError:
    """The one mapping of a JSON body that does not decode (syntax, encoding, nesting) to a 400."""
    if isinstance(exc, UnicodeDecodeError):
        return BodyError(
            400, "invalid_json", f"The body is not UTF-8 (byte {exc.start}); JSON must be UTF-8.", {"byte": exc.start}
        )
    if isinstance(exc, RecursionError):
        return BodyError(400, "invalid_json", "The body is nested too deeply to be a batch of readings.")
    return BodyError(400, "invalid_json", f"The body is not valid JSON: {exc}.")


DECODE_ERRORS = (msgspec.DecodeError, UnicodeDecodeError, RecursionError)


def decode_batch(body: bytes, max_readings: int) -> tuple[Sequence[Item], list[Rejection]]:
    """Typed decode (fast); if some reading is malformed, decode loosely and reject those readings alone."""
    try:
        body.decode("utf-8")  # ~50 µs for a 5,000-reading batch; msgspec skips the strings it does not keep
        batch = _batch_decoder.decode(body)
    except msgspec.ValidationError:
        pass  # a well-formed body with some bad reading (or a bad shape): decided below
    except DECODE_ERRORS as exc:
        raise decode_error(exc) from None
    else:
        readings = batch.readings
        check_count(len(readings), max_readings)
        columns = Columns(
            range(len(readings)),
            list(map(_signal, readings)),
            list(map(_ts, readings)),
            list(map(_value, readings)),
            list(map(_quality, readings)),
        )
        return columns, []
    try:
        loose = _loose_decoder.decode(body)
    except msgspec.ValidationError as exc:
        raise BodyError(422, "invalid_batch", f'Expected {{"readings": [...]}}: {exc}.') from None
    except DECODE_ERRORS as exc:
        raise decode_error(exc) from None
    check_count(len(loose.readings), max_readings)
    items: list[Item] = []
    rejected: list[Rejection] = []
    for index, raw in enumerate(loose.readings):
        item = _reading(index, raw)
        if isinstance(item, Rejection):
            rejected.append(item)
        else:
            items.append(item)
    return items, rejected


def _reading(index: int, raw: msgspec.Raw) -> Item | Rejection:
    try:
        r = _reading_decoder.decode(raw)
    except msgspec.ValidationError as exc:
        return Rejection(index, INVALID_READING, f"not a reading object: {exc}")
    except DECODE_ERRORS as exc:  # already parsed once as part of the batch: kept for safety, never expected
        raise decode_error(exc) from None
    if not isinstance(r.ts, str):
        return Rejection(index, INVALID_TIMESTAMP, "ts must be an RFC 3339 string, e.g. 2026-11-25T10:00:00Z")
    try:
        ts = msgspec.convert(r.ts, datetime)
    except msgspec.ValidationError:
        return Rejection(index, INVALID_TIMESTAMP, f"ts {r.ts[:64]!r} is not an RFC 3339 timestamp")
    if r.value.__class__ not in (int, float):  # bool is an int subclass, and not a value
        return Rejection(index, INVALID_VALUE, f"value must be a number, not {_json_type(r.value)}")
    if isinstance(r.quality, bool) or not isinstance(r.quality, int | str):
        return Rejection(index, INVALID_QUALITY, f"quality must be an integer or a name, not {_json_type(r.quality)}")
    return (index, r.signal, ts, _as_float(r.value), r.quality)


def _as_float(value: int | float) -> float:
    try:
        return float(value)
    except OverflowError:  # an integer beyond float64: not a finite number, rejected as such by the checks
        return float("inf") if value > 0 else float("-inf")


def _json_type(value: object) -> str:
    names = {
        type(None): "null",
        bool: "a boolean",
        str: "a string",
        list: "an array",
        dict: "an object",
        float: "a number",
        int: "a number",
    }
    return names.get(type(value), type(value).__name__)


def check_count(count: int, max_readings: int) -> None:
    if count > max_readings:
        raise BodyError(
            413,
            "too_many_readings",
            f"{count} readings in one request; the limit is {max_readings}.",
            {"count": count, "max_readings_per_request": max_readings},
        )
