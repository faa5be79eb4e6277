"""Who may read statements (each role × each new endpoint), and every bad input as a precise 4xx in the envelope."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

from tests.integration.api.profiles import series
from tests.integration.statements.conftest import Env

T0 = datetime(2026, 6, 1, 10, 0, tzinfo=UTC)
PERIOD = "2026-06-01T10:00:00Z"
ENDPOINTS = {
    "list": ("/v1/plants/nish/statements", {"start": "2026-06-01T00:00:00Z", "end": "2026-06-02T00:00:00Z"}),
    "revisions": (f"/v1/plants/nish/statements/{PERIOD}", {}),
    "keys": ("/v1/plants/nish/signing-keys", {}),
}
ALLOWED = {"eps": 200, "socar": 200, "operator": 200, "admin": 200, "stranger": 403, "gateway": 403, None: 401}


async def test_each_role_gets_exactly_its_scope_on_each_statement_endpoint(env: Env) -> None:
    await env.post("plant.net_output", series(T0, 900, lambda i: 480.0, step_s=10))
    await env.scan(T0 + timedelta(days=2))
    got = {
        role: {
            name: (await env.api.get(path, role=role, **params)).status_code
            for name, (path, params) in ENDPOINTS.items()
        }
        for role in ALLOWED
    }
    assert got == {role: dict.fromkeys(ENDPOINTS, status) for role, status in ALLOWED.items()}
    token = (await env.statements(role="admin", **ENDPOINTS["list"][1]))[0]["jws"]
    verify = {
        role: (
            await env.api.client.post(
                "/v1/plants/nish/statements/verify",
                content=token,
                headers=({"Authorization": f"Bearer {env.api.tokens[role]}"} if role else {}),
            )
        ).status_code
        for role in ALLOWED
    }
    assert verify == ALLOWED
    denied = await env.api.get("/v1/plants/nish/statements", role="stranger", **ENDPOINTS["list"][1])
    assert denied.json()["error"]["code"] == "forbidden_plant"
    csv = await env.api.client.get(
        "/v1/plants/nish/statements",
        params=ENDPOINTS["list"][1],
        headers={"Authorization": f"Bearer {env.api.tokens['socar']}", "Accept": "text/csv"},
    )
    assert csv.headers["content-type"].startswith("text/csv") and csv.text.startswith("kind,period_start,")
    assert token in csv.text


async def test_bad_input_is_a_precise_4xx_in_the_envelope(env: Env) -> None:
    await env.post("plant.net_output", series(T0, 900, lambda i: 480.0, step_s=10))
    await env.scan(T0 + timedelta(days=2))

    async def error(path: str, status: int, **params: str) -> str:
        got = await env.api.get(path, role="eps", **params)
        assert got.status_code == status, got.text
        return got.json()["error"]["code"]

    base = "/v1/plants/nish/statements"
    assert await error(f"{base}/2026-06-01T10:07:00Z", 404) == "unknown_period"
    assert await error(f"{base}/2026-06-01T11:00:00Z", 404) == "no_statement"
    future = (datetime.now(UTC) + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    assert await error(f"{base}/{future.isoformat()}", 409) == "period_not_closed"
    assert await error(f"{base}/yesterday", 400) == "invalid_time"
    assert await error(f"{base}/9999-12-31T23:59:59Z", 400) == "time_out_of_range"
    assert await error(base, 400, start="1900-01-01T00:00:00Z", end="2026-06-02T00:00:00Z") == "time_out_of_range"
    assert await error(base, 400, start="2026-06-01T00:00:00Z") == "missing_parameter"
    assert (
        await error(base, 400, start="2026-06-01T00:00:00Z", end="2026-06-02T00:00:00Z", as_of="noon") == "invalid_time"
    )
    assert (
        await error(base, 400, start="2026-06-01T00:00:00Z", end="2026-06-02T00:00:00Z", kind="month") == "unknown_kind"
    )
    assert (
        await error("/v1/plants/atlantis/statements", 404, start="2026-06-01T00:00:00Z", end="2026-06-02T00:00:00Z")
        == "unknown_plant"
    )

    token = (await env.statements(**ENDPOINTS["list"][1]))[0]["jws"]
    headers = {"Authorization": f"Bearer {env.api.tokens['eps']}"}
    ok = await env.api.client.post("/v1/plants/nish/statements/verify", content=token, headers=headers)
    assert ok.status_code == 200 and ok.json()["valid"] and ok.json()["current"]
    _, payload, signature = token.split(".")
    forged_header = base64.urlsafe_b64encode(json.dumps({"alg": "EdDSA", "kid": "not-a-key"}).encode()).decode()
    unknown = await env.api.client.post(
        "/v1/plants/nish/statements/verify",
        content=f"{forged_header.rstrip('=')}.{payload}.{signature}",
        headers=headers,
    )
    assert unknown.status_code == 422 and unknown.json()["error"]["code"] == "unknown_signing_key"
    huge = await env.api.client.post("/v1/plants/nish/statements/verify", content="a" * 70_000, headers=headers)
    assert huge.status_code == 413 and huge.json()["error"]["code"] == "payload_too_large"
    garbage = await env.api.client.post("/v1/plants/nish/statements/verify", content="not a jws", headers=headers)
    assert garbage.status_code == 422 and garbage.json()["error"]["code"] == "malformed_statement"
