"""Alerts speak the settlement numbers (issue 10 item 4): a period's final verdict states the committed, delivered
and deviation figures and the coverage that GET /v1/plants/{plant}/compliance gives for the same period, on
irregular report-by-exception data; the final verdict waits for the period end plus the grace; late data that
changes a verdict is said to have done so."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from services.alerts import config_store as cs
from services.alerts import store
from services.alerts.evaluator import Evaluator
from services.alerts.schemas import EndpointIn
from services.api.app import create_app as create_api
from services.api.settings import Settings as ApiSettings
from services.ingest.store import write_readings
from tests.integration.alerts.helpers import fast_settings
from tests.integration.alerts.test_baseload_rules import PLAIN, load_rules
from tests.support import make_key, serving

T0 = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)  # the demo commitment: 480 MW ± 10 MW, 15 min periods
UNCERTAIN = 0x40000000  # OPC UA severity 01: not Good, so it ends the hold of the Good reading before it
NUMBERS = ("committed_mw", "tolerance_mw", "delivered_mw", "deviation_mw", "deviation_mwh", "delivered_mwh", "coverage")


def irregular(start: datetime, end: datetime, mean_mw: float, rng: random.Random) -> list[tuple[datetime, float, int]]:
    """Report-by-exception: steps from 0.3 s to 25 s, now and then a gap longer than max_gap, some Uncertain."""
    out, t = [], start
    while t < end:
        quality = UNCERTAIN if rng.random() < 0.02 else 0
        out.append((t, mean_mw + rng.uniform(-3, 3), quality))
        t += timedelta(seconds=rng.uniform(61, 90) if rng.random() < 0.04 else rng.uniform(0.3, 25))
    return out


async def write(db: asyncpg.Pool, rows: list[tuple[datetime, float, int]]) -> None:
    async with db.acquire() as conn:
        sid = await conn.fetchval("SELECT id FROM signals WHERE key = 'plant.net_output'")
        await write_readings(conn, [(sid, ts, value, quality) for ts, value, quality in rows])


async def final_at(database_url: str, now: datetime, check: str = "final") -> dict[str, Any] | None:
    """Run one evaluator cycle at `now`; the rule's alert of that check (None if it has no alert row)."""
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2, init=store.init_connection)
    try:
        evaluator = Evaluator(pool, fast_settings(database_url), database_url, clock=lambda: now)
        await evaluator.refresh_rules()
        await evaluator.cycle(set(), full=True)
        row = await pool.fetchrow("SELECT state, evidence FROM alerts WHERE labels->>'check' = $1", check)
    finally:
        await pool.close()
    return None if row is None else {"state": row["state"], **row["evidence"]}


async def api_periods(api: httpx.AsyncClient, start: datetime, end: datetime) -> dict[str, dict[str, Any]]:
    response = await api.get("/v1/plants/nish/compliance", params={"start": start.isoformat(), "end": end.isoformat()})
    assert response.status_code == 200, response.text
    return {
        datetime.fromisoformat(p["start"].replace("Z", "+00:00")).isoformat(): p for p in response.json()["periods"]
    }


def assert_same_numbers(alert: dict[str, Any], period: dict[str, Any]) -> None:
    assert alert["status"] == period["status"]
    for name in NUMBERS:
        if period[name] is None:
            assert alert[name] is None, name
        else:
            assert alert[name] == pytest.approx(period[name], rel=1e-9, abs=1e-9), name


