"""Delivery: a receiver down then up gets the backlog in order per alert; dead letters and manual redelivery;
two replicas never double-send; a kill mid-delivery loses nothing and the repeat carries the same webhook-id."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx

from services.alerts.app import create_app
from tests.conftest import REPO_ROOT
from tests.integration.alerts.helpers import Receiver, fast_settings, setup, threshold_rule, wait_for, write
from tests.support import free_port, make_key, serving


async def flap(db: asyncpg.Pool, signal_key: str, values: list[float], pause: float = 0.35) -> None:
    start = datetime.now(UTC)
    for i, value in enumerate(values):
        await write(db, signal_key, [(start + timedelta(milliseconds=100 * i), value)])
        await asyncio.sleep(pause)


def types_by_alert(receiver: Receiver) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    for message in receiver.received:
        body = message.json()
        out.setdefault(body["data"]["alert_id"], []).append(body["type"])
    return out


async def test_a_receiver_down_then_up_gets_the_backlog_in_order_per_alert(database_url: str, db: asyncpg.Pool) -> None:
    receiver = Receiver(status=503)
    token = await make_key(db, role="operator")
    async with (
        serving(receiver.app()) as hook,
        serving(create_app(fast_settings(database_url))) as base,
        httpx.AsyncClient(base_url=base, headers={"authorization": f"Bearer {token}"}) as client,
    ):
        receiver.secret = await setup(
            client,
            hook,
            rules=[threshold_rule("gt1-hot", "gt1.active_power"), threshold_rule("gt2-hot", "gt2.active_power")],
        )
        await asyncio.sleep(0.3)
        await asyncio.gather(
            flap(db, "gt1.active_power", [190, 150, 195]), flap(db, "gt2.active_power", [185, 150, 190])
        )
        await wait_for(lambda: receiver.attempts >= 3)
        failed_ids = set(receiver.arrivals)
        receiver.status = 200
        await wait_for(lambda: len(receiver.received) == 6)
    expected = ["alert.firing", "alert.resolved", "alert.firing"]
    assert list(types_by_alert(receiver).values()) == [expected, expected]
    assert all(m.verified for m in receiver.received)
    assert failed_ids <= {m.headers["webhook-id"] for m in receiver.received}  # retries kept their ids


async def test_dead_letters_are_logged_and_can_be_redelivered(database_url: str, db: asyncpg.Pool) -> None:
    receiver = Receiver(status=500)
    token = await make_key(db, role="operator")
    settings = fast_settings(database_url, retry_schedule_s=(0.0, 0.2))
    async with (
        serving(receiver.app()) as hook,
        serving(create_app(settings)) as base,
        httpx.AsyncClient(base_url=base, headers={"authorization": f"Bearer {token}"}) as client,
    ):
        receiver.secret = await setup(client, hook, rules=[threshold_rule("gt1-hot", "gt1.active_power")])
        await asyncio.sleep(0.3)
        await write(db, "gt1.active_power", [(datetime.now(UTC), 199.0)])

        async def dead() -> bool:
            return bool((await client.get("/v1/deliveries", params={"status": "dead"})).json())

        await wait_for(dead)
        delivery = (await client.get("/v1/deliveries")).json()[0]
        log = (await client.get(f"/v1/deliveries/{delivery['id']}")).json()["attempts"]
        assert [(a["attempt"], a["status_code"]) for a in log] == [(1, 500), (2, 500)]
        assert all(a["latency_ms"] >= 0 and a["error"].startswith("HTTP 500") for a in log)
        receiver.status = 200
        assert (await client.post(f"/v1/deliveries/{delivery['id']}/redeliver")).status_code == 202
        await wait_for(lambda: len(receiver.received) == 1)
    assert receiver.received[0].headers["webhook-id"] == delivery["webhook_id"] == receiver.arrivals[0]


async def test_two_replicas_send_each_notification_exactly_once(database_url: str, db: asyncpg.Pool) -> None:
    receiver = Receiver()
    token = await make_key(db, role="operator")
    settings = fast_settings(database_url, full_sweep_s=0.5)
    async with (
        serving(receiver.app()) as hook,
        serving(create_app(settings)) as base,
        serving(create_app(settings)),
        httpx.AsyncClient(base_url=base, headers={"authorization": f"Bearer {token}"}) as client,
    ):
        receiver.secret = await setup(
            client,
            hook,
            rules=[
                threshold_rule(f"hot-{key}", key)
                for key in ("gt1.active_power", "gt2.active_power", "st1.active_power")
            ],
        )
        await asyncio.sleep(0.3)
        await asyncio.gather(
            *(
                flap(db, key, [190, 150, 190, 150], pause=0.25)
                for key in ("gt1.active_power", "gt2.active_power", "st1.active_power")
            )
        )
        await wait_for(lambda: len(receiver.received) >= 12)
        await asyncio.sleep(1.5)  # time for any duplicate to show up
    ids = Counter(m.headers["webhook-id"] for m in receiver.received)
    assert len(receiver.received) == 12 and set(ids.values()) == {1}
    transitions = await db.fetchval("SELECT count(*) FROM alert_transitions")
    assert transitions == 12  # firing, resolved, firing, resolved for each of three alerts


async def test_a_kill_mid_delivery_loses_nothing_and_repeats_the_same_webhook_id(
    database_url: str, db: asyncpg.Pool
) -> None:
    receiver = Receiver(delay_s=30.0)
    token = await make_key(db, role="operator")
    port = free_port()
    env = {
        **os.environ,
        "BASELOAD_DATABASE_URL": database_url,
        "BASELOAD_ALERTS_PORT": str(port),
        "BASELOAD_ALERTS_TICK_S": "0.2",
        "BASELOAD_ALERTS_DISPATCH_POLL_S": "0.2",
        "BASELOAD_LOG_LEVEL": "warning",
        "BASELOAD_ALERTS_WEBHOOK_ALLOW_CIDRS": "127.0.0.1/32",
        # the lease a killed sender leaves behind expires after the timeout plus the margin
        "BASELOAD_ALERTS_DELIVERY_TIMEOUT_S": "3",
        "BASELOAD_ALERTS_DELIVERY_LEASE_MARGIN_S": "1",
    }
    command = [sys.executable, "-m", "services.cli", "serve", "alerts"]

    def start() -> subprocess.Popen[bytes]:
        return subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    async def ready() -> bool:
        try:
            async with httpx.AsyncClient() as http:
                return (await http.get(f"http://127.0.0.1:{port}/readyz")).status_code == 200
        except httpx.HTTPError:
            return False

    process = start()
    try:
        async with (
            serving(receiver.app()) as hook,
            httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{port}", headers={"authorization": f"Bearer {token}"}
            ) as client,
        ):
            await wait_for(ready, 20)
            receiver.secret = await setup(client, hook, rules=[threshold_rule("gt1-hot", "gt1.active_power")])
            await asyncio.sleep(0.5)
            await write(db, "gt1.active_power", [(datetime.now(UTC), 199.0)])
            await wait_for(lambda: receiver.attempts == 1)  # the receiver is holding the request
            process.send_signal(signal.SIGKILL)
            process.wait(10)
            receiver.delay_s = 0.0
            receiver.released.set()
            assert await db.fetchval("SELECT status FROM webhook_outbox") == "pending"
            process = start()
            await wait_for(lambda: len(receiver.received) == 1, 20)
    finally:
        process.kill()
        process.wait(10)
    assert receiver.arrivals[0] == receiver.arrivals[-1] == receiver.received[0].headers["webhook-id"]
    assert receiver.received[0].json()["type"] == "alert.firing" and receiver.received[0].verified
