"""Issue 10 §4 (e): a commitment edited after an ended period was judged is announced, end to end: the running
alerts service (real clock, real PostgreSQL) settles the period, a schedule override for it is stored through the
alerts API, and a webhook receiver on 127.0.0.1 gets the `check: revision` alert saying what changed (committed MW
from → to, verdict from → to) with the numbers GET /v1/plants/{plant}/compliance now gives for that period."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx

from services.alerts.app import create_app
from services.api.app import create_app as create_api
from services.api.settings import Settings as ApiSettings
from tests.integration.alerts.helpers import Receiver, fast_settings, setup, wait_for, write
from tests.integration.alerts.test_settlement_agreement import api_periods, assert_same_numbers
from tests.support import make_key, serving

RULE = {"name": "nish-deviation", "kind": "baseload_deviation", "params": {"plant": "nish", "early_warning": False}}
QUARTER = timedelta(minutes=15)


def revisions(receiver: Receiver) -> list[dict[str, Any]]:
    """The revision announcements received (firing), in order."""
    bodies = [m.json() for m in receiver.received]
    return [b["data"] for b in bodies if b["data"]["labels"].get("check") == "revision" and b["type"] == "alert.firing"]


def announced(receiver: Receiver, count: int) -> Any:
    return lambda: len(revisions(receiver)) >= count


async def final_recent(db: asyncpg.Pool) -> dict[str, str]:
    """The verdicts the final check remembers per judged period (empty before its first evaluation)."""
    evidence = await db.fetchval("SELECT evidence FROM alerts WHERE labels->>'check' = 'final'")
    return {} if evidence is None else dict(json.loads(evidence).get("recent") or {})  # this pool has no JSON codec


async def test_a_commitment_edited_after_the_verdict_is_announced_to_the_webhook_with_old_and_new_numbers(
    database_url: str, db: asyncpg.Pool
) -> None:
    now = datetime.now(UTC)
    current = now.replace(minute=now.minute - now.minute % 15, second=0, microsecond=0)
    # Two periods before the running one: ended whatever the grace, and inside the 1 h revision window for 30 min.
    target = current - 2 * QUARTER
    await write(db, "plant.net_output", [(target + timedelta(seconds=5 * i), 455.0) for i in range(180)])
    receiver = Receiver()
    token = await make_key(db, role="operator")
    async with (
        serving(receiver.app()) as hook,
        serving(create_app(fast_settings(database_url))) as base,
        serving(create_api(ApiSettings(database_url=database_url))) as api_base,
        httpx.AsyncClient(base_url=base, headers={"authorization": f"Bearer {token}"}, timeout=30) as client,
        httpx.AsyncClient(base_url=api_base, headers={"authorization": f"Bearer {token}"}, timeout=30) as api,
    ):
        receiver.secret = await setup(client, hook, rules=[RULE])

        async def judged() -> bool:
            return (await final_recent(db)).get(target.isoformat()) == "non_compliant"  # 455 vs 480 ± 10

        await wait_for(judged, timeout=30)
        for committed_mw, count in ((450.0, 1), (470.0, 2)):
            response = await client.put(
                "/v1/plants/nish/schedule",
                json={"entries": [{"period_start": target.isoformat(), "committed_mw": committed_mw}]},
            )
            assert response.status_code == 200, response.text
            await wait_for(announced(receiver, count), timeout=30)
        report = (await api_periods(api, target, target + QUARTER))[target.isoformat()]
    first, second = revisions(receiver)
    span = f"period {target:%Y-%m-%d %H:%M}–{target + QUARTER:%H:%M} UTC revised"
    assert f"{span}: commitment 480 MW → 450 MW, non_compliant → compliant (delivered 455.0 MW" in first["summary"]
    assert f"{span}: commitment 450 MW → 470 MW, compliant → non_compliant (delivered 455.0 MW" in second["summary"]
    (change,) = second["evidence"]["revisions"]
    assert (change["commitment_mw_from"], change["commitment_mw_to"]) == (450.0, 470.0)
    assert (change["revised_from"], change["revised_to"]) == ("compliant", "non_compliant")
    assert second["evidence"]["reason"] == "a changed commitment since the verdict was given"
    # The announced numbers are the api's settlement of the period under the edited commitment.
    assert report["committed_mw"] == 470.0
    assert_same_numbers(change, report)
    assert all(m.verified for m in receiver.received)
