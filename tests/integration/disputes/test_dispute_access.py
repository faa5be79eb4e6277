"""The access matrix of every dispute and partner-webhook endpoint: each role gets exactly its scope."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta

import httpx

from tests.integration.disputes.conftest import P0, Disputes, iso

ROLES = (None, "gateway", "eps", "socar", "stranger", "operator", "admin")
# Expected status per endpoint and role; `stranger` is a partner key of acme, party to another plant only.
MATRIX: dict[str, dict[str | None, int]] = {
    "list disputes": {
        None: 401,
        "gateway": 403,
        "eps": 200,
        "socar": 200,
        "stranger": 403,
        "operator": 200,
        "admin": 200,
    },
    "open dispute": {
        None: 401,
        "gateway": 403,
        "eps": 201,
        "socar": 201,
        "stranger": 403,
        "operator": 403,
        "admin": 403,
    },
    "dispute detail": {
        None: 401,
        "gateway": 403,
        "eps": 200,
        "socar": 200,
        "stranger": 403,
        "operator": 200,
        "admin": 200,
    },
    "comment": {None: 401, "gateway": 403, "eps": 201, "socar": 201, "stranger": 403, "operator": 201, "admin": 201},
    "propose": {None: 401, "gateway": 403, "eps": 201, "socar": 201, "stranger": 403, "operator": 403, "admin": 403},
    "approve": {None: 401, "gateway": 403, "eps": 200, "socar": 200, "stranger": 403, "operator": 403, "admin": 403},
    "reject": {None: 401, "gateway": 403, "eps": 200, "socar": 200, "stranger": 403, "operator": 403, "admin": 403},
    "register endpoint": {
        None: 401,
        "gateway": 403,
        "eps": 201,
        "socar": 201,
        "stranger": 403,
        "operator": 403,
        "admin": 403,
    },
    "list endpoints": {
        None: 401,
        "gateway": 403,
        "eps": 200,
        "socar": 200,
        "stranger": 403,
        "operator": 200,
        "admin": 200,
    },
    "delete endpoint": {
        None: 401,
        "gateway": 403,
        "eps": 204,
        "socar": 404,
        "stranger": 403,
        "operator": 403,
        "admin": 403,
    },
    "list deliveries": {
        None: 401,
        "gateway": 403,
        "eps": 200,
        "socar": 200,
        "stranger": 403,
        "operator": 200,
        "admin": 200,
    },
}


async def test_each_role_gets_exactly_its_scope_on_each_dispute_endpoint(disputes: Disputes) -> None:
    api = disputes.api
    dispute_id = await disputes.opened()
    slot = iter(range(90))  # each proposal its own 10 s of the period: none overlaps another

    def next_slot() -> dict[str, object]:
        start = P0 + timedelta(seconds=10 * next(slot))
        return {
            "kind": "readings",
            "start": iso(start),
            "end": iso(start + timedelta(seconds=10)),
            "readings": [{"ts": iso(start), "value": 480.0}],
        }

    async def own_correction() -> int:
        return await disputes.proposed(dispute_id, next_slot())

    async def eps_endpoint() -> int:
        created = await disputes.post(
            "/v1/plants/nish/webhook-endpoints",
            {"name": f"eps-{next(slot)}", "url": "http://127.0.0.1:9/hook"},
            role="eps",
        )
        return int(created.json()["id"])

    base = f"/v1/plants/nish/disputes/{dispute_id}"

    async def call(endpoint: str, role: str | None) -> httpx.Response:
        actions: dict[str, Callable[[], Awaitable[httpx.Response]]] = {
            "list disputes": lambda: api.get("/v1/plants/nish/disputes", role=role),
            "open dispute": lambda: disputes.open(role=role),
            "dispute detail": lambda: api.get(base, role=role),
            "comment": lambda: disputes.post(f"{base}/comments", {"text": "noted"}, role=role),
            "propose": lambda: disputes.propose(dispute_id, next_slot(), role=role),
            "list endpoints": lambda: api.get("/v1/plants/nish/webhook-endpoints", role=role),
            "list deliveries": lambda: api.get("/v1/plants/nish/webhook-deliveries", role=role),
        }
        if endpoint in actions:
            return await actions[endpoint]()
        if endpoint in ("approve", "reject"):
            correction_id = await own_correction()
            return await disputes.post(f"{base}/corrections/{correction_id}/{endpoint}", role=role)
        if endpoint == "register endpoint":
            return await disputes.post(
                "/v1/plants/nish/webhook-endpoints",
                {"name": f"hook-{role}", "url": "http://127.0.0.1:9/hook"},
                role=role,
            )
        assert endpoint == "delete endpoint"
        headers = {"Authorization": f"Bearer {api.tokens[role]}"} if role else {}
        return await api.client.delete(f"/v1/plants/nish/webhook-endpoints/{await eps_endpoint()}", headers=headers)

    got = {}
    for endpoint in MATRIX:
        got[endpoint] = {}
        for role in ROLES:
            response = await call(endpoint, role)
            got[endpoint][role] = response.status_code
            if response.status_code >= 400:
                assert set(response.json()["error"]) == {"code", "message", "details"}, response.text
    assert got == MATRIX


async def test_a_partner_key_sees_only_its_partners_endpoints_and_never_a_secret(disputes: Disputes) -> None:
    api = disputes.api
    for role in ("eps", "socar"):
        created = await disputes.post(
            "/v1/plants/nish/webhook-endpoints",
            {"name": f"{role}-settlement", "url": "http://127.0.0.1:9/hook", "event_types": ["statement.restated"]},
            role=role,
        )
        assert created.status_code == 201, created.text
        assert created.json()["secret"].startswith("whsec_") and created.json()["partner"] == role
    seen = {
        role: [e["name"] for e in (await api.json("/v1/plants/nish/webhook-endpoints", role=role))["endpoints"]]
        for role in ("eps", "socar", "operator")
    }
    assert seen == {
        "eps": ["eps-settlement"],
        "socar": ["socar-settlement"],
        "operator": ["eps-settlement", "socar-settlement"],
    }
    listed = await api.json("/v1/plants/nish/webhook-endpoints", role="operator")
    assert all("secret" not in e for e in listed["endpoints"])
    taken = await disputes.post(
        "/v1/plants/nish/webhook-endpoints", {"name": "eps-settlement", "url": "http://127.0.0.1:9/x"}, role="socar"
    )
    assert (taken.status_code, taken.json()["error"]["code"]) == (409, "endpoint_exists")
    unknown = await disputes.post(
        "/v1/plants/nish/webhook-endpoints",
        {"name": "x", "url": "http://127.0.0.1:9/x", "event_types": ["alert.firing"]},
        role="eps",
    )
    assert unknown.status_code == 422
