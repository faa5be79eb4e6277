"""The Alertmanager webhook payload (version 4), so existing Alertmanager receivers work unchanged."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from services.alerts.formats.notification import Notification, iso

ZERO_TIME = "0001-01-01T00:00:00Z"  # Alertmanager's endsAt for alerts that have not ended


def render(n: Notification, options: Mapping[str, Any]) -> dict[str, Any]:
    labels = dict(n.labels)
    annotations = {"summary": n.summary, "description": json.dumps(dict(n.evidence), separators=(",", ":"))}
    alert = {
        "status": n.status,
        "labels": labels,
        "annotations": annotations,
        "startsAt": iso(n.starts_at) or iso(n.at),
        "endsAt": iso(n.ends_at) if n.status == "resolved" else ZERO_TIME,
        "generatorURL": n.alert_url,
        "fingerprint": n.fingerprint,
    }
    return {
        "version": "4",
        "groupKey": f'{{}}:{{alertname="{n.rule_name}", fingerprint="{n.fingerprint}"}}',
        "truncatedAlerts": 0,
        "status": n.status,
        "receiver": n.receiver,
        "groupLabels": {"alertname": labels.get("alertname", n.rule_name)},
        "commonLabels": labels,
        "commonAnnotations": annotations,
        "externalURL": n.external_url,
        "alerts": [alert],
    }
