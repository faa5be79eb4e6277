"""Every endpoint's real response against its documented model: the JSON body validates against the schema that
/openapi.json gives for it, and the CSV header is the row model's fields (the same list the document shows)."""

from __future__ import annotations

import csv
import io
import math
from datetime import UTC, datetime, timedelta
from typing import Any

import jsonschema_rs
import pytest

from services.api import schemas
from tests.integration.api.conftest import Api
from tests.integration.api.profiles import series

T0 = datetime(2026, 6, 1, 10, 0, tzinfo=UTC)
H = {"start": "2026-06-01T10:00:00Z", "end": "2026-06-01T11:00:00Z"}
ALL_FN = "avg,min,max,count,first,last,twa"

# (path, query, role, the model the document names, CSV columns or None when the endpoint has no CSV)
ENDPOINTS: list[tuple[str, dict[str, str], str, type[schemas.Model], list[str] | None]] = [
    ("/v1/plants", {}, "eps", schemas.PlantsOut, ["key", "name", "capacity_mw", "timezone"]),
    (
        "/v1/plants/nish/signals",
        {},
        "eps",
        schemas.SignalsOut,
        ["key", "kind", "unit", "min", "max", "latest_ts", "latest_value"],
    ),
    (
        "/v1/signals/plant.net_output/aggregates",
        {**H, "every": "15m", "fn": ALL_FN},
        "eps",
        schemas.AggregatesOut,
        ["start", "end", "avg", "min", "max", "first", "last", "twa", "count", "coverage"],
    ),
    (
        "/v1/signals/plant.net_output/aggregates",
        {**H, "every": "10s", "fn": "twa,max", "fill": "null"},
        "eps",
        schemas.AggregatesOut,
        ["start", "end", "twa", "max", "count", "coverage"],  # the value functions in the order asked for
    ),
    (
        "/v1/plants/nish/aggregates",
        {**H, "every": "5m", "fn": ALL_FN},
        "operator",
        schemas.PlantAggregatesOut,
        ["signal", "start", "end", "avg", "min", "max", "first", "last", "twa", "count", "coverage"],
    ),
    (
        "/v1/signals/grid.frequency/readings",
        {**H, "limit": "5"},
        "operator",
        schemas.ReadingsOut,
        ["ts", "value", "quality", "severity"],
    ),
    (
        "/v1/plants/nish/energy",
        H,
        "eps",
        schemas.EnergyOut,
        ["signal", "start", "end", "mwh", "mean_mw", "coverage"],
    ),
    ("/v1/plants/nish/compliance", H, "eps", schemas.ComplianceOut, schemas.columns(schemas.CompliancePeriod)),
    (
        "/v1/plants/nish/frequency",
        H,
        "eps",
        schemas.FrequencyOut,
        ["start", "end", "duration_s", "extreme_hz", "extreme_deviation_mhz", "samples"],
    ),
    (
        "/v1/plants/nish/fuel",
        H,
        "eps",
        schemas.FuelOut,
        ["start", "end", "fuel_nm3", "net_mwh", "heat_rate_kj_per_kwh", "efficiency"],
    ),
]


async def _write_an_hour(api: Api) -> None:
    wave = lambda i: 480.0 + 5.0 * math.sin(i / 30)  # noqa: E731
    await api.write("plant.net_output", series(T0, 3600, wave, step_s=2))
    await api.write("gt1.active_power", series(T0, 1800, lambda i: 160.0, step_s=5))  # half the hour: nulls too
    await api.write("gt1.fuel_gas_flow", series(T0, 3600, lambda i: 43000.0, step_s=5))
    # 30 s at 49.7 Hz: one excursion beyond ±200 mHz
    await api.write("grid.frequency", series(T0, 600, lambda i: 49.7 if 60 <= i < 90 else 50.01))


def _validator(spec: dict[str, Any], path: str) -> Any:
    template = path.replace("nish", "{plant}").replace("plant.net_output", "{signal}")
    template = template.replace("grid.frequency", "{signal}")
    content = spec["paths"][template]["get"]["responses"]["200"]["content"]
    schema = {**content["application/json"]["schema"], "components": spec["components"]}
    return jsonschema_rs.validator_for(schema), content


@pytest.mark.parametrize(("path", "query", "role", "model", "header"), ENDPOINTS, ids=lambda v: str(v)[:40])
async def test_response_follows_its_documented_model(
    api: Api, path: str, query: dict[str, str], role: str, model: type[schemas.Model], header: list[str] | None
) -> None:
    await _write_an_hour(api)
    spec = (await api.client.get("/openapi.json")).json()
    validator, content = _validator(spec, path)
    assert content["application/json"]["schema"] == {"$ref": f"#/components/schemas/{model.__name__}"}

    body = await api.json(path, role=role, **query)
    errors = [f"{e.instance_path}: {e.message}" for e in validator.iter_errors(body)]
    assert not errors, errors
    assert set(body) == set(schemas.columns(model))  # every field of the model is served, nothing else
    # Real content, so the schemas of the nested models were exercised too:
    assert any(v for v in body.values() if isinstance(v, list | dict))

    if header is not None:
        response = await api.client.get(
            path, params=query, headers={"Authorization": f"Bearer {api.tokens[role]}", "Accept": "text/csv"}
        )
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
        got = next(csv.reader(io.StringIO(response.text)))
        assert got == header
        documented = content["text/csv"]["example"].strip().split(",")
        assert set(got) <= set(documented) and got[:2] == documented[:2]


async def test_a_signal_with_nothing_written_has_null_latest_and_empty_buckets_validate(api: Api) -> None:
    spec = (await api.client.get("/openapi.json")).json()
    validator, _ = _validator(spec, "/v1/plants/nish/signals")
    body = await api.json("/v1/plants/nish/signals")
    assert validator.is_valid(body) and all(s["latest"] is None for s in body["signals"])
    path = "/v1/plants/nish/aggregates"
    validator, _ = _validator(spec, path)
    body = await api.json(path, **H, every="15m", fn="avg,last", fill="previous")
    assert validator.is_valid(body)
    assert body["signals"][0]["avg"] == [None] * 4 and "min" not in body["signals"][0]
    end = T0 + timedelta(hours=1)
    assert body["buckets"]["end"][-1] == end.isoformat().replace("+00:00", "Z")
