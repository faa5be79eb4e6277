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
from services.alerts.params import FrequencyBandParams, StaleParams, ThresholdParams
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
    p = rule.params
    if isinstance(p, ThresholdParams | FrequencyBandParams):
        out.latest.add(rule.signals["signal"])
    elif isinstance(p, StaleParams):
        if p.gateway is not None:
            out.gateways.add(p.gateway)
        else:
            out.last_seen.add(rule.signals["signal"])
    else:
        baseload_rules.add_needs(rule, p, books, now, out)
    return out


def evaluate(rule: Rule, inputs: Inputs, now: datetime) -> list[Verdict]:
    """The verdicts of `rule` at `now`."""
    p = rule.params
    if isinstance(p, ThresholdParams):
        return [_threshold(rule, p, inputs, now)]
    if isinstance(p, FrequencyBandParams):
        return [_band(rule, p, inputs, now)]
    if isinstance(p, StaleParams):
        return [_stale(rule, p, inputs, now)]
    return baseload_rules.evaluate(rule, p, inputs, now)


def _threshold(rule: Rule, p: ThresholdParams, inputs: Inputs, now: datetime) -> Verdict:
    labels = base_labels(rule)
    sample = fresh_sample(rule, inputs, now, p.max_age)
    if sample is None:
        return Verdict(labels, False, f"{p.signal}: no recent reading", None, {"no_data": True})
    active = sample.value > p.value if p.op == "above" else sample.value < p.value
    summary = f"{p.signal} = {sample.value:g} ({p.op} {p.value:g})"
    evidence = {"value": sample.value, "reading_ts": sample.ts.isoformat(), "op": p.op, "threshold": p.value}
    return Verdict(labels, active, summary, sample.value, evidence)


def _band(rule: Rule, p: FrequencyBandParams, inputs: Inputs, now: datetime) -> Verdict:
    labels = base_labels(rule)
    sample = fresh_sample(rule, inputs, now, p.max_age)
    if sample is None:
        return Verdict(labels, False, f"{p.signal}: no recent reading", None, {"no_data": True})
    # Integer mHz, boundary inside: the rule shared.settlement.frequency states for the report too.
    active = not (to_mhz(p.low_hz) <= to_mhz(sample.value) <= to_mhz(p.high_hz))
    evidence = {
        "frequency_hz": sample.value,
        "reading_ts": sample.ts.isoformat(),
        "low_hz": p.low_hz,
        "high_hz": p.high_hz,
        "delta_mhz": round((sample.value - p.nominal_hz) * 1000.0, 3),
    }
    summary = f"grid frequency {sample.value:.3f} Hz, band {p.low_hz:g}–{p.high_hz:g} Hz"
    return Verdict(labels, active, summary, sample.value, evidence)


def _stale(rule: Rule, p: StaleParams, inputs: Inputs, now: datetime) -> Verdict:
    labels = base_labels(rule)
    if p.gateway is not None:
        what, last = f"gateway {p.gateway}", inputs.gateway_seen.get(p.gateway)
    else:
        what, last = str(p.signal), inputs.last_seen.get(rule.signals["signal"])
    silent_s = None if last is None else (now - last).total_seconds()
    active = silent_s is None or silent_s > p.max_silence
    evidence = {"last_seen": last.isoformat() if last else None, "silent_s": silent_s, "max_silence_s": p.max_silence}
    summary = f"{what}: no data since {last.isoformat() if last else 'ever (within the lookback)'}"
    return Verdict(labels, active, summary, silent_s, evidence)
