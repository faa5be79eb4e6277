"""The statement endpoints' real bodies validate against the schemas /openapi.json documents for them, and their
CSV header is the StatementRow model's fields."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Any

import httpx
import jsonschema_rs

from services.api.schemas import columns
from services.api.statements.schemas import StatementRow
from tests.integration.api.profiles import series
from tests.integration.statements.conftest import Env

T0 = datetime(2026, 6, 1, 10, 0, tzinfo=UTC)
AFTER_DAY = datetime(2026, 6, 3, 0, 0, tzinfo=UTC)
RANGE = {"start": "2026-05-31T12:00:00Z", "end": "2026-06-02T00:00:00Z"}


def _check(spec: dict[str, Any], method: str, template: str, response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    media = spec["paths"][template][method]["responses"]["200"]["content"]["application/json"]
    validator = jsonschema_rs.validator_for({**media["schema"], "components": spec["components"]})
    body = response.json()
    errors = [f"{e.instance_path}: {e.message}" for e in validator.iter_errors(body)]
    assert not errors, (template, errors)
    return body


async def test_statement_bodies_follow_their_documented_models(env: Env) -> None:
    await env.post("plant.net_output", series(T0, 1800, lambda i: 470.0 + (i % 7), step_s=10))
    assert await env.scan(AFTER_DAY) == 3
    spec = (await env.api.client.get("/openapi.json")).json()
    base = "/v1/plants/{plant}"
    listed = _check(spec, "get", f"{base}/statements", await env.api.get("/v1/plants/nish/statements", **RANGE))
    assert len(listed["statements"]) == 3
    first = listed["statements"][1]
    revisions = await env.api.get(f"/v1/plants/nish/statements/{first['period_start']}")
    assert _check(spec, "get", f"{base}/statements/{{period_start}}", revisions)["revisions"][0] == first
    _check(spec, "get", f"{base}/signing-keys", await env.api.get("/v1/plants/nish/signing-keys"))
    verified = await env.api.client.post(
        "/v1/plants/nish/statements/verify",
        content=first["jws"],
        headers={"Authorization": f"Bearer {env.api.tokens['eps']}", "Content-Type": "text/plain"},
    )
    assert _check(spec, "post", f"{base}/statements/verify", verified)["current"] is True

    as_csv = await env.api.client.get(
        "/v1/plants/nish/statements",
        params=RANGE,
        headers={"Authorization": f"Bearer {env.api.tokens['eps']}", "Accept": "text/csv"},
    )
    rows = list(csv.reader(io.StringIO(as_csv.text)))
    assert rows[0] == columns(StatementRow) and len(rows) == 4
