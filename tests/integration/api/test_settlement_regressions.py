"""Regressions for issue 10's "Why": each settlement number has one answer, the same wherever it is computed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from services.api.service import plant_settlement
from services.api.settings import Settings
from tests.integration.api.conftest import Api
from tests.integration.api.profiles import series

T0 = datetime(2026, 6, 1, 10, 0, tzinfo=UTC)
Q = timedelta(minutes=15)
M = timedelta(minutes=1)


def iso(ts: datetime) -> str:
    return ts.isoformat().replace("+00:00", "Z")


async def add_commitment(db: asyncpg.Pool, valid_from: datetime, mw: float, period_s: int = 900) -> None:
    await db.execute(
        """INSERT INTO commitments (plant_id, valid_from, committed_mw, tolerance_mw, settlement_period_s)
                        SELECT id, $1, $2, 10, $3 FROM plants WHERE key = 'nish'""",
        valid_from,
        mw,
        period_s,
    )


async def test_overlapping_commitments_the_latest_valid_from_wins(api: Api, db: asyncpg.Pool) -> None:
    # The README's example: a new 400 MW commitment next to the plant file's open-ended 480 MW one (from 2026-01-01).
    await add_commitment(db, datetime(2026, 5, 1, tzinfo=UTC), 400.0)
    await api.write("plant.net_output", series(T0, 900, lambda i: 400.0))
    body = await api.json("/v1/plants/nish/compliance", start=iso(T0), end=iso(T0 + Q))
    (period,) = body["periods"]
    assert (period["committed_mw"], period["status"], period["commitment_source"]) == (400.0, "compliant", "commitment")


async def test_a_change_of_period_length_starts_at_the_new_commitments_valid_from(api: Api, db: asyncpg.Pool) -> None:
    starts = T0 + 7 * M  # a 1-minute-period commitment from 10:07
    await add_commitment(db, starts, 470.0, period_s=60)
    await api.write("plant.net_output", series(T0, 900, lambda i: 470.0))
    body = await api.json("/v1/plants/nish/compliance", start=iso(T0), end=iso(T0 + Q))
    spans = [(p["start"], p["end"], p["committed_mw"]) for p in body["periods"]]
    assert spans[0] == (iso(T0), iso(starts), 480.0)  # the 15-minute period running at 10:07 ends there
    assert spans[1:] == [(iso(starts + k * M), iso(starts + (k + 1) * M), 470.0) for k in range(8)]
    assert [p["status"] for p in body["periods"][1:]] == ["compliant"] * 8


async def test_totals_delivered_mwh_is_the_sum_of_the_periods_own_values(api: Api) -> None:
    # Period 1 fully covered at 480 MW; period 2 only its first 5 minutes (coverage 1/3, so not assessed).
    await api.write("plant.net_output", series(T0, 900 + 300, lambda i: 480.0))
    body = await api.json("/v1/plants/nish/compliance", start=iso(T0), end=iso(T0 + 2 * Q))
    own = [p["delivered_mwh"] for p in body["periods"]]
    assert own == [pytest.approx(120.0), pytest.approx(40.0)]  # 10:15–10:20 measured: the last reading holds 1 s
    assert body["totals"]["delivered_mwh"] == pytest.approx(sum(own))  # never 480 MW × 0.5 h extrapolated


async def test_readings_of_exactly_49_8_and_50_2_hz_are_inside_200_mhz(api: Api) -> None:
    await api.write("grid.frequency", series(T0, 60, lambda i: 49.8 if i % 2 else 50.2))
    body = await api.json("/v1/plants/nish/frequency", start=iso(T0), end=iso(T0 + M))
    inside = {b["band_mhz"]: b["seconds"] for b in body["bands"]["inside"]}
    assert inside[200] == pytest.approx(60.0) and body["bands"]["beyond"]["seconds"] == pytest.approx(0.0)
    assert body["excursions"] == []
    await api.write("grid.frequency", series(T0 + M, 10, lambda i: 49.799))
    beyond = await api.json("/v1/plants/nish/frequency", start=iso(T0 + M), end=iso(T0 + 2 * M))
    assert [e["extreme_deviation_mhz"] for e in beyond["excursions"]] == [-201]


async def test_plant_settlement_is_what_the_compliance_endpoint_serves(
    api: Api, db: asyncpg.Pool, api_settings: Settings
) -> None:
    await api.write("plant.net_output", [(T0 + k * 7.3 * timedelta(seconds=1), 470.0 + k % 17) for k in range(300)])
    body = await api.json("/v1/plants/nish/compliance", start=iso(T0), end=iso(T0 + 2 * Q))
    periods, totals = await plant_settlement(db, "nish", T0, T0 + 2 * Q, settings=api_settings)
    assert [p.delivered_mw for p in periods] == [p["delivered_mw"] for p in body["periods"]]
    assert [p.status for p in periods] == [p["status"] for p in body["periods"]]
    assert totals.delivered_mwh == body["totals"]["delivered_mwh"]
