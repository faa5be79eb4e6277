"""Compliance, frequency quality, fuel and plant-local days, against independently computed answers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import asyncpg
import pytest

from services.api.settings import Settings
from tests.integration.api.conftest import Api, running_api
from tests.integration.api.profiles import held_integral, series

T0 = datetime(2026, 6, 1, 10, 0, tzinfo=UTC)
Q = timedelta(minutes=15)
BELGRADE = ZoneInfo("Europe/Belgrade")


def iso(ts: datetime) -> str:
    return ts.isoformat().replace("+00:00", "Z")


async def test_compliance_per_period_with_schedule_exclusion_and_missing_data(api: Api, db: asyncpg.Pool) -> None:
    # The demo plant commits 480 MW ± 10 MW in 15-minute periods.
    delivered = [480.0, 465.0, 300.0, 470.0, 495.0]  # period 2 is excluded, period 3 has a 470 MW schedule
    for k, mw in enumerate(delivered):
        await api.write("plant.net_output", series(T0 + k * Q, 900, lambda i, mw=mw: mw, step_s=5))
    plant_id = await db.fetchval("SELECT id FROM plants WHERE key = 'nish'")
    await db.execute(
        "INSERT INTO commitment_exclusions (plant_id, starts_at, ends_at, reason) VALUES ($1, $2, $3, "
        "'grid-operator instruction')",
        plant_id,
        T0 + 2 * Q + timedelta(minutes=5),
        T0 + 2 * Q + Q,
    )
    await db.execute(
        "INSERT INTO commitment_schedule (plant_id, period_start, committed_mw) VALUES ($1, $2, 470)",
        plant_id,
        T0 + 3 * Q,
    )
    body = await api.json("/v1/plants/nish/compliance", start=iso(T0), end=iso(T0 + 6 * Q))
    periods = body["periods"]
    assert body["settlement_period_s"] == 900
    assert [p["status"] for p in periods] == [
        "compliant",
        "non_compliant",
        "excluded",
        "compliant",
        "non_compliant",
        "insufficient_data",
    ]
    assert [p["committed_mw"] for p in periods] == [480.0, 480.0, 480.0, 470.0, 480.0, 480.0]
    assert periods[1]["deviation_mw"] == pytest.approx(-15.0)
    assert periods[1]["deviation_mwh"] == pytest.approx(-3.75)
    assert periods[4]["deviation_mwh"] == pytest.approx(3.75)
    assert periods[2]["note"] == "grid-operator instruction"
    assert periods[5]["coverage"] == 0.0 and periods[5]["delivered_mw"] is None
    totals = body["totals"]
    assert (totals["compliant"], totals["non_compliant"], totals["excluded"], totals["insufficient_data"]) == (
        2,
        2,
        1,
        1,
    )
    assert totals["compliant_share"] == pytest.approx(0.5)
    assert totals["shortfall_mwh"] == pytest.approx(3.75) and totals["surplus_mwh"] == pytest.approx(3.75)
    committed = (480 + 480 + 470 + 480) / 4
    met = (480 + 465 + 470 + 480) / 4
    assert totals["availability"] == pytest.approx(met / committed)


async def test_frequency_bands_and_excursions(api: Api) -> None:
    # 10 minutes at 1 Hz: nominal, a 30 s dip to 49.70 Hz (−300 mHz), a 20 s rise to 50.10 Hz, a 5 s spike.
    def f(i: int) -> float:
        if 120 <= i < 150:
            return 49.70 if i != 135 else 49.65
        if 300 <= i < 320:
            return 50.10
        if 400 <= i < 405:
            return 50.25
        return 50.01

    samples = series(T0, 600, f)
    await api.write("grid.frequency", samples)
    body = await api.json("/v1/plants/nish/frequency", start=iso(T0), end=iso(T0 + timedelta(minutes=10)))
    assert (body["min"], body["max"]) == (49.65, 50.25)
    area, covered = held_integral(samples, T0, T0 + timedelta(minutes=10), 60.0)
    assert body["mean"] == pytest.approx(area / covered)
    inside = {b["band_mhz"]: b["seconds"] for b in body["bands"]["inside"]}
    assert inside == {50.0: pytest.approx(600 - 30 - 20 - 5), 200.0: pytest.approx(600 - 30 - 5)}
    assert body["bands"]["beyond"]["seconds"] == pytest.approx(35)
    assert [(e["start"], e["duration_s"], e["extreme_hz"]) for e in body["excursions"]] == [
        (iso(T0 + timedelta(seconds=120)), 30.0, 49.65),
        (iso(T0 + timedelta(seconds=400)), 5.0, 50.25),
    ]
    assert body["excursions"][0]["extreme_deviation_mhz"] == pytest.approx(-350.0)


async def test_fuel_volume_heat_rate_and_efficiency(api_settings: Settings, db: asyncpg.Pool) -> None:
    async with running_api(api_settings.model_copy(update={"gas_lhv_mj_per_nm3": 35.8}), db) as api:
        await api.write("gt1.fuel_gas_flow", series(T0, 900, lambda i: 43_000.0, step_s=2))
        await api.write("gt2.fuel_gas_flow", series(T0, 900, lambda i: 44_000.0, step_s=2))
        await api.write("plant.net_output", series(T0, 900, lambda i: 500.0, step_s=2))
        body = await api.json("/v1/plants/nish/fuel", start=iso(T0), end=iso(T0 + Q), role="socar")
    [period] = body["periods"]
    volume = (43_000 + 44_000) / 4  # Nm3/h over a quarter hour
    assert period["fuel_nm3"] == pytest.approx(volume)
    assert period["signals"] == {"gt1.fuel_gas_flow": pytest.approx(10_750), "gt2.fuel_gas_flow": pytest.approx(11_000)}
    assert period["net_mwh"] == pytest.approx(125.0)
    assert period["heat_rate_kj_per_kwh"] == pytest.approx(volume * 35.8 / 125.0)
    assert period["efficiency"] == pytest.approx(125.0 * 3600 / (volume * 35.8))


async def test_fuel_without_lhv_reports_volume_only(api: Api) -> None:
    await api.write("gt1.fuel_gas_flow", series(T0, 900, lambda i: 40_000.0, step_s=5))
    body = await api.json("/v1/plants/nish/fuel", start=iso(T0), end=iso(T0 + Q))
    assert body["periods"][0]["fuel_nm3"] == pytest.approx(10_000)
    assert body["periods"][0]["heat_rate_kj_per_kwh"] is None
    assert "BASELOAD_API_GAS_LHV_MJ_PER_NM3" in body["method"]["heat_rate"]


@pytest.mark.parametrize(
    ("day", "quarter_hours"), [(datetime(2026, 3, 29), 92), (datetime(2026, 10, 25), 100), (datetime(2026, 6, 1), 96)]
)
async def test_plant_local_days_have_92_96_or_100_quarter_hours(api: Api, day: datetime, quarter_hours: int) -> None:
    lo = day.replace(tzinfo=BELGRADE).astimezone(UTC)
    hi = (day + timedelta(days=1)).replace(tzinfo=BELGRADE).astimezone(UTC)
    await api.write(
        "plant.net_output",
        series(lo - timedelta(hours=2), int((hi - lo).total_seconds()) + 4 * 3600, lambda i: 480.0, step_s=30),
    )
    start = day.replace(tzinfo=BELGRADE).isoformat()
    end = (day + timedelta(days=1)).replace(tzinfo=BELGRADE).isoformat()
    quarters = await api.json("/v1/signals/plant.net_output/aggregates", start=start, end=end, every="15m", fn="avg")
    assert len(quarters["buckets"]) == quarter_hours
    days = await api.json("/v1/plants/nish/energy", start=start, end=end, every="1d", tz="Europe/Belgrade")
    [period] = next(s for s in days["series"] if s["signal"] == "plant.net_output")["periods"]
    assert (period["start"], period["end"]) == (iso(lo), iso(hi))
    assert period["mwh"] == pytest.approx(480.0 * quarter_hours / 4)
    daily = await api.json(
        "/v1/signals/plant.net_output/aggregates", start=start, end=end, every="1d", tz="Europe/Belgrade", fn="count"
    )
    assert daily["buckets"][0]["count"] == quarter_hours * 30


async def test_late_data_reaches_a_cached_compliance_period(api: Api) -> None:
    # 10:00–10:15 at 465 MW, then readings for 10:05–10:10 arrive late at 500 MW (a gap until then).
    samples = series(T0, 900, lambda i: 465.0)
    await api.write("plant.net_output", [s for s in samples if not 300 <= (s[0] - T0).total_seconds() < 600])
    q = {"start": iso(T0), "end": iso(T0 + Q)}
    before = (await api.json("/v1/plants/nish/compliance", **q))["periods"][0]
    assert before["delivered_mw"] == pytest.approx(465.0) and before["coverage"] == pytest.approx(600 / 900)
    await api.write("plant.net_output", [(t, 500.0) for t, _ in samples if 300 <= (t - T0).total_seconds() < 600])
    after = await api.eventually("/v1/plants/nish/compliance", lambda b: b["periods"][0]["coverage"] == 1.0, **q)
    area, covered = held_integral(
        [
            *[s for s in samples if not 300 <= (s[0] - T0).total_seconds() < 600],
            *[(t, 500.0) for t, _ in samples if 300 <= (t - T0).total_seconds() < 600],
        ],
        T0,
        T0 + Q,
        60.0,
    )
    assert after["periods"][0]["delivered_mw"] == pytest.approx(area / covered)
    assert area / covered == pytest.approx((600 * 465.0 + 300 * 500.0) / 900)
    assert after["periods"][0]["status"] == "compliant" and before["status"] == "non_compliant"
