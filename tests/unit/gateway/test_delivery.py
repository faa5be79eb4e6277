"""Delivery decisions: batching, response classes, Retry-After and jittered backoff."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from services.gateway.delivery import Verdict, backoff_s, batch_due, classify, parse_retry_after, retry_delay_s

NOW = datetime(2026, 11, 25, 10, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("depth", "age", "due"),
    [
        (0, None, False),
        (3, 0.2, False),
        (3, 1.0, True),
        (500, 0.0, True),
        (499, 0.99, False),
    ],
)
def test_a_batch_is_due_when_full_or_old(depth: int, age: float | None, due: bool) -> None:
    assert batch_due(depth, age, max_size=500, max_age_s=1.0) is due


def test_a_200_is_delivered_with_its_rejections() -> None:
    body = {"accepted": 2, "duplicates": 1, "rejected": [{"index": 3, "code": "unknown_signal", "message": "x"}]}
    outcome = classify(200, body, None, NOW)
    assert outcome.verdict is Verdict.DELIVERED
    assert (outcome.accepted, outcome.duplicates, len(outcome.rejected)) == (2, 1, 1)


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504, 401, 403])
def test_transient_and_key_failures_are_retried(status: int) -> None:
    assert classify(status, None, None, NOW).verdict is Verdict.RETRY


@pytest.mark.parametrize("status", [400, 404, 413, 415, 422])
def test_a_batch_ingest_refuses_for_good_is_dead_lettered_with_the_reason(status: int) -> None:
    outcome = classify(status, {"error": {"code": "invalid_body", "message": "bad json"}}, None, NOW)
    assert outcome.verdict is Verdict.DEAD
    assert outcome.reason == f"HTTP {status} invalid_body: bad json"


def test_retry_after_is_read_from_a_503() -> None:
    assert classify(503, None, "7", NOW).retry_after_s == 7.0


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("", None),
        ("0", 0.0),
        ("120", 120.0),
        ("soon", None),
        ("Wed, 25 Nov 2026 10:00:30 GMT", 30.0),
        ("Wed, 25 Nov 2026 09:59:00 GMT", 0.0),
    ],
)
def test_retry_after_as_seconds_or_http_date(header: str | None, expected: float | None) -> None:
    assert parse_retry_after(header, NOW) == expected


def test_backoff_grows_exponentially_within_its_jitter_band_and_caps() -> None:
    rng = random.Random(1)
    for attempt, ceiling in [(0, 0.5), (1, 1.0), (2, 2.0), (3, 4.0), (10, 30.0), (100, 30.0)]:
        delays = [backoff_s(attempt, 0.5, 30.0, rng) for _ in range(200)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert max(delays) - min(delays) > ceiling / 4  # actually jittered


def test_retry_after_wins_when_longer_but_is_capped() -> None:
    rng = random.Random(1)
    assert retry_delay_s(0, 20.0, 0.5, 30.0, 300.0, rng) == 20.0
    assert retry_delay_s(0, 10_000.0, 0.5, 30.0, 300.0, rng) == 300.0
    assert retry_delay_s(5, 0.0, 0.5, 30.0, 300.0, rng) >= 8.0