async def test_alert_period_numbers_equal_the_compliance_report_and_late_data_revisions_are_stated(
    database_url: str, db: asyncpg.Pool
) -> None:
    rng = random.Random(20261125)
    await load_rules(db, PLAIN)
    p1, p2, p3 = T0, T0 + timedelta(minutes=15), T0 + timedelta(minutes=30)
    await write(db, irregular(p1, p2, 455.0, rng))  # clearly short of 480 ± 10
    await write(db, irregular(p2, p2 + timedelta(minutes=12), 460.0, rng))  # the rest of period 2 arrives late
    token = await make_key(db, role="operator", name="ops")
    async with (
        serving(create_api(ApiSettings(database_url=database_url))) as base,
        httpx.AsyncClient(base_url=base, headers={"authorization": f"Bearer {token}"}, timeout=30) as api,
    ):
        early = await final_at(database_url, p2 + timedelta(seconds=5))  # p1 ended, but within the grace
        assert early is not None and early["state"] == "inactive"
        assert early["period_start"] == (p1 - timedelta(minutes=15)).isoformat()
        first = await final_at(database_url, p2 + timedelta(seconds=30))
        report = await api_periods(api, p1, p3)
        assert first is not None and first["state"] == "firing" and first["period_start"] == p1.isoformat()
        assert_same_numbers(first, report[p1.isoformat()])
        assert first["status"] == "non_compliant" and 0.5 < first["coverage"] < 1.0

        second = await final_at(database_url, p3 + timedelta(seconds=30))
        assert second is not None and second["period_start"] == p2.isoformat()
        assert_same_numbers(second, (await api_periods(api, p1, p3))[p2.isoformat()])
        assert second["status"] == "non_compliant" and "revised_from" not in second

        await write(db, irregular(p2 + timedelta(minutes=12), p3, 560.0, rng))  # late data: period 2 now compliant
        revised = await final_at(database_url, p3 + timedelta(seconds=60))
        report = await api_periods(api, p1, p3)
    assert revised is not None and revised["period_start"] == p2.isoformat()
    assert_same_numbers(revised, report[p2.isoformat()])
    assert revised["status"] == "compliant" and revised["state"] == "resolved"
    assert revised["revised_from"] == "non_compliant"
    assert revised["summary"].startswith("revised by late data: non_compliant → compliant")


async def test_late_data_that_changes_an_older_periods_verdict_is_announced(
    database_url: str, db: asyncpg.Pool
) -> None:
    """Issue 10 §4: the final check has moved on to a later period when a gateway's buffered readings arrive for
    an earlier one; the revision check fires (and notifies) with that period's new numbers, the api's."""
    rng = random.Random(11)
    await load_rules(db, PLAIN)
    async with db.acquire() as conn:
        await store.init_connection(conn)
        await cs.create_endpoint(conn, EndpointIn(name="oncall", url="https://oncall.example/hook"), "whsec_x")
    p1, p2, p3, p4 = (T0 + timedelta(minutes=15 * i) for i in range(4))
    await write(db, irregular(p1, p2, 481.0, rng))
    await write(db, irregular(p2, p2 + timedelta(minutes=3), 450.0, rng))  # then the gateway's link drops
    await write(db, irregular(p3, p4, 479.0, rng))
    assert (await final_at(database_url, p3 + timedelta(seconds=30)))["status"] == "insufficient_data"  # p2
    moved_on = await final_at(database_url, p4 + timedelta(seconds=30))
    assert moved_on is not None and moved_on["period_start"] == p3.isoformat()
    assert moved_on["recent"][p2.isoformat()] == "insufficient_data"
    assert await final_at(database_url, p4 + timedelta(seconds=30), "revision") is None  # nothing revised

    await write(db, irregular(p2 + timedelta(minutes=3), p3, 450.0, rng))  # the link is back: p2 arrives late
    announced = await final_at(database_url, p4 + timedelta(seconds=60), "revision")
    token = await make_key(db, role="operator", name="ops")
    async with (
        serving(create_api(ApiSettings(database_url=database_url))) as base,
        httpx.AsyncClient(base_url=base, headers={"authorization": f"Bearer {token}"}, timeout=30) as api,
    ):
        report = await api_periods(api, p1, p4)
    assert announced is not None and announced["state"] == "firing"
    (change,) = announced["revisions"]
    assert change["period_start"] == p2.isoformat()
    assert (change["revised_from"], change["revised_to"]) == ("insufficient_data", "non_compliant")
    assert_same_numbers(change, report[p2.isoformat()])
    assert "revised: insufficient_data → non_compliant" in announced["summary"]
    sent = await db.fetch(
        "SELECT o.event_type FROM webhook_outbox o JOIN alerts a ON a.id = o.alert_id"
        " WHERE a.labels->>'check' = 'revision' ORDER BY o.id"
    )
    assert [r["event_type"] for r in sent] == ["alert.firing"]
    # Announced once: the next evaluation finds nothing new and the announcement resolves.
    after = await final_at(database_url, p4 + timedelta(seconds=90), "revision")
    assert after is not None and after["state"] == "resolved"
