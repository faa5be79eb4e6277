"""Input that used to crash the alerts service answers a precise 4xx in the common envelope and stores nothing
(issue 8, items 1 and 2): overflowing durations, empty signals, ids beyond their column type, NUL characters,
two concurrent rules with one name."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest

from services.alerts.app import create_app
from tests.integration.alerts.helpers import fast_settings, threshold_rule
from tests.support import make_key, serving


@pytest.fixture
async def client(database_url: str, db: asyncpg.Pool) -> AsyncIterator[httpx.AsyncClient]:
    token = await make_key(db, role="operator")
    settings = fast_settings(database_url, evaluator_enabled=False, dispatcher_enabled=False)
    async with (
        serving(create_app(settings)) as base,
        httpx.AsyncClient(base_url=base, headers={"authorization": f"Bearer {token}"}) as http,
    ):
        yield http


def enveloped(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and {"code", "message", "details"} <= set(body["error"])
    return body["error"]


BAND = {"name": "band", "kind": "frequency_band", "params": {}}
THRESHOLD = threshold_rule("hot", "gt1.active_power")


@pytest.mark.parametrize(
    "body",
    [
        {**BAND, "for": "99999999999w"},
        {**BAND, "keep_firing_for": 1e17},
        {**BAND, "repeat_interval": 1e17},
        {**BAND, "for": "367d"},
        {**THRESHOLD, "params": {**THRESHOLD["params"], "signal": ""}},
        {**THRESHOLD, "params": {**THRESHOLD["params"], "max_age": "99999999999w"}},
        {"name": "s", "kind": "stale", "params": {"signal": "", "max_silence": "30s"}},
        {"name": "d", "kind": "baseload_deviation", "params": {"plant": "nish", "signal": ""}},
        {"name": "w", "kind": "sustained_under_delivery", "params": {"plant": "nish", "window": "30d"}},
        {**BAND, "labels": {"team": "a\u0000b"}},
        {**BAND, "name": "band\u0000"},
    ],
)
async def test_unbounded_or_empty_rule_fields_are_refused_and_nothing_is_stored(
    client: httpx.AsyncClient, db: asyncpg.Pool, body: dict[str, Any]
) -> None:
    error = enveloped(await client.post("/v1/rules", json=body), 422)
    assert error["code"] == "invalid_request"
    assert await db.fetchval("SELECT count(*) FROM alert_rules") == 0


@pytest.mark.parametrize(
    "path",
    [
        "/v1/rules/2147483648",
        "/v1/alerts/99999999999999999999",
        "/v1/deliveries?alert_id=2147483648",
        "/v1/deliveries?endpoint_id=-1",
        "/v1/deliveries/9223372036854775808",
        "/v1/webhook-endpoints/2147483648",
        "/v1/commitments?plant=ni%00sh",
        "/v1/plants/ni%00sh/exclusions",
        "/v1/plants/nish/schedule?start=9999-12-31T23:00:00Z",
        "/v1/plants/nish/schedule?start=2026-01-01T00:00:00Z&end=2030-01-01T00:00:00Z",
    ],
)
async def test_out_of_range_ids_and_nul_in_paths_are_422(client: httpx.AsyncClient, path: str) -> None:
    enveloped(await client.get(path), 422)


async def test_an_id_in_range_that_does_not_exist_is_404(client: httpx.AsyncClient) -> None:
    assert enveloped(await client.get("/v1/rules/2147483647"), 404)["code"] == "unknown_rule"
    assert enveloped(await client.get("/v1/deliveries/9223372036854775807"), 404)["code"] == "unknown_delivery"


async def test_nul_characters_in_bodies_are_422_and_nothing_is_stored(
    client: httpx.AsyncClient, db: asyncpg.Pool
) -> None:
    silence = await client.post(
        "/v1/silences",
        json={
            "matchers": [{"name": "alertname", "value": "x"}],
            "ends_at": "2030-01-01T00:00:00Z",
            "comment": "a\u0000b",
        },
    )
    enveloped(silence, 422)
    commitment = await client.post(
        "/v1/commitments",
        json={
            "plant": "nish",
            "valid_from": "2027-01-01T00:00:00Z",
            "committed_mw": 450,
            "tolerance_mw": 5,
            "note": "\u0000",
        },
    )
    enveloped(commitment, 422)
    endpoint = await client.post(
        "/v1/webhook-endpoints", json={"name": "x", "url": "http://127.0.0.1:9/h", "options": {"k\u0000": "v"}}
    )
    enveloped(endpoint, 422)
    regex = await client.post(
        "/v1/silences", json={"matchers": [{"name": "a", "value": "(", "op": "=~"}], "ends_at": "2030-01-01T00:00:00Z"}
    )
    enveloped(regex, 422)
    assert await db.fetchval("SELECT count(*) FROM alert_silences") == 0
    assert await db.fetchval("SELECT count(*) FROM webhook_endpoints") == 0


async def test_concurrent_rules_with_one_name_give_one_201_and_409s(
    client: httpx.AsyncClient, db: asyncpg.Pool
) -> None:
    responses = await asyncio.gather(*(client.post("/v1/rules", json=BAND) for _ in range(6)))
    assert sorted(r.status_code for r in responses) == [201, 409, 409, 409, 409, 409]
    assert all(enveloped(r, 409)["code"] == "rule_exists" for r in responses if r.status_code == 409)
    other = await client.post("/v1/rules", json={**BAND, "name": "other"})
    renamed = await client.put(f"/v1/rules/{other.json()['id']}", json=BAND)  # onto the taken name
    assert enveloped(renamed, 409)["code"] == "rule_exists"
    assert await db.fetchval("SELECT count(*) FROM alert_rules") == 2
