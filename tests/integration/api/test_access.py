"""The access matrix (each role × each endpoint) and every 400/404, all in the common error envelope."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.integration.api.conftest import Api
from tests.integration.api.profiles import series

T0 = datetime(2026, 6, 1, 10, 0, tzinfo=UTC)
RANGE = {"start": "2026-06-01T10:00:00Z", "end": "2026-06-01T10:15:00Z"}
ENDPOINTS = {
    "plants": ("/v1/plants", {}),
    "signals": ("/v1/plants/nish/signals", {}),
    "aggregates": ("/v1/signals/plant.net_output/aggregates", {**RANGE, "every": "15m"}),
    "plant_aggregates": ("/v1/plants/nish/aggregates", {**RANGE, "every": "15m"}),
    "readings": ("/v1/signals/plant.net_output/readings", RANGE),
    "energy": ("/v1/plants/nish/energy", RANGE),
    "compliance": ("/v1/plants/nish/compliance", RANGE),
    "frequency": ("/v1/plants/nish/frequency", RANGE),
    "fuel": ("/v1/plants/nish/fuel", RANGE),
}
# Expected status per role; `stranger` is a partner key of a partner not party to the plant.
MATRIX = {
    None: {name: 401 for name in ENDPOINTS},
    "gateway": {name: 403 for name in ENDPOINTS},
    "eps": {name: 403 if name == "readings" else 200 for name in ENDPOINTS},
    "socar": {name: 403 if name == "readings" else 200 for name in ENDPOINTS},
    "stranger": {name: 200 if name == "plants" else 403 for name in ENDPOINTS},
    "operator": {name: 200 for name in ENDPOINTS},
    "admin": {name: 200 for name in ENDPOINTS},
}


async def test_each_role_gets_exactly_its_scope_on_each_endpoint(api: Api) -> None:
    await api.write("plant.net_output", series(T0, 900, lambda i: 480.0, step_s=10))
    got = {
        role: {
            name: (await api.get(path, role=role, **params)).status_code for name, (path, params) in ENDPOINTS.items()
        }
        for role in MATRIX
    }
    assert got == MATRIX


async def test_a_stranger_partner_sees_no_plants_and_errors_use_the_envelope(api: Api) -> None:
    assert (await api.json("/v1/plants", role="stranger")) == {"plants": []}
    assert [p["key"] for p in (await api.json("/v1/plants", role="eps"))["plants"]] == ["nish"]
    denied = await api.get("/v1/signals/grid.frequency/aggregates", role="stranger", **RANGE)
    assert denied.json()["error"]["code"] == "forbidden_plant"
    raw = await api.get("/v1/signals/grid.frequency/readings", role="eps", **RANGE)
    assert raw.json()["error"]["code"] == "forbidden_role"
    anonymous = await api.client.get("/v1/plants")
    assert anonymous.status_code == 401 and anonymous.json()["error"]["code"] == "missing_credentials"
    forged = await api.client.get("/v1/plants", headers={"Authorization": "Bearer bl_not-a-key"})
    assert forged.status_code == 401 and forged.json()["error"]["code"] == "invalid_credentials"
    assert (await api.get("/v1/plants/nish/stream", role="stranger")).status_code == 403


AGG = "/v1/signals/plant.net_output/aggregates"


@pytest.mark.parametrize(
    ("path", "params", "status", "code"),
    [
        (AGG, {"start": "2026-06-01T10:00:00Z", "end": "2026-06-01T10:00:00Z"}, 400, "invalid_range"),
        (AGG, {"start": "2026-06-02T00:00:00Z", "end": "2026-06-01T00:00:00Z"}, 400, "invalid_range"),
        (AGG, {**RANGE, "every": "7m"}, 400, "unknown_every"),
        (AGG, {**RANGE, "every": "1h", "fn": "avg,median"}, 400, "unknown_fn"),
        (AGG, {**RANGE, "fill": "spline"}, 400, "unknown_fill"),
        (AGG, {**RANGE, "quality": "bad"}, 400, "unknown_quality"),
        (AGG, {**RANGE, "tz": "Mars/Olympus"}, 400, "unknown_tz"),
        (AGG, {"start": "2020-01-01T00:00:00Z", "end": "2026-01-01T00:00:00Z", "every": "1m"}, 400, "too_many_buckets"),
        (AGG, {"start": "yesterday", "end": "2026-06-01T10:00:00Z"}, 400, "invalid_time"),
        (AGG, {"start": "2026-06-01T10:00:00", "end": "2026-06-01T11:00:00Z"}, 400, "invalid_time"),
        (AGG, {"end": "2026-06-01T11:00:00Z"}, 400, "missing_parameter"),
        (
            "/v1/plants/nish/aggregates",
            {"start": "2025-09-01T00:00:00Z", "end": "2026-03-01T00:00:00Z", "every": "1m"},
            400,
            "too_many_buckets",
        ),
        ("/v1/signals/plant.net_output/readings", {**RANGE, "limit": "0"}, 400, "invalid_limit"),
        ("/v1/signals/plant.net_output/readings", {**RANGE, "cursor": "%%%"}, 400, "invalid_cursor"),
        ("/v1/plants/nish/energy", {**RANGE, "every": "fortnight"}, 400, "unknown_every"),
        (
            "/v1/plants/nish/compliance",
            {"start": "2026-06-01T10:15:00Z", "end": "2026-06-01T10:00:00Z"},
            400,
            "invalid_range",
        ),
        (
            "/v1/plants/nish/frequency",
            {"start": "2026-01-01T00:00:00Z", "end": "2026-03-01T00:00:00Z"},
            400,
            "range_too_long",
        ),
        ("/v1/plants/nish/fuel", {**RANGE, "every": "3s"}, 400, "unknown_every"),
        ("/v1/signals/no.such/aggregates", RANGE, 404, "unknown_signal"),
        ("/v1/signals/no.such/readings", RANGE, 404, "unknown_signal"),
        ("/v1/plants/atlantis/signals", {}, 404, "unknown_plant"),
        ("/v1/plants/atlantis/energy", RANGE, 404, "unknown_plant"),
        ("/v1/plants/atlantis/compliance", RANGE, 404, "unknown_plant"),
        ("/v1/plants/atlantis/frequency", RANGE, 404, "unknown_plant"),
        ("/v1/plants/atlantis/fuel", RANGE, 404, "unknown_plant"),
        ("/v1/plants/atlantis/stream", {}, 404, "unknown_plant"),
        ("/v1/plants/nish/aggregates", {**RANGE, "signals": "gt1.active_power,no.such"}, 404, "unknown_signal"),
    ],
)
async def test_bad_requests_are_400_and_unknown_things_404(
    api: Api, path: str, params: dict, status: int, code: str
) -> None:
    response = await api.get(path, **params)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code and error["message"] and isinstance(error["details"], dict)
