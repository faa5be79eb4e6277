"""Known synthetic profiles against answers computed independently from the raw samples."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from services.api.settings import Settings
from tests.integration.api.conftest import Api, running_api
from tests.integration.api.profiles import held_integral, series

T0 = datetime(2026, 6, 1, 10, 0, tzinfo=UTC)


def iso(ts: datetime) -> str:
    return ts.isoformat().replace("+00:00", "Z")


async def test_constant_480_mw_for_15_minutes_is_exactly_120_mwh(api: Api) -> None:
    await api.write("plant.net_output", series(T0, 900, lambda i: 480.0))
    body = await api.json("/v1/plants/nish/energy", start=iso(T0), end=iso(T0 + timedelta(minutes=15)))
    net = next(s for s in body["series"] if s["signal"] == "plant.net_output")
    assert net["periods"] == [
        {
            "start": iso(T0),
            "end": iso(T0 + timedelta(minutes=15)),
            "mwh": pytest.approx(120.0, abs=1e-9),
            "mean_mw": pytest.approx(480.0),
            "coverage": 1.0,
        }
    ]
    assert "sample-and-hold" in body["method"]["integral"]


def _net(body: dict) -> dict:
    return next(s for s in body["series"] if s["signal"] == "plant.net_output")


async def test_ramp_with_a_gap_integrates_as_the_reference_does(api_settings: Settings, db: asyncpg.Pool) -> None:
    # A ramp 300 → ~390 MW at 1 Hz over 10:00–10:20, with readings missing from 10:07:30 to 10:12:10.
    samples = [
        s
        for s in series(T0, 1200, lambda i: 300.0 + 0.075 * i)
        if not (T0 + timedelta(seconds=450) <= s[0] < T0 + timedelta(seconds=730))
    ]
    settings = api_settings.model_copy(update={"max_gap_s": 30.0})
    async with running_api(settings, db) as api:
        await api.write("plant.net_output", samples)
        body = await api.json("/v1/plants/nish/energy", start=iso(T0), end=iso(T0 + timedelta(minutes=20)), every="5m")
    periods = _net(body)["periods"]
    assert len(periods) == 4
    for p in periods:
        lo = datetime.fromisoformat(p["start"])
        area, covered = held_integral(samples, lo, lo + timedelta(minutes=5), 30.0)
        assert p["mwh"] == pytest.approx(area / 3600, rel=1e-9)
        assert p["coverage"] == pytest.approx(covered / 300, rel=1e-9)
    # The gap is not bridged: 10:05–10:07:29 at 1 Hz, the last reading before the gap holding one step (1 s).
    assert periods[1]["coverage"] == pytest.approx(150 / 300)
    assert "sample-and-hold" in body["method"]["integral"]


async def test_hourly_aggregates_match_the_raw_samples(api: Api) -> None:
    samples = series(T0, 2 * 3600, lambda i: 400.0 + (i % 600) * 0.1, step_s=2.0)
    await api.write("plant.net_output", samples)
    body = await api.json(
        "/v1/signals/plant.net_output/aggregates",
        start=iso(T0),
        end=iso(T0 + timedelta(hours=2)),
        every="1h",
        fn="avg,min,max,count,first,last,twa",
    )
    assert [b["start"] for b in body["buckets"]] == [iso(T0), iso(T0 + timedelta(hours=1))]
    for bucket in body["buckets"]:
        lo = datetime.fromisoformat(bucket["start"])
        inside = [v for t, v in samples if lo <= t < lo + timedelta(hours=1)]
        area, covered = held_integral(samples, lo, lo + timedelta(hours=1), 60.0)
        assert bucket["count"] == len(inside) == 1800
        assert bucket["avg"] == pytest.approx(sum(inside) / len(inside), rel=1e-12)
        assert (bucket["min"], bucket["max"]) == (min(inside), max(inside))
        assert (bucket["first"], bucket["last"]) == (inside[0], inside[-1])
        assert bucket["twa"] == pytest.approx(area / covered, rel=1e-12)
        assert bucket["coverage"] == 1.0
    assert body["method"]["quality_filter"].startswith("Good")


async def test_buckets_align_to_every_and_fill_modes_fill_the_empty_ones(api: Api) -> None:
    # Data in 10:00-10:15 (200 MW) and 10:45-11:00 (260 MW); nothing in between.
    await api.write("gt1.active_power", series(T0, 900, lambda i: 200.0, step_s=10))
    await api.write("gt1.active_power", series(T0 + timedelta(minutes=45), 900, lambda i: 260.0, step_s=10))
    query = {"start": iso(T0 + timedelta(minutes=7)), "end": iso(T0 + timedelta(minutes=50)), "every": "15m"}
    path = "/v1/signals/gt1.active_power/aggregates"
    none = (await api.json(path, **query, fn="avg"))["buckets"]
    assert [(b["start"], b["avg"]) for b in none] == [(iso(T0), 200.0), (iso(T0 + timedelta(minutes=45)), 260.0)]
    filled = {
        mode: [b["avg"] for b in (await api.json(path, **query, fn="avg", fill=mode))["buckets"]]
        for mode in ("null", "previous", "linear")
    }
    assert filled == {
        "null": [200.0, None, None, 260.0],
        "previous": [200.0, 200.0, 200.0, 260.0],
        "linear": [200.0, 220.0, 240.0, 260.0],
    }
    nulls = (await api.json(path, **query, fn="avg", fill="null"))["buckets"]
    assert [(b["count"], b["coverage"]) for b in nulls] == [(90, 1.0), (0, 0.0), (0, 0.0), (90, 1.0)]


async def test_only_good_readings_count_unless_quality_all(api: Api) -> None:
    await api.write("gt2.active_power", series(T0, 60, lambda i: 150.0))
    bad = 0x808A0000 - 0x100000000  # BadNotConnected as stored (int4)
    await api.write("gt2.active_power", series(T0 + timedelta(seconds=60), 60, lambda i: 0.0), quality=bad)
    path = "/v1/signals/gt2.active_power/aggregates"
    q = {"start": iso(T0), "end": iso(T0 + timedelta(minutes=2)), "every": "2m", "fn": "avg,count,min"}
    good = (await api.json(path, **q))["buckets"][0]
    everything = (await api.json(path, **q, quality="all"))["buckets"][0]
    assert (good["avg"], good["count"], good["min"], good["coverage"]) == (150.0, 60, 150.0, 0.5)
    assert (everything["avg"], everything["count"], everything["min"], everything["coverage"]) == (75.0, 120, 0.0, 1.0)


async def test_late_data_changes_a_past_bucket_and_its_etag(api: Api) -> None:
    await api.write("st1.active_power", series(T0, 600, lambda i: 100.0, step_s=2))
    path = "/v1/signals/st1.active_power/aggregates"
    q = {"start": iso(T0), "end": iso(T0 + timedelta(minutes=10)), "every": "10m", "fn": "avg,count"}
    first = await api.get(path, **q)
    assert first.json()["buckets"][0] == {
        "start": iso(T0),
        "end": iso(T0 + timedelta(minutes=10)),
        "avg": 100.0,
        "count": 300,
        "coverage": 1.0,
    }
    etag = first.headers["etag"]
    assert "max-age" in first.headers["cache-control"]
    again = await api.client.get(
        path, params=q, headers={"Authorization": f"Bearer {api.tokens['operator']}", "If-None-Match": etag}
    )
    assert again.status_code == 304
    # A late reading at an odd second (not yet stored) lands in the past bucket.
    await api.write("st1.active_power", [(T0 + timedelta(seconds=301), 400.0)])
    body = await api.eventually(path, lambda b: b["buckets"][0]["count"] != 300, **q)
    assert body["buckets"][0]["count"] == 301
    assert body["buckets"][0]["avg"] == pytest.approx((300 * 100.0 + 400.0) / 301)
    assert (await api.get(path, **q)).headers["etag"] != etag


async def test_a_range_still_open_to_late_data_is_not_cacheable(api: Api) -> None:
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    response = await api.get(
        "/v1/signals/st1.active_power/aggregates", start=iso(now - timedelta(hours=1)), end=iso(now), every="1h"
    )
    assert response.status_code == 200
    assert "etag" not in response.headers and response.headers["cache-control"] == "no-cache"
