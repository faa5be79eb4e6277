"""Payload formats: one module per receiver type, each `render(notification, options) -> dict`."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

FORMATS = ("standard", "alertmanager", "pagerduty", "slack")


@dataclass(frozen=True, slots=True)
class Notification:
    """One alert event as every format sees it."""

    event_type: str  # alert.firing | alert.resolved | alert.reminder
    at: datetime
    alert_id: int
    fingerprint: str
    incident: int
    rule_id: int
    rule_name: str
    rule_kind: str
    severity: str
    status: str  # firing | resolved
    labels: Mapping[str, str]
    summary: str
    value: float | None = None
    evidence: Mapping[str, Any] = field(default_factory=dict)
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    acked_by: str | None = None
    acked_at: datetime | None = None
    receiver: str = ""
    external_url: str = ""

    @property
    def alert_url(self) -> str:
        return f"{self.external_url.rstrip('/')}/v1/alerts/{self.alert_id}"


def iso(ts: datetime | None) -> str | None:
    return ts.isoformat().replace("+00:00", "Z") if ts else None


def _renderers() -> dict[str, Callable[[Notification, Mapping[str, Any]], dict[str, Any]]]:
    from services.alerts.formats import alertmanager, pagerduty, slack, standard

    return {"standard": standard.render, "alertmanager": alertmanager.render, "pagerduty": pagerduty.render,
            "slack": slack.render}


def render(fmt: str, notification: Notification, options: Mapping[str, Any] | None = None) -> bytes:
    """The request body for `fmt`, as compact UTF-8 JSON (stored once, so every retry sends the same bytes)."""
    payload = _renderers()[fmt](notification, options or {})
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
