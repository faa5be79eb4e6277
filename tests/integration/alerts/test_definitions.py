"""Invalid rule, commitment, endpoint and silence definitions are rejected in the common envelope, naming the
field; the plant file's rules load through the CLI path."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest

from services.alerts import cli, store
from services.alerts.app import create_app
from tests.conftest import DEMO_PLANT
from tests.integration.alerts.helpers import fast_settings
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


def field_of(response: httpx.Response) -> Any:
    error = response.json()["error"]
    if "errors" in error["details"]:
        return [e["loc"] for e in error["details"]["errors"]]
    return error["details"].get("field")


BAND = {"name": "band", "kind": "frequency_band", "params": {}}


@pytest.mark.parametrize(
    ("body", "status", "where"),
    [
        ({**BAND, "params": {"low_hz": 50.2, "high_hz": 49.8}}, 422, ["body", "frequency_band", "params"]),
        ({**BAND, "for": "10 parsecs"}, 422, ["body", "frequency_band", "for"]),
        ({**BAND, "severity": "apocalyptic"}, 422, ["body", "frequency_band", "severity"]),
        ({**BAND, "kind": "astrology"}, 422, ["body"]),
        (
            {"name": "t", "kind": "threshold", "params": {"signal": "gt1.active_power", "op": "above"}},
            422,
            ["body", "threshold", "params", "value"],
        ),
        ({"name": "s", "kind": "stale", "params": {"max_silence": "30s"}}, 422, ["body", "stale", "params"]),
        (
            {"name": "t", "kind": "threshold", "params": {"signal": "gt9.power", "op": "above", "value": 1}},
            400,
            "params.signal",
        ),
        ({"name": "d", "kind": "baseload_deviation", "params": {"plant": "atlantis"}}, 400, "params.plant"),
        ({"name": "g", "kind": "stale", "params": {"gateway": "nobody", "max_silence": "30s"}}, 400, "params.gateway"),
    ],
)
async def test_bad_rules_are_rejected_naming_the_field(
    client: httpx.AsyncClient, body: dict, status: int, where: Any
) -> None:
    response = await client.post("/v1/rules", json=body)
    assert response.status_code == status, response.text
    found = field_of(response)
    assert (
        (where in found or any(loc[: len(where)] == where for loc in found))
        if isinstance(where, list)
        else found == where
    )


async def test_a_duplicate_rule_name_conflicts_and_durations_are_stored_in_seconds(client: httpx.AsyncClient) -> None:
    first = await client.post("/v1/rules", json={**BAND, "for": "1m", "repeat_interval": "2h"})
    assert first.status_code == 201 and first.json()["for_s"] == 60 and first.json()["repeat_interval_s"] == 7200
    assert first.json()["params"]["max_age_s"] == 300
    again = await client.post("/v1/rules", json=BAND)
    assert again.status_code == 409 and again.json()["error"]["code"] == "rule_exists"


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (
            {
                "plant": "nish",
                "valid_from": "2027-01-01T00:00:00Z",
                "committed_mw": 450,
                "tolerance_mw": 5,
                "tolerance_pct": 2,
            },
            422,
        ),
        ({"plant": "nish", "valid_from": "2027-01-01T00:00:00", "committed_mw": 450, "tolerance_mw": 5}, 422),
        (
            {
                "plant": "nish",
                "valid_from": "2027-01-01T00:00:00Z",
                "committed_mw": 450,
                "tolerance_mw": 5,
                "settlement_period": "7m",
            },
            422,
        ),
        ({"plant": "nish", "valid_from": "2027-01-01T00:00:00Z", "committed_mw": -1, "tolerance_mw": 5}, 422),
        ({"plant": "atlantis", "valid_from": "2027-01-01T00:00:00Z", "committed_mw": 450, "tolerance_mw": 5}, 400),
    ],
)
async def test_bad_commitments_are_rejected(client: httpx.AsyncClient, body: dict, status: int) -> None:
    response = await client.post("/v1/commitments", json=body)
    assert response.status_code == status, response.text
    assert set(response.json()) == {"error"}


async def test_commitments_schedule_and_exclusions_round_trip(client: httpx.AsyncClient) -> None:
    created = await client.post(
        "/v1/commitments",
        json={
            "plant": "nish",
            "valid_from": "2027-01-01T00:00:00Z",
            "committed_mw": 450,
            "tolerance_pct": 2,
            "settlement_period": "1h",
        },
    )
    assert created.status_code == 201 and created.json()["settlement_period_s"] == 3600
    assert len((await client.get("/v1/commitments", params={"plant": "nish"})).json()) == 2
    unaligned = await client.put(
        "/v1/plants/nish/schedule",
        json={
            "entries": [
                {"period_start": "2027-01-02T10:00:00Z", "committed_mw": 400},
                {"period_start": "2027-01-02T10:15:00Z", "committed_mw": 400},
            ]
        },
    )
    assert unaligned.status_code == 400 and field_of(unaligned) == "entries[1].period_start"
    ok = await client.put(
        "/v1/plants/nish/schedule", json={"entries": [{"period_start": "2026-11-25T10:15:00Z", "committed_mw": 400}]}
    )
    assert ok.status_code == 200 and ok.json() == {"stored": 1}
    exclusion = await client.post(
        "/v1/plants/nish/exclusions", json={"starts_at": "2026-12-01T00:00:00Z", "ends_at": "2026-11-30T00:00:00Z"}
    )
    assert exclusion.status_code == 422


async def test_bad_endpoints_and_silences_and_roles(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    pd = await client.post(
        "/v1/webhook-endpoints", json={"name": "pd", "url": "http://127.0.0.1:9/x", "format": "pagerduty"}
    )
    assert pd.status_code == 422
    bad_url = await client.post("/v1/webhook-endpoints", json={"name": "x", "url": "ftp://127.0.0.1/"})
    assert bad_url.status_code == 422
    silence = await client.post("/v1/silences", json={"matchers": [], "ends_at": "2030-01-01T00:00:00Z"})
    assert silence.status_code == 422
    partner = await make_key(db, role="partner", partner="eps")
    denied = await client.get("/v1/rules", headers={"authorization": f"Bearer {partner}"})
    assert denied.status_code == 403 and denied.json()["error"]["code"] == "forbidden_role"


async def test_the_plant_file_rules_load_and_reload_idempotently(db: asyncpg.Pool) -> None:
    rules, endpoints = cli.parse_file(DEMO_PLANT)
    async with db.acquire() as conn:
        await store.init_connection(conn)
        await cli.apply(conn, rules, endpoints, "baseload_alerts_rules")
        await cli.apply(conn, rules, endpoints, "baseload_alerts_rules")
    assert await db.fetchval("SELECT count(*) FROM alert_rules") == len(rules) == 6
    async with db.acquire() as conn:
        await store.init_connection(conn)
        loaded = (await store.load_rules(conn)).rules
    assert len(loaded) == 6  # every signal and plant reference resolves
    assert loaded[min(loaded)].params.signal == "grid.frequency"
