"""Slack incoming-webhook text."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from services.alerts.formats.notification import Notification

ICONS = {"alert.firing": ":rotating_light:", "alert.reminder": ":bell:", "alert.resolved": ":white_check_mark:"}


def render(n: Notification, options: Mapping[str, Any]) -> dict[str, Any]:
    word = {"alert.firing": "FIRING", "alert.reminder": "STILL FIRING", "alert.resolved": "RESOLVED"}[n.event_type]
    labels = ", ".join(f"{k}={v}" for k, v in sorted(n.labels.items()))
    text = f"{ICONS[n.event_type]} *[{word}] {n.rule_name}* ({n.severity})\n{n.summary}\n`{labels}`\n<{n.alert_url}>"
    body: dict[str, Any] = {"text": text}
    if options.get("channel"):
        body["channel"] = str(options["channel"])
    return body
