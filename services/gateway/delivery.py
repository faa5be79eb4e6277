"""Delivery decisions as pure functions: when a batch is due, what a response means, how long to back off."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum
from typing import Any


class Verdict(StrEnum):
    DELIVERED = "delivered"  # drop the batch from the buffer (some readings may have been rejected)
    RETRY = "retry"  # keep it; try again after a delay
    DEAD = "dead"  # the batch itself is unacceptable: move it to the dead letters


@dataclass(frozen=True, slots=True)
class Outcome:
    verdict: Verdict
    reason: str = ""
    retry_after_s: float | None = None
    accepted: int = 0
    duplicates: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)


# 401/403 are about the gateway's key, not the batch: dead-lettering every batch while a key is being fixed would
# empty the queue into dead letters, so they are retried (slowly, with the backoff cap) and logged loudly.
RETRYABLE_STATUSES = frozenset({401, 403, 408, 425, 429})


def batch_due(depth: int, oldest_age_s: float | None, max_size: int, max_age_s: float) -> bool:
    """Send when a full batch is waiting or the oldest waiting reading has aged past `max_age_s`."""
    if depth <= 0:
        return False
    return depth >= max_size or (oldest_age_s is not None and oldest_age_s >= max_age_s)


def classify(status: int, body: Any, retry_after: str | None, now: datetime) -> Outcome:
    """What an ingest response means for the batch that was sent."""
    if 200 <= status < 300:
        body = body if isinstance(body, dict) else {}
        return Outcome(
            Verdict.DELIVERED,
            accepted=int(body.get("accepted", 0)),
            duplicates=int(body.get("duplicates", 0)),
            rejected=list(body.get("rejected") or []),
        )
    reason = f"HTTP {status}{_error_code(body)}"
    if status in RETRYABLE_STATUSES or status >= 500:
        return Outcome(Verdict.RETRY, reason, retry_after_s=parse_retry_after(retry_after, now))
    return Outcome(Verdict.DEAD, reason)


def _error_code(body: Any) -> str:
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict) and error.get("code"):
        return f" {error['code']}: {error.get('message', '')}".rstrip(": ")
    return ""


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """`Retry-After` as delta-seconds or an HTTP-date → seconds from `now` (never negative); None if absent/invalid."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, (when - now).total_seconds())


def backoff_s(attempt: int, base_s: float, max_s: float, rng: random.Random) -> float:
    """Exponential backoff with "equal jitter": half fixed, half random, so retries spread out but never hammer."""
    ceiling = min(max_s, base_s * 2 ** min(attempt, 30))
    return ceiling / 2 + rng.uniform(0, ceiling / 2)


def retry_delay_s(
    attempt: int, retry_after_s: float | None, base_s: float, max_s: float, max_retry_after_s: float, rng: random.Random
) -> float:
    """The wait before the next attempt: our backoff, or the server's Retry-After if longer (capped)."""
    delay = backoff_s(attempt, base_s, max_s, rng)
    if retry_after_s is not None:
        delay = max(delay, min(retry_after_s, max_retry_after_s))
    return delay
