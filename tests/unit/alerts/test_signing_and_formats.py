"""Standard Webhooks signatures and the four payload formats."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime

import pytest

from services.alerts import signing
from services.alerts.formats import Notification, render

AT = datetime(2026, 11, 25, 10, 0, 5, tzinfo=UTC)


def notification(**overrides: object) -> Notification:
    values: dict = dict(
        event_type="alert.firing",
        at=AT,
        alert_id=7,
        fingerprint="abc123",
        incident=2,
        rule_id=3,
        rule_name="grid-frequency-band",
        rule_kind="frequency_band",
        severity="critical",
        status="firing",
        labels={"alertname": "grid-frequency-band", "severity": "critical", "plant": "nish"},
        summary="grid frequency 49.750 Hz",
        value=49.75,
        evidence={"frequency_hz": 49.75},
        starts_at=AT,
        receiver="oncall",
        external_url="http://127.0.0.1:8003",
    )
    values.update(overrides)
    return Notification(**values)


def test_signature_matches_an_independent_hmac() -> None:
    key = b"0123456789abcdef0123456789abcdef"
    secret = "whsec_" + base64.b64encode(key).decode()
    body = b'{"a":1}'
    expected = base64.b64encode(hmac.new(key, b"msg_1.1700000000." + body, hashlib.sha256).digest()).decode()
    assert signing.signature(secret, "msg_1", 1700000000, body) == "v1," + expected


def test_verification_rejects_tampering_old_timestamps_and_other_secrets() -> None:
    secret = signing.new_secret()
    body = b'{"type":"alert.firing"}'
    headers = signing.signed_headers(secret, "msg_x", 1700000000, body)
    assert signing.verify(secret, headers, body, now=1700000010)
    assert not signing.verify(secret, headers, body + b" ", now=1700000010)
    assert not signing.verify(secret, headers, body, now=1700000000 + 301)
    assert not signing.verify(signing.new_secret(), headers, body, now=1700000010)
    assert secret.startswith("whsec_") and len(signing.secret_key(secret)) == 32


def test_standard_format() -> None:
    body = json.loads(render("standard", notification()))
    assert body["type"] == "alert.firing" and body["timestamp"] == "2026-11-25T10:00:05Z"
    assert body["data"]["labels"]["plant"] == "nish" and body["data"]["evidence"] == {"frequency_hz": 49.75}


def test_alertmanager_v4_payload() -> None:
    firing = json.loads(render("alertmanager", notification()))
    assert firing["version"] == "4" and firing["status"] == "firing" and firing["receiver"] == "oncall"
    alert = firing["alerts"][0]
    assert alert["endsAt"] == "0001-01-01T00:00:00Z" and alert["startsAt"] == "2026-11-25T10:00:05Z"
    assert set(alert) == {"status", "labels", "annotations", "startsAt", "endsAt", "generatorURL", "fingerprint"}
    resolved = json.loads(
        render(
            "alertmanager",
            notification(
                event_type="alert.resolved", status="resolved", ends_at=datetime(2026, 11, 25, 10, 5, tzinfo=UTC)
            ),
        )
    )
    assert resolved["status"] == "resolved" and resolved["alerts"][0]["endsAt"] == "2026-11-25T10:05:00Z"


@pytest.mark.parametrize(
    ("event", "status", "action"),
    [
        ("alert.firing", "firing", "trigger"),
        ("alert.reminder", "firing", "trigger"),
        ("alert.resolved", "resolved", "resolve"),
    ],
)
def test_pagerduty_events_v2(event: str, status: str, action: str) -> None:
    body = json.loads(render("pagerduty", notification(event_type=event, status=status), {"routing_key": "R" * 32}))
    assert body["event_action"] == action and body["dedup_key"] == "abc123" and body["routing_key"] == "R" * 32
    if action == "trigger":
        assert body["payload"]["severity"] == "critical" and body["payload"]["source"] == "nish"


def test_slack_text() -> None:
    body = json.loads(render("slack", notification(event_type="alert.resolved", status="resolved")))
    assert body["text"].startswith(":white_check_mark: *[RESOLVED] grid-frequency-band*")
