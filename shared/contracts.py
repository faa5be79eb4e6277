"""Cross-service contracts, written once: the readings NOTIFY (channel, payload), roles, alert states, quality classes.

Both sides of each contract import it from here, so a rename or a new member cannot drift between services.
Pure: no database, HTTP or clock.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum
from typing import Annotated

import msgspec

READINGS_CHANNEL = "baseload_readings"  # ingest NOTIFYs it on commit; api (cache) and alerts (evaluator) LISTEN
NOTIFY_PAYLOAD_LIMIT = 7900  # PostgreSQL refuses NOTIFY payloads of 8000 bytes or more


class Role(StrEnum):
    """What an API key may do (stored in api_keys.role)."""

    GATEWAY = "gateway"
    PARTNER = "partner"
    OPERATOR = "operator"
    ADMIN = "admin"


class AlertState(StrEnum):
    """An alert's lifecycle state (stored in alerts.state)."""

    INACTIVE = "inactive"
    PENDING = "pending"
    FIRING = "firing"
    RESOLVED = "resolved"


class QualityClass(StrEnum):
    """OPC UA severity of a StatusCode: the top two bits (00 good, 01 uncertain, 1x bad)."""

    GOOD = "good"
    UNCERTAIN = "uncertain"
    BAD = "bad"


AwareDatetime = Annotated[datetime, msgspec.Meta(tz=True)]


class ReadingsChanged(msgspec.Struct, frozen=True, forbid_unknown_fields=False):
    """The `READINGS_CHANNEL` payload: committed readings touched these signals between start and end (inclusive)."""

    signal_ids: tuple[int, ...]
    start: AwareDatetime
    end: AwareDatetime


class ContractError(ValueError):
    """A payload that does not follow its contract."""


_DECODER = msgspec.json.Decoder(ReadingsChanged)


def encode_readings_changed(
    signal_ids: Iterable[int], start: datetime, end: datetime, *, limit: int = NOTIFY_PAYLOAD_LIMIT
) -> list[str]:
    """Compact JSON payloads naming the touched signals (sorted) and time range, split so each fits `limit` bytes."""
    ids = sorted(signal_ids)
    payloads: list[str] = []
    chunk = max(1, len(ids))
    while ids:
        payload = msgspec.json.encode(ReadingsChanged(tuple(ids[:chunk]), start, end)).decode()
        if len(payload) > limit and chunk > 1:
            chunk //= 2
            continue
        payloads.append(payload)
        ids = ids[chunk:]
    return payloads


def decode_readings_changed(payload: str | bytes) -> ReadingsChanged:
    """The payload as a `ReadingsChanged`; `ContractError` if it is not one."""
    try:
        return _DECODER.decode(payload)
    except msgspec.DecodeError as exc:  # ValidationError is a subclass
        raise ContractError(f"not a {READINGS_CHANNEL} payload: {exc}") from exc
