"""Commitment-based rule kinds: per-period deviation (final verdict + early warning), its frequency-corrected
variant, and sustained under-delivery over a rolling window."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from services.alerts.deviation import (
    CommitmentBook,
    PeriodCommitment,
    minutes_in,
    period_bounds,
    period_compliance,
    project_period,
    sample_mean,
)
from services.alerts.frequency_response import Droop, mean_response_mw, projected_response_mw
from services.alerts.rules import Inputs, Needs, Rule, Verdict, base_labels, fresh_sample

TINY = timedelta(microseconds=1)


def add_needs(rule: Rule, books: Mapping[int, CommitmentBook], now: datetime, out: Needs) -> None:
    book = books.get(rule.plant_id or -1)
    signals = [rule.signals[role] for role in ("signal", "frequency_signal") if role in rule.signals]
    if rule.kind == "sustained_under_delivery":
        since = now - timedelta(seconds=float(rule.params["window_s"]))
    else:
        commitment = book.commitment_at(now) if book else None
        period_s = commitment.settlement_period_s if commitment else 900
        since = period_bounds(now - _grace(rule), period_s)[0] - timedelta(seconds=period_s)
    for signal_id in signals:
        out.want_minutes(signal_id, since)
        out.latest.add(signal_id)


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
        p_nominal_mw=float(p.get("p_nominal_mw") or rule.p_nominal_mw or 0.0), droop=float(p.get("droop", 0.05)),
        deadband_hz=float(p.get("deadband_mhz", 10)) / 1000.0, nominal_hz=float(p.get("nominal_hz", 50.0)),
        full_activation_hz=None if full is None else float(full) / 1000.0,
    )


def _labels(rule: Rule, check: str) -> dict[str, str]:
    return {**base_labels(rule), "check": check}


def _period_evidence(period: PeriodCommitment) -> dict[str, str | float]:
    return {"period_start": period.start.isoformat(), "period_end": period.end.isoformat(),
            "scheduled_mw": period.committed_mw}


def _final(rule: Rule, inputs: Inputs, book: CommitmentBook, now: datetime) -> Verdict:
    """The last settlement period that ended at least `final_delay_s` ago: did its mean miss the tolerance?"""
    labels = _labels(rule, "final")
    ref = now - _grace(rule)
    commitment = book.commitment_at(ref)
    if commitment is None:
        return Verdict(labels, False, "no commitment", None, {"reason": "no_commitment"})
    current_start, _ = period_bounds(ref, commitment.settlement_period_s)
    period = book.period_at(current_start - TINY)
    if period is None:
        return Verdict(labels, False, "previous period excluded or uncommitted", None, {"reason": "excluded"})
    droop = _droop(rule)
    offset = 0.0
    if droop is not None:
        offset = mean_response_mw(inputs.minutes.get(rule.signals["frequency_signal"], []), period.start,
                                  period.end, droop)
    compliance = period_compliance(inputs.minutes.get(rule.signals["signal"], []), period, expected_offset_mw=offset)
    min_coverage = float(rule.params.get("min_coverage", 0.5))
    evidence = {**_period_evidence(period), "frequency_response_mw": round(offset, 3)}
    if compliance is None or compliance.coverage < min_coverage:
        coverage = compliance.coverage if compliance else 0.0
        return Verdict(labels, None, "not enough data for a verdict", None, {**evidence, "coverage": coverage})
    evidence.update(compliance.evidence())
    summary = (f"period {period.start:%H:%M}–{period.end:%H:%M} UTC: mean {compliance.mean_mw:.1f} MW vs "
               f"{compliance.committed_mw:.1f} ± {period.tolerance_mw:g} MW, "
               f"deviation {compliance.deviation_mw:+.1f} MW ({compliance.deviation_mwh:+.2f} MWh)")
    return Verdict(labels, compliance.missed, summary, compliance.deviation_mw, evidence)


def _projected(rule: Rule, inputs: Inputs, book: CommitmentBook, now: datetime) -> Verdict:
    """Early warning: the current period's mean, if output holds, will miss the tolerance."""
    labels = _labels(rule, "projected")
    period = book.period_at(now)
    if period is None:
        return Verdict(labels, False, "no commitment now", None, {"reason": "excluded_or_uncommitted"})
    elapsed = (now - period.start).total_seconds() / (period.end - period.start).total_seconds()
    current = fresh_sample(rule, inputs, now)
    if elapsed < float(rule.params.get("min_elapsed_fraction", 0.2)) or current is None:
        return Verdict(labels, None, "too early in the period or no current output", None, {})
    droop = _droop(rule)
    offset = 0.0
    if droop is not None:
        freq = fresh_sample(rule, inputs, now, "frequency_signal")
        offset = projected_response_mw(inputs.minutes.get(rule.signals["frequency_signal"], []),
                                       freq.value if freq else None, period.start, period.end, now, droop)
    projection = project_period(inputs.minutes.get(rule.signals["signal"], []), current.value, period, now,
                                expected_offset_mw=offset)
    evidence = {**_period_evidence(period), "frequency_response_mw": round(offset, 3), **projection.evidence()}
    summary = (f"projected period mean {projection.projected_mean_mw:.1f} MW vs {projection.committed_mw:.1f} ± "
               f"{period.tolerance_mw:g} MW (now {current.value:.1f} MW, deviation "
               f"{projection.deviation_mwh:+.2f} MWh by {period.end:%H:%M} UTC)")
    return Verdict(labels, projection.missed, summary, projection.deviation_mw, evidence)


def _sustained(rule: Rule, inputs: Inputs, book: CommitmentBook, now: datetime) -> Verdict:
    """Mean output over the rolling window below the (time-varying) commitment by more than the margin."""
    labels = base_labels(rule)
    window = timedelta(seconds=float(rule.params["window_s"]))
    usable = []
    expected_sum, tolerance = 0.0, None
    for minute in minutes_in(inputs.minutes.get(rule.signals["signal"], []), now - window, now):
        period = book.period_at(minute.bucket)
        if period is None:
            continue
        usable.append(minute)
        expected_sum += period.committed_mw
        tolerance = period.tolerance_mw if tolerance is None else tolerance
    coverage = len(usable) / (window.total_seconds() / 60.0)
    mean = sample_mean(usable)
    if mean is None or coverage < float(rule.params.get("min_coverage", 0.5)):
        return Verdict(labels, None, "not enough data in the window", None, {"coverage": round(coverage, 3)})
    expected = expected_sum / len(usable)
    margin = float(rule.params["margin_mw"]) if rule.params.get("margin_mw") is not None else float(tolerance or 0)
    shortfall = expected - mean
    window_h = window.total_seconds() / 3600.0
    evidence = {"mean_mw": round(mean, 3), "committed_mw": round(expected, 3), "margin_mw": margin,
                "shortfall_mw": round(shortfall, 3), "shortfall_mwh": round(shortfall * window_h, 4),
                "window_s": window.total_seconds(), "coverage": round(coverage, 3)}
    summary = (f"mean {mean:.1f} MW over {window_h:g} h vs committed {expected:.1f} MW "
               f"(shortfall {shortfall:.1f} MW, {shortfall * window_h:.2f} MWh)")
    return Verdict(labels, shortfall > margin, summary, -shortfall, evidence)
