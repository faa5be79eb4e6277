"""Rules: what each kind needs from the database and how it turns those inputs into verdicts, given `now`.

A rule yields one verdict per alert instance (its labels extend the rule's); the fingerprint of rule + labels
identifies the alert. Commitment-based kinds live in `baseload_rules.py`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from services.alerts.deviation import DEFAULT_MAX_GAP_S, CommitmentBook, Minute
from services.alerts.lifecycle import Timing
from shared.settlement import Reading
from shared.settlement.frequency import to_mhz

SIGNAL_KINDS = ("threshold", "frequency_band")
BASELOAD_KINDS = ("baseload_deviation", "frequency_corrected_deviation", "sustained_under_delivery")
KINDS = (*SIGNAL_KINDS, "stale", *BASELOAD_KINDS)
# Kinds that change with the clock alone, so the timer evaluates them every tick.
TIMER_KINDS = ("stale", *BASELOAD_KINDS)
SEVERITIES = ("critical", "warning", "info")


@dataclass(frozen=True, slots=True)
class Rule:
    id: int
    name: str
    kind: str
    severity: str
    labels: Mapping[str, str]
    params: Mapping[str, Any]
    timing: Timing
    signals: Mapping[str, int] = field(default_factory=dict)  # role ("signal", "frequency_signal") → signal id
    plant_id: int | None = None
    plant_key: str | None = None
    p_nominal_mw: float | None = None

    @property
    def signal_ids(self) -> frozenset[int]:
        return frozenset(self.signals.values())


@dataclass(frozen=True, slots=True)
class Sample:
    ts: datetime
    value: float


@dataclass
class Needs:
    """What a cycle must read: latest Good values, last reading times, gateway last-seen, minute series and raw
    readings (for the settlement engine's held integral)."""

    latest: set[int] = field(default_factory=set)
    last_seen: set[int] = field(default_factory=set)
    gateways: set[str] = field(default_factory=set)
    minutes: dict[int, datetime] = field(default_factory=dict)  # signal id → since
    readings: dict[int, datetime] = field(default_factory=dict)  # signal id → since

    def want_minutes(self, signal_id: int, since: datetime) -> None:
        self.minutes[signal_id] = min(since, self.minutes.get(signal_id, since))

    def want_readings(self, signal_id: int, since: datetime) -> None:
        self.readings[signal_id] = min(since, self.readings.get(signal_id, since))


@dataclass
class Inputs:
    latest: dict[int, Sample] = field(default_factory=dict)
    last_seen: dict[int, datetime] = field(default_factory=dict)
    gateway_seen: dict[str, datetime | None] = field(default_factory=dict)
    minutes: dict[int, list[Minute]] = field(default_factory=dict)
    # Every reading (all qualities, time order) since the wanted instant, with the two before it.
    readings: dict[int, list[Reading]] = field(default_factory=dict)
    books: dict[int, CommitmentBook] = field(default_factory=dict)
    max_gap_s: float = DEFAULT_MAX_GAP_S


@dataclass(frozen=True, slots=True)
class Verdict:
    labels: Mapping[str, str]
    active: bool | None
    summary: str
    value: float | None = None
    evidence: Mapping[str, Any] = field(default_factory=dict)


def fingerprint(rule_id: int, labels: Mapping[str, str]) -> str:
    """Stable identity of an alert: the rule and its full label set."""
    text = json.dumps([rule_id, sorted(labels.items())], separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def base_labels(rule: Rule) -> dict[str, str]:
    labels = {"alertname": rule.name, "severity": rule.severity, "kind": rule.kind}
    if rule.plant_key:
        labels["plant"] = rule.plant_key
    if rule.params.get("signal"):
        labels["signal"] = str(rule.params["signal"])
    if rule.params.get("gateway"):
        labels["gateway"] = str(rule.params["gateway"])
    return {**labels, **rule.labels}


def needs(rule: Rule, books: Mapping[int, CommitmentBook], now: datetime) -> Needs:
    """The inputs `rule` reads at `now`."""
    # Imported here because baseload_rules builds on this module's types.
    from services.alerts import baseload_rules

    out = Needs()
    if rule.kind in SIGNAL_KINDS:
        out.latest.add(rule.signals["signal"])
    elif rule.kind == "stale":
        if "signal" in rule.signals:
            out.last_seen.add(rule.signals["signal"])
        else:
            out.gateways.add(str(rule.params["gateway"]))
    else:
        baseload_rules.add_needs(rule, books, now, out)
    return out


def evaluate(rule: Rule, inputs: Inputs, now: datetime) -> list[Verdict]:
    """The verdicts of `rule` at `now`."""
    from services.alerts import baseload_rules  # see needs()

    if rule.kind == "threshold":
        return [_threshold(rule, inputs, now)]
    if rule.kind == "frequency_band":
        return [_band(rule, inputs, now)]
    if rule.kind == "stale":
        return [_stale(rule, inputs, now)]
    return baseload_rules.evaluate(rule, inputs, now)


def fresh_sample(rule: Rule, inputs: Inputs, now: datetime, role: str = "signal") -> Sample | None:
    sample = inputs.latest.get(rule.signals.get(role, -1))
    max_age = timedelta(seconds=float(rule.params.get("max_age_s", 300)))
    return sample if sample is not None and now - sample.ts <= max_age else None


def _threshold(rule: Rule, inputs: Inputs, now: datetime) -> Verdict:
    labels = base_labels(rule)
    sample = fresh_sample(rule, inputs, now)
    limit, op = float(rule.params["value"]), str(rule.params["op"])
    if sample is None:
        return Verdict(labels, False, f"{rule.params['signal']}: no recent reading", None, {"no_data": True})
    active = sample.value > limit if op == "above" else sample.value < limit
    summary = f"{rule.params['signal']} = {sample.value:g} ({op} {limit:g})"
    evidence = {"value": sample.value, "reading_ts": sample.ts.isoformat(), "op": op, "threshold": limit}
    return Verdict(labels, active, summary, sample.value, evidence)


def _band(rule: Rule, inputs: Inputs, now: datetime) -> Verdict:
    labels = base_labels(rule)
    sample = fresh_sample(rule, inputs, now)
    low, high = float(rule.params["low_hz"]), float(rule.params["high_hz"])
    if sample is None:
        return Verdict(labels, False, f"{rule.params['signal']}: no recent reading", None, {"no_data": True})
    # Integer mHz, boundary inside: the rule shared.settlement.frequency states for the report too.
    active = not (to_mhz(low) <= to_mhz(sample.value) <= to_mhz(high))
    nominal = float(rule.params.get("nominal_hz", 50.0))
    evidence = {"frequency_hz": sample.value, "reading_ts": sample.ts.isoformat(), "low_hz": low, "high_hz": high,
                "delta_mhz": round((sample.value - nominal) * 1000.0, 3)}
    summary = f"grid frequency {sample.value:.3f} Hz, band {low:g}–{high:g} Hz"
    return Verdict(labels, active, summary, sample.value, evidence)


def _stale(rule: Rule, inputs: Inputs, now: datetime) -> Verdict:
    labels = base_labels(rule)
    max_silence = float(rule.params["max_silence_s"])
    if "signal" in rule.signals:
        what, last = str(rule.params["signal"]), inputs.last_seen.get(rule.signals["signal"])
    else:
        what, last = f"gateway {rule.params['gateway']}", inputs.gateway_seen.get(str(rule.params["gateway"]))
    silent_s = None if last is None else (now - last).total_seconds()
    active = silent_s is None or silent_s > max_silence
    evidence = {"last_seen": last.isoformat() if last else None, "silent_s": silent_s, "max_silence_s": max_silence}
    summary = f"{what}: no data since {last.isoformat() if last else 'ever (within the lookback)'}"
    return Verdict(labels, active, summary, silent_s, evidence)
