"""Every alerts endpoint answers with a response model (services/alerts/schemas.py): its OpenAPI schema names the
model, and real responses from a live server on 127.0.0.1 (real database, real webhook receiver) carry exactly
that model's fields and validate against it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
from pydantic import BaseModel, TypeAdapter

from services.alerts import schemas
from services.alerts.app import create_app
from tests.integration.alerts.helpers import Receiver, fast_settings, setup, threshold_rule, wait_for, write
from tests.support import make_key, serving

# (method, path) → (model, a list of them?); 202/204 operations have no body.
MODELS: dict[tuple[str, str], tuple[type[BaseModel], bool]] = {
    ("get", "/v1/alerts"): (schemas.AlertOut, True),
    ("get", "/v1/alerts/{alert_id}"): (schemas.AlertDetail, False),
    ("post", "/v1/alerts/{alert_id}/ack"): (schemas.AlertOut, False),
    ("delete", "/v1/alerts/{alert_id}/ack"): (schemas.AlertOut, False),
    ("get", "/v1/deliveries"): (schemas.DeliveryOut, True),
    ("get", "/v1/deliveries/{delivery_id}"): (schemas.DeliveryDetail, False),
    ("post", "/v1/rules"): (schemas.RuleOut, False),
    ("get", "/v1/rules"): (schemas.RuleOut, True),
    ("get", "/v1/rules/{rule_id}"): (schemas.RuleOut, False),
    ("put", "/v1/rules/{rule_id}"): (schemas.RuleOut, False),
    ("post", "/v1/commitments"): (schemas.CommitmentOut, False),
    ("get", "/v1/commitments"): (schemas.CommitmentOut, True),
    ("put", "/v1/plants/{plant}/schedule"): (schemas.ScheduleStored, False),
    ("get", "/v1/plants/{plant}/schedule"): (schemas.ScheduleEntryOut, True),
    ("post", "/v1/plants/{plant}/exclusions"): (schemas.ExclusionOut, False),
    ("get", "/v1/plants/{plant}/exclusions"): (schemas.ExclusionOut, True),
    ("post", "/v1/webhook-endpoints"): (schemas.EndpointCreated, False),
    ("get", "/v1/webhook-endpoints"): (schemas.EndpointOut, True),
    ("get", "/v1/webhook-endpoints/{endpoint_id}"): (schemas.EndpointOut, False),
    ("put", "/v1/webhook-endpoints/{endpoint_id}"): (schemas.EndpointOut, False),
    ("post", "/v1/silences"): (schemas.SilenceOut, False),
    ("get", "/v1/silences"): (schemas.SilenceOut, True),
    ("delete", "/v1/silences/{silence_id}"): (schemas.SilenceOut, False),
}
NO_BODY = {
    ("post", "/v1/deliveries/{delivery_id}/redeliver"),
    ("delete", "/v1/rules/{rule_id}"),
    ("delete", "/v1/commitments/{commitment_id}"),
    ("delete", "/v1/plants/{plant}/exclusions/{exclusion_id}"),
    ("delete", "/v1/webhook-endpoints/{endpoint_id}"),
}


def test_the_openapi_schema_of_every_endpoint_names_its_response_model() -> None:
    spec = create_app(fast_settings("postgresql://unused@127.0.0.1/none")).openapi()
    operations = {
        (method, path): op
        for path, ops in spec["paths"].items()
        if path.startswith("/v1/")
        for method, op in ops.items()
    }
    assert set(operations) == set(MODELS) | NO_BODY  # every operation is listed here
    for key, (model, many) in MODELS.items():
        success = next(code for code in operations[key]["responses"] if code.startswith("2"))
        schema = operations[key]["responses"][success]["content"]["application/json"]["schema"]
        ref = schema["items"]["$ref"] if many else schema["$ref"]
        assert (schema.get("type") == "array") is many, key
        assert ref == f"#/components/schemas/{model.__name__}", key
        documented = spec["components"]["schemas"][model.__name__]["properties"]
        assert set(documented) == set(model.model_fields), key
    for key in NO_BODY:
        success = next(code for code in operations[key]["responses"] if code.startswith("2"))
        assert success in ("202", "204") and "content" not in operations[key]["responses"][success], key


def conforms(key: tuple[str, str], response: httpx.Response) -> Any:
    """The body validates against the endpoint's model and carries exactly its fields."""
    assert response.status_code in (200, 201), (key, response.text)
    model, many = MODELS[key]
    body = response.json()
    items = body if many else [body]
    assert items, key  # something to check
    for item in items:
        assert set(item) == set(model.model_fields), key
    TypeAdapter(list[model] if many else model).validate_python(body)  # type: ignore[valid-type]
    return body


