"""Commitment-based rule kinds: per-period deviation (final verdict, early warning, revisions), its
frequency-corrected variant, and sustained under-delivery over a rolling window.

The final verdict of a period is the settlement engine's (shared.settlement, the numbers of the api's compliance
report, with the one coverage threshold both services read), given once the period has ended plus the rule's
`final_delay` grace for late data. Every period that ended within the rule's `revision_window` is settled again on
every evaluation; when its verdict differs from the one given before (late data, or a changed commitment), the
rule's `check: revision` alert fires once and says which period changed from what to what. Until a period ends,
the projected check only warns, and says that it extrapolates.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from services.alerts.deviation import CommitmentBook, project, settle, settlement_evidence
from services.alerts.frequency_response import Droop, mean_response_mw, projected_response_mw
from services.alerts.lifecycle import Timing
from services.alerts.model import HeldKey, Inputs, Needs, Rule, Verdict, base_labels, fingerprint, fresh_sample
from services.alerts.params import CorrectedDeviationParams, DeviationParams, SustainedParams
from shared.settlement import PeriodSettlement, SettlementPeriod
from shared.settlement import settlement_periods as periods_between
from shared.settlement.verdict import EXCLUDED, INSUFFICIENT_DATA, NO_COMMITMENT, NON_COMPLIANT

CommitmentParams = DeviationParams | SustainedParams
# A revision is an announcement, not a condition: it fires at once (no `for`), resolves on the next evaluation, and a
# further revision found before then is notified too.
ANNOUNCE = Timing(for_=timedelta(0), keep_firing_for=timedelta(0), announce=True)


def add_needs(rule: Rule, p: CommitmentParams, books: Mapping[int, CommitmentBook], now: datetime, out: Needs) -> None:
    book = books.get(rule.plant_id or -1) or CommitmentBook()
    out.latest.add(rule.signals["signal"])
    if isinstance(p, SustainedParams):
        runs = _runs(p, book, now)
        if runs:
            out.held.add(_held_key(rule, runs))
        return
    judged = _judged(p, book, now)
    since = judged[0].start if judged else now - timedelta(seconds=book.longest_period_s)
    if judged:
        out.held.add(_judged_key(rule, judged))
    running = book.period_at(now)
    if p.early_warning and running is not None:
        out.held.add(_running_key(rule, running, now))
    if isinstance(p, CorrectedDeviationParams):
        out.want_minutes(rule.signals["frequency_signal"], since)
        out.latest.add(rule.signals["frequency_signal"])


def evaluate(rule: Rule, p: CommitmentParams, inputs: Inputs, now: datetime) -> list[Verdict]:
    book = inputs.books.get(rule.plant_id or -1, CommitmentBook())
    if isinstance(p, SustainedParams):
        return [_sustained(rule, p, inputs, book, now)]
    final = _final(rule, p, inputs, book, now)
    verdicts = [*final]
    if p.early_warning:
        verdicts.append(_projected(rule, p, inputs, book, now))
    return verdicts


def _grace(p: DeviationParams) -> timedelta:
    return timedelta(seconds=p.final_delay)


def _judged(p: DeviationParams, book: CommitmentBook, now: datetime) -> list[SettlementPeriod]:
    """The periods with a final verdict still open to revision: the last one that ended at least `final_delay` ago
    and those that ended within `revision_window` before it (oldest first)."""
    last = book.last_ended(now - _grace(p))
    if last is None:
        return []
    lo = last.end - timedelta(seconds=p.revision_window)
    return [*(q for q in book.periods_between(lo, last.start) if q.start >= lo), last]


def _judged_key(rule: Rule, judged: list[SettlementPeriod]) -> HeldKey:
    """The held integrals of the judged periods: one bucket per period (a gap between periods is a bucket too)."""
    return rule.signals["signal"], tuple(sorted({t for q in judged for t in (q.start, q.end)}))


def _running_key(rule: Rule, period: SettlementPeriod, now: datetime) -> HeldKey:
    """The held integral of the running period so far."""
    return rule.signals["signal"], (period.start, min(now, period.end))


def _droop(rule: Rule, p: DeviationParams) -> Droop | None:
    if not isinstance(p, CorrectedDeviationParams):
        return None
    return Droop(
        p_nominal_mw=p.p_nominal_mw or rule.p_nominal_mw or 0.0,
        droop=p.droop,
        deadband_hz=p.deadband_mhz / 1000.0,
        nominal_hz=p.nominal_hz,
        full_activation_hz=None if p.full_activation_mhz is None else p.full_activation_mhz / 1000.0,
    )


def _labels(rule: Rule, check: str) -> dict[str, str]:
    return {**base_labels(rule), "check": check}


def _settled(
    rule: Rule, p: DeviationParams, inputs: Inputs, book: CommitmentBook, judged: list[SettlementPeriod]
) -> list[tuple[PeriodSettlement, float]]:
    """The periods as the api settles them (against the commitment plus the expected frequency response, if any),
    from their held integrals read exactly from the rollups."""
    key = _judged_key(rule, judged)
    edges, integrals = key[1], inputs.held[key]
    droop = _droop(rule, p)
    out = []
    for period in judged:
        offset = 0.0
        if droop is not None:
            minutes = inputs.minutes.get(rule.signals["frequency_signal"], [])
            offset = mean_response_mw(minutes, period.start, period.end, droop)
        integral = integrals[edges.index(period.start)]
        result = settle(period, integral, book, min_coverage=inputs.min_coverage, expected_offset_mw=offset)
        out.append((result, offset))
    return out


def _final(rule: Rule, p: DeviationParams, inputs: Inputs, book: CommitmentBook, now: datetime) -> list[Verdict]:
    """The last settlement period that ended at least `final_delay` ago, settled as the api settles it; and the
    revision check of the periods before it."""
    labels = _labels(rule, "final")
    judged = _judged(p, book, now)
    if not judged or judged[-1].commitment is None:
        quiet = Verdict(_labels(rule, "revision"), False, "no verdict revised", None, {}, timing=ANNOUNCE)
        return [Verdict(labels, False, "no commitment", None, {"reason": "no_commitment"}), quiet]
    settled = _settled(rule, p, inputs, book, judged)
    result, offset = settled[-1]
    # What the next evaluation compares with: each judged period's verdict and the commitment's own MW (without
    # the frequency response a corrected rule adds), so that late data and a changed commitment are both seen.
    recent = {r.start.isoformat(): r.status for r, _ in settled}
    owed = {q.start.isoformat(): _owed(q) for q in judged}
    evidence = {
        **settlement_evidence(result),
        "frequency_response_mw": offset,
        "recent": recent,
        "recent_committed_mw": owed,
    }
    previous = inputs.previous.get(fingerprint(rule.id, labels))
    revision = _revision(rule, [r for r, _ in settled], owed, previous)
    span = f"period {result.start:%H:%M}–{result.end:%H:%M} UTC"
    if result.status in (EXCLUDED, NO_COMMITMENT):
        final = Verdict(labels, False, f"{span}: {result.status}", None, evidence, keep=True)
    elif result.status == INSUFFICIENT_DATA:
        summary = f"{span}: not enough data for a verdict (coverage {result.coverage:.0%})"
        final = Verdict(labels, None, summary, None, evidence, keep=True)
    else:
        summary = (
            f"{span}: delivered {result.delivered_mw:.1f} MW vs {result.committed_mw:.1f} ± "
            f"{result.tolerance_mw:g} MW, deviation {result.deviation_mw:+.1f} MW ({result.deviation_mwh:+.2f} MWh)"
            f", coverage {result.coverage:.0%}"
        )
        if p.min_coverage is not None and result.coverage < p.min_coverage:
            # The rule's own, stricter threshold: the numbers are stated, the alert keeps its state.
            summary += f" (below the rule's min_coverage {p.min_coverage:g}: no alert verdict)"
            final = Verdict(labels, None, summary, result.deviation_mw, evidence, keep=True)
        else:
            active = result.status == NON_COMPLIANT
            final = Verdict(labels, active, summary, result.deviation_mw, evidence, keep=True)
    return [revised(final, previous, owed[result.start.isoformat()]), revision]


def _owed(period: SettlementPeriod) -> float | None:
    return period.commitment.committed_mw if period.commitment is not None else None


def _mw(value: float | None) -> str:
    return "none" if value is None else f"{value:g} MW"


@dataclass(frozen=True, slots=True)
class _Change:
    period: PeriodSettlement
    status_was: str
    owed_was: float | None
    owed_now: float | None

    @property
    def commitment_changed(self) -> bool:
        return self.owed_was != self.owed_now

    def what(self) -> str:
        """ "commitment 480 MW → 450 MW, non_compliant → compliant", or the part that changed."""
        parts = [f"commitment {_mw(self.owed_was)} → {_mw(self.owed_now)}"] if self.commitment_changed else []
        if self.status_was != self.period.status:
            parts.append(f"{self.status_was} → {self.period.status}")
        else:
            parts.append(f"verdict still {self.period.status}")
        return ", ".join(parts)


def _changes(
    settled: list[PeriodSettlement], owed: Mapping[str, float | None], previous: Mapping[str, Any] | None
) -> list[_Change]:
    """The judged periods whose verdict or committed MW differ from what the previous evaluation gave them (evidence
    stored before committed MW was remembered compares verdicts only)."""
    before = (previous or {}).get("recent") or {}
    owed_before = (previous or {}).get("recent_committed_mw")
    out = []
    for r in settled:
        key = r.start.isoformat()
        if key not in before:
            continue
        was = owed_before.get(key, owed[key]) if isinstance(owed_before, Mapping) else owed[key]
        change = _Change(r, before[key], was, owed[key])
        if change.commitment_changed or change.status_was != r.status:
            out.append(change)
    return out


def _revision(
    rule: Rule, settled: list[PeriodSettlement], owed: Mapping[str, float | None], previous: Mapping[str, Any] | None
) -> Verdict:
    """Active when a period's verdict or committed MW differs from the one the previous evaluation gave it: late
    data, or a commitment (flat or schedule override) edited after the period was judged."""
    labels = _labels(rule, "revision")
    changes = _changes(settled, owed, previous)
    if not changes:
        return Verdict(labels, False, "no verdict revised", None, {}, timing=ANNOUNCE)
    notes = [
        f"period {c.period.start:%Y-%m-%d %H:%M}–{c.period.end:%H:%M} UTC revised: {c.what()}"
        + (
            f" (delivered {c.period.delivered_mw:.1f} MW, coverage {c.period.coverage:.0%})"
            if c.period.delivered_mw is not None
            else ""
        )
        for c in changes
    ]
    causes = {c.commitment_changed for c in changes}
    reason = " and ".join(
        text
        for cause, text in ((True, "a changed commitment"), (False, "late data (or a changed exclusion or tolerance)"))
        if cause in causes
    )
    evidence = {
        "revisions": [
            {
                **settlement_evidence(c.period),
                "revised_from": c.status_was,
                "revised_to": c.period.status,
                "commitment_mw_from": c.owed_was,
                "commitment_mw_to": c.owed_now,
                "commitment_changed": c.commitment_changed,
            }
            for c in changes
        ],
        "reason": f"{reason} since the verdict was given",
    }
    return Verdict(labels, True, "; ".join(notes), None, evidence, timing=ANNOUNCE)


def revised(verdict: Verdict, previous: Mapping[str, Any] | None, owed: float | None) -> Verdict:
    """If this verdict re-judges the period its alert judged last time and the verdict or the commitment's MW
    (`owed` now) changed, say so."""
    if previous is None or "period_start" not in verdict.evidence:
        return verdict
    period = verdict.evidence["period_start"]
    before, now = previous.get("status"), verdict.evidence.get("status")
    if previous.get("period_start") != period or before is None:
        return verdict
    remembered = previous.get("recent_committed_mw")
    owed_was = remembered.get(period, owed) if isinstance(remembered, Mapping) else owed
    if owed_was != owed:
        verdict_note = f"{before} → {now}" if before != now else f"verdict still {now}"
        note = f"revised by a changed commitment: {_mw(owed_was)} → {_mw(owed)}, {verdict_note}"
    elif before != now:
        note = f"revised by late data: {before} → {now}"
    else:
        return verdict
    return replace(
        verdict,
        summary=f"{note}; {verdict.summary}",
        evidence={**verdict.evidence, "revised_from": before, "commitment_mw_from": owed_was, "revision": note},
    )


def _projected(rule: Rule, p: DeviationParams, inputs: Inputs, book: CommitmentBook, now: datetime) -> Verdict:
    """Early warning: if the current output holds, the running period's mean will miss the tolerance."""
    labels = {**_labels(rule, "projected"), "severity": "warning"}
    period = book.period_at(now)
    if period is None or period.commitment is None or book.excluded(period.start, period.end):
        return Verdict(labels, False, "no commitment now", None, {"reason": "excluded_or_uncommitted"})
    elapsed = (now - period.start).total_seconds() / (period.end - period.start).total_seconds()
    current = fresh_sample(rule, inputs, now, p.max_age)
    if elapsed < p.min_elapsed_fraction or current is None:
        return Verdict(labels, None, "too early in the period or no current output", None, {})
    droop = _droop(rule, p)
    offset = 0.0
    if droop is not None:
        freq = fresh_sample(rule, inputs, now, p.max_age, "frequency_signal")
        offset = projected_response_mw(
            inputs.minutes.get(rule.signals["frequency_signal"], []),
            freq.value if freq else None,
            period.start,
            period.end,
            now,
            droop,
        )
    so_far = inputs.held[_running_key(rule, period, now)][0]
    projection = project(period, so_far, current.value, now, expected_offset_mw=offset)
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


