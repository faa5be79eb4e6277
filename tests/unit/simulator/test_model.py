"""The plant model: deterministic from the seed, physically consistent, and each scenario does what it says."""

from __future__ import annotations

import math

import pytest

from services.simulator.model import (
    BAD_SENSOR_FAILURE,
    GOOD,
    SIGNALS,
    PlantParams,
    Scenario,
    ScenarioKind,
    frequency_response_mw,
    sample,
)
from services.simulator.noise import hashed_gauss, hashed_uniform, smooth_noise

PARAMS = PlantParams()
STEADY = Scenario()


def test_the_same_seed_and_time_give_the_same_plant_in_any_order() -> None:
    forward = [sample(PARAMS, STEADY, 7, t) for t in range(0, 50)]
    backward = [sample(PARAMS, STEADY, 7, t) for t in reversed(range(0, 50))]
    assert forward == list(reversed(backward))


def test_another_seed_gives_another_plant() -> None:
    assert sample(PARAMS, STEADY, 1, 10.0).value("grid.frequency") != sample(PARAMS, STEADY, 2, 10.0).value(
        "grid.frequency"
    )


def test_noise_is_stable_and_in_range() -> None:
    assert hashed_uniform(1, "x", 5) == hashed_uniform(1, "x", 5)
    draws = [hashed_uniform(3, "u", i) for i in range(2000)]
    assert all(0.0 <= d < 1.0 for d in draws)
    assert 0.45 < sum(draws) / len(draws) < 0.55
    gauss = [hashed_gauss(3, "g", i) for i in range(4000)]
    mean = sum(gauss) / len(gauss)
    sd = math.sqrt(sum((g - mean) ** 2 for g in gauss) / len(gauss))
    assert abs(mean) < 0.06 and 0.93 < sd < 1.07


def test_smooth_noise_passes_through_its_knots() -> None:
    assert smooth_noise(1, "k", 20.0, 10.0, 2.0) == pytest.approx(2.0 * hashed_gauss(1, "k", 2))


def test_every_signal_is_sampled_with_good_status_in_steady_state() -> None:
    state = sample(PARAMS, STEADY, 1, 123.0)
    assert set(state.samples) == set(SIGNALS)
    assert all(s.status == GOOD for s in state.samples.values())


def test_steady_baseload_delivers_about_the_commitment() -> None:
    nets = [sample(PARAMS, STEADY, 1, float(t)).value("plant.net_output") for t in range(0, 3600, 10)]
    expected = (2 * 163.0 + 167.0) * (1 - 0.025)  # 480.7 MW before noise and frequency response
    assert abs(sum(nets) / len(nets) - expected) < 3.0


def test_net_output_is_gross_less_auxiliary_load() -> None:
    state = sample(PARAMS, STEADY, 4, 42.0)
    gross = sum(state.value(f"{u}.active_power") for u in ("gt1", "gt2", "st1"))
    assert state.value("plant.net_output") == pytest.approx(gross * 0.975)


def test_fuel_flow_matches_the_heat_rate() -> None:
    state = sample(PARAMS, STEADY, 5, 77.0)
    gt1, gt2, st = (state.value(f"{u}.active_power") for u in ("gt1", "gt2", "st1"))
    heat_rate_kj_per_kwh = 3600 / 0.58
    for gt, flow in ((gt1, state.value("gt1.fuel_gas_flow")), (gt2, state.value("gt2.fuel_gas_flow"))):
        block_kw = (gt + st * gt / (gt1 + gt2)) * 1000
        assert flow == pytest.approx(block_kw * heat_rate_kj_per_kwh / 1000 / 35.8)  # kJ/h → MJ/h → Nm³/h
    assert 40_000 < state.value("gt1.fuel_gas_flow") < 46_000  # DOMAIN.md: ~43,000 Nm³/h per GT


