"""The dashboard's HTTP edge on 127.0.0.1 without a browser: sign-in, CSRF and origin checks, the ack write, errors."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import aclosing
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg
import httpx
import pytest

from services.alerts import config_store
from services.api.app import create_app
from services.api.settings import Settings
from services.api.ui.session import SESSION_COOKIE, csrf_token
from tests.support import make_key, serving


@dataclass
class Ui:
    url: str
    db: asyncpg.Pool
    tokens: dict[str, str]

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.url, timeout=10, follow_redirects=False)

    async def signed_in(self, role: str) -> tuple[httpx.AsyncClient, str]:
        """A client holding a session cookie for `role`'s key, and the session's CSRF token."""
        client = self.client()
        response = await client.post("/ui/login", data={"api_key": self.tokens[role]}, headers={"Origin": self.url})
        assert response.status_code == 303 and response.headers["location"] == "/ui/"
        return client, csrf_token(client.cookies[SESSION_COOKIE])


@pytest.fixture
async def ui(database_url: str, db: asyncpg.Pool) -> AsyncIterator[Ui]:
    tokens = {
        "operator": await make_key(db, role="operator", name="ana"),
        "eps": await make_key(db, role="partner", name="eps-analyst", partner="eps"),
        "gateway": await make_key(db, role="gateway", name="gw"),
    }
    async with serving(create_app(Settings(database_url=database_url))) as url:
        yield Ui(url, db, tokens)


async def _firing_alerts(db: asyncpg.Pool, count: int) -> list[int]:
    rule = await db.fetchval(
        "INSERT INTO alert_rules (name, kind, severity, params) VALUES "
        "('gt1-hot', 'threshold', 'warning', '{}') RETURNING id"
    )
    since = datetime.now(UTC)
    return [
        await db.fetchval(
            "INSERT INTO alerts (rule_id, fingerprint, labels, state, firing_since, incident, notified_firing)"
            " VALUES ($1, $2, '{\"plant\": \"nish\"}', 'firing', $3, 1, true) RETURNING id",
            rule,
            f"fp{i}",
            since,
        )
        for i in range(count)
    ]


async def test_an_ack_from_the_dashboard_writes_what_the_alerts_service_writes(ui: Ui) -> None:
    ours, theirs = await _firing_alerts(ui.db, 2)
    client, csrf = await ui.signed_in("operator")
    async with aclosing(client):
        response = await client.post(
            f"/ui/alerts/{ours}/ack", json={"comment": "on it"}, headers={"Origin": ui.url, "X-CSRF-Token": csrf}
        )
    assert response.status_code == 200, response.text
    async with ui.db.acquire() as conn, conn.transaction():
        assert await config_store.set_ack(conn, theirs, "ana", "on it")
    columns = "state, acked_by, ack_comment, acked_at IS NOT NULL AS acked, incident, notified_firing, firing_since"
    rows = {r["id"]: r for r in await ui.db.fetch(f"SELECT id, {columns} FROM alerts")}
    assert dict(rows[ours]) | {"id": 0} == dict(rows[theirs]) | {"id": 0}
    assert rows[ours]["acked"] and rows[ours]["acked_by"] == "ana" and rows[ours]["state"] == "firing"


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({}, "cross_origin_request"),  # no Origin
        ({"Origin": "http://evil.example"}, "cross_origin_request"),
        ({"ORIGIN_OK": "", "X-CSRF-Token": "0" * 64}, "invalid_csrf_token"),
        ({"ORIGIN_OK": ""}, "invalid_csrf_token"),  # no token
    ],
)
async def test_an_ack_without_origin_and_csrf_token_changes_nothing(ui: Ui, headers: dict[str, str], code: str) -> None:
    [alert] = await _firing_alerts(ui.db, 1)
    if headers.pop("ORIGIN_OK", None) is not None:
        headers["Origin"] = ui.url
    client, _ = await ui.signed_in("operator")
    async with aclosing(client):
        response = await client.post(f"/ui/alerts/{alert}/ack", json={}, headers=headers)
    assert response.status_code == 403 and response.json()["error"]["code"] == code
    assert await ui.db.fetchval("SELECT acked_at FROM alerts WHERE id = $1", alert) is None


async def test_ack_errors_are_precise(ui: Ui) -> None:
    [alert] = await _firing_alerts(ui.db, 1)
    partner, partner_csrf = await ui.signed_in("eps")
    operator, csrf = await ui.signed_in("operator")
    async with aclosing(partner), aclosing(operator):
        refused = await partner.post(
            f"/ui/alerts/{alert}/ack", headers={"Origin": ui.url, "X-CSRF-Token": partner_csrf}
        )
        unknown = await operator.post("/ui/alerts/999999/ack", headers={"Origin": ui.url, "X-CSRF-Token": csrf})
        too_long = await operator.post(
            f"/ui/alerts/{alert}/ack", json={"comment": "x" * 501}, headers={"Origin": ui.url, "X-CSRF-Token": csrf}
        )
        await ui.db.execute("UPDATE alerts SET state = 'resolved' WHERE id = $1", alert)
        resolved = await operator.post(f"/ui/alerts/{alert}/ack", headers={"Origin": ui.url, "X-CSRF-Token": csrf})
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "forbidden_role")
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "unknown_alert")
    assert (too_long.status_code, too_long.json()["error"]["code"]) == (422, "invalid_request")
    assert (resolved.status_code, resolved.json()["error"]["code"]) == (409, "alert_not_firing")


async def test_sign_in_refuses_other_sites_gateway_keys_and_bad_forms(ui: Ui) -> None:
    async with ui.client() as client:
        cross = await client.post(
            "/ui/login", data={"api_key": ui.tokens["eps"]}, headers={"Origin": "http://evil.example"}
        )
        gateway = await client.post("/ui/login", data={"api_key": ui.tokens["gateway"]}, headers={"Origin": ui.url})
        wrong = await client.post("/ui/login", data={"api_key": "bl_nope"}, headers={"Origin": ui.url})
        as_json = await client.post("/ui/login", json={"api_key": ui.tokens["eps"]}, headers={"Origin": ui.url})
        assert SESSION_COOKIE not in client.cookies
    assert (cross.status_code, cross.json()["error"]["code"]) == (403, "cross_origin_request")
    assert gateway.status_code == 403 and "cannot sign in" in gateway.text
    assert wrong.status_code == 401 and "unknown or revoked" in wrong.text
    assert (as_json.status_code, as_json.json()["error"]["code"]) == (415, "unsupported_media_type")
    assert await ui.db.fetchval("SELECT count(*) FROM ui_sessions") == 0


async def test_the_session_cookie_is_strict_http_only_and_the_token_is_never_logged(
    ui: Ui, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client, _ = await ui.signed_in("eps")
    async with aclosing(client):
        page = await client.get("/ui/plants/nish")
        api = await client.get("/v1/plants")
    async with ui.client() as bare:
        login = await bare.post("/ui/login", data={"api_key": ui.tokens["eps"]}, headers={"Origin": ui.url})
    cookie = login.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Max-Age=43200" in cookie and "Path=/" in cookie
    assert ui.tokens["eps"] not in cookie and ui.tokens["eps"] not in login.headers["location"]
    assert page.status_code == 200 and "default-src 'self'" in page.headers["content-security-policy"]
    assert ui.tokens["eps"] not in page.text
    assert api.status_code == 200 and [p["key"] for p in api.json()["plants"]] == ["nish"]
    assert ui.tokens["eps"] not in caplog.text


async def test_expired_sessions_and_sign_out_end_access(ui: Ui) -> None:
    client, csrf = await ui.signed_in("eps")
    async with aclosing(client):
        assert (await client.get("/v1/plants")).status_code == 200
        await ui.db.execute("UPDATE ui_sessions SET expires_at = $1", datetime(2000, 1, 1, tzinfo=UTC))
        expired = await client.get("/v1/plants")
        page = await client.get("/ui/plants/nish")
    assert expired.status_code == 401 and expired.json()["error"]["code"] == "missing_credentials"
    assert page.status_code == 303 and page.headers["location"] == "/ui/login"
    client, csrf = await ui.signed_in("eps")
    async with aclosing(client):
        stale = await client.post("/ui/logout", data={"csrf_token": "x"}, headers={"Origin": ui.url})
        out = await client.post("/ui/logout", data={"csrf_token": csrf}, headers={"Origin": ui.url})
    assert stale.status_code == 403
    assert out.status_code == 303 and out.headers["location"] == "/ui/login"
    assert await ui.db.fetchval("SELECT count(*) FROM ui_sessions WHERE expires_at > now()") == 0


async def test_a_session_cookie_does_not_override_a_bearer_token(ui: Ui) -> None:
    client, _ = await ui.signed_in("operator")
    async with aclosing(client):
        as_gateway = await client.get("/v1/plants", headers={"Authorization": f"Bearer {ui.tokens['gateway']}"})
    assert as_gateway.status_code == 403 and as_gateway.json()["error"]["code"] == "forbidden_role"


async def test_the_session_cookie_reads_but_never_changes_state_through_the_json_api(ui: Ui) -> None:
    client, _ = await ui.signed_in("eps")
    async with aclosing(client):
        listed = await client.get("/v1/plants/nish/disputes")
        opened = await client.post(
            "/v1/plants/nish/disputes",
            headers={"Origin": ui.url},
            json={"period_start": "2026-11-25T10:00:00Z", "reason": "a forged request riding on the cookie"},
        )
    assert listed.status_code == 200 and listed.json()["disputes"] == []
    assert opened.status_code == 401 and opened.json()["error"]["code"] == "missing_credentials"
    assert await ui.db.fetchval("SELECT count(*) FROM disputes") == 0