@dataclass(frozen=True, slots=True)
class _Run:
    """Consecutive settlement periods of the sustained window (clipped to it) that owe the same: one bucket of the
    held integral. `committed_mw` None: not counted (no commitment in force, or excluded)."""

    start: datetime
    end: datetime
    committed_mw: float | None
    tolerance_mw: float | None


def _runs(p: SustainedParams, book: CommitmentBook, now: datetime) -> list[_Run]:
    """The sustained window [now − window, now) as runs of periods owing the same committed MW: the integral is
    additive, so a run's held integral is the sum of its periods', and a long window with a flat commitment is a
    few buckets that the hourly rollups cover."""
    start = now - timedelta(seconds=p.window)
    periods = periods_between(start, now, book.commitments, book.schedule, book.default_period_s, limit=100_000)
    runs: list[_Run] = []
    for q in periods:
        counted = q.commitment if q.commitment is not None and not book.excluded(q.start, q.end) else None
        owed = counted.committed_mw if counted is not None else None
        lo, hi = max(q.start, start), min(q.end, now)
        if runs and runs[-1].committed_mw == owed:
            runs[-1] = replace(runs[-1], end=hi)
        else:
            runs.append(_Run(lo, hi, owed, counted.tolerance_mw if counted is not None else None))
    return runs


