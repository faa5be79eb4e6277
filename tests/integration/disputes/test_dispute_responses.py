"""The dispute and webhook endpoints' real bodies validate against the schemas /openapi.json documents for them."""

from __future__ import annotations

from typing import Any

import httpx
import jsonschema_rs

from tests.integration.disputes.conftest import P0, Disputes, substitution


def _check(spec: dict[str, Any], method: str, template: str, response: httpx.Response) -> dict[str, Any]:
    assert response.status_code in (200, 201), response.text
    media = spec["paths"][template][method]["responses"][str(response.status_code)]["content"]["application/json"]
    validator = jsonschema_rs.validator_for({**media["schema"], "components": spec["components"]})
    body = response.json()
    errors = [f"{e.instance_path}: {e.message}" for e in validator.iter_errors(body)]
    assert not errors, (template, errors)
    return body


async def test_dispute_workflow_bodies_follow_their_documented_models(disputes: Disputes) -> None:
    spec = (await disputes.api.client.get("/openapi.json")).json()
    base = "/v1/plants/{plant}"
    opened = _check(spec, "post", f"{base}/disputes", await disputes.open(evidence="log #1"))
    dispute_id = opened["id"]
    path = f"/v1/plants/nish/disputes/{dispute_id}"
    comment = await disputes.post(f"{path}/comments", {"text": "seen"}, role="socar")
    _check(spec, "post", f"{base}/disputes/{{dispute_id}}/comments", comment)
    proposed = _check(
        spec,
        "post",
        f"{base}/disputes/{{dispute_id}}/corrections",
        await disputes.propose(dispute_id, substitution(P0, 2, 481.0)),
    )
    correction = proposed["correction_id"]
    template = f"{base}/disputes/{{dispute_id}}/corrections/{{correction_id}}/approve"
    approved = _check(spec, "post", template, await disputes.approve(dispute_id, correction, role="eps"))
    assert approved["waiting_for"] == ["socar"] and approved["dispute"]["corrections"][0]["substitutes"]
    approved = _check(spec, "post", template, await disputes.approve(dispute_id, correction, role="socar"))
    assert approved["applied"] is True
    detail = _check(spec, "get", f"{base}/disputes/{{dispute_id}}", await disputes.api.get(path))
    assert [c["status"] for c in detail["corrections"]] == ["applied"] and len(detail["events"]) >= 4
    listed = _check(spec, "get", f"{base}/disputes", await disputes.api.get("/v1/plants/nish/disputes"))
    assert listed["disputes"][0]["id"] == dispute_id

    hook = {"name": "eps-hook", "url": "http://127.0.0.1:9/hook", "event_types": []}
    created = _check(
        spec,
        "post",
        f"{base}/webhook-endpoints",
        await disputes.post("/v1/plants/nish/webhook-endpoints", hook, role="eps"),
    )
    assert created["secret"].startswith("whsec_")
    endpoints = await disputes.api.get("/v1/plants/nish/webhook-endpoints", role="eps")
    assert _check(spec, "get", f"{base}/webhook-endpoints", endpoints)["endpoints"][0]["name"] == "eps-hook"
    deliveries = await disputes.api.get("/v1/plants/nish/webhook-deliveries", role="operator")
    _check(spec, "get", f"{base}/webhook-deliveries", deliveries)
