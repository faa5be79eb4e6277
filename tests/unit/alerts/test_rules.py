"""The pure rule functions, without a database: inputs built by hand, `now` passed in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.alerts.deviation import CommitmentBook
from services.alerts.lifecycle import Timing
from services.alerts.rules import Inputs, Rule, Sample, evaluate, needs
from shared.commitments import Commitment
from shared.settlement import Reading

NOW = datetime(2026, 11, 25, 10, 20, 1, tzinfo=UTC)
SIGNAL, FREQ = 7, 8


def rule(kind: str, params: dict[str, Any], **extra: Any) -> Rule:
    return Rule(
        id=1,
        name="r",
        kind=kind,
        severity="critical",
        labels={},
        params=params,
        timing=Timing(),
        signals={"signal": SIGNAL},
        **extra,
    )


def latest(value: float, age_s: float = 1.0) -> Inputs:
    return Inputs(latest={SIGNAL: Sample(NOW - timedelta(seconds=age_s), value)})


@pytest.mark.parametrize(
    ("value", "op", "active"),
    [(181.0, "above", True), (180.0, "above", False), (179.0, "below", True), (180.0, "below", False)],
)
def test_threshold_compares_the_latest_fresh_value(value: float, op: str, active: bool) -> None:
    r = rule("threshold", {"signal": "gt1.active_power", "op": op, "value": 180.0, "max_age_s": 300})
    assert evaluate(r, latest(value), NOW)[0].active is active


def test_a_stale_threshold_value_has_no_opinion_to_fire() -> None:
    r = rule("threshold", {"signal": "gt1.active_power", "op": "above", "value": 180.0, "max_age_s": 300})
    verdict = evaluate(r, latest(999.0, age_s=301), NOW)[0]
    assert verdict.active is False and verdict.evidence == {"no_data": True}


@pytest.mark.parametrize(
    ("hz", "active"), [(49.8, False), (50.2, False), (49.799, True), (50.2004, False), (50.2006, True), (50.0, False)]
)
def test_the_frequency_band_boundary_is_decided_in_integer_mhz(hz: float, active: bool) -> None:
    r = rule(
        "frequency_band",
        {"signal": "grid.frequency", "low_hz": 49.8, "high_hz": 50.2, "nominal_hz": 50.0, "max_age_s": 300},
    )
    assert evaluate(r, latest(hz), NOW)[0].active is active


def test_stale_fires_after_max_silence() -> None:
    r = rule("stale", {"signal": "gt1.active_power", "max_silence_s": 30})
    assert evaluate(r, Inputs(last_seen={SIGNAL: NOW - timedelta(seconds=31)}), NOW)[0].active is True
    assert evaluate(r, Inputs(last_seen={SIGNAL: NOW - timedelta(seconds=29)}), NOW)[0].active is False
    assert evaluate(r, Inputs(), NOW)[0].active is True  # never seen within the lookback


def test_deviation_rules_read_raw_readings_from_the_last_ended_period_and_project_the_current_one() -> None:
    book = CommitmentBook(commitments=[Commitment(datetime(2026, 1, 1, tzinfo=UTC), None, 480.0, 10.0)])
    r = rule(
        "baseload_deviation",
        {
            "plant": "nish",
            "signal": "plant.net_output",
            "min_coverage": 0.5,
            "final_delay_s": 10,
            "early_warning": True,
            "min_elapsed_fraction": 0.2,
            "max_age_s": 300,
        },
        plant_id=1,
        plant_key="nish",
    )
    want = needs(r, {1: book}, NOW)
    assert want.readings == {SIGNAL: datetime(2026, 11, 25, 10, 0, tzinfo=UTC)}
    start = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
    readings = [Reading(start + timedelta(seconds=5 * i), 465.0) for i in range(12 * 20 + 1)]
    inputs = Inputs(latest={SIGNAL: Sample(readings[-1].ts, 465.0)}, readings={SIGNAL: readings}, books={1: book})
    final, projected = evaluate(r, inputs, NOW)
    assert final.active is True and final.evidence["deviation_mwh"] == pytest.approx(-3.75)
    assert final.evidence["period_start"] == start.isoformat() and final.evidence["status"] == "non_compliant"
    assert projected.active is True and projected.evidence["extrapolated"] is True
    assert projected.labels["check"] == "projected" and projected.labels["severity"] == "warning"