def _held_key(rule: Rule, runs: list[_Run]) -> HeldKey:
    return rule.signals["signal"], (runs[0].start, *(r.end for r in runs))


def _sustained(rule: Rule, p: SustainedParams, inputs: Inputs, book: CommitmentBook, now: datetime) -> Verdict:
    """Time-weighted mean output over the rolling window (the settlement engine's held integral, read exactly from
    the rollups) below the time-weighted commitment by more than the margin. Periods without a commitment, or
    excluded, do not count; coverage is held seconds in the counted periods / window seconds."""
    labels = base_labels(rule)
    window = timedelta(seconds=p.window)
    runs = _runs(p, book, now)
    integrals = inputs.held[_held_key(rule, runs)] if runs else []
    area = covered = committed_area = 0.0
    tolerance: float | None = None
    for run, integral in zip(runs, integrals, strict=True):
        if run.committed_mw is None:
            continue
        area += integral.area
        covered += integral.covered_s
        committed_area += run.committed_mw * integral.covered_s
        tolerance = run.tolerance_mw if tolerance is None else tolerance
    coverage = covered / window.total_seconds()
    if covered <= 0 or coverage < p.min_coverage:
        return Verdict(labels, None, "not enough data in the window", None, {"coverage": round(coverage, 6)})
    mean, expected = area / covered, committed_area / covered
    margin = p.margin_mw if p.margin_mw is not None else float(tolerance or 0.0)
    shortfall = expected - mean
    shortfall_mwh = (committed_area - area) / 3600.0  # over the covered time only, never extrapolated
    window_h = window.total_seconds() / 3600.0
    evidence = {
        "mean_mw": mean,
        "committed_mw": expected,
        "margin_mw": margin,
        "shortfall_mw": shortfall,
        "shortfall_mwh": shortfall_mwh,
        "window_s": window.total_seconds(),
        "covered_s": covered,
        "coverage": coverage,
        "method": "held integral over the counted settlement periods (shared.settlement, read exactly from the"
        " rollups), time-weighted",
    }
    summary = (
        f"mean {mean:.1f} MW over {window_h:g} h vs committed {expected:.1f} MW "
        f"(shortfall {shortfall:.1f} MW, {shortfall_mwh:.2f} MWh over {covered / 3600.0:.2f} h with data)"
    )
    return Verdict(labels, shortfall > margin, summary, -shortfall, evidence)
