"""Issue 10 (d): the sustained rule reads its window's held integral exactly from the rollups (hourly middle,
15-minute and minute shoulders, raw readings only for the sub-minute ends and rows with a long gap inside), and
states the numbers it stated when it read every raw reading of the window, and the api's."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import numpy as np
import pytest

from services.alerts import store
from services.api.app import create_app as create_api
from services.api.settings import Settings as ApiSettings
from services.ingest.compaction import compress_day
from services.ingest.store import write_readings
from shared.history.reader import readings_between
from shared.history.rollups import ReadStats, held_integrals
from shared.settlement import Reading, settlement_periods
from shared.settlement import held_integrals as raw_held_integrals
from shared.settlement.integral import edges_us, held_arrays
from tests.integration.alerts.test_baseload_rules import evaluate_at, load_rules
from tests.support import make_key, serving

T0 = datetime(2026, 11, 23, 0, 0, tzinfo=UTC)  # nish: 480 MW ± 10 MW, 15-minute periods
DAYS = 2
UNCERTAIN = 0x40000000
MAX_GAP_S = 60.0
_US = timedelta(microseconds=1)


def irregular(rng: random.Random) -> list[tuple[datetime, float, int]]:
    """Two days of report-by-exception output: steps of 0.5–25 s, now and then a gap longer than max_gap (so some
    rollup rows of every width cannot be combined), a 70-minute outage, some Uncertain readings."""
    out, t = [], T0 + timedelta(seconds=0.25)
    outage = (T0 + timedelta(hours=30, minutes=7), T0 + timedelta(hours=31, minutes=17))
    while t < T0 + timedelta(days=DAYS):
        if not outage[0] <= t < outage[1]:
            out.append((t, 470.0 + rng.uniform(-8, 8), UNCERTAIN if rng.random() < 0.01 else 0))
        t += timedelta(seconds=rng.uniform(61, 400) if rng.random() < 0.003 else rng.uniform(0.5, 25))
    return out


async def load(db: asyncpg.Pool, rows: list[tuple[datetime, float, int]], rng: random.Random) -> int:
    """Write in random batches, in random order (late data lands in minutes already rolled up)."""
    async with db.acquire() as conn:
        sid = int(await conn.fetchval("SELECT id FROM signals WHERE key = 'plant.net_output'"))
        batches = [rows[i : i + 2000] for i in range(0, len(rows), 2000)]
        rng.shuffle(batches)
        for batch in batches:
            await write_readings(conn, [(sid, ts, value, quality) for ts, value, quality in batch])
    return sid


def at(base: datetime, **delta: float) -> datetime:
    return base + timedelta(**delta)


async def test_held_integrals_from_the_rollups_equal_the_raw_held_integral_for_any_edges(
    database_url: str, db: asyncpg.Pool
) -> None:
    rng = random.Random(20261123)
    rows = irregular(rng)
    sid = await load(db, rows, rng)
    cases = [
        # Unaligned window ends, interior edges on and off row boundaries, one bucket inside a minute.
        [
            at(T0, hours=3, minutes=17, seconds=23.5),
            at(T0, hours=9),
            at(T0, hours=9, minutes=0, seconds=40),
            at(T0, hours=20, minutes=45),
            at(T0, hours=30, minutes=30),
            at(T0, hours=46, minutes=3, seconds=11.25),
        ],
        [T0 - timedelta(hours=1), T0 + timedelta(days=DAYS, hours=1)],  # beyond the data at both ends
        [at(T0, hours=h) for h in range(0, 48, 6)],  # aligned to hours
    ]
    async with db.acquire() as conn:
        for compressed in (False, True):
            if compressed:  # the first day's minute rows may now be packed: its minute pieces are read raw
                assert (await compress_day(conn, T0.date(), lock_timeout_ms=10_000)).readings > 0
            for edges in cases:
                bounds = edges_us(edges)
                stats = ReadStats({})
                got = await held_integrals(conn, sid, bounds, max_gap_s=MAX_GAP_S, stats=stats)
                raw = (await readings_between(conn, [sid], edges[0], edges[-1], before=2, after=1))[sid]
                want = held_arrays(raw.ts_us, raw.values, raw.good(), bounds, max_gap_s=MAX_GAP_S)
                assert got.covered_us.tolist() == want.covered_us.tolist()
                np.testing.assert_allclose(got.area, want.area, rtol=1e-12, atol=1e-6)
                assert want.covered_us.sum() > 0
                # Rows, not readings: a few hundred rows and a few raw stretches for ~12,000 readings.
                assert stats.readings < len(raw) / 5, (stats, len(raw))
                assert sum(stats.rollup_rows.values()) < len(raw) / 10, (stats, len(raw))


def old_sustained(readings: list[Reading], book: Any, start: datetime, now: datetime) -> dict[str, float]:
    """The sustained rule's numbers as it computed them before (issue 10 d): every raw reading of the window, one
    held integral per settlement period."""
    periods = settlement_periods(start, now, book.commitments, book.schedule, book.default_period_s, limit=100_000)
    edges = [start, *(q.end for q in periods if start < q.end < now), now]
    integrals = raw_held_integrals(readings, edges, max_gap_s=MAX_GAP_S)
    area = covered = committed = 0.0
    for period, integral in zip(periods, integrals, strict=True):
        if period.commitment is None or book.excluded(period.start, period.end):
            continue
        area += integral.area
        covered += integral.covered_s
        committed += period.commitment.committed_mw * integral.covered_s
    return {"mean_mw": area / covered, "committed_mw": committed / covered, "covered_s": covered}


SUSTAINED = {
    "name": "sustained",
    "kind": "sustained_under_delivery",
    "params": {"plant": "nish", "window": "2d", "margin_mw": 5, "min_coverage": 0.5},
}


@pytest.mark.parametrize("now", [T0 + timedelta(days=DAYS), T0 + timedelta(days=DAYS, minutes=7, seconds=13.5)])
async def test_the_sustained_rule_states_the_numbers_of_the_raw_computation_and_the_api(
    database_url: str, db: asyncpg.Pool, now: datetime
) -> None:
    rng = random.Random(7)
    sid = await load(db, irregular(rng), rng)
    start = now - timedelta(days=DAYS)
    async with db.acquire() as conn:
        plant_id = await conn.fetchval("SELECT id FROM plants WHERE key = 'nish'")
        # A schedule override and an exclusion: the window has runs of different commitments.
        await conn.execute(
            "INSERT INTO commitment_schedule (plant_id, period_start, committed_mw)"
            " VALUES ($1, $2, 400), ($1, $3, 400)",
            plant_id,
            at(T0, hours=12),
            at(T0, hours=12, minutes=15),
        )
        await conn.execute(
            "INSERT INTO commitment_exclusions (plant_id, starts_at, ends_at, reason) VALUES ($1, $2, $3, 'trip')",
            plant_id,
            at(T0, hours=20),
            at(T0, hours=21),
        )
        book = (await store.load_books(conn, [plant_id], now))[plant_id]
        got = await readings_between(conn, [sid], start, now + _US, before=2)
        readings = [Reading(*r) for r in got[sid].rows()]
    await load_rules(db, SUSTAINED)
    alert = (await evaluate_at(database_url, db, now))["sustained/None"]
    evidence = alert["evidence"]
    old = old_sustained(readings, book, start, now)
    assert evidence["covered_s"] == pytest.approx(old["covered_s"], abs=1e-6)
    assert evidence["mean_mw"] == pytest.approx(old["mean_mw"], rel=1e-12)
    assert evidence["committed_mw"] == pytest.approx(old["committed_mw"], rel=1e-12)
    assert 470 - 8 < evidence["mean_mw"] < 470 + 8 and 400 < evidence["committed_mw"] < 480
    assert alert["state"] == "firing"  # ~470 MW delivered against ~479 MW owed, margin 5 MW
    if now.second == 0 and now.minute % 15 == 0:
        # The api's time-weighted average per 15 minutes over the same window, summed over the counted periods.
        token = await make_key(db, role="operator", name="ops")
        async with (
            serving(create_api(ApiSettings(database_url=database_url))) as base,
            httpx.AsyncClient(base_url=base, headers={"authorization": f"Bearer {token}"}, timeout=30) as api,
        ):
            response = await api.get(
                "/v1/signals/plant.net_output/aggregates",
                params={"start": start.isoformat(), "end": now.isoformat(), "every": "15m", "fn": "twa"},
            )
        assert response.status_code == 200, response.text
        area = covered = 0.0
        for b in response.json()["buckets"]:
            lo = datetime.fromisoformat(b["start"].replace("Z", "+00:00"))
            if b["twa"] is None or book.excluded(lo, lo + timedelta(minutes=15)):
                continue
            area += b["twa"] * b["coverage"] * 900
            covered += b["coverage"] * 900
        assert evidence["covered_s"] == pytest.approx(covered, abs=1e-6)
        assert evidence["mean_mw"] == pytest.approx(area / covered, rel=1e-12)
