"""The readings digest: SHA-256 over the canonical rows (signal, ts, value, quality) a statement was computed from.

Rows are ordered by signal key (UTF-8 byte order), then ts; each row is the RFC 8785 JSON array
`["plant.net_output","2026-06-01T10:00:00.000000Z",480.5,0]` (quality: the OPC UA StatusCode as an unsigned
integer) followed by one LF. The digest is `sha256:` + the lowercase hex SHA-256 of the concatenation.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import msgspec

from shared.ledger.canonical import DIGEST_PREFIX, canonical, timestamp


@dataclass(frozen=True, slots=True)
class Row:
    signal: str
    ts: datetime
    value: float
    quality: int  # OPC UA StatusCode, uint32


@dataclass(frozen=True, slots=True)
class ReadingsDigest:
    rows: int
    digest: str


def canonical_row(row: Row) -> bytes:
    return canonical([row.signal, timestamp(row.ts), row.value, row.quality]) + b"\n"


def readings_digest(rows: Iterable[Row]) -> ReadingsDigest:
    """The digest of `rows` in the documented order (sorted here, whatever order they come in)."""
    ordered = sorted(rows, key=lambda r: (r.signal.encode(), r.ts))
    hasher = hashlib.sha256()
    for row in ordered:
        hasher.update(canonical_row(row))
    return ReadingsDigest(len(ordered), DIGEST_PREFIX + hasher.hexdigest())


CONTEXT_RULE = (
    "every reading (all qualities) of each signal in [period_start, period_end), plus the two readings "
    "before period_start and the first at or after period_end, at any distance"
)


def context_rows(rows: Iterable[Row], start: datetime, end: datetime) -> list[Row]:
    """From a larger export, the rows `CONTEXT_RULE` selects (what the statement's digest covers)."""
    by_signal: dict[str, list[Row]] = {}
    for row in sorted(rows, key=lambda r: (r.signal.encode(), r.ts)):
        by_signal.setdefault(row.signal, []).append(row)
    out: list[Row] = []
    for signal_rows in by_signal.values():
        before = [r for r in signal_rows if r.ts < start][-2:]
        inside = [r for r in signal_rows if start <= r.ts < end]
        after = [r for r in signal_rows if r.ts >= end][:1]
        out += before + inside + after
    return out


_batch_encoder = msgspec.json.Encoder()


def batch_digest(rows: Sequence[tuple[int, int, datetime, float, int]]) -> str:
    """An accepted ingest batch's fingerprint: SHA-256 of the JSON array of its checked rows
    `[index, signal_id, ts, value, quality_int4]` in request order (msgspec encoding; RFC 3339 times).

    Cheap enough for the ingest hot path (~0.25 µs a row); it identifies a batch, it is not a canonical form."""
    return DIGEST_PREFIX + hashlib.sha256(_batch_encoder.encode(rows)).hexdigest()
