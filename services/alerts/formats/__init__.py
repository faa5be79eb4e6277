"""Payload formats: one module per receiver type, each `render(notification, options) -> dict`."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from services.alerts.formats import alertmanager, pagerduty, slack, standard
from services.alerts.formats.notification import Notification, iso

__all__ = ["FORMATS", "RENDERERS", "Notification", "iso", "render"]

FORMATS = ("standard", "alertmanager", "pagerduty", "slack")


RENDERERS: dict[str, Callable[[Notification, Mapping[str, Any]], dict[str, Any]]] = {
    "standard": standard.render,
    "alertmanager": alertmanager.render,
    "pagerduty": pagerduty.render,
    "slack": slack.render,
}


def render(fmt: str, notification: Notification, options: Mapping[str, Any] | None = None) -> bytes:
    """The request body for `fmt`, as compact UTF-8 JSON (stored once, so every retry sends the same bytes)."""
    payload = RENDERERS[fmt](notification, options or {})
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
