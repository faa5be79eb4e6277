"""Commitment-based rule kinds: per-period deviation (final verdict + early warning), its frequency-corrected
variant, and sustained under-delivery over a rolling window.

The final verdict of a period is the settlement engine's (shared.settlement, the numbers of the api's compliance
report), given once the period has ended plus the rule's `final_delay` grace for late data; if late data then
changes that period's verdict, the alert says so. Until the period ends, the projected check only warns, and says
that it extrapolates.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from services.alerts.deviation import (
    CommitmentBook,
    minutes_in,
    project,
    sample_mean,
    settle,
    settlement_evidence,
)
from services.alerts.frequency_response import Droop, mean_response_mw, projected_response_mw
from services.alerts.model import Inputs, Needs, Rule, Verdict, base_labels, fresh_sample
from shared.settlement import SettlementPeriod
from shared.settlement import settlement_periods as periods_between
from shared.settlement.verdict import EXCLUDED, INSUFFICIENT_DATA, NO_COMMITMENT, NON_COMPLIANT


def add_needs(rule: Rule, books: Mapping[int, CommitmentBook], now: datetime, out: Needs) -> None:
    book = books.get(rule.plant_id or -1) or CommitmentBook()
    if rule.kind == "sustained_under_delivery":
        since = now - timedelta(seconds=float(rule.params["window_s"]))
        out.want_minutes(rule.signals["signal"], since)
        out.latest.add(rule.signals["signal"])
        return
    final = book.last_ended(now - _grace(rule))
    since = final.start if final is not None else now - timedelta(seconds=book.longest_period_s)
    out.want_readings(rule.signals["signal"], since)
    out.latest.add(rule.signals["signal"])
    if "frequency_signal" in rule.signals:
        out.want_minutes(rule.signals["frequency_signal"], since)
        out.latest.add(rule.signals["frequency_signal"])


def evaluate(rule: Rule, inputs: Inputs, now: datetime) -> list[Verdict]:
    book = inputs.books.get(rule.plant_id or -1, CommitmentBook())
    if rule.kind == "sustained_under_delivery":
        return [_sustained(rule, inputs, book, now)]
    verdicts = [_final(rule, inputs, book, now)]
    if rule.params.get("early_warning", True):
        verdicts.append(_projected(rule, inputs, book, now))
    return verdicts


def _grace(rule: Rule) -> timedelta:
    return timedelta(seconds=float(rule.params.get("final_delay_s", 10)))


def _droop(rule: Rule) -> Droop | None:
    if rule.kind != "frequency_corrected_deviation":
        return None
    p = rule.params
    full = p.get("full_activation_mhz", 200)
    return Droop(
        p_nominal_mw=float(p.get("p_nominal_mw") or rule.p_nominal_mw or 0.0),
        droop=float(p.get("droop", 0.05)),
        deadband_hz=float(p.get("deadband_mhz", 10)) / 1000.0,
        nominal_hz=float(p.get("nominal_hz", 50.0)),
        full_activation_hz=None if full is None else float(full) / 1000.0,
    )


def _labels(rule: Rule, check: str) -> dict[str, str]:
    return {**base_labels(rule), "check": check}


def _offset(rule: Rule, inputs: Inputs, period: SettlementPeriod) -> float:
    droop = _droop(rule)
    if droop is None:
        return 0.0
    return mean_response_mw(inputs.minutes.get(rule.signals["frequency_signal"], []), period.start, period.end, droop)


def _final(rule: Rule, inputs: Inputs, book: CommitmentBook, now: datetime) -> Verdict:
    """The last settlement period that ended at least `final_delay_s` ago, settled as the api settles it."""
    labels = _labels(rule, "final")
    period = book.last_ended(now - _grace(rule))
    if period is None or period.commitment is None:
        return Verdict(labels, False, "no commitment", None, {"reason": "no_commitment"})
    offset = _offset(rule, inputs, period)
    result = settle(
        period,
        inputs.readings.get(rule.signals["signal"], []),
        book,
        max_gap_s=inputs.max_gap_s,
        min_coverage=float(rule.params.get("min_coverage", 0.5)),
        expected_offset_mw=offset,
    )
    evidence = {**settlement_evidence(result), "frequency_response_mw": offset}
    span = f"period {period.start:%H:%M}–{period.end:%H:%M} UTC"
    if result.status in (EXCLUDED, NO_COMMITMENT):
        return Verdict(labels, False, f"{span}: {result.status}", None, evidence)
    if result.status == INSUFFICIENT_DATA:
        return Verdict(
            labels, None, f"{span}: not enough data for a verdict (coverage {result.coverage:.0%})", None, evidence
        )
    summary = (
        f"{span}: delivered {result.delivered_mw:.1f} MW vs {result.committed_mw:.1f} ± "
        f"{result.tolerance_mw:g} MW, deviation {result.deviation_mw:+.1f} MW ({result.deviation_mwh:+.2f} MWh)"
        f", coverage {result.coverage:.0%}"
    )
    return Verdict(labels, result.status == NON_COMPLIANT, summary, result.deviation_mw, evidence)


def revised(verdict: Verdict, previous: Mapping[str, Any] | None) -> Verdict:
    """If this verdict re-judges the period its alert judged last time and the verdict changed (late data), say so."""
    if previous is None or "period_start" not in verdict.evidence:
        return verdict
    same_period = previous.get("period_start") == verdict.evidence["period_start"]
    before, now = previous.get("status"), verdict.evidence.get("status")
    if not same_period or before is None or before == now:
        return verdict
    note = f"revised by late data: {before} → {now}"
    return replace(
        verdict,
        summary=f"{note}; {verdict.summary}",
        evidence={**verdict.evidence, "revised_from": before, "revision": note},
    )


def _projected(rule: Rule, inputs: Inputs, book: CommitmentBook, now: datetime) -> Verdict:
    """Early warning: if the current output holds, the running period's mean will miss the tolerance."""
    labels = {**_labels(rule, "projected"), "severity": "warning"}
    period = book.period_at(now)
    if period is None or period.commitment is None or book.excluded(period.start, period.end):
        return Verdict(labels, False, "no commitment now", None, {"reason": "excluded_or_uncommitted"})
    elapsed = (now - period.start).total_seconds() / (period.end - period.start).total_seconds()
    current = fresh_sample(rule, inputs, now)
    if elapsed < float(rule.params.get("min_elapsed_fraction", 0.2)) or current is None:
        return Verdict(labels, None, "too early in the period or no current output", None, {})
    droop = _droop(rule)
    offset = 0.0
    if droop is not None:
        freq = fresh_sample(rule, inputs, now, "frequency_signal")
        offset = projected_response_mw(
            inputs.minutes.get(rule.signals["frequency_signal"], []),
            freq.value if freq else None,
            period.start,
            period.end,
            now,
            droop,
        )
    projection = project(
        period,
        inputs.readings.get(rule.signals["signal"], []),
        current.value,
        now,
        max_gap_s=inputs.max_gap_s,
        expected_offset_mw=offset,
    )
    assert projection is not None  # a commitment is in force
    evidence = {
        "period_start": period.start.isoformat(),
        "period_end": period.end.isoformat(),
        "frequency_response_mw": offset,
        **projection.evidence(),
    }
    summary = (
        f"projection (extrapolated, not a settlement): period mean {projection.projected_mean_mw:.1f} MW vs "
        f"{projection.committed_mw:.1f} ± {projection.tolerance_mw:g} MW if output stays at "
        f"{current.value:.1f} MW until {period.end:%H:%M} UTC (deviation {projection.deviation_mwh:+.2f} MWh)"
    )
    return Verdict(labels, projection.missed, summary, projection.deviation_mw, evidence)


