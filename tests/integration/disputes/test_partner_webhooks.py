"""Partner-owned webhook endpoints receive their plant's dispute and correction events through the shared outbox,
sent by the alerts service's dispatcher to real receivers on 127.0.0.1, signed with each endpoint's own secret."""

from __future__ import annotations

import asyncpg
import httpx

from services.alerts import store as alerts_store
from services.alerts.dispatch import Dispatcher
from tests.integration.alerts.helpers import Receiver, fast_settings
from tests.integration.disputes.conftest import Disputes
from tests.support import serving


async def deliver_all(db: asyncpg.Pool, database_url: str) -> int:
    """Run the alerts dispatcher's delivery step until nothing is due; returns how many were attempted."""
    settings = fast_settings(database_url)
    sent = 0
    async with httpx.AsyncClient(timeout=5) as client:
        dispatcher = Dispatcher(db, settings, database_url, client)
        while await dispatcher.deliver_one():
            sent += 1
    return sent


async def register(disputes: Disputes, role: str, plant: str, url: str, **extra: object) -> Receiver:
    created = await disputes.post(
        f"/v1/plants/{plant}/webhook-endpoints",
        {"name": f"{role}-{plant}-{len(extra)}", "url": f"{url}/hook", **extra},
        role=role,
    )
    assert created.status_code == 201, created.text
    return Receiver(secret=created.json()["secret"])


async def test_both_partners_endpoints_get_each_step_and_other_plants_get_nothing(
    disputes: Disputes, database_url: str
) -> None:
    eps, socar, acme, applied_only = (Receiver(), Receiver(), Receiver(), Receiver())
    async with (
        serving(eps.app()) as eps_url,
        serving(socar.app()) as socar_url,
        serving(acme.app()) as acme_url,
        serving(applied_only.app()) as applied_url,
    ):
        for receiver, role, plant, url, extra in (
            (eps, "eps", "nish", eps_url, {}),
            (socar, "socar", "nish", socar_url, {}),
            (acme, "stranger", "other", acme_url, {}),
            (applied_only, "socar", "nish", applied_url, {"event_types": ["correction.applied"]}),
        ):
            receiver.secret = (await register(disputes, role, plant, url, **extra)).secret
        dispute_id = await disputes.opened()
        correction_id = await disputes.proposed(dispute_id, {"kind": "energy", "energy_mwh": 118.0})
        for role in ("eps", "socar"):
            assert (await disputes.approve(dispute_id, correction_id, role=role)).status_code == 200
        assert await deliver_all(disputes.api.db, database_url) == 11

    expected = [
        "dispute.opened",
        "correction.proposed",
        "correction.approved",
        "correction.approved",
        "correction.applied",
    ]
    for receiver in (eps, socar):
        assert [r.json()["type"] for r in receiver.received] == expected
        assert all(r.verified for r in receiver.received)
    assert [r.json()["type"] for r in applied_only.received] == ["correction.applied"]
    assert applied_only.received[0].json()["data"]["approved_by"] == ["eps", "socar"]
    assert acme.received == []

    log = await disputes.api.json("/v1/plants/nish/webhook-deliveries", role="eps")
    assert {(d["endpoint"], d["status"]) for d in log["deliveries"]} == {("eps-nish-0", "delivered")}
    assert len(log["deliveries"]) == 5


async def test_partner_endpoints_never_receive_operator_alert_notifications(disputes: Disputes) -> None:
    assert (
        await disputes.post(
            "/v1/plants/nish/webhook-endpoints", {"name": "eps-hook", "url": "http://127.0.0.1:9/hook"}, role="eps"
        )
    ).status_code == 201
    await disputes.api.db.execute(
        "INSERT INTO webhook_endpoints (name, url, secret) VALUES ('oncall', 'http://127.0.0.1:9/x', 's')"
    )
    async with disputes.api.db.acquire() as conn:
        names = [e.name for e in await alerts_store.enabled_endpoints(conn)]
    assert names == ["oncall"]
