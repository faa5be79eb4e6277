"""Standard Webhooks verification, as any receiver implements it from the wire format alone.

`webhook-signature` carries space-separated `v1,<base64 HMAC-SHA256>` entries of
"{webhook-id}.{webhook-timestamp}.{body}", keyed with the base64-decoded part of the `whsec_` secret. A timestamp
further than the tolerance from `now` (either way) is refused, so a captured request cannot be replayed later;
ids already seen are acknowledged, not shown twice.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass

SECRET_PREFIX = "whsec_"
DEFAULT_TOLERANCE_S = 300


class VerificationError(Exception):
    """The request is not a genuine, fresh delivery; `code` says why (missing_headers, stale_timestamp, …)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


@dataclass(frozen=True, slots=True)
class Delivery:
    """A verified delivery: its id and timestamp (seconds since the epoch)."""

    msg_id: str
    timestamp: int


def secret_key(secret: str) -> bytes:
    """The HMAC key of a `whsec_<base64>` secret (the prefix is optional)."""
    try:
        key = base64.b64decode(secret.strip().removeprefix(SECRET_PREFIX), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("the secret must be whsec_ followed by base64") from exc
    if not key:
        raise ValueError("the secret is empty")
    return key


def expected_signature(key: bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def verify(
    key: bytes, headers: Mapping[str, str], body: bytes, now: float, tolerance_s: float = DEFAULT_TOLERANCE_S
) -> Delivery:
    """The delivery if its headers are complete, its timestamp fresh and one v1 signature matches; else raise."""
    msg_id, raw_ts, offered = (headers.get(h) for h in ("webhook-id", "webhook-timestamp", "webhook-signature"))
    if not msg_id or not raw_ts or not offered:
        raise VerificationError("missing_headers", "webhook-id, webhook-timestamp and webhook-signature are required")
    try:
        timestamp = int(raw_ts)
    except ValueError as exc:
        raise VerificationError("invalid_timestamp", "webhook-timestamp must be integer seconds") from exc
    if abs(now - timestamp) > tolerance_s:
        raise VerificationError("stale_timestamp", f"webhook-timestamp is more than {tolerance_s:g} s from now")
    expected = expected_signature(key, msg_id, timestamp, body)
    # Every candidate is compared (in constant time each), whatever its version prefix.
    if not any(hmac.compare_digest(expected.encode(), c.encode()) for c in offered.split()):
        raise VerificationError("invalid_signature", "no webhook-signature matches the body")
    return Delivery(msg_id, timestamp)


class SeenIds:
    """The most recent `capacity` delivery ids, to acknowledge retries of a delivery without showing it twice."""

    def __init__(self, capacity: int = 10_000) -> None:
        self.capacity = capacity
        self._ids: OrderedDict[str, None] = OrderedDict()

    def first_time(self, msg_id: str) -> bool:
        """True the first time `msg_id` is offered (and remembers it)."""
        if msg_id in self._ids:
            self._ids.move_to_end(msg_id)
            return False
        self._ids[msg_id] = None
        if len(self._ids) > self.capacity:
            self._ids.popitem(last=False)
        return True
