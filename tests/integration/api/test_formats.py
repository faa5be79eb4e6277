"""CSV parsed back, keyset pagination, the live stream, signal listings, docs and operational routes."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import pytest

from shared.plants import load_plant_file
from tests.conftest import DEMO_PLANT
from tests.integration.api.conftest import Api
from tests.integration.api.profiles import series

T0 = datetime(2026, 6, 1, 10, 0, tzinfo=UTC)


def iso(ts: datetime) -> str:
    return ts.isoformat().replace("+00:00", "Z")


async def _csv(api: Api, path: str, **params: str) -> list[dict[str, str]]:
    response = await api.client.get(
        path, params=params, headers={"Authorization": f"Bearer {api.tokens['eps']}", "Accept": "text/csv"}
    )
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    assert json.loads(response.headers["x-baseload-method"]) if "x-baseload-method" in response.headers else True
    return list(csv.DictReader(io.StringIO(response.text)))


async def test_csv_parses_back_to_the_json_numbers(api: Api) -> None:
    await api.write("gt1.active_power", series(T0, 3600, lambda i: 150.0 + (i % 7) * 0.3, step_s=3))
    q = {"start": iso(T0), "end": iso(T0 + timedelta(hours=1)), "every": "15m", "fn": "avg,max,twa"}
    path = "/v1/signals/gt1.active_power/aggregates"
    rows = await _csv(api, path, **q)
    body = await api.json(path, **q, role="eps")
    assert list(rows[0]) == ["start", "end", "avg", "max", "twa", "count", "coverage"]
    assert [(r["start"], float(r["avg"]), float(r["max"]), float(r["twa"]), int(r["count"])) for r in rows] == [
        (b["start"], b["avg"], b["max"], b["twa"], b["count"]) for b in body["buckets"]
    ]
    energy = await _csv(api, "/v1/plants/nish/energy", start=iso(T0), end=iso(T0 + timedelta(hours=1)))
    gt1 = [r for r in energy if r["signal"] == "gt1.active_power"]
    assert len(gt1) == 4 and all(float(r["coverage"]) == 1.0 for r in gt1)
    compliance = await _csv(api, "/v1/plants/nish/compliance", start=iso(T0), end=iso(T0 + timedelta(hours=1)))
    assert [r["status"] for r in compliance] == ["insufficient_data"] * 4 and compliance[0]["delivered_mw"] == ""


async def test_readings_pages_by_keyset_cursor_without_gaps_or_repeats(api: Api) -> None:
    samples = series(T0, 25, lambda i: 50.0 + i / 1000)
    await api.write("grid.frequency", samples)
    seen, cursor, pages = [], None, 0
    while True:
        params = {"start": iso(T0), "end": iso(T0 + timedelta(minutes=1)), "limit": "10"}
        if cursor:
            params["cursor"] = cursor
        body = await api.json("/v1/signals/grid.frequency/readings", **params)
        seen += [(r["ts"], r["value"], r["severity"]) for r in body["readings"]]
        pages += 1
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert pages == 3
    assert seen == [(iso(t).replace("Z", "Z"), v, "good") for t, v in samples]


async def test_signals_list_ranges_and_latest_values(api: Api) -> None:
    await api.write("grid.frequency", [(T0, 50.01), (T0 + timedelta(seconds=1), 49.98)])
    body = await api.json("/v1/plants/nish/signals", role="socar")
    by_key = {s["key"]: s for s in body["signals"]}
    assert len(by_key) == 7
    assert by_key["grid.frequency"]["latest"] == {
        "ts": iso(T0 + timedelta(seconds=1)),
        "value": 49.98,
        "quality": 0,
        "severity": "good",
    }
    assert by_key["gt1.fuel_gas_flow"]["unit"] == "Nm3/h" and by_key["gt1.fuel_gas_flow"]["latest"] is None
    configured = {s.key: s for s in load_plant_file(DEMO_PLANT).signals}["plant.net_output"]
    assert by_key["plant.net_output"]["range"] == {"min": configured.min_value, "max": configured.max_value}


async def test_stream_sends_the_latest_value_of_each_signal(api: Api) -> None:
    await api.write("plant.net_output", [(T0, 481.5)])
    headers = {"Authorization": f"Bearer {api.tokens['eps']}"}
    async with api.client.stream("GET", "/v1/plants/nish/stream", headers=headers) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        events = []
        async for line in response.aiter_lines():
            if line.startswith("data: "):
                events.append(json.loads(line[6:]))
                if len(events) == 2:
                    break
    assert events[0]["signals"]["plant.net_output"] == {"ts": iso(T0), "value": 481.5, "quality": 0}
    assert events[1]["sent_at"] > events[0]["sent_at"]


async def test_docs_health_and_metrics(api: Api) -> None:
    assert (await api.client.get("/healthz")).json() == {"status": "ok"}
    assert (await api.client.get("/readyz")).status_code == 200
    await api.get("/v1/plants")
    metrics = (await api.client.get("/metrics")).text
    assert 'baseload_api_requests_total{route="/v1/plants",status="200"}' in metrics
    assert (await api.client.get("/docs")).status_code == 200
    spec = (await api.client.get("/openapi.json")).json()
    for path, ops in spec["paths"].items():
        if path.startswith("/v1/") and "get" in ops:
            content = ops["get"]["responses"]["200"]["content"]
            assert any("example" in c for c in content.values()), path


@pytest.mark.parametrize("role", ["eps", "operator"])
async def test_plant_aggregates_serve_many_signals_in_one_request(api: Api, role: str) -> None:
    for key, mw in (("gt1.active_power", 160.0), ("gt2.active_power", 161.0)):
        await api.write(key, series(T0, 300, lambda i, mw=mw: mw, step_s=5))
    body = await api.json(
        "/v1/plants/nish/aggregates",
        role=role,
        start=iso(T0),
        end=iso(T0 + timedelta(minutes=5)),
        every="1m",
        fn="avg",
        signals="gt2.active_power,gt1.active_power",
    )
    assert [(s["signal"], s["avg"]) for s in body["signals"]] == [
        ("gt2.active_power", [161.0] * 5),
        ("gt1.active_power", [160.0] * 5),
    ]
