"""Commitment rules evaluated against real rollups with a fixed clock: final verdict, early warning, and the
frequency correction that keeps the plant from being blamed for its grid duty."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg

from services.alerts import cli, schemas, store
from services.alerts.evaluator import Evaluator
from tests.integration.alerts.helpers import fast_settings, write

T0 = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)  # the demo commitment: 480 MW ± 10 MW, 15 min periods


def every_5s(start: datetime, minutes: int, value: float) -> list[tuple[datetime, float]]:
    return [(start + timedelta(seconds=5 * i), value) for i in range(minutes * 12)]


async def evaluate_at(database_url: str, db: asyncpg.Pool, now: datetime) -> dict[str, asyncpg.Record]:
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2, init=store.init_connection)
    try:
        evaluator = Evaluator(pool, fast_settings(database_url), database_url, clock=lambda: now)
        await evaluator.refresh_rules()
        await evaluator.cycle(set(), full=True)
        rows = await pool.fetch(
            "SELECT r.name, a.labels->>'check' AS check, a.state, a.evidence FROM alerts a"
            " JOIN alert_rules r ON r.id = a.rule_id"
        )
    finally:
        await pool.close()
    return {f"{r['name']}/{r['check']}": r for r in rows}


async def load_rules(db: asyncpg.Pool, *rules: dict) -> None:
    parsed = [cli.RULES.validate_python(r) for r in rules]
    async with db.acquire() as conn:
        await store.init_connection(conn)
        await cli.apply(conn, parsed, [], "baseload_alerts_rules")


PLAIN = {"name": "plain", "kind": "baseload_deviation", "params": {"plant": "nish"}}
CORRECTED = {
    "name": "corrected",
    "kind": "frequency_corrected_deviation",
    "params": {"plant": "nish", "droop": 0.05, "deadband_mhz": 10, "p_nominal_mw": 500},
}


async def test_a_missed_period_fires_its_final_verdict_with_the_energy_deviation(
    database_url: str, db: asyncpg.Pool
) -> None:
    await load_rules(db, PLAIN)
    await write(db, "plant.net_output", every_5s(T0, 15, 465.0))
    alerts = await evaluate_at(database_url, db, T0 + timedelta(minutes=15, seconds=30))
    final = alerts["plain/final"]
    assert final["state"] == "firing"
    assert final["evidence"]["deviation_mw"] == -15.0 and final["evidence"]["deviation_mwh"] == -3.75  # −15 × ¼ h
    assert final["evidence"]["committed_mw"] == 480.0 and final["evidence"]["coverage"] == 1.0
    assert schemas  # the same models validate the API and the file


async def test_the_early_warning_projects_the_period_mean(database_url: str, db: asyncpg.Pool) -> None:
    await load_rules(db, PLAIN)
    # 10:15–10:20 at 478 MW (60 readings), then 455 MW at 10:20:00; evaluated at 10:20:01 (301 s elapsed).
    start = T0 + timedelta(minutes=15)
    await write(db, "plant.net_output", [*every_5s(start, 5, 478.0), (start + timedelta(minutes=5), 455.0)])
    alerts = await evaluate_at(database_url, db, start + timedelta(minutes=5, seconds=1))
    projected = alerts["plain/projected"]
    assert projected["state"] == "firing"
    # Held integral so far: 60 readings × 5 s at 478 MW, then 455 MW held 1 s (to now); then 455 MW extrapolated.
    expected_mean = (478.0 * 300 + 455.0 * 1 + 455.0 * (900 - 301)) / 900  # ≈ 462.67 MW, misses 480 ± 10
    assert abs(projected["evidence"]["projected_mean_mw"] - expected_mean) < 0.001


async def test_frequency_response_is_not_blamed_on_the_plant(database_url: str, db: asyncpg.Pool) -> None:
    await load_rules(db, PLAIN, CORRECTED)
    # The grid sits at 49.8 Hz: with 5 % droop on 500 MW the plant owes +40 MW, and delivers 520 MW.
    await write(db, "plant.net_output", every_5s(T0, 15, 520.0))
    await write(db, "grid.frequency", every_5s(T0, 15, 49.8))
    alerts = await evaluate_at(database_url, db, T0 + timedelta(minutes=15, seconds=30))
    assert alerts["plain/final"]["state"] == "firing"  # +40 MW against a flat 480 ± 10
    corrected = alerts["corrected/final"]  # kept while never active: its evidence is the next cycle's memory
    assert corrected["state"] == "inactive" and corrected["evidence"]["status"] == "compliant"
    assert abs(corrected["evidence"]["frequency_response_mw"] - 40.0) < 1e-9
