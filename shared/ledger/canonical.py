"""RFC 8785 canonical JSON, the one timestamp format of statements, and tagged SHA-256 digests."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

import rfc8785

DIGEST_PREFIX = "sha256:"


def canonical(value: Any) -> bytes:
    """The RFC 8785 (JCS) serialisation: sorted keys, no whitespace, ECMAScript number form, UTF-8."""
    return rfc8785.dumps(value)


def parse(data: bytes) -> Any:
    """Parse JSON bytes; the caller checks canonical(parse(data)) == data where that matters."""
    return json.loads(data)


def timestamp(ts: datetime) -> str:
    """UTC, always with microseconds: `2026-06-01T10:00:00.000000Z` (one spelling per instant)."""
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_timestamp(text: str) -> datetime:
    """RFC 3339 (any offset, `Z` accepted) to an aware UTC datetime."""
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError(f"timestamp {text!r} has no UTC offset")
    return parsed.astimezone(UTC)


def tagged_sha256(data: bytes) -> str:
    return DIGEST_PREFIX + hashlib.sha256(data).hexdigest()
