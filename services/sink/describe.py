"""One readable line per delivered alert, from the payload alone (our `standard` JSON, Alertmanager v4, Slack text)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

EVENT_WORDS = {"alert.firing": "FIRING", "alert.resolved": "RESOLVED", "alert.reminder": "REMINDER"}
# Evidence worth a glance, in this order, with its unit.
KEY_NUMBERS = (
    ("deviation_mw", "deviation", "MW"),
    ("deviation_mwh", "", "MWh"),
    ("mean_mw", "mean", "MW"),
    ("projected_mean_mw", "projected", "MW"),
    ("committed_mw", "committed", "MW"),
    ("shortfall_mw", "shortfall", "MW"),
    ("shortfall_mwh", "", "MWh"),
    ("frequency_hz", "f", "Hz"),
    ("delta_mhz", "Δf", "mHz"),
    ("silent_s", "silent", "s"),
)


def describe(payload: Any) -> str:
    """`FIRING critical baseload-deviation plant=nish deviation -239.8 MW -59.95 MWh … | <summary>`."""
    if isinstance(payload, Mapping) and isinstance(payload.get("data"), Mapping) and "type" in payload:
        return _standard(payload)
    if isinstance(payload, Mapping) and payload.get("version") == "4" and payload.get("alerts"):
        return _alertmanager(payload)
    if isinstance(payload, Mapping) and isinstance(payload.get("text"), str):
        return " ".join(payload["text"].split())
    return f"unrecognised payload: {str(payload)[:200]}"


def key_numbers(evidence: Mapping[str, Any]) -> str:
    parts = []
    for field, label, unit in KEY_NUMBERS:
        value = evidence.get(field)
        if isinstance(value, int | float) and not isinstance(value, bool):
            number = f"{value:+.2f}" if field.startswith("deviation") else f"{value:g}"
            parts.append(f"{label} {number} {unit}".strip())
    return " ".join(parts)


def _standard(payload: Mapping[str, Any]) -> str:
    data = payload["data"]
    rule = data.get("rule") or {}
    labels = data.get("labels") or {}
    head = [
        EVENT_WORDS.get(str(payload["type"]), str(payload["type"])),
        str(data.get("severity", "?")),
        str(rule.get("name") or labels.get("alertname", "?")),
    ]
    head += [f"{k}={labels[k]}" for k in ("plant", "check", "signal") if k in labels]
    numbers = key_numbers(data.get("evidence") or {})
    summary = str(data.get("summary") or "")
    return " ".join([*head, *([numbers] if numbers else [])]) + (f" | {summary}" if summary else "")


def _alertmanager(payload: Mapping[str, Any]) -> str:
    lines = []
    for alert in payload["alerts"]:
        labels = alert.get("labels") or {}
        summary = (alert.get("annotations") or {}).get("summary", "")
        lines.append(
            f"{str(alert.get('status', '?')).upper()} {labels.get('severity', '?')} "
            f"{labels.get('alertname', '?')} plant={labels.get('plant', '-')} | {summary}"
        )
    return "; ".join(lines)