def test_frequency_stays_mostly_within_the_standard_range() -> None:
    freqs = [sample(PARAMS, STEADY, 9, float(t)).value("grid.frequency") for t in range(0, 7200, 3)]
    inside = sum(1 for f in freqs if 49.95 <= f <= 50.05) / len(freqs)
    assert inside > 0.9
    assert all(49.2 < f < 50.8 for f in freqs)


def test_frequency_excursions_happen_sometimes() -> None:
    seeds_with_excursion = 0
    for seed in range(10):
        freqs = [sample(PARAMS, STEADY, seed, float(t)).value("grid.frequency") for t in range(0, 3600, 2)]
        seeds_with_excursion += any(abs(f - 50.0) > 0.08 for f in freqs)
    assert seeds_with_excursion >= 3


@pytest.mark.parametrize(
    ("freq", "expected_mw"),
    [
        (50.0, 0.0),
        (50.01, 0.0),
        (49.8, (0.2 - 0.015) / 50 / 0.05 * 500),
        (50.2, -(0.2 - 0.015) / 50 / 0.05 * 500),
    ],
)
def test_frequency_response_follows_droop_outside_the_deadband(freq: float, expected_mw: float) -> None:
    assert frequency_response_mw(PARAMS, freq) == pytest.approx(expected_mw)


def test_a_gt_trip_drops_output_dips_frequency_and_under_delivers() -> None:
    trip = Scenario(ScenarioKind.GT_TRIP, event_at_s=100.0)
    before = sample(PARAMS, trip, 3, 99.0)
    steady_at_105 = sample(PARAMS, STEADY, 3, 105.0)
    after = sample(PARAMS, trip, 3, 105.0)
    later = sample(PARAMS, trip, 3, 700.0)
    assert before == sample(PARAMS, STEADY, 3, 99.0)
    assert after.value("gt1.active_power") == 0.0 and after.value("gt1.fuel_gas_flow") == 0.0
    assert after.value("grid.frequency") < steady_at_105.value("grid.frequency") - 0.05
    assert later.value("st1.active_power") < 0.6 * 167.0
    assert later.value("plant.net_output") < 480.0 - 10.0


def test_a_ramp_rises_from_minimum_load_at_the_ramp_rate() -> None:
    ramp = Scenario(ScenarioKind.RAMP, event_at_s=60.0, ramp_from_fraction=0.5)
    start = sample(PARAMS, ramp, 1, 30.0).value("plant.net_output")
    one_minute_in = sample(PARAMS, ramp, 1, 120.0).value("plant.net_output")
    done = sample(PARAMS, ramp, 1, 60.0 + 6 * 60).value("plant.net_output")
    assert start == pytest.approx(493 * 0.5 * 0.975, abs=5)
    assert one_minute_in - start == pytest.approx(50 * 0.975, abs=5)  # 50 MW/min gross
    assert done == pytest.approx(480.7, abs=5)


def test_a_bad_sensor_holds_its_last_value_with_a_bad_status() -> None:
    bad = Scenario(ScenarioKind.SENSOR_BAD, event_at_s=50.0, signal="gt2.active_power")
    assert sample(PARAMS, bad, 1, 49.0).samples["gt2.active_power"].status == GOOD
    held = sample(PARAMS, bad, 1, 80.0).samples["gt2.active_power"]
    assert held.status == BAD_SENSOR_FAILURE
    assert held.value == sample(PARAMS, STEADY, 1, 50.0).value("gt2.active_power")
    assert sample(PARAMS, bad, 1, 80.0).samples["gt1.active_power"].status == GOOD


def test_a_frozen_sensor_repeats_one_value_with_good_status() -> None:
    frozen = Scenario(ScenarioKind.FROZEN, event_at_s=10.0, signal="grid.frequency")
    values = {sample(PARAMS, frozen, 1, float(t)).samples["grid.frequency"] for t in range(10, 100)}
    assert len(values) == 1
    (only,) = values
    assert only.status == GOOD and only.value == sample(PARAMS, STEADY, 1, 10.0).value("grid.frequency")
