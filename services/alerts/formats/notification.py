"""One alert event as every payload format sees it (its own module, so the format modules never import the package
that imports them)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


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
