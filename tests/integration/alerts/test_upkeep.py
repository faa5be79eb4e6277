"""Alerts' /metrics reads what is firing and what waits in the outbox; old delivered notifications are pruned."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
import httpx

from services.alerts.app import create_app
from services.alerts.store import forget_delivered
from tests.integration.alerts.helpers import Receiver, fast_settings, setup, threshold_rule, wait_for, write
from tests.support import make_key, serving


async def test_metrics_show_firing_alerts_and_delivered_notifications(database_url: str, db: asyncpg.Pool) -> None:
    receiver = Receiver()
    token = await make_key(db, role="operator", name="oncall-lead")
    settings = fast_settings(database_url, metrics_refresh_s=0.1)
    async with (
        serving(receiver.app()) as hook_url,
        serving(create_app(settings)) as base,
        httpx.AsyncClient(base_url=base, headers={"authorization": f"Bearer {token}"}) as client,
    ):
        receiver.secret = await setup(client, hook_url, rules=[threshold_rule("gt1-high", "gt1.active_power")])
        await write(db, "gt1.active_power", [(datetime.now(UTC), 190.0)])
        await wait_for(lambda: len(receiver.received) >= 1)

        async def shows_it() -> bool:
            text = (await client.get("/metrics")).text
            return (
                'baseload_alerts{state="firing"} 1.0' in text
                and 'baseload_alerts_notifications{status="delivered"} 1.0' in text
            )

        await wait_for(shows_it)
        text = (await client.get("/metrics")).text
        assert 'baseload_alerts_notifications{status="pending"} 0.0' in text


async def test_only_old_delivered_notifications_are_pruned(db: asyncpg.Pool) -> None:
    endpoint = await db.fetchval(
        "INSERT INTO webhook_endpoints (name, url, secret, format) VALUES ('e', 'http://127.0.0.1:9/', 'whsec_eA==',"
        " 'standard') RETURNING id"
    )
    rule = await db.fetchval(
        "INSERT INTO alert_rules (name, kind, severity) VALUES ('r', 'threshold', 'critical') RETURNING id"
    )
    alert = await db.fetchval(
        "INSERT INTO alerts (rule_id, fingerprint, labels) VALUES ($1, 'f', '{}') RETURNING id", rule
    )
    now = datetime.now(UTC)
    for webhook_id, status, delivered_at in (
        ("old", "delivered", now - timedelta(days=40)),
        ("recent", "delivered", now - timedelta(days=1)),
        ("dead", "dead", None),
        ("waiting", "pending", None),
    ):
        outbox = await db.fetchval(
            "INSERT INTO webhook_outbox (endpoint_id, alert_id, event_type, webhook_id, body, status, delivered_at,"
            " created_at) VALUES ($1, $2, 'alert.firing', $3, '{}', $4, $5, $6) RETURNING id",
            endpoint,
            alert,
            webhook_id,
            status,
            delivered_at,
            now - timedelta(days=41),
        )
        await db.execute(
            "INSERT INTO webhook_attempts (outbox_id, attempt, at, latency_ms) VALUES ($1, 1, $2, 5)", outbox, now
        )
    assert await forget_delivered(db, now - timedelta(days=30)) == 1
    remaining = await db.fetch("SELECT webhook_id FROM webhook_outbox ORDER BY webhook_id")
    assert [r["webhook_id"] for r in remaining] == ["dead", "recent", "waiting"]
    assert await db.fetchval("SELECT count(*) FROM webhook_attempts") == 3
