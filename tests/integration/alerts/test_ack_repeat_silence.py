"""Reminders repeat while firing and unacknowledged; ack stops them, unack resumes them; silences mute."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx

from services.alerts.app import create_app
from tests.integration.alerts.helpers import Receiver, fast_settings, setup, threshold_rule, wait_for, write
from tests.support import make_key, serving


def types(receiver: Receiver) -> list[str]:
    return [m.json()["type"] for m in receiver.received]


async def test_ack_stops_reminders_and_unack_resumes_them(database_url: str, db: asyncpg.Pool) -> None:
    receiver = Receiver()
    token = await make_key(db, role="operator", name="ana")
    async with (
        serving(receiver.app()) as hook,
        serving(create_app(fast_settings(database_url))) as base,
        httpx.AsyncClient(base_url=base, headers={"authorization": f"Bearer {token}"}) as client,
    ):
        receiver.secret = await setup(
            client, hook, rules=[threshold_rule("gt1-hot", "gt1.active_power", repeat_interval="1s")]
        )
        await asyncio.sleep(0.3)
        await write(db, "gt1.active_power", [(datetime.now(UTC), 199.0)])
        await wait_for(lambda: types(receiver)[:2] == ["alert.firing", "alert.reminder"], 5)
        alert_id = receiver.received[0].json()["data"]["alert_id"]
        acked = await client.post(f"/v1/alerts/{alert_id}/ack", json={"comment": "on it"})
        assert acked.status_code == 200 and acked.json()["acked_by"] == "ana"
        count = len(receiver.received)
        await asyncio.sleep(2.0)
        assert len(receiver.received) <= count + 1  # at most one reminder was already queued before the ack
        quiet = len(receiver.received)
        assert (await client.delete(f"/v1/alerts/{alert_id}/ack")).status_code == 200
        await wait_for(lambda: len(receiver.received) > quiet, 5)
        assert types(receiver)[-1] == "alert.reminder"


async def test_a_silence_mutes_until_it_is_expired(database_url: str, db: asyncpg.Pool) -> None:
    receiver = Receiver()
    token = await make_key(db, role="operator")
    async with (
        serving(receiver.app()) as hook,
        serving(create_app(fast_settings(database_url))) as base,
        httpx.AsyncClient(base_url=base, headers={"authorization": f"Bearer {token}"}) as client,
    ):
        receiver.secret = await setup(client, hook, rules=[threshold_rule("gt1-hot", "gt1.active_power")])
        silence = await client.post(
            "/v1/silences",
            json={
                "matchers": [{"name": "alertname", "value": "gt1-.*", "op": "=~"}],
                "ends_at": (datetime.now(UTC) + timedelta(hours=1)).isoformat(),
                "comment": "maintenance",
            },
        )
        assert silence.status_code == 201
        await asyncio.sleep(0.3)
        await write(db, "gt1.active_power", [(datetime.now(UTC), 199.0)])
        await wait_for(lambda: db.fetchval("SELECT count(*) = 1 FROM alerts WHERE state = 'firing'"))
        await asyncio.sleep(0.8)
        assert receiver.received == []
        assert (await client.delete(f"/v1/silences/{silence.json()['id']}")).status_code == 200
        await wait_for(lambda: len(receiver.received) == 1, 5)
        assert types(receiver) == ["alert.firing"] and receiver.received[0].verified
