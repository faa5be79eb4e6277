"""The alert rules' domain types: a rule as loaded, what a cycle reads for it (`Needs` → `Inputs`) and what it
concludes (`Verdict`), plus the label helpers every kind shares. Pure; imported by `rules.py` and
`baseload_rules.py` alike, so the two rule modules never import each other both ways."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from services.alerts.deviation import DEFAULT_MAX_GAP_S, DEFAULT_MIN_COVERAGE, CommitmentBook, Minute
from services.alerts.lifecycle import Timing
from services.alerts.params import RuleParams, StaleParams
from shared.settlement import Integral

SIGNAL_KINDS = ("threshold", "frequency_band")
BASELOAD_KINDS = ("baseload_deviation", "frequency_corrected_deviation", "sustained_under_delivery")
KINDS = (*SIGNAL_KINDS, "stale", *BASELOAD_KINDS)
# Kinds that change with the clock alone, so the timer evaluates them every tick.
TIMER_KINDS = ("stale", *BASELOAD_KINDS)
SEVERITIES = ("critical", "warning", "info")
# A held integral asked for: the signal and the bucket edges [e0, e1), [e1, e2), ...
HeldKey = tuple[int, tuple[datetime, ...]]


@dataclass(frozen=True, slots=True)
class Rule:
    id: int
    name: str
    kind: str
    severity: str
    labels: Mapping[str, str]
    params: RuleParams  # the kind's typed model (services/alerts/params.py), parsed once when the rule is loaded
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
    """What a cycle must read: latest Good values, last reading times, gateway last-seen, minute series and held
    integrals over given buckets (the settlement engine's, read exactly from the rollups)."""

    latest: set[int] = field(default_factory=set)
    last_seen: set[int] = field(default_factory=set)
    gateways: set[str] = field(default_factory=set)
    minutes: dict[int, datetime] = field(default_factory=dict)  # signal id → since
    held: set[HeldKey] = field(default_factory=set)

    def want_minutes(self, signal_id: int, since: datetime) -> None:
        self.minutes[signal_id] = min(since, self.minutes.get(signal_id, since))


@dataclass
class Inputs:
    latest: dict[int, Sample] = field(default_factory=dict)
    last_seen: dict[int, datetime] = field(default_factory=dict)
    gateway_seen: dict[str, datetime | None] = field(default_factory=dict)
    minutes: dict[int, list[Minute]] = field(default_factory=dict)
    # The exact held integral (Good readings) of each bucket asked for in `Needs.held`.
    held: dict[HeldKey, list[Integral]] = field(default_factory=dict)
    books: dict[int, CommitmentBook] = field(default_factory=dict)
    # The settlement parameters the api uses too (shared.settings.SettlingServiceSettings).
    max_gap_s: float = DEFAULT_MAX_GAP_S
    min_coverage: float = DEFAULT_MIN_COVERAGE
    # The evidence each of the rule's alerts stored last time, by fingerprint (what a revision compares with).
    previous: dict[str, Mapping[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Verdict:
    labels: Mapping[str, str]
    active: bool | None
    summary: str
    value: float | None = None
    evidence: Mapping[str, Any] = field(default_factory=dict)
    keep: bool = False  # store the alert even while it was never active (its evidence is the next cycle's memory)
    timing: Timing | None = None  # instead of the rule's (e.g. an announcement fires at once)


def fingerprint(rule_id: int, labels: Mapping[str, str]) -> str:
    """Stable identity of an alert: the rule and its full label set."""
    text = json.dumps([rule_id, sorted(labels.items())], separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def base_labels(rule: Rule) -> dict[str, str]:
    labels = {"alertname": rule.name, "severity": rule.severity, "kind": rule.kind}
    if rule.plant_key:
        labels["plant"] = rule.plant_key
    if rule.params.signal:
        labels["signal"] = rule.params.signal
    if isinstance(rule.params, StaleParams) and rule.params.gateway:
        labels["gateway"] = rule.params.gateway
    return {**labels, **rule.labels}


def fresh_sample(rule: Rule, inputs: Inputs, now: datetime, max_age_s: float, role: str = "signal") -> Sample | None:
    """The latest Good value of the rule's `role` signal, if it is at most `max_age_s` old."""
    sample = inputs.latest.get(rule.signals.get(role, -1))
    return sample if sample is not None and now - sample.ts <= timedelta(seconds=max_age_s) else None
