"""Webhook targets go through the egress policy at registration and at every send (issue 8, item 3); the
dispatcher holds no database connection while a receiver is slow (item 10)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import httpx
import pytest

from services.alerts.app import create_app
from tests.integration.alerts.helpers import Receiver, fast_settings, setup, threshold_rule, wait_for, write
from tests.support import make_key, serving


class FakeDns:
    """The resolver seam: answers from a table the test changes (a rebinding DNS server, in effect)."""

    def __init__(self, answers: dict[str, list[str]]) -> None:
        self.answers = answers
        self.asked: list[str] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.asked.append(host)
        if host not in self.answers:
            raise OSError("no such host")
        return self.answers[host]


@pytest.fixture
async def strict_client(database_url: str, db: asyncpg.Pool) -> AsyncIterator[httpx.AsyncClient]:
    """No allow list: public addresses only."""
    token = await make_key(db, role="operator")
    settings = fast_settings(database_url, evaluator_enabled=False, dispatcher_enabled=False, webhook_allow_cidrs=())
    dns = FakeDns(
        {
            "metadata.example": ["169.254.169.254"],
            "mixed.example": ["93.184.216.34", "10.1.2.3"],
            "public.example": ["93.184.216.34"],
        }
    )
    async with (
        serving(create_app(settings, resolver=dns)) as base,
        httpx.AsyncClient(base_url=base, headers={"authorization": f"Bearer {token}"}) as http,
    ):
        yield http


@pytest.mark.parametrize(
    ("url", "status"),
    [
        ("http://127.0.0.1:5432/", 400),
        ("http://169.254.169.254/latest/meta-data/", 400),
        ("http://[::1]:6379/", 400),
        ("http://0.0.0.0:22", 400),
        ("http://10.0.0.1", 400),
        ("http://100.64.0.1/", 400),
        ("http://[fd00::1]/", 400),
        ("http://[fe80::1]/", 400),
        ("http://[::ffff:127.0.0.1]/", 400),
        ("http://192.168.1.1/", 400),
        ("http://metadata.example/", 400),
        ("http://mixed.example/", 400),
        ("http://2130706433/", 422),
        ("http://0177.0.0.1/", 422),
        ("http://0x7f000001/", 422),
        ("http://user:password@public.example/", 422),
        ("http://public.example/\nHost: x", 422),
        ("http://public.example/a b", 422),
        ("http://public.example:99999/", 422),
        ("gopher://public.example/", 422),
    ],
)
async def test_internal_and_ambiguous_targets_are_refused_at_registration(
    strict_client: httpx.AsyncClient, db: asyncpg.Pool, url: str, status: int
) -> None:
    response = await strict_client.post("/v1/webhook-endpoints", json={"name": "x", "url": url})
    assert response.status_code == status, response.text
    assert set(response.json()) == {"error"}
    assert await db.fetchval("SELECT count(*) FROM webhook_endpoints") == 0


async def test_public_targets_and_names_that_do_not_resolve_yet_are_accepted(strict_client: httpx.AsyncClient) -> None:
    for name, url in (
        ("a", "https://public.example/hook"),
        ("b", "http://93.184.216.34:8080/x"),
        ("c", "https://not-yet.example/hook"),
    ):
        response = await strict_client.post("/v1/webhook-endpoints", json={"name": name, "url": url})
        assert response.status_code == 201, response.text


async def fire_one_alert(
    db: asyncpg.Pool,
    client: httpx.AsyncClient,
    url: str,
    *,
    dns: FakeDns | None = None,
    rebind: list[str] | None = None,
) -> None:
    created = await client.post("/v1/webhook-endpoints", json={"name": "oncall", "url": url})
    assert created.status_code == 201, created.text
    if dns is not None and rebind is not None:
        dns.answers = {host: rebind for host in dns.answers}  # after registration, the name now points inside
    assert (await client.post("/v1/rules", json=threshold_rule("gt1-hot", "gt1.active_power"))).status_code == 201
    await asyncio.sleep(0.3)
    await write(db, "gt1.active_power", [(datetime.now(UTC), 199.0)])


async def test_a_name_that_rebinds_to_a_private_address_is_refused_at_send_time(
    database_url: str, db: asyncpg.Pool
) -> None:
    receiver = Receiver()
    token = await make_key(db, role="operator")
    dns = FakeDns({"hooks.example": ["93.184.216.34"]})
    settings = fast_settings(database_url, webhook_allow_cidrs=(), retry_schedule_s=(0.0,))
    async with (
        serving(receiver.app()) as hook,
        serving(create_app(settings, resolver=dns)) as base,
        httpx.AsyncClient(base_url=base, headers={"authorization": f"Bearer {token}"}) as client,
    ):
        port = hook.rsplit(":", 1)[1]
        await fire_one_alert(db, client, f"http://hooks.example:{port}/hook", dns=dns, rebind=["127.0.0.1"])

        async def dead() -> bool:
            return bool((await client.get("/v1/deliveries", params={"status": "dead"})).json())

        await wait_for(dead)
        delivery = (await client.get("/v1/deliveries")).json()[0]
    assert receiver.attempts == 0  # nothing reached the receiver on 127.0.0.1
    assert delivery["last_error"].startswith("refused by the egress policy: 127.0.0.1 is not a public address")
    assert dns.asked.count("hooks.example") >= 2  # at registration and again at send time


async def test_the_post_connects_to_the_checked_address_and_keeps_the_host_name(
    database_url: str, db: asyncpg.Pool
) -> None:
    receiver = Receiver()
    token = await make_key(db, role="operator")
    dns = FakeDns({"receiver.test": ["127.0.0.1"]})
    async with (
        serving(receiver.app()) as hook,
        serving(create_app(fast_settings(database_url), resolver=dns)) as base,
        httpx.AsyncClient(base_url=base, headers={"authorization": f"Bearer {token}"}) as client,
    ):
        port = hook.rsplit(":", 1)[1]
        await fire_one_alert(db, client, f"http://receiver.test:{port}/hook")
        await wait_for(lambda: len(receiver.received) == 1)
    assert receiver.received[0].headers["host"] == f"receiver.test:{port}"


async def test_a_receivers_error_body_is_never_recorded(database_url: str, db: asyncpg.Pool) -> None:
    receiver = Receiver(status=500)  # answers "down"
    token = await make_key(db, role="operator")
    settings = fast_settings(database_url, retry_schedule_s=(0.0, 0.1))
    async with (
        serving(receiver.app()) as hook,
        serving(create_app(settings)) as base,
        httpx.AsyncClient(base_url=base, headers={"authorization": f"Bearer {token}"}) as client,
    ):
        await setup(client, hook, rules=[threshold_rule("gt1-hot", "gt1.active_power")])
        await asyncio.sleep(0.3)
        await write(db, "gt1.active_power", [(datetime.now(UTC), 199.0)])

        async def dead() -> bool:
            return bool((await client.get("/v1/deliveries", params={"status": "dead"})).json())

        await wait_for(dead)
        delivery = (await client.get("/v1/deliveries")).json()[0]
        attempts = (await client.get(f"/v1/deliveries/{delivery['id']}")).json()["attempts"]
    assert delivery["last_error"] == "HTTP 500"
    assert [a["error"] for a in attempts] == ["HTTP 500", "HTTP 500"]


async def test_slow_receivers_hold_no_database_connection(database_url: str, db: asyncpg.Pool) -> None:
    receiver = Receiver(delay_s=30.0)
    token = await make_key(db, role="operator")
    settings = fast_settings(database_url, db_pool_size=3, dispatch_concurrency=4, delivery_timeout_s=20.0)
    async with (
        serving(receiver.app()) as hook,
        serving(create_app(settings)) as base,
        httpx.AsyncClient(base_url=base, headers={"authorization": f"Bearer {token}"}) as client,
    ):
        await setup(
            client,
            hook,
            rules=[threshold_rule(f"hot-{k}", k) for k in ("gt1.active_power", "gt2.active_power", "st1.active_power")],
        )
        await asyncio.sleep(0.3)
        for key in ("gt1.active_power", "gt2.active_power", "st1.active_power"):
            await write(db, key, [(datetime.now(UTC), 199.0)])
        await wait_for(lambda: receiver.attempts == 3)  # three POSTs held open by the receiver, pool of three
        await asyncio.sleep(1.5)  # a transaction held across the POST would now be idle for over a second
        started = time.monotonic()
        listed = await client.get("/v1/alerts")
        answered_s = time.monotonic() - started
        open_transactions = await db.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND state LIKE 'idle in transaction%' AND now() - state_change > interval '1 second'"
        )
        leased = await db.fetchval("SELECT count(*) FROM webhook_outbox WHERE leased_until > now()")
        receiver.delay_s = 0.0
        receiver.released.set()
        await wait_for(lambda: len(receiver.received) == 3)

        async def recorded() -> bool:  # the dispatcher records a delivery after the receiver has answered
            sql = "SELECT count(*) FROM webhook_outbox WHERE status = 'delivered' AND lease_token IS NULL"
            return bool(await db.fetchval(sql) == 3)

        await wait_for(recorded)
    assert listed.status_code == 200 and len(listed.json()) == 3 and answered_s < 5.0
    assert open_transactions == 0 and leased == 3
