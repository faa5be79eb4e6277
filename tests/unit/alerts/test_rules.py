"""The pure rule functions, without a database: typed params, inputs built by hand, `now` passed in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from services.alerts.deviation import CommitmentBook
from services.alerts.lifecycle import Timing
from services.alerts.model import HeldKey, fingerprint
from services.alerts.params import (
    PARAMS,
    DeviationParams,
    FrequencyBandParams,
    RuleParams,
    StaleParams,
    SustainedParams,
    ThresholdParams,
    from_stored,
)
from services.alerts.rules import Inputs, Rule, Sample, evaluate, needs
from services.alerts.schemas import RuleIn
from shared.commitments import Commitment
from shared.settlement import Exclusion, Integral, Reading, held_integrals

NOW = datetime(2026, 11, 25, 10, 5, 1, tzinfo=UTC)
P0 = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)  # the period running at NOW (15 min)
SIGNAL, FREQ = 7, 8
KIND = {params: kind for kind, params in PARAMS.items()}
FLAT_480 = CommitmentBook(commitments=[Commitment(datetime(2026, 1, 1, tzinfo=UTC), None, 480.0, 10.0)])


class HeldFromReadings(dict[HeldKey, list[Integral]]):
    """Held integrals computed on demand from raw readings by the settlement engine: what the store reads exactly
    from the rollups (tests/integration/alerts/test_sustained_rollups.py holds the two equal)."""

    def __init__(self, readings: dict[int, list[Reading]]) -> None:
        super().__init__()
        self.readings = readings

    def __missing__(self, key: HeldKey) -> list[Integral]:
        sid, edges = key
        return held_integrals(self.readings.get(sid, []), edges, max_gap_s=60.0)


def rule(params: RuleParams, **extra: Any) -> Rule:
    return Rule(
        id=1,
        name="r",
        kind=KIND[type(params)],
        severity="critical",
        labels={},
        params=params,
        timing=Timing(),
        signals={"signal": SIGNAL},
        **extra,
    )


def latest(value: float, age_s: float = 1.0) -> Inputs:
    return Inputs(latest={SIGNAL: Sample(NOW - timedelta(seconds=age_s), value)})


def every(start: datetime, end: datetime, step_s: float, value: float) -> list[Reading]:
    out, t = [], start
    while t < end:
        out.append(Reading(t, value))
        t += timedelta(seconds=step_s)
    return out


# --- typed params: parsed once, defaults written once --------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "params"),
    [
        (
            {"kind": "threshold", "params": {"signal": "s", "op": "above", "value": 1}},
            ThresholdParams(signal="s", op="above", value=1.0, max_age=300.0),
        ),
        ({"kind": "frequency_band"}, FrequencyBandParams()),
        (
            {"kind": "stale", "params": {"gateway": "gw", "max_silence": "2m"}},
            StaleParams(gateway="gw", max_silence=120),
        ),
        ({"kind": "baseload_deviation", "params": {"plant": "nish"}}, DeviationParams(plant="nish")),
        (
            {"kind": "sustained_under_delivery", "params": {"plant": "nish", "window": "30m"}},
            SustainedParams(plant="nish", window=1800.0),
        ),
    ],
)
def test_stored_params_parse_back_into_the_model_the_api_validated(body: dict[str, Any], params: RuleParams) -> None:
    validated = TypeAdapter(RuleIn).validate_python({"name": "r", **body})
    stored = validated.stored_params()
    assert "max_age" not in stored and "max_silence" not in stored  # durations are stored in seconds as `<name>_s`
    assert from_stored(body["kind"], stored) == validated.params == params


def test_a_stored_row_the_api_would_refuse_does_not_parse() -> None:
    with pytest.raises(ValidationError):
        from_stored("threshold", {"signal": "s", "op": "above"})  # no value
    with pytest.raises(ValidationError):
        from_stored("stale", {"max_silence_s": 30})  # neither a signal nor a gateway


# --- signal rules ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "op", "age_s", "active"),
    [
        (181.0, "above", 1, True),
        (180.0, "above", 1, False),
        (179.0, "below", 1, True),
        (180.0, "below", 1, False),
        (999.0, "above", 299, True),
        (999.0, "above", 301, False),  # stale value: no opinion to fire
    ],
)
def test_threshold_compares_the_latest_fresh_value(value: float, op: str, age_s: float, active: bool) -> None:
    r = rule(ThresholdParams(signal="gt1.active_power", op=op, value=180.0, max_age=300))  # type: ignore[arg-type]
    verdict = evaluate(r, latest(value, age_s), NOW)[0]
    assert verdict.active is active
    assert verdict.labels == {
        "alertname": "r",
        "severity": "critical",
        "kind": "threshold",
        "signal": "gt1.active_power",
    }
    if age_s > 300:
        assert verdict.evidence == {"no_data": True}


@pytest.mark.parametrize(
    ("hz", "active"), [(49.8, False), (50.2, False), (49.799, True), (50.2004, False), (50.2006, True), (50.0, False)]
)
def test_the_frequency_band_boundary_is_decided_in_integer_mhz(hz: float, active: bool) -> None:
    verdict = evaluate(rule(FrequencyBandParams()), latest(hz), NOW)[0]  # defaults: 49.8–50.2 Hz
    assert verdict.active is active
    assert verdict.evidence["delta_mhz"] == pytest.approx((hz - 50.0) * 1000, abs=1e-3)


@pytest.mark.parametrize(
    ("params", "inputs", "active"),
    [
        (
            StaleParams(signal="gt1.active_power", max_silence=30),
            Inputs(last_seen={SIGNAL: NOW - timedelta(seconds=31)}),
            True,
        ),
        (
            StaleParams(signal="gt1.active_power", max_silence=30),
            Inputs(last_seen={SIGNAL: NOW - timedelta(seconds=29)}),
            False,
        ),
        (StaleParams(signal="gt1.active_power", max_silence=30), Inputs(), True),  # never seen within the lookback
        (StaleParams(gateway="gw-1", max_silence=60), Inputs(gateway_seen={"gw-1": NOW - timedelta(seconds=61)}), True),
        (StaleParams(gateway="gw-1", max_silence=60), Inputs(gateway_seen={"gw-1": NOW - timedelta(seconds=5)}), False),
        (StaleParams(gateway="gw-1", max_silence=60), Inputs(gateway_seen={"gw-1": None}), True),
    ],
)
def test_stale_fires_after_max_silence(params: StaleParams, inputs: Inputs, active: bool) -> None:
    r = rule(params)
    want = needs(r, {}, NOW)
    assert (want.gateways, want.last_seen) == (({"gw-1"}, set()) if params.gateway else (set(), {SIGNAL}))
    verdict = evaluate(r, inputs, NOW)[0]
    assert verdict.active is active
    assert verdict.labels.get("gateway") == params.gateway


# --- baseload deviation: final verdict, revision, projection -------------------------------------------------------


def deviation(**params: Any) -> Rule:
    return rule(DeviationParams(plant="nish", **params), plant_id=1, plant_key="nish")


def test_deviation_rules_read_the_last_ended_period_and_project_the_current_one() -> None:
    r = deviation(revision_window=0)
    want = needs(r, {1: FLAT_480}, NOW)
    # The last ended period (09:45–10:00) and the running one so far (10:00–10:05:01), read from the rollups.
    assert want.held == {(SIGNAL, (P0 - timedelta(minutes=15), P0)), (SIGNAL, (P0, NOW))}
    readings = every(P0 - timedelta(minutes=15), NOW, 5, 465.0)
    inputs = Inputs(
        latest={SIGNAL: Sample(readings[-1].ts, 465.0)}, held=HeldFromReadings({SIGNAL: readings}), books={1: FLAT_480}
    )
    final, revision, projected = evaluate(r, inputs, NOW)
    assert final.active is True and final.evidence["deviation_mwh"] == pytest.approx(-3.75)
    assert final.evidence["period_start"] == (P0 - timedelta(minutes=15)).isoformat()
    assert final.evidence["status"] == "non_compliant" and final.keep
    assert revision.active is False and revision.labels["check"] == "revision"
    assert projected.active is True and projected.evidence["extrapolated"] is True
    assert projected.labels["check"] == "projected" and projected.labels["severity"] == "warning"


def test_the_revision_window_widens_what_is_read_and_settled() -> None:
    r = deviation()  # revision_window 1h: the periods from 09:00 up to the last ended one, 09:45–10:00
    judged = tuple(P0 - timedelta(minutes=m) for m in (60, 45, 30, 15, 0))
    assert needs(r, {1: FLAT_480}, NOW).held == {(SIGNAL, judged), (SIGNAL, (P0, NOW))}
    inputs = Inputs(
        held=HeldFromReadings({SIGNAL: every(P0 - timedelta(minutes=60), P0, 5, 480.0)}), books={1: FLAT_480}
    )
    final = evaluate(r, inputs, NOW)[0]
    assert len(final.evidence["recent"]) == 4 and set(final.evidence["recent"].values()) == {"compliant"}


@pytest.mark.parametrize(
    ("now", "period_start"),
    [
        (P0 + timedelta(seconds=5), P0 - timedelta(minutes=30)),  # 09:45–10:00 ended, but within the 10 s grace
        (P0 + timedelta(seconds=10), P0 - timedelta(minutes=15)),
        (P0 + timedelta(minutes=14), P0 - timedelta(minutes=15)),
    ],
)
def test_the_final_verdict_waits_for_the_grace_after_the_period_end(now: datetime, period_start: datetime) -> None:
    inputs = Inputs(
        held=HeldFromReadings({SIGNAL: every(P0 - timedelta(minutes=45), P0, 5, 480.0)}), books={1: FLAT_480}
    )
    final = evaluate(deviation(early_warning=False), inputs, now)[0]
    assert final.evidence["period_start"] == period_start.isoformat()


@pytest.mark.parametrize(
    ("covered_min", "min_coverage", "rule_min", "status", "active"),
    [
        (15, 0.5, None, "non_compliant", True),
        (6, 0.5, None, "insufficient_data", None),  # 40 % < the shared 50 %: no verdict
        (6, 0.3, None, "non_compliant", True),  # the shared threshold decides the settlement verdict
        (9, 0.5, 0.8, "non_compliant", None),  # settled, but below the rule's stricter alert threshold
        (9, 0.5, 0.3, "non_compliant", True),  # a laxer rule threshold cannot override the settlement's
        (5, 0.5, 0.3, "insufficient_data", None),
    ],
)
def test_coverage_decides_with_the_shared_threshold_and_the_rule_can_only_be_stricter(
    covered_min: int, min_coverage: float, rule_min: float | None, status: str, active: bool | None
) -> None:
    last = P0 - timedelta(minutes=15)
    readings = every(last, last + timedelta(minutes=covered_min), 5, 460.0)
    inputs = Inputs(held=HeldFromReadings({SIGNAL: readings}), books={1: FLAT_480}, min_coverage=min_coverage)
    final = evaluate(deviation(min_coverage=rule_min, early_warning=False), inputs, NOW)[0]
    assert final.evidence["status"] == status and final.active is active


def test_excluded_and_uncommitted_periods_are_not_alerted() -> None:
    last = P0 - timedelta(minutes=15)
    excluded = CommitmentBook(commitments=FLAT_480.commitments, exclusions=[Exclusion(last, P0, "outage")])
    readings = {SIGNAL: every(last, P0, 5, 0.0)}
    final = evaluate(deviation(early_warning=False), Inputs(held=HeldFromReadings(readings), books={1: excluded}), NOW)[
        0
    ]
    assert final.active is False and final.evidence["status"] == "excluded"
    final, revision = evaluate(deviation(early_warning=False), Inputs(held=HeldFromReadings(readings)), NOW)
    assert final.active is False and final.evidence == {"reason": "no_commitment"} and revision.active is False


def test_late_data_that_changes_an_older_period_fires_the_revision_check() -> None:
    r = deviation(early_warning=False)
    older = P0 - timedelta(minutes=30)  # 09:30–09:45, no longer the final check's period
    final_fp = fingerprint(
        r.id,
        {
            "alertname": "r",
            "severity": "critical",
            "kind": "baseload_deviation",
            "plant": "nish",
            "signal": "plant.net_output",
            "check": "final",
        },
    )
    # What the previous evaluation settled: 09:30 had too little data; 09:45 compliant.
    before = {"recent": {older.isoformat(): "insufficient_data", (P0 - timedelta(minutes=15)).isoformat(): "compliant"}}
    readings = [*every(older, P0 - timedelta(minutes=15), 5, 430.0), *every(P0 - timedelta(minutes=15), P0, 5, 480.0)]
    inputs = Inputs(held=HeldFromReadings({SIGNAL: readings}), books={1: FLAT_480}, previous={final_fp: before})
    final, revision = evaluate(r, inputs, NOW)
    assert final.active is False and "revised_from" not in final.evidence  # the latest period did not change
    assert revision.active is True and revision.timing is not None and revision.timing.for_ == timedelta(0)
    (change,) = revision.evidence["revisions"]
    assert change["period_start"] == older.isoformat()
    assert (change["revised_from"], change["revised_to"]) == ("insufficient_data", "non_compliant")
    assert change["delivered_mw"] == pytest.approx(430.0) and change["deviation_mwh"] == pytest.approx(-12.5)
    assert "09:30–09:45 UTC revised: insufficient_data → non_compliant" in revision.summary
    # The next evaluation compares with this one's settlement: nothing changed, the announcement resolves.
    again = Inputs(
        held=HeldFromReadings({SIGNAL: readings}), books={1: FLAT_480}, previous={final_fp: dict(final.evidence)}
    )
    assert evaluate(r, again, NOW)[1].active is False


def test_a_revision_of_the_latest_period_is_also_stated_on_the_final_verdict() -> None:
    r = deviation(early_warning=False)
    last = P0 - timedelta(minutes=15)
    final_fp = fingerprint(
        r.id,
        {
            "alertname": "r",
            "severity": "critical",
            "kind": "baseload_deviation",
            "plant": "nish",
            "signal": "plant.net_output",
            "check": "final",
        },
    )
    before = {
        "period_start": last.isoformat(),
        "status": "non_compliant",
        "recent": {last.isoformat(): "non_compliant"},
    }
    inputs = Inputs(
        held=HeldFromReadings({SIGNAL: every(last, P0, 5, 481.0)}), books={1: FLAT_480}, previous={final_fp: before}
    )
    final, revision = evaluate(r, inputs, NOW)
    assert final.active is False and final.evidence["revised_from"] == "non_compliant"
    assert final.summary.startswith("revised by late data: non_compliant → compliant")
    assert revision.active is True


FINAL_LABELS = {
    "alertname": "r",
    "severity": "critical",
    "kind": "baseload_deviation",
    "plant": "nish",
    "signal": "plant.net_output",
    "check": "final",
}


@pytest.mark.parametrize(
    ("override_mw", "status", "what"),
    [
        (450.0, "compliant", "commitment 480 MW → 450 MW, non_compliant → compliant"),
        (470.0, "non_compliant", "commitment 480 MW → 470 MW, verdict still non_compliant"),
    ],
)
def test_a_commitment_changed_after_an_ended_period_was_judged_is_announced_as_a_revision(
    override_mw: float, status: str, what: str
) -> None:
    r = deviation(early_warning=False)
    older, last = P0 - timedelta(minutes=30), P0 - timedelta(minutes=15)
    readings = every(older, P0, 5, 455.0)  # 25 MW short of 480 ± 10 in both periods
    first = evaluate(r, Inputs(held=HeldFromReadings({SIGNAL: readings}), books={1: FLAT_480}), NOW)[0]
    owed = first.evidence["recent_committed_mw"]  # every period of the revision window, 09:00–10:00
    assert len(owed) == 4 and owed[older.isoformat()] == owed[last.isoformat()] == 480.0
    # A schedule override for 09:30–09:45 is stored after the period was judged.
    edited = CommitmentBook(commitments=FLAT_480.commitments, schedule={older: override_mw})
    previous = {fingerprint(r.id, FINAL_LABELS): dict(first.evidence)}
    final, revision = evaluate(
        r, Inputs(held=HeldFromReadings({SIGNAL: readings}), books={1: edited}, previous=previous), NOW
    )
    assert "revision" not in final.evidence  # the latest period kept its commitment and verdict
    assert revision.active is True
    (change,) = revision.evidence["revisions"]
    assert change["period_start"] == older.isoformat() and change["committed_mw"] == override_mw
    assert (change["commitment_mw_from"], change["commitment_mw_to"]) == (480.0, override_mw)
    assert (change["revised_from"], change["revised_to"]) == ("non_compliant", status)
    assert change["commitment_changed"] is True
    assert revision.evidence["reason"] == "a changed commitment since the verdict was given"
    assert f"09:30–09:45 UTC revised: {what} (delivered 455.0 MW, coverage 100%)" in revision.summary
    again = Inputs(
        held=HeldFromReadings({SIGNAL: readings}),
        books={1: edited},
        previous={fingerprint(r.id, FINAL_LABELS): dict(final.evidence)},
    )
    assert evaluate(r, again, NOW)[1].active is False  # announced once


def test_a_changed_commitment_of_the_latest_period_is_stated_on_its_final_verdict() -> None:
    r = deviation(early_warning=False)
    last = P0 - timedelta(minutes=15)
    readings = every(last, P0, 5, 455.0)
    first = evaluate(r, Inputs(held=HeldFromReadings({SIGNAL: readings}), books={1: FLAT_480}), NOW)[0]
    edited = CommitmentBook(commitments=FLAT_480.commitments, schedule={last: 460.0})
    previous = {fingerprint(r.id, FINAL_LABELS): dict(first.evidence)}
    final, revision = evaluate(
        r, Inputs(held=HeldFromReadings({SIGNAL: readings}), books={1: edited}, previous=previous), NOW
    )
    assert final.summary.startswith("revised by a changed commitment: 480 MW → 460 MW, non_compliant → compliant")
    assert final.evidence["commitment_mw_from"] == 480.0 and final.evidence["committed_mw"] == 460.0
    assert final.active is False and revision.active is True


def test_evidence_stored_before_commitments_were_remembered_compares_verdicts_only() -> None:
    r = deviation(early_warning=False)
    last = P0 - timedelta(minutes=15)
    before = {
        "period_start": last.isoformat(),
        "status": "non_compliant",
        "recent": {last.isoformat(): "non_compliant"},
    }
    edited = CommitmentBook(commitments=FLAT_480.commitments, schedule={last: 470.0})
    inputs = Inputs(
        held=HeldFromReadings({SIGNAL: every(last, P0, 5, 455.0)}),
        books={1: edited},
        previous={fingerprint(r.id, FINAL_LABELS): before},
    )
    final, revision = evaluate(r, inputs, NOW)
    assert final.evidence["status"] == "non_compliant" and "revision" not in final.evidence
    assert revision.active is False


# --- sustained under-delivery: the held integral, time-weighted ------------------------------------------------------


def sustained(**params: Any) -> Rule:
    return rule(SustainedParams(plant="nish", **params), plant_id=1, plant_key="nish")


def held_inputs(r: Rule, book: CommitmentBook, readings: list[Reading]) -> Inputs:
    return Inputs(held=HeldFromReadings({SIGNAL: readings}), books={1: book})


@pytest.mark.parametrize(
    ("readings", "mean", "coverage", "active"),
    [
        (every(NOW - timedelta(hours=1), NOW, 5, 465.0), 465.0, 1.0, True),  # 15 MW short > 10 MW tolerance
        (every(NOW - timedelta(hours=1), NOW, 5, 475.0), 475.0, 1.0, False),
        # Report by exception: 470 MW reported every 1 s for 30 min, 490 MW every 30 s for 30 min. Time-weighted
        # the mean is 480 MW (compliant); averaged by count it would be ~470.6 MW.
        (
            [
                *every(NOW - timedelta(hours=1), NOW - timedelta(minutes=30), 1, 470.0),
                *every(NOW - timedelta(minutes=30), NOW, 30, 490.0),
            ],
            480.0,
            1.0,
            False,
        ),
        (every(NOW - timedelta(minutes=20), NOW, 5, 400.0), None, 1 / 3, None),  # below min_coverage 0.5
    ],
)
def test_sustained_under_delivery_uses_the_time_weighted_held_integral(
    readings: list[Reading], mean: float | None, coverage: float, active: bool | None
) -> None:
    r = sustained()
    # A flat commitment: the whole window is one bucket, read from the rollups.
    assert needs(r, {1: FLAT_480}, NOW).held == {(SIGNAL, (NOW - timedelta(hours=1), NOW))}
    verdict = evaluate(r, held_inputs(r, FLAT_480, readings), NOW)[0]
    assert verdict.active is active
    assert verdict.evidence["coverage"] == pytest.approx(coverage, abs=1e-4)
    if mean is not None:
        assert verdict.evidence["mean_mw"] == pytest.approx(mean, rel=1e-9)
        assert verdict.evidence["shortfall_mwh"] == pytest.approx((480.0 - mean) * coverage, abs=1e-9)


def test_sustained_weighs_the_commitment_by_held_time_and_skips_excluded_periods() -> None:
    start = NOW - timedelta(hours=1)
    schedule = {P0 - timedelta(minutes=45): 400.0}  # 09:15–09:30 owes 400 MW
    excluded = Exclusion(P0 - timedelta(minutes=30), P0 - timedelta(minutes=15), "outage")  # 09:30–09:45
    book = CommitmentBook(commitments=FLAT_480.commitments, schedule=schedule, exclusions=[excluded])
    readings = every(start, NOW, 1, 470.0)
    r = sustained(margin_mw=5.0)
    # One bucket per run of periods owing the same: 09:05:01–09:15 (480), 09:15–09:30 (400), 09:30–09:45 (excluded),
    # 09:45–10:05:01 (480).
    edges = (start, P0 - timedelta(minutes=45), P0 - timedelta(minutes=30), P0 - timedelta(minutes=15), NOW)
    assert needs(r, {1: book}, NOW).held == {(SIGNAL, edges)}
    verdict = evaluate(r, held_inputs(r, book, readings), NOW)[0]
    # Held seconds: 09:05:01–09:15 at 480 MW owed (599 s), 09:15–09:30 at 400 MW (900 s), 09:45–10:05:01 at 480 MW
    # (1201 s); 09:30–09:45 is excluded.
    covered = 599 + 900 + 1201
    assert verdict.evidence["covered_s"] == pytest.approx(covered)
    assert verdict.evidence["committed_mw"] == pytest.approx((480 * 599 + 400 * 900 + 480 * 1201) / covered)
    assert verdict.evidence["margin_mw"] == 5.0 and verdict.active is False  # owed ≈ 453.3, delivered 470
