"""The demo plant as a pure function of (params, scenario, seed, t): two GTs, one ST, net output, fuel, frequency.

`t` is simulated seconds since the scenario started. Nothing here reads a clock or does I/O, so every value
the protocol servers publish can be recomputed exactly in a test.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum

from services.simulator.noise import hashed_uniform, smooth_noise

GOOD = 0x00000000
BAD_SENSOR_FAILURE = 0x808C0000

SIGNALS = (
    "gt1.active_power",
    "gt2.active_power",
    "st1.active_power",
    "plant.net_output",
    "gt1.fuel_gas_flow",
    "gt2.fuel_gas_flow",
    "grid.frequency",
)
GTS = ("gt1", "gt2")


class ScenarioKind(StrEnum):
    STEADY = "steady"
    RAMP = "ramp"
    GT_TRIP = "gt_trip"
    SENSOR_BAD = "sensor_bad"
    FROZEN = "frozen"


@dataclass(frozen=True, slots=True)
class PlantParams:
    """Physical assumptions of the demo plant (DOMAIN.md); all overridable, none buried in code."""

    nominal_mw: float = 500.0
    gt_mw: float = 163.0  # each GT at baseload
    gt_max_mw: float = 175.0  # headroom for frequency response
    st_mw: float = 167.0  # ST at baseload (both GTs running)
    aux_fraction: float = 0.025  # auxiliary load: net = gross × (1 − aux)
    efficiency: float = 0.58  # CCGT electrical efficiency on LHV (heat rate 3600/η kJ/kWh)
    lhv_mj_per_nm3: float = 35.8  # natural gas LHV, MJ/Nm³ (0 °C, 101.325 kPa)
    frequency_hz: float = 50.0
    droop: float = 0.05
    deadband_hz: float = 0.015
    ramp_mw_per_min: float = 50.0
    st_time_constant_s: float = 120.0  # steam cycle lag behind the GTs' exhaust heat
    power_noise_mw: float = 0.4
    excursions_per_hour: float = 2.0
    trip_dip_hz: float = 0.12  # frequency dip after a unit trip


@dataclass(frozen=True, slots=True)
class Scenario:
    kind: ScenarioKind = ScenarioKind.STEADY
    event_at_s: float = 60.0  # when the trip / ramp / bad sensor / freeze starts
    signal: str = "gt2.active_power"  # the sensor that goes Bad or freezes
    ramp_from_fraction: float = 0.5  # load before the ramp (minimum stable load)


@dataclass(frozen=True, slots=True)
class Sample:
    value: float
    status: int = GOOD


@dataclass(frozen=True, slots=True)
class PlantState:
    t: float
    samples: dict[str, Sample] = field(default_factory=dict)

    def value(self, signal: str) -> float:
        return self.samples[signal].value


def sample(params: PlantParams, scenario: Scenario, seed: int, t: float) -> PlantState:
    """Every signal of the plant at simulated time `t`, with the scenario's sensor faults applied."""
    values = true_values(params, scenario, seed, t)
    samples = {key: Sample(v) for key, v in values.items()}
    if scenario.kind in (ScenarioKind.SENSOR_BAD, ScenarioKind.FROZEN) and t >= scenario.event_at_s:
        held = true_values(params, scenario, seed, scenario.event_at_s)[scenario.signal]
        status = BAD_SENSOR_FAILURE if scenario.kind is ScenarioKind.SENSOR_BAD else GOOD
        samples[scenario.signal] = Sample(held, status)
    return PlantState(t, samples)


def true_values(params: PlantParams, scenario: Scenario, seed: int, t: float) -> dict[str, float]:
    """What the plant really does at `t` (before any sensor fault)."""
    freq = frequency(params, scenario, seed, t)
    gt = _gt_outputs(params, scenario, seed, t, freq)
    st = steam_turbine(params, scenario, seed, t)
    gross = sum(gt.values()) + st
    values = {f"{unit}.active_power": mw for unit, mw in gt.items()}
    values["st1.active_power"] = st
    values["plant.net_output"] = gross * (1.0 - params.aux_fraction)
    running = sum(gt.values())
    for unit, mw in gt.items():
        # The ST runs on the GTs' exhaust heat, so each GT's fuel feeds its own output plus its share of the ST's.
        block_mw = mw + (st * mw / running if running > 0 else 0.0)
        values[f"{unit}.fuel_gas_flow"] = fuel_flow_nm3h(params, block_mw)
    values["grid.frequency"] = freq
    return values


