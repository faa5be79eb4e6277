"""The sink's one-line rendering of alert payloads."""

from __future__ import annotations

from services.sink.describe import describe


def standard(event: str = "alert.firing", **evidence: object) -> dict[str, object]:
    return {
        "type": event,
        "timestamp": "2026-11-25T10:15:12Z",
        "data": {
            "rule": {"id": 3, "name": "baseload-deviation", "kind": "frequency_corrected_deviation"},
            "severity": "critical",
            "status": "firing",
            "summary": "period 10:00–10:15 UTC: deviation -239.8 MW",
            "labels": {"alertname": "baseload-deviation", "plant": "nish", "check": "final"},
            "evidence": evidence,
        },
    }


def test_a_deviation_alert_shows_event_severity_rule_plant_and_signed_deviation() -> None:
    line = describe(standard(deviation_mw=-239.81, deviation_mwh=-59.9525, committed_mw=480.0))
    assert line.startswith("FIRING critical baseload-deviation plant=nish check=final ")
    assert "deviation -239.81 MW -59.95 MWh" in line and "committed 480 MW" in line
    assert line.endswith("| period 10:00–10:15 UTC: deviation -239.8 MW")


def test_a_frequency_alert_shows_hertz_and_millihertz() -> None:
    line = describe(standard("alert.resolved", frequency_hz=49.78, delta_mhz=-220.0))
    assert line.startswith("RESOLVED critical") and "f 49.78 Hz Δf -220 mHz" in line


def test_alertmanager_and_slack_payloads_are_readable_too() -> None:
    labels = {"alertname": "x", "severity": "warning", "plant": "nish"}
    am = {"version": "4", "alerts": [{"status": "firing", "labels": labels, "annotations": {"summary": "s"}}]}
    assert describe(am) == "FIRING warning x plant=nish | s"
    assert describe({"text": ":bell: *[FIRING] x*\nsummary"}) == ":bell: *[FIRING] x* summary"


def test_anything_else_is_shown_raw_and_short() -> None:
    assert describe([1, 2]).startswith("unrecognised payload: [1, 2]")
