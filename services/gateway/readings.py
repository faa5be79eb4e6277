"""A reading as the gateway carries it, and its ingest JSON form."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

GOOD = 0x00000000
BAD_COMMUNICATION_ERROR = 0x80050000
BAD_NOT_CONNECTED = 0x808A0000
BAD_DEVICE_FAILURE = 0x808B0000


@dataclass(frozen=True, slots=True)
class Reading:
    signal: str
    ts: datetime  # source timestamp, UTC
    value: float
    quality: int = GOOD  # OPC UA StatusCode, uint32


def is_bad(status: int) -> bool:
    return status >> 31 == 1


def format_ts(ts: datetime) -> str:
    """RFC 3339 in UTC with microseconds: `2026-11-25T10:00:00.250000Z`."""
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_ts(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def to_json(reading: Reading) -> dict[str, object]:
    return {"signal": reading.signal, "ts": format_ts(reading.ts), "value": reading.value, "quality": reading.quality}


def as_utc(ts: datetime) -> datetime:
    """OPC UA stacks hand out naive UTC datetimes or aware ones; make them aware."""
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)
