"""Rules: what each kind needs from the database and how it turns those inputs into verdicts, given `now`.

A rule yields one verdict per alert instance (its labels extend the rule's); the fingerprint of rule + labels
identifies the alert. Commitment-based kinds live in `baseload_rules.py`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from services.alerts import baseload_rules
from services.alerts.deviation import CommitmentBook
from services.alerts.model import (
    BASELOAD_KINDS,
    KINDS,
    SEVERITIES,
    SIGNAL_KINDS,
    TIMER_KINDS,
    Inputs,
    Needs,
    Rule,
    Sample,
    Verdict,
    base_labels,
    fingerprint,
    fresh_sample,
)
from shared.settlement.frequency import to_mhz

__all__ = [
    "BASELOAD_KINDS",
    "KINDS",
    "SEVERITIES",
    "SIGNAL_KINDS",
    "TIMER_KINDS",
    "Inputs",
    "Needs",
    "Rule",
    "Sample",
    "Verdict",
    "base_labels",
    "evaluate",
    "fingerprint",
    "fresh_sample",
    "needs",
]


def needs(rule: Rule, books: Mapping[int, CommitmentBook], now: datetime) -> Needs:
    """The inputs `rule` reads at `now`."""
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
    if rule.kind == "threshold":
        return [_threshold(rule, inputs, now)]
    if rule.kind == "frequency_band":
        return [_band(rule, inputs, now)]
    if rule.kind == "stale":
        return [_stale(rule, inputs, now)]
    return baseload_rules.evaluate(rule, inputs, now)


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
    evidence = {
        "frequency_hz": sample.value,
        "reading_ts": sample.ts.isoformat(),
        "low_hz": low,
        "high_hz": high,
        "delta_mhz": round((sample.value - nominal) * 1000.0, 3),
    }
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