async def test_real_responses_validate_against_their_models(database_url: str, db: asyncpg.Pool) -> None:
    receiver = Receiver()
    token = await make_key(db, role="operator", name="ana")
    seen: set[tuple[str, str]] = set()

    def check(key: tuple[str, str], response: httpx.Response) -> Any:
        seen.add(key)
        return conforms(key, response)

    async with (
        serving(receiver.app()) as hook,
        serving(create_app(fast_settings(database_url))) as base,
        httpx.AsyncClient(base_url=base, headers={"authorization": f"Bearer {token}"}) as client,
    ):
        receiver.secret = await setup(client, hook, rules=[])
        rule = check(
            ("post", "/v1/rules"), await client.post("/v1/rules", json=threshold_rule("hot", "gt1.active_power"))
        )
        check(("get", "/v1/rules"), await client.get("/v1/rules"))
        check(("get", "/v1/rules/{rule_id}"), await client.get(f"/v1/rules/{rule['id']}"))
        check(
            ("put", "/v1/rules/{rule_id}"),
            await client.put(f"/v1/rules/{rule['id']}", json=threshold_rule("hot", "gt1.active_power")),
        )
        await asyncio.sleep(0.3)
        await write(db, "gt1.active_power", [(datetime.now(UTC), 199.0)])
        await wait_for(lambda: len(receiver.received) >= 1, 5)
        alert_id = receiver.received[0].json()["data"]["alert_id"]
        check(("get", "/v1/alerts"), await client.get("/v1/alerts"))
        detail = check(("get", "/v1/alerts/{alert_id}"), await client.get(f"/v1/alerts/{alert_id}"))
        assert detail["transitions"] and detail["state"] == "firing"
        acked = check(("post", "/v1/alerts/{alert_id}/ack"), await client.post(f"/v1/alerts/{alert_id}/ack", json={}))
        assert acked["acked_by"] == "ana"
        check(("delete", "/v1/alerts/{alert_id}/ack"), await client.delete(f"/v1/alerts/{alert_id}/ack"))

        async def delivered() -> bool:
            return any(d["status"] == "delivered" for d in (await client.get("/v1/deliveries")).json())

        await wait_for(delivered, 5)
        deliveries = check(("get", "/v1/deliveries"), await client.get("/v1/deliveries"))
        one = check(("get", "/v1/deliveries/{delivery_id}"), await client.get(f"/v1/deliveries/{deliveries[-1]['id']}"))
        assert one["attempts"] and one["attempts"][0]["status_code"] == 204

        start = datetime(2026, 11, 25, tzinfo=UTC)
        commitment = {"plant": "nish", "valid_from": "2026-11-20T00:00:00Z", "committed_mw": 400, "tolerance_mw": 5}
        check(("post", "/v1/commitments"), await client.post("/v1/commitments", json=commitment))
        check(("get", "/v1/commitments"), await client.get("/v1/commitments"))
        entries = {"entries": [{"period_start": start.isoformat(), "committed_mw": 420}]}
        stored = check(
            ("put", "/v1/plants/{plant}/schedule"), await client.put("/v1/plants/nish/schedule", json=entries)
        )
        assert stored == {"stored": 1}
        span = {"start": start.isoformat(), "end": (start + timedelta(days=1)).isoformat()}
        check(("get", "/v1/plants/{plant}/schedule"), await client.get("/v1/plants/nish/schedule", params=span))
        exclusion = {"starts_at": start.isoformat(), "ends_at": (start + timedelta(hours=1)).isoformat()}
        check(
            ("post", "/v1/plants/{plant}/exclusions"),
            await client.post("/v1/plants/nish/exclusions", json=exclusion),
        )
        check(("get", "/v1/plants/{plant}/exclusions"), await client.get("/v1/plants/nish/exclusions"))

        made = check(
            ("post", "/v1/webhook-endpoints"),
            await client.post("/v1/webhook-endpoints", json={"name": "second", "url": f"{hook}/hook"}),
        )
        assert made["secret"].startswith("whsec_")
        check(("get", "/v1/webhook-endpoints"), await client.get("/v1/webhook-endpoints"))
        check(("get", "/v1/webhook-endpoints/{endpoint_id}"), await client.get(f"/v1/webhook-endpoints/{made['id']}"))
        check(
            ("put", "/v1/webhook-endpoints/{endpoint_id}"),
            await client.put(f"/v1/webhook-endpoints/{made['id']}", json={"name": "second", "url": f"{hook}/hook"}),
        )

        silence = {
            "matchers": [{"name": "alertname", "value": "hot"}],
            "ends_at": (datetime.now(UTC) + timedelta(hours=1)).isoformat(),
        }
        muted = check(("post", "/v1/silences"), await client.post("/v1/silences", json=silence))
        check(("get", "/v1/silences"), await client.get("/v1/silences"))
        check(("delete", "/v1/silences/{silence_id}"), await client.delete(f"/v1/silences/{muted['id']}"))
    assert seen == set(MODELS)
