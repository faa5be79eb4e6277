"""End to end inside one process: a frequency excursion → a signed webhook; recovery → resolved."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
import httpx

from services.alerts.app import create_app
from tests.integration.alerts.helpers import Receiver, fast_settings, wait_for, write
from tests.support import make_key, serving


async def test_a_frequency_excursion_is_notified_once_signed_and_resolved(database_url: str, db: asyncpg.Pool) -> None:
    receiver = Receiver()
    token = await make_key(db, role="operator", name="oncall-lead")
    auth = {"authorization": f"Bearer {token}"}
    async with (
        serving(receiver.app()) as hook_url,
        serving(create_app(fast_settings(database_url))) as base,
        httpx.AsyncClient(base_url=base, headers=auth) as client,
    ):
        created = await client.post("/v1/webhook-endpoints", json={"name": "oncall", "url": f"{hook_url}/hook"})
        assert created.status_code == 201, created.text
        receiver.secret = created.json()["secret"]
        assert receiver.secret.startswith("whsec_")
        assert "secret" not in (await client.get("/v1/webhook-endpoints")).json()[0]
        rule = await client.post(
            "/v1/rules",
            json={
                "name": "grid-band",
                "kind": "frequency_band",
                "severity": "critical",
                "labels": {"team": "grid"},
                "params": {"signal": "grid.frequency", "low_hz": 49.8, "high_hz": 50.2},
            },
        )
        assert rule.status_code == 201, rule.text
        # The evaluator learns of the new rule by NOTIFY; should it lag, its full sweep (2 s here) still fires it.

        now = datetime.now(UTC)
        await write(db, "grid.frequency", [(now - timedelta(seconds=2), 50.01), (now - timedelta(seconds=1), 49.999)])
        await write(db, "grid.frequency", [(now, 49.71)])
        await wait_for(lambda: len(receiver.received) >= 1)
        firing = receiver.received[0]
        assert firing.verified is True
        body = firing.json()
        assert body["type"] == "alert.firing" and body["data"]["severity"] == "critical"
        assert body["data"]["labels"]["team"] == "grid" and body["data"]["evidence"]["frequency_hz"] == 49.71
        assert body["data"]["evidence"]["delta_mhz"] == -290.0

        await write(db, "grid.frequency", [(now + timedelta(seconds=1), 49.75)])  # still outside: no new message
        await write(db, "grid.frequency", [(now + timedelta(seconds=2), 50.0)])
        await wait_for(lambda: len(receiver.received) >= 2)
        resolved = receiver.received[1]
        assert resolved.json()["type"] == "alert.resolved" and resolved.verified is True
        assert resolved.headers["webhook-id"] != firing.headers["webhook-id"]

        alerts = (await client.get("/v1/alerts")).json()
        assert [a["state"] for a in alerts] == ["resolved"]
        detail = (await client.get(f"/v1/alerts/{alerts[0]['id']}")).json()
        assert [(t["from_state"], t["to_state"]) for t in detail["transitions"]] == [
            ("inactive", "firing"),
            ("firing", "resolved"),
        ]
        assert detail["transitions"][0]["evidence"]["frequency_hz"] == 49.71
        deliveries = (await client.get("/v1/deliveries")).json()
        assert {d["status"] for d in deliveries} == {"delivered"} and len(deliveries) == 2
    assert len(receiver.received) == 2
