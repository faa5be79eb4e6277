"""One broken rule never silences the others: it is logged, counted in /metrics, marked in GET /v1/rules with its
error and skipped, while every other rule still runs and still sends its webhooks (issue 8, item 1)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import asyncpg
import httpx

from services.alerts.app import create_app
from tests.integration.alerts.helpers import Receiver, fast_settings, setup, threshold_rule, wait_for, write
from tests.support import make_key, serving

INSERT_RULE = """INSERT INTO alert_rules (name, kind, severity, params, keep_firing_for_s)
                 VALUES ($1, $2, 'critical', $3::jsonb, $4) RETURNING id"""


async def insert_broken_rules(db: asyncpg.Pool) -> dict[str, int]:
    """Rows the API would refuse, written with plain SQL as a careless migration or an older version might."""
    params = {"signal": "gt2.active_power", "op": "above", "value": 1.0}
    return {
        "overflowing-timing": await db.fetchval(
            INSERT_RULE, "overflowing-timing", "threshold", json.dumps(params), 1e17
        ),
        "empty-signal": await db.fetchval(
            INSERT_RULE, "empty-signal", "threshold", json.dumps({**params, "signal": ""}), 0.0
        ),
        "missing-value": await db.fetchval(
            INSERT_RULE, "missing-value", "threshold", json.dumps({"signal": "gt1.active_power", "op": "above"}), 0.0
        ),
        # Loads (its params are valid), but with 1 s settlement periods (the setting below) its 7-day window is
        # more periods than the engine builds: it fails at evaluation, every cycle.
        "too-many-periods": await db.fetchval(
            INSERT_RULE,
            "too-many-periods",
            "sustained_under_delivery",
            json.dumps({"plant": "nish", "window_s": 7 * 86400}),
            0.0,
        ),
    }


def metric(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


async def test_a_broken_rule_is_marked_and_skipped_while_a_good_rule_still_fires(
    database_url: str, db: asyncpg.Pool
) -> None:
    broken = await insert_broken_rules(db)
    await db.execute("DELETE FROM commitments")  # the default period (1 s, below) applies everywhere
    receiver = Receiver()
    token = await make_key(db, role="operator")
    settings = fast_settings(database_url, metrics_refresh_s=0.2, settlement_period_s=1)
    async with (
        serving(receiver.app()) as hook,
        serving(create_app(settings)) as base,
        httpx.AsyncClient(base_url=base, headers={"authorization": f"Bearer {token}"}) as client,
    ):
        receiver.secret = await setup(client, hook, rules=[threshold_rule("gt1-hot", "gt1.active_power")])
        await asyncio.sleep(0.5)
        await write(db, "gt1.active_power", [(datetime.now(UTC), 199.0)])
        await write(db, "gt2.active_power", [(datetime.now(UTC), 199.0)])
        await wait_for(lambda: len(receiver.received) == 1)

        async def all_marked() -> bool:
            rules = {r["name"]: r for r in (await client.get("/v1/rules")).json()}
            return all(rules[name]["last_error"] for name in broken)

        await wait_for(all_marked)
        rules = {r["name"]: r for r in (await client.get("/v1/rules")).json()}
        await asyncio.sleep(0.5)  # a few more cycles: the broken rules keep failing, the good one keeps running
        metrics = (await client.get("/metrics")).text
        # Taken before the fix below: the fixed rule is a valid threshold rule that may fire before shutdown.
        received = list(receiver.received)
        broken_alerts = await db.fetchval(
            "SELECT count(*) FROM alerts a JOIN alert_rules r ON r.id = a.rule_id WHERE r.name = ANY($1::text[])",
            list(broken),
        )
        fixed = await client.put(
            f"/v1/rules/{broken['missing-value']}",
            json={**threshold_rule("missing-value", "gt1.active_power"), "severity": "info"},
        )
    body = received[0].json()
    assert body["type"] == "alert.firing" and body["data"]["rule"]["name"] == "gt1-hot"
    assert received[0].verified
    assert len(received) == 1  # nothing from the broken rules
    assert "OverflowError" in rules["overflowing-timing"]["last_error"]
    assert "params.signal" in rules["empty-signal"]["last_error"]
    assert "params.value: Field required" in rules["missing-value"]["last_error"]  # typed params, parsed at load
    assert "TooManyPeriods" in rules["too-many-periods"]["last_error"]
    assert all(rules[name]["last_error_at"] for name in broken)
    assert rules["gt1-hot"]["last_error"] is None
    assert metric(metrics, 'baseload_alerts_rule_errors_total{stage="load"}') >= 2
    assert metric(metrics, 'baseload_alerts_rule_errors_total{stage="evaluate"}') >= 1
    assert metric(metrics, "baseload_alerts_rules_failing") == 4
    assert fixed.status_code == 200 and fixed.json()["last_error"] is None
    assert broken_alerts == 0
