"""Our own JSON: {"type": "alert.firing"|"alert.resolved"|"alert.reminder", "timestamp": …, "data": {…}}."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from services.alerts.formats.notification import Notification, iso


def render(n: Notification, options: Mapping[str, Any]) -> dict[str, Any]:
    ack = {"by": n.acked_by, "at": iso(n.acked_at)} if n.acked_at else None
    return {
        "type": n.event_type,
        "timestamp": iso(n.at),
        "data": {
            "alert_id": n.alert_id,
            "fingerprint": n.fingerprint,
            "incident": n.incident,
            "rule": {"id": n.rule_id, "name": n.rule_name, "kind": n.rule_kind},
            "severity": n.severity,
            "status": n.status,
            "labels": dict(n.labels),
            "summary": n.summary,
            "value": n.value,
            "evidence": dict(n.evidence),
            "starts_at": iso(n.starts_at),
            "ends_at": iso(n.ends_at),
            "acknowledged": ack,
            "url": n.alert_url,
        },
    }
