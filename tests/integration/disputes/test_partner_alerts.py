"""Partner keys read (never change) the alerts, transitions and deliveries of the plants their partner is party to,
on the alerts service over real HTTP; operators read everything."""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg
import httpx

from services.alerts.app import create_app
from tests.integration.alerts.helpers import fast_settings, threshold_rule
from tests.integration.disputes.conftest import Disputes
from tests.support import serving

T = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


async def fired(db: asyncpg.Pool, rule_id: int, endpoint_id: int, n: int) -> tuple[int, int]:
    """A firing alert of the rule with its transitions and one delivery to the endpoint: (alert id, delivery id)."""
    alert_id = await db.fetchval(
        "INSERT INTO alerts (rule_id, fingerprint, state, firing_since) VALUES ($1, $2, 'firing', $3) RETURNING id",
        rule_id,
        f"fp-{n}",
        T,
    )
    await db.execute(
        """INSERT INTO alert_transitions (alert_id, at, from_state, to_state)
                        VALUES ($1, $2, 'inactive', 'pending'), ($1, $2, 'pending', 'firing')""",
        alert_id,
        T,
    )
    delivery_id = await db.fetchval(
        """INSERT INTO webhook_outbox (endpoint_id, alert_id, event_type, webhook_id, body, status)
           VALUES ($1, $2, 'alert.firing', $3, '{}', 'delivered') RETURNING id""",
        endpoint_id,
        alert_id,
        f"msg_{n}",
    )
    return alert_id, delivery_id


async def test_partners_read_exactly_their_plants_alerts_transitions_and_deliveries(
    disputes: Disputes, database_url: str
) -> None:
    tokens, db = disputes.api.tokens, disputes.api.db
    settings = fast_settings(database_url, evaluator_enabled=False, dispatcher_enabled=False)
    async with serving(create_app(settings)) as url, httpx.AsyncClient(base_url=url, timeout=10) as client:

        def as_(role: str | None) -> dict[str, str]:
            return {"Authorization": f"Bearer {tokens[role]}"} if role else {}

        ops = as_("operator")
        endpoint = await client.post(
            "/v1/webhook-endpoints", json={"name": "oncall", "url": "http://127.0.0.1:9/h"}, headers=ops
        )
        assert endpoint.status_code == 201, endpoint.text
        rules = {}
        for name, signal in (("nish-high", "plant.net_output"), ("other-high", "other.net_output")):
            created = await client.post("/v1/rules", json=threshold_rule(name, signal), headers=ops)
            assert created.status_code == 201, created.text
            rules[name] = created.json()["id"]
        stale = {
            "name": "gw-silent",
            "kind": "stale",
            "severity": "info",
            "params": {"gateway": "gw", "max_silence": "60s"},
        }
        gateway_rule = await client.post("/v1/rules", json=stale, headers=ops)
        assert gateway_rule.status_code == 201, gateway_rule.text
        rules["gw-silent"] = gateway_rule.json()["id"]
        made = {
            name: await fired(db, rule_id, endpoint.json()["id"], i) for i, (name, rule_id) in enumerate(rules.items())
        }
        own = await disputes.post(
            "/v1/plants/nish/webhook-endpoints", {"name": "eps-hook", "url": "http://127.0.0.1:9/e"}, role="eps"
        )
        assert own.status_code == 201
        await disputes.opened(role="socar")  # a dispute.opened delivery to eps's own endpoint

        async def alert_names(role: str) -> list[str]:
            response = await client.get("/v1/alerts", headers=as_(role))
            assert response.status_code == 200, response.text
            return sorted(a["rule"] for a in response.json())

        assert await alert_names("eps") == await alert_names("socar") == ["nish-high"]
        assert await alert_names("stranger") == ["other-high"]
        assert await alert_names("operator") == ["gw-silent", "nish-high", "other-high"]

        nish_alert, nish_delivery = made["nish-high"]
        other_alert, other_delivery = made["other-high"]
        detail = await client.get(f"/v1/alerts/{nish_alert}", headers=as_("eps"))
        assert [t["to_state"] for t in detail.json()["transitions"]] == ["pending", "firing"]
        hidden = await client.get(f"/v1/alerts/{other_alert}", headers=as_("eps"))
        assert (hidden.status_code, hidden.json()["error"]["code"]) == (404, "unknown_alert")

        deliveries = await client.get("/v1/deliveries", headers=as_("eps"))
        assert sorted((d["endpoint"], d["event_type"]) for d in deliveries.json()) == [
            ("eps-hook", "dispute.opened"),
            ("oncall", "alert.firing"),
        ]
        socar_sees = await client.get("/v1/deliveries", headers=as_("socar"))
        assert [d["id"] for d in socar_sees.json()] == [nish_delivery]
        assert (await client.get(f"/v1/deliveries/{nish_delivery}", headers=as_("socar"))).status_code == 200
        assert (await client.get(f"/v1/deliveries/{other_delivery}", headers=as_("socar"))).status_code == 404

        # Read-only: a partner key changes nothing, and other roles keep their scope.
        ack = await client.post(f"/v1/alerts/{nish_alert}/ack", json={}, headers=as_("eps"))
        assert (ack.status_code, ack.json()["error"]["code"]) == (403, "forbidden_role")
        redeliver = await client.post(f"/v1/deliveries/{nish_delivery}/redeliver", headers=as_("eps"))
        assert redeliver.status_code == 403
        assert (await client.get("/v1/alerts", headers=as_("gateway"))).status_code == 403
        assert (await client.get("/v1/alerts")).status_code == 401
        assert (await client.get("/v1/rules", headers=as_("eps"))).status_code == 403
