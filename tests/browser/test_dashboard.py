"""The dashboard in a real browser: sign-in, live values, the settlement day, scoping, acknowledging, no JS errors."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest
import pytest_asyncio

from tests.browser.helpers import OpenSession, Stack, eventually, reading
from tests.browser.profile import EXPECTED, OUTAGE, TZ, day_of_net_output, hour_of_frequency, local
from tests.browser.profile import TRIP as EXPECTED_DISPUTE
from tests.support import REPO_ROOT

pytestmark = pytest.mark.asyncio(loop_scope="module")

VERDICT_RGB = {
    "compliant": "rgb(46, 125, 91)",
    "non_compliant": "rgb(209, 73, 91)",
    "insufficient_data": "rgb(154, 165, 177)",
    "excluded": "rgb(123, 97, 168)",
}
SCREENSHOT = REPO_ROOT / "docs" / "dashboard.png"


@dataclass(frozen=True)
class Arranged:
    day: date
    alert_id: int


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def arranged(stack: Stack) -> Arranged:
    """A known day two days back, live values now (one Bad, one stale), an hour of frequency, a firing alert."""
    now = datetime.now(UTC).replace(microsecond=0)
    day = now.astimezone(TZ).date() - timedelta(days=2)
    async with stack.client("alerts", "operator") as alerts:
        excluded = await alerts.post(
            "/v1/plants/nish/exclusions",
            json={
                "starts_at": local(day, OUTAGE[0]).isoformat(),
                "ends_at": local(day, OUTAGE[1]).isoformat(),
                "reason": "planned outage: ST1 valve test",
            },
        )
        assert excluded.status_code == 201, excluded.text
        rule = await alerts.post(
            "/v1/rules",
            json={
                "name": "gt1-overload",
                "kind": "threshold",
                "severity": "warning",
                "params": {"signal": "gt1.active_power", "op": "above", "value": 180.0},
            },
        )
        assert rule.status_code == 201, rule.text
    await stack.post(day_of_net_output(day=day))
    async with stack.client("api", "eps") as api:
        disputed = await api.post(
            "/v1/plants/nish/disputes",
            json={
                "period_start": local(day, EXPECTED_DISPUTE).isoformat(),
                "reason": "GT1 trip: meter check requested",
            },
        )
        assert disputed.status_code == 201, disputed.text
    await stack.post(hour_of_frequency(end=now, excursion_at=now - timedelta(minutes=22)))
    await stack.post(
        [
            reading("gt1.active_power", now - timedelta(seconds=1), 186.4),
            reading("gt2.active_power", now - timedelta(seconds=1), 164.8),
            reading("st1.active_power", now - timedelta(minutes=10), 171.2),  # stale
            reading("plant.net_output", now - timedelta(seconds=1), 481.3),
            reading("gt1.fuel_gas_flow", now - timedelta(seconds=1), 45210.0),
            reading("gt2.fuel_gas_flow", now - timedelta(seconds=1), 0.0, "bad"),  # Bad quality
        ]
    )

    async def firing() -> bool:
        return await stack.db.fetchval("SELECT count(*) FROM alerts WHERE state = 'firing'") == 1

    await eventually(firing, within_s=15)
    return Arranged(day, await stack.db.fetchval("SELECT id FROM alerts WHERE state = 'firing'"))


async def test_partner_sees_the_posted_latest_values_and_they_update_live(
    stack: Stack, arranged: Arranged, open_session: OpenSession
) -> None:
    s = await open_session()
    await s.sign_in(stack.tokens["eps"])
    assert s.page.url == f"{stack.api}/ui/plants/nish"
    row = s.page.locator('tr[data-signal="plant.net_output"]')
    await row.locator(".value", has_text="481.3").wait_for()
    assert await row.locator(".unit").inner_text() == "MW"
    assert await row.locator(".quality").inner_text() == "GOOD"
    assert await s.page.locator('tr[data-signal="gt2.fuel_gas_flow"]').get_attribute("data-severity") == "bad"
    stale = s.page.locator('tr[data-signal="st1.active_power"]')
    assert await stale.get_attribute("data-stale") == "true"
    assert "STALE" in await stale.locator(".quality").inner_text()
    assert await stale.locator(".age").inner_text() in ("10 min", "11 min")

    await stack.post([reading("plant.net_output", datetime.now(UTC), 455.55)])
    await row.locator(".value", has_text="455.6").wait_for(timeout=6000)  # over the SSE stream, no reload
    assert await s.page.locator("#live-status").inner_text() == "live"


async def test_day_view_colours_each_settlement_period_by_its_verdict(
    stack: Stack, arranged: Arranged, open_session: OpenSession
) -> None:
    s = await open_session()
    await s.sign_in(stack.tokens["eps"])
    await s.page.fill("#day-input", arranged.day.isoformat())
    await s.page.click("#day-form button[type=submit]")
    await s.page.wait_for_selector("#day[data-loaded=true]")
    cells = await s.page.eval_on_selector_all(
        "#period-strip .period",
        "cells => cells.map(c => [c.dataset.start, c.dataset.status, getComputedStyle(c).backgroundColor])",
    )
    by_local = {
        datetime.fromisoformat(start.replace("Z", "+00:00")).astimezone(TZ).time(): (status, rgb)
        for start, status, rgb in cells
    }
    assert len(cells) in (92, 96, 100)
    for at, verdict in EXPECTED.items():
        assert by_local[at] == (verdict, VERDICT_RGB[verdict]), at
    disputed = await s.page.eval_on_selector_all("#period-strip .has-dispute", "cs => cs.map(c => c.dataset.start)")
    assert [datetime.fromisoformat(d.replace("Z", "+00:00")).astimezone(TZ).time() for d in disputed] == [
        EXPECTED_DISPUTE
    ]
    link = s.page.locator("#period-links li.dispute-open a")
    assert (await link.get_attribute("href") or "").startswith("/v1/plants/nish/disputes/")
    api = await (
        await s.page.request.get(f"{stack.api}/v1/plants/nish/compliance?start={cells[0][0]}&end={cells[-1][0]}")
    ).json()
    shortfall = sum(-p["deviation_mwh"] for p in api["periods"] if (p["deviation_mwh"] or 0) < 0)
    shown = await s.page.inner_text("#kpi-shortfall")
    assert shown == f"{shortfall:,.1f} MWh" or abs(float(shown.split()[0].replace(",", "")) - shortfall) < 2.0
    assert float(shown.split()[0].replace(",", "")) > 100  # the trip's shortfall is visible


async def test_a_partner_of_another_plant_sees_nothing_of_this_plant(
    stack: Stack, arranged: Arranged, open_session: OpenSession
) -> None:
    s = await open_session()
    await s.sign_in(stack.tokens["acme"])
    assert s.page.url == f"{stack.api}/ui/plants/kostolac"
    assert await s.page.locator("nav.plants a").all_inner_texts() == ["kostolac"]
    response = await s.page.goto(f"{stack.api}/ui/plants/nish")
    assert response is not None and response.status == 404
    assert "net_output" not in await s.page.content()
    api = await s.page.request.get(f"{stack.api}/v1/plants/nish/signals")
    assert api.status == 403 and (await api.json())["error"]["code"] == "forbidden_plant"
    alerts = await s.page.request.get(f"{stack.api}/ui/plants/nish/alerts")
    assert alerts.status == 404 and (await alerts.json())["error"]["code"] == "unknown_plant"
    s.errors.clear()  # the 404 page itself is reported as a failed resource load


async def test_an_operator_acknowledges_a_firing_alert_from_the_page(
    stack: Stack, arranged: Arranged, open_session: OpenSession
) -> None:
    partner = await open_session()
    await partner.sign_in(stack.tokens["eps"])
    item = partner.page.locator(f'li[data-alert-id="{arranged.alert_id}"]')
    await item.wait_for()
    assert await item.locator("button").count() == 0  # partners see alerts of their plant, never an ack button

    s = await open_session()
    await s.sign_in(stack.tokens["operator"])
    assert await s.page.locator("nav.plants a").all_inner_texts() == ["kostolac", "nish"]  # operators see all
    await s.page.goto(f"{stack.api}/ui/plants/nish")
    item = s.page.locator(f'li[data-alert-id="{arranged.alert_id}"]')
    await item.locator(".evidence", has_text="186.4").wait_for()  # the evidence: the reading that fired it
    assert await stack.db.fetchval("SELECT acked_at FROM alerts WHERE id = $1", arranged.alert_id) is None
    await item.locator("button", has_text="Acknowledge").click()
    await item.locator(".alert-meta", has_text="acknowledged by ana-operator").wait_for()
    row = await stack.db.fetchrow("SELECT state, acked_by, acked_at FROM alerts WHERE id = $1", arranged.alert_id)
    assert row["state"] == "firing" and row["acked_by"] == "ana-operator" and row["acked_at"] is not None


async def test_sign_in_sets_a_strict_http_only_session_that_sign_out_and_revocation_end(
    stack: Stack, arranged: Arranged, open_session: OpenSession
) -> None:
    s = await open_session()
    await s.page.goto(f"{stack.api}/ui/login")
    await s.page.fill("#api_key", "bl_not-a-key")
    await s.page.click("#sign-in")
    assert "unknown or revoked" in await s.page.inner_text("#login-error")
    s.errors.clear()  # the refused sign-in answers 401

    await s.sign_in(stack.tokens["operator"])
    cookies = await s.context.cookies()
    assert [(c["name"], c["httpOnly"], c["sameSite"]) for c in cookies] == [("baseload_session", True, "Strict")]
    assert cookies[0]["expires"] > datetime.now(UTC).timestamp() + 3600
    assert stack.tokens["operator"] not in s.page.url and cookies[0]["value"] != stack.tokens["operator"]
    assert await stack.db.fetchval("SELECT count(*) FROM ui_sessions") >= 1
    await s.page.click("#sign-out")
    await s.page.wait_for_url(f"{stack.api}/ui/login")
    assert await s.context.cookies() == []
    assert (await s.page.request.get(f"{stack.api}/v1/plants")).status == 401

    await s.sign_in(stack.tokens["eps"])
    assert s.page.url.endswith("/ui/plants/nish")
    await s.page.goto("about:blank")  # no request of the dashboard in flight while the key is revoked
    await stack.db.execute("UPDATE api_keys SET revoked_at = now() WHERE name = 'eps-analyst'")
    try:
        await s.page.goto(f"{stack.api}/ui/plants/nish")
        assert s.page.url == f"{stack.api}/ui/login"
    finally:
        await stack.db.execute("UPDATE api_keys SET revoked_at = NULL WHERE name = 'eps-analyst'")


async def test_readable_at_tablet_width_and_the_readme_screenshot(
    stack: Stack, arranged: Arranged, open_session: OpenSession
) -> None:
    tablet = await open_session(viewport={"width": 820, "height": 1180})
    await tablet.sign_in(stack.tokens["operator"], then="/ui/plants/nish")
    await tablet.page.wait_for_selector("#frequency[data-loaded=true]")
    overflow = await tablet.page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{overflow}px of horizontal scrolling at tablet width"

    now = datetime.now(UTC)  # fresh live values for the picture (ST1 stays stale, GT2's fuel flow Bad)
    await stack.post(
        [
            reading(k, now, v)
            for k, v in (
                ("grid.frequency", 50.012),
                ("gt1.active_power", 186.4),
                ("gt2.active_power", 164.8),
                ("plant.net_output", 481.3),
                ("gt1.fuel_gas_flow", 45210.0),
            )
        ]
    )
    s = await open_session()
    await s.sign_in(stack.tokens["operator"], then=f"/ui/plants/nish?day={arranged.day.isoformat()}")
    await s.page.wait_for_selector("#day[data-loaded=true]")
    await s.page.wait_for_selector("#frequency[data-loaded=true]")
    await s.page.locator("#live-status", has_text="live").wait_for()
    hover = s.page.locator('tr[data-signal="plant.net_output"] .age')
    assert (await hover.get_attribute("title") or "").endswith("UTC")  # UTC on hover
    png = await s.page.screenshot(full_page=True)
    assert len(png) > 50_000, len(png)  # charts and tables rendered, not a blank page
    if os.environ.get("BASELOAD_UPDATE_SCREENSHOT") == "1":  # to refresh the README's image
        SCREENSHOT.write_bytes(png)