def fuel_flow_nm3h(params: PlantParams, electrical_mw: float) -> float:
    """Fuel gas for `electrical_mw` at the plant's efficiency: MW_th × 3600 MJ/MWh ÷ LHV MJ/Nm³ = Nm³/h."""
    return max(electrical_mw, 0.0) / params.efficiency * 3600.0 / params.lhv_mj_per_nm3


def load_fraction(params: PlantParams, scenario: Scenario, t: float) -> float:
    """Setpoint as a fraction of baseload: 1 except during a ramp scenario (min load, then up at the ramp rate)."""
    if scenario.kind is not ScenarioKind.RAMP:
        return 1.0
    if t < scenario.event_at_s:
        return scenario.ramp_from_fraction
    plant_mw = 2 * params.gt_mw + params.st_mw
    rise = (t - scenario.event_at_s) / 60.0 * params.ramp_mw_per_min / plant_mw
    return min(1.0, scenario.ramp_from_fraction + rise)


def frequency(params: PlantParams, scenario: Scenario, seed: int, t: float) -> float:
    """Grid frequency: slow wander plus faster jitter, occasional excursions, and a dip after a GT trip."""
    f = params.frequency_hz
    f += smooth_noise(seed, "f.slow", t, 60.0, 0.015)
    f += smooth_noise(seed, "f.mid", t, 8.0, 0.006)
    f += smooth_noise(seed, "f.fast", t, 1.0, 0.002)
    f += _excursion(params, seed, t)
    if scenario.kind is ScenarioKind.GT_TRIP and t >= scenario.event_at_s:
        f -= params.trip_dip_hz * _dip_shape(t - scenario.event_at_s)
    return f


def frequency_response_mw(params: PlantParams, freq: float) -> float:
    """Droop response of the plant: ΔP = −(Δf / f_n) / droop × P_n, outside the deadband."""
    deviation = freq - params.frequency_hz
    if abs(deviation) <= params.deadband_hz:
        return 0.0
    effective = deviation - math.copysign(params.deadband_hz, deviation)
    return -(effective / params.frequency_hz) / params.droop * params.nominal_mw


def steam_turbine(params: PlantParams, scenario: Scenario, seed: int, t: float) -> float:
    """ST output follows the GTs' load; after a trip it decays to half with the steam cycle's time constant."""
    noise = smooth_noise(seed, "st1", t, 5.0, params.power_noise_mw)
    base = params.st_mw * load_fraction(params, scenario, t)
    if scenario.kind is ScenarioKind.GT_TRIP and t >= scenario.event_at_s:
        decay = math.exp(-(t - scenario.event_at_s) / params.st_time_constant_s)
        base = params.st_mw * (0.5 + 0.5 * decay)
    return base + noise


def _gt_outputs(params: PlantParams, scenario: Scenario, seed: int, t: float, freq: float) -> dict[str, float]:
    tripped = scenario.kind is ScenarioKind.GT_TRIP and t >= scenario.event_at_s
    running = ["gt2"] if tripped else list(GTS)
    share = frequency_response_mw(params, freq) / len(running)
    setpoint = params.gt_mw * load_fraction(params, scenario, t)
    outputs = {}
    for unit in GTS:
        if unit not in running:
            # A breaker trip: output collapses within about a second.
            outputs[unit] = max(0.0, params.gt_mw * (1.0 - (t - scenario.event_at_s)))
            continue
        mw = setpoint + share + smooth_noise(seed, unit, t, 5.0, params.power_noise_mw)
        outputs[unit] = min(mw, params.gt_max_mw)
    return outputs


def _dip_shape(dt: float) -> float:
    """0→1 in 3 s, then an exponential recovery (τ 40 s)."""
    return dt / 3.0 if dt < 3.0 else math.exp(-(dt - 3.0) / 40.0)


EXCURSION_WINDOW_S = 600.0


def _excursion(params: PlantParams, seed: int, t: float) -> float:
    """Occasional frequency events: at most one per 10-minute window, 60–160 mHz deep, either sign."""
    window = math.floor(t / EXCURSION_WINDOW_S)
    total = 0.0
    for w in (window - 1, window):
        if hashed_uniform(seed, "exc.p", w) >= params.excursions_per_hour * EXCURSION_WINDOW_S / 3600.0:
            continue
        start = w * EXCURSION_WINDOW_S + hashed_uniform(seed, "exc.at", w) * (EXCURSION_WINDOW_S - 200.0)
        if t < start:
            continue
        depth = 0.06 + 0.10 * hashed_uniform(seed, "exc.depth", w)
        sign = -1.0 if hashed_uniform(seed, "exc.sign", w) < 0.7 else 1.0
        total += sign * depth * _dip_shape(t - start)
    return total