def _sustained(rule: Rule, inputs: Inputs, book: CommitmentBook, now: datetime) -> Verdict:
    """Mean output over the rolling window below the (time-varying) commitment by more than the margin."""
    labels = base_labels(rule)
    window = timedelta(seconds=float(rule.params["window_s"]))
    periods = periods_between(now - window, now, book.commitments, book.schedule, book.default_period_s, limit=100_000)
    usable = []
    expected_sum, tolerance = 0.0, None
    minutes = minutes_in(inputs.minutes.get(rule.signals["signal"], []), now - window, now)
    i = 0
    for minute in minutes:
        while i < len(periods) and periods[i].end <= minute.bucket:
            i += 1
        if i == len(periods) or periods[i].start > minute.bucket:
            continue
        period = periods[i]
        if period.commitment is None or book.excluded(period.start, period.end):
            continue
        usable.append(minute)
        expected_sum += period.commitment.committed_mw
        tolerance = period.commitment.tolerance_mw if tolerance is None else tolerance
    coverage = len(usable) / (window.total_seconds() / 60.0)
    mean = sample_mean(usable)
    if mean is None or coverage < float(rule.params.get("min_coverage", 0.5)):
        return Verdict(labels, None, "not enough data in the window", None, {"coverage": round(coverage, 3)})
    expected = expected_sum / len(usable)
    margin = float(rule.params["margin_mw"]) if rule.params.get("margin_mw") is not None else float(tolerance or 0)
    shortfall = expected - mean
    window_h = window.total_seconds() / 3600.0
    evidence = {
        "mean_mw": round(mean, 3),
        "committed_mw": round(expected, 3),
        "margin_mw": margin,
        "shortfall_mw": round(shortfall, 3),
        "shortfall_mwh": round(shortfall * window_h, 4),
        "window_s": window.total_seconds(),
        "coverage": round(coverage, 3),
    }
    summary = (
        f"mean {mean:.1f} MW over {window_h:g} h vs committed {expected:.1f} MW "
        f"(shortfall {shortfall:.1f} MW, {shortfall * window_h:.2f} MWh)"
    )
    return Verdict(labels, shortfall > margin, summary, -shortfall, evidence)
