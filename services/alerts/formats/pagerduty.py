"""PagerDuty Events API v2: trigger on firing/reminder, resolve on resolved, one `dedup_key` per alert."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from services.alerts.formats.notification import Notification, iso

SUMMARY_LIMIT = 1024  # PagerDuty truncates longer summaries


def render(n: Notification, options: Mapping[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = {
        "routing_key": str(options.get("routing_key", "")),
        "event_action": "resolve" if n.status == "resolved" else "trigger",
        "dedup_key": n.fingerprint,
    }
    if n.status != "resolved":
        body["payload"] = {
            "summary": f"[{n.severity.upper()}] {n.rule_name}: {n.summary}"[:SUMMARY_LIMIT],
            "source": n.labels.get("plant", "baseload"),
            "severity": n.severity,
            "timestamp": iso(n.starts_at or n.at),
            "component": n.labels.get("signal", n.labels.get("gateway", "")),
            "group": n.labels.get("plant", ""),
            "class": n.rule_kind,
            "custom_details": {
                "labels": dict(n.labels),
                "evidence": dict(n.evidence),
                "value": n.value,
                "incident": n.incident,
            },
        }
        body["links"] = [{"href": n.alert_url, "text": "Alert in Baseload"}]
    return body
