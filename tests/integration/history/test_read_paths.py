"""Every read path gives identical answers whether the readings are hot, compressed, or split across the boundary
(a compressed day followed by a hot one, with hold context crossing midnight)."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from services.alerts.model import Needs
from services.alerts.store import load_inputs
from services.api.disputes import store as disputes_store
from services.api.settings import Settings
from services.api.statements import store as statements_store
from services.ingest.compaction import compress_day
from services.ingest.store import write_readings
from services.tools.exporter import export
from shared.ledger.digest import readings_digest
from shared.quality import to_db
from tests.integration.api.conftest import Api, running_api

DAY0 = datetime(2026, 4, 6, tzinfo=UTC)  # compressed first; DAY0 + 1 day stays hot until the last stage
MIDNIGHT = DAY0 + timedelta(days=1)
GOOD, UNCERTAIN, BAD = 0, 0x40900000, 0x808A0000
EXPORTS: list[Path] = []


def iso(ts: datetime) -> str:
    return ts.isoformat().replace("+00:00", "Z")


def frequency_samples(rnd: random.Random) -> list[tuple[datetime, float, int]]:
    """1 Hz frequency with excursions, a few non-Good readings and gaps, densest around midnight."""
    out, t, f = [], MIDNIGHT - timedelta(hours=3), 50.0
    while t < MIDNIGHT + timedelta(hours=3):
        f = min(50.5, max(49.5, round(f + rnd.uniform(-0.02, 0.02) + (0.0 if rnd.random() < 0.995 else -0.3), 3)))
        if rnd.random() < 0.01:
            f = 50.0
        out.append((t, f, rnd.choice([GOOD] * 30 + [UNCERTAIN, BAD])))
        t += timedelta(seconds=1) if rnd.random() < 0.998 else timedelta(seconds=rnd.choice([45, 75, 400]))
    return out


def power_samples(rnd: random.Random) -> list[tuple[datetime, float, int]]:
    """Irregular net output: the last reading before midnight is hours earlier (context reaches far back)."""
    out, t = [], DAY0 + timedelta(hours=9)
    while t < DAY0 + timedelta(hours=12):
        out.append((t, round(rnd.uniform(440, 500), 2), rnd.choice([GOOD] * 5 + [BAD])))
        t += timedelta(milliseconds=rnd.choice([700, 1000, 2500, 30_000]))
    out.append((MIDNIGHT - timedelta(minutes=10), 480.25, GOOD))
    t = MIDNIGHT + timedelta(seconds=17, microseconds=123)
    while t < MIDNIGHT + timedelta(hours=2):
        out.append((t, round(rnd.uniform(440, 500), 2), GOOD))
        t += timedelta(milliseconds=rnd.choice([500, 1000, 4000, 90_000]))
    return out


@pytest.fixture
async def api(database_url: str, db: asyncpg.Pool) -> AsyncIterator[Api]:
    async with running_api(Settings(database_url=database_url, cache_max_entries=0), db) as running:
        yield running


async def answers(api: Api, db: asyncpg.Pool, tmp_path: Path) -> dict[str, Any]:
    """What every read path says about the data."""
    around = {"start": iso(MIDNIGHT - timedelta(minutes=20)), "end": iso(MIDNIGHT + timedelta(minutes=20))}
    both = {"start": iso(DAY0), "end": iso(MIDNIGHT + timedelta(days=1))}
    out: dict[str, Any] = {
        "frequency": await api.json("/v1/plants/nish/frequency", **both),
        "frequency_after_midnight": await api.json(
            "/v1/plants/nish/frequency", start=iso(MIDNIGHT), end=iso(MIDNIGHT + timedelta(hours=1))
        ),
        "signals": await api.json("/v1/plants/nish/signals"),
    }
    for key in ("grid.frequency", "plant.net_output"):
        for quality in ("good", "all"):
            out[f"buckets {key} {quality}"] = await api.json(
                f"/v1/signals/{key}/aggregates",
                every="10s",
                fn="avg,min,max,first,last,count,twa",
                quality=quality,
                **around,
            )
        pages, cursor = [], None
        while True:  # raw pages crossing midnight, the cursor too
            params = {**both, "limit": "997", **({"cursor": cursor} if cursor else {})}
            page = await api.json(f"/v1/signals/{key}/readings", role="admin", **params)
            pages.append(page)
            if not (cursor := page["next_cursor"]):
                break
        out[f"readings {key}"] = pages
    # Minute, 15-minute and hour rollups (hot rows or packed days), with the edge context at any distance.
    whole = {"start": iso(DAY0 + timedelta(hours=8)), "end": iso(MIDNIGHT + timedelta(hours=4))}
    for every in ("1m", "15m", "1h"):
        for quality in ("good", "all"):
            out[f"rollups {every} {quality}"] = await api.json(
                "/v1/plants/nish/aggregates",
                every=every,
                fn="avg,min,max,first,last,count,twa",
                quality=quality,
                signals="grid.frequency,plant.net_output",
                **whole,
            )
    out["rollups 1m far context"] = await api.json(
        "/v1/signals/plant.net_output/aggregates",
        every="1m",
        fn="twa,avg",
        start=iso(DAY0 + timedelta(hours=14)),
        end=iso(MIDNIGHT - timedelta(minutes=5)),
    )
    out["energy"] = await api.json("/v1/plants/nish/energy", every="15m", **around)
    sid = await api.signal_id("plant.net_output")
    fid = await api.signal_id("grid.frequency")
    async with db.acquire() as conn:
        out["disputes originals"] = await disputes_store.original_readings(
            conn, sid, DAY0, MIDNIGHT + timedelta(hours=1)
        )
        out["disputes context"] = await disputes_store.raw_readings(
            conn, sid, MIDNIGHT, MIDNIGHT + timedelta(minutes=5)
        )
        rows = await statements_store.readings(
            conn, {sid: "plant.net_output", fid: "grid.frequency"}, MIDNIGHT, MIDNIGHT + timedelta(hours=1)
        )
        out["statement digest"] = readings_digest(rows)
        out["statement minutes"] = (
            await statements_store.minutes_with_data(
                conn, sid, DAY0 + timedelta(hours=11), MIDNIGHT + timedelta(hours=1)
            ),
            await statements_store.next_data(conn, sid, DAY0 + timedelta(hours=12)),
            await statements_store.next_data(conn, sid, MIDNIGHT + timedelta(seconds=30)),
            await statements_store.next_data(conn, sid, MIDNIGHT + timedelta(days=2)),
            await statements_store.first_data(conn, sid),
        )
        # Held integrals as the alert rules read them: rollup rows, and raw readings for the sub-minute ends.
        edges = (
            MIDNIGHT - timedelta(minutes=7, seconds=13.5),
            MIDNIGHT + timedelta(minutes=20),
            MIDNIGHT + timedelta(hours=1),
        )
        needs = Needs(held={(sid, edges), (fid, edges[1:])}, last_seen={sid, fid})
        inputs = await load_inputs(conn, needs, {}, MIDNIGHT + timedelta(hours=1))
        # Minute pieces of a compressed day come from raw blocks instead of minute rows: equal to float rounding.
        out["alerts held integrals"] = {k: [(round(i.area, 6), i.covered_s) for i in v] for k, v in inputs.held.items()}
        out["alerts last seen"] = inputs.last_seen  # the stale rule: the newest reading, hot or in a packed day
        path = tmp_path / f"export-{len(EXPORTS)}.csv"
        EXPORTS.append(path)
        written = await export(
            conn,
            ["plant.net_output", "grid.frequency"],
            DAY0,
            MIDNIGHT + timedelta(days=1),
            path,
            "csv",
            progress=False,
        )
        out["export"] = (written, path.read_bytes())
    return out


async def test_every_read_path_is_the_same_hot_split_and_compressed(api: Api, db: asyncpg.Pool, tmp_path: Path) -> None:
    rnd = random.Random(14)
    rows = []
    for key, samples in (("grid.frequency", frequency_samples(rnd)), ("plant.net_output", power_samples(rnd))):
        sid = await api.signal_id(key)
        rows += [(sid, t, v, to_db(q)) for t, v, q in samples]
    async with db.acquire() as conn:
        await write_readings(conn, rows)

    hot = await answers(api, db, tmp_path)
    assert hot["frequency"]["excursions"] and hot["frequency"]["samples"] > 10_000
    assert hot["export"][0] == await db.fetchval("SELECT count(*) FROM readings")

    async with db.acquire() as conn:  # the compression job's own step, one UTC day at a time
        assert (await compress_day(conn, DAY0.date(), lock_timeout_ms=10_000)).readings > 0
    split = await answers(api, db, tmp_path)
    for name in hot:
        assert split[name] == hot[name], f"{name} differs with the first day compressed"

    async with db.acquire() as conn:
        assert (await compress_day(conn, MIDNIGHT.date(), lock_timeout_ms=10_000)).readings > 0
    assert await db.fetchval("SELECT count(*) FROM readings") == 0
    compressed = await answers(api, db, tmp_path)
    for name in hot:
        assert compressed[name] == hot[name], f"{name} differs with everything compressed"
    # The minutes were read from packed days: none is a row of rollups_1m any more.
    assert await db.fetchval("SELECT count(*) FROM rollups_1m") == 0
    assert await db.fetchval("SELECT count(*) FROM rollup_days") == 4
