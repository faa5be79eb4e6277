"""Signed statements end to end: issued from data posted through ingest, read by both partners, verified with an
independent JOSE library (jwcrypto), restated on late data, and checked against the database by `ledger verify`."""

from __future__ import annotations

import asyncio
import hashlib
import json
from datetime import UTC, datetime, timedelta

import pytest
import rfc8785
from jwcrypto import jwk, jws

from services.api.disputes.outbox import create_endpoint
from services.api.settings import Settings
from services.api.statements import ledger, store
from shared.ledger.chain import check_chain
from shared.ledger.keys import add_key, load_keyring
from shared.quality import from_db
from tests.integration.api.conftest import running_api
from tests.integration.api.profiles import series
from tests.integration.statements.conftest import Env

T0 = datetime(2026, 6, 1, 10, 0, tzinfo=UTC)
AFTER_DAY = datetime(2026, 6, 3, 0, 0, tzinfo=UTC)  # every period of 1 June (local) closed, with the late window
RANGE = {"start": "2026-05-31T12:00:00Z", "end": "2026-06-02T00:00:00Z"}


def jwcrypto_verify(token: str, jwks: dict) -> dict:
    """Verification by a JOSE library Baseload does not use for signing."""
    obj = jws.JWS()
    obj.deserialize(token)
    kid = obj.jose_header["kid"]
    key = jwk.JWK(**next(k for k in jwks["keys"] if k["kid"] == kid))
    obj.verify(key, alg="EdDSA")
    return json.loads(obj.payload)


async def _digest_by_hand(env: Env, payload: dict) -> str:
    """The README's digest recipe, computed here from SQL rows with rfc8785 and hashlib only: the readings inside the
    period, the two before it and the first after it, ordered by signal then ts."""
    start, end = datetime.fromisoformat(payload["period_start"]), datetime.fromisoformat(payload["period_end"])
    rows = []
    for key in sorted(payload["readings"]["signals"], key=str.encode):
        base = (
            "SELECT r.ts, r.value, r.quality FROM readings r JOIN signals s ON s.id = r.signal_id WHERE s.key = $1 AND "
        )
        before = await env.api.db.fetch(base + "r.ts < $2 ORDER BY r.ts DESC LIMIT 2", key, start)
        inside = await env.api.db.fetch(base + "r.ts >= $2 AND r.ts < $3 ORDER BY r.ts", key, start, end)
        after = await env.api.db.fetch(base + "r.ts >= $2 ORDER BY r.ts LIMIT 1", key, end)
        rows += [(key, r) for r in [*reversed(before), *inside, *after]]
    h = hashlib.sha256()
    for key, r in rows:
        ts = r["ts"].astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        h.update(rfc8785.dumps([key, ts, r["value"], from_db(r["quality"])]) + b"\n")
    return "sha256:" + h.hexdigest()


async def test_closed_periods_are_signed_served_identically_and_verify_independently(env: Env) -> None:
    await env.post("plant.net_output", series(T0, 1800, lambda i: 470.0 + (i % 7), step_s=10))
    assert await env.scan(T0 + timedelta(minutes=30)) == 0  # nothing has closed yet (late-data window: 1 h)
    assert await env.scan(AFTER_DAY) == 3  # two 15-minute periods and the plant-local day

    eps = await env.api.get("/v1/plants/nish/statements", role="eps", **RANGE)
    socar = await env.api.get("/v1/plants/nish/statements", role="socar", **RANGE)
    assert eps.status_code == 200 and eps.content == socar.content
    statements = eps.json()["statements"]
    assert [(s["kind"], s["period_start"]) for s in statements] == [
        ("day", "2026-05-31T22:00:00.000000Z"),
        ("period", "2026-06-01T10:00:00.000000Z"),
        ("period", "2026-06-01T10:15:00.000000Z"),
    ]

    jwks = await env.api.json("/v1/plants/nish/signing-keys", role="socar")
    assert all("d" not in k for k in jwks["keys"])
    compliance = await env.api.json(
        "/v1/plants/nish/compliance", role="eps", start="2026-06-01T10:00:00Z", end="2026-06-01T10:30:00Z"
    )
    for s, expected in zip(statements[1:], compliance["periods"], strict=True):
        payload = jwcrypto_verify(s["jws"], jwks)
        assert payload == s["payload"]
        assert payload["delivered_mw"] == expected["delivered_mw"]
        assert payload["deviation_mwh"] == expected["deviation_mwh"]
        assert payload["status"] == expected["status"] and payload["coverage"] == expected["coverage"]
        assert payload["readings_digest"] == await _digest_by_hand(env, payload)
    day = jwcrypto_verify(statements[0]["jws"], jwks)
    assert [p["delivered_mw"] for p in day["periods"] if p["status"] != "no_commitment" and p["coverage"]] == [
        p["delivered_mw"] for p in compliance["periods"]
    ]


async def test_one_altered_byte_fails_and_the_chain_detects_a_removed_statement(env: Env) -> None:
    await env.post("plant.net_output", series(T0, 2700, lambda i: 480.0, step_s=10))
    await env.scan(AFTER_DAY)
    jwks = await env.api.json("/v1/plants/nish/signing-keys", role="eps")
    statements = await env.statements(**RANGE)
    token = statements[1]["jws"]
    header, body, signature = token.split(".")
    altered = body[:10] + ("A" if body[10] != "A" else "B") + body[11:]
    # (not the signature's last character: it carries 2 bits plus padding that decoders ignore)
    forged = signature[:10] + ("A" if signature[10] != "A" else "B") + signature[11:]
    for bad in (f"{header}.{altered}.{signature}", f"{header}.{body}.{forged}"):
        with pytest.raises((jws.InvalidJWSSignature, jws.InvalidJWSObject, ValueError)):
            jwcrypto_verify(bad, jwks)
        refused = await env.api.client.post(
            "/v1/plants/nish/statements/verify",
            content=bad,
            headers={"Authorization": f"Bearer {env.api.tokens['eps']}"},
        )
        assert refused.status_code == 422 and refused.json()["error"]["code"] in (
            "bad_signature",
            "malformed_statement",
        )
    chain = sorted(((s["hash"], s["payload"]) for s in statements), key=lambda x: x[1]["sequence"])
    assert check_chain(chain) is None
    broken = check_chain(chain[:1] + chain[2:])
    assert broken is not None and "missing" in broken.message


async def test_late_data_makes_revision_2_and_as_of_returns_revision_1(env: Env) -> None:
    await env.post("plant.net_output", series(T0, 900, lambda i: 480.0 if i < 60 else 0.0, step_s=10)[:60])
    await env.scan(datetime.now(UTC))  # batches are stamped with the database's clock: scan on the same one
    first = (await env.statements(kind="period", **RANGE))[0]
    assert first["revision"] == 1 and first["payload"]["coverage"] < 0.75
    published_at = datetime.fromisoformat(first["issued_at"])

    plant_id = await env.api.db.fetchval("SELECT id FROM plants WHERE key = 'nish'")
    async with env.api.db.acquire() as conn:
        for partner in ("eps", "socar"):
            await create_endpoint(
                conn,
                plant_id=plant_id,
                partner=partner,
                name=f"{partner}-hook",
                url=f"http://127.0.0.1:9/{partner}",
                event_types=["statement.restated"],
                secret="whsec_" + "A" * 32,
            )
    await env.post("plant.net_output", series(T0 + timedelta(minutes=10), 300, lambda i: 400.0, step_s=10))
    await env.scan(datetime.now(UTC))
    revisions = (await env.api.json(f"/v1/plants/nish/statements/{first['period_start']}", role="socar"))["revisions"]
    assert [r["revision"] for r in revisions] == [2, 1]
    restatement = revisions[0]["payload"]["restatement"]
    assert restatement["reason"] == "late data" and restatement["replaces"] == first["hash"]
    changed = {c["field"]: c for c in restatement["changes"]}
    assert changed["delivered_mw"]["old"] == first["payload"]["delivered_mw"]
    assert changed["delivered_mw"]["new"] == revisions[0]["payload"]["delivered_mw"] != changed["delivered_mw"]["old"]
    assert "readings_digest" in changed and restatement["ingest_batches"]
    outbox = await env.api.db.fetch(
        "SELECT e.partner, o.body FROM webhook_outbox o JOIN webhook_endpoints e ON e.id = o.endpoint_id"
        " WHERE o.event_type = 'statement.restated' ORDER BY o.id"
    )
    period_events = {
        r["partner"]: json.loads(r["body"])["data"] for r in outbox if json.loads(r["body"])["data"]["kind"] == "period"
    }
    assert set(period_events) == {"eps", "socar"}  # both partners are told, in the restatement's transaction
    assert all(e["revision"] == 2 and e["jws"] == revisions[0]["jws"] for e in period_events.values())

    assert datetime.fromisoformat(revisions[0]["issued_at"]) > published_at
    as_of = await env.statements(kind="period", as_of=first["issued_at"], **RANGE)
    assert as_of[0]["revision"] == 1 and as_of[0]["jws"] == first["jws"]
    assert (await env.statements(kind="period", **RANGE))[0]["revision"] == 2
    days = [s for s in await env.statements(kind="day", **RANGE)]
    assert days[0]["revision"] == 2  # the day that holds the period is restated with it


async def test_ledger_verify_names_a_reading_changed_with_plain_sql(env: Env) -> None:
    await env.post("plant.net_output", series(T0, 1800, lambda i: 480.0, step_s=10))
    await env.scan(AFTER_DAY)
    async with env.api.db.acquire() as conn:
        clean = await ledger.verify_ledger(conn, env.ctx)
        assert clean.mismatch is None and clean.checked == 3 and clean.recomputed == 3
        await conn.execute("UPDATE readings SET value = 479.0 WHERE ts = $1", T0 + timedelta(minutes=20))
        tampered = await ledger.verify_ledger(conn, env.ctx, plant_key="nish")
    assert tampered.mismatch is not None
    assert tampered.mismatch.kind == "day" or tampered.mismatch.period_start == T0 + timedelta(minutes=15)
    assert "readings_digest" in tampered.mismatch.problem or "delivered_mw" in tampered.mismatch.problem


async def test_after_a_key_rotation_old_and_new_statements_verify_with_the_published_jwks(env: Env) -> None:
    await env.post("plant.net_output", series(T0, 900, lambda i: 480.0, step_s=10))
    await env.scan(AFTER_DAY)
    new = add_key(env.key_file, datetime.now(UTC))
    env.ctx.keyring = load_keyring(env.key_file)
    await store.register_keys(env.api.db, env.ctx.keyring.public_jwks()["keys"])  # what the api does at start
    await env.post("plant.net_output", series(T0 + timedelta(days=3), 900, lambda i: 470.0, step_s=10))
    await env.scan(AFTER_DAY + timedelta(days=3))
    statements = await env.statements(kind="period", start="2026-06-01T00:00:00Z", end="2026-06-05T00:00:00Z")
    jwks = await env.api.json("/v1/plants/nish/signing-keys", role="eps")
    assert len(jwks["keys"]) == 2
    kids = [s["kid"] for s in statements]
    assert kids[-1] == new.kid != kids[0]
    for s in statements:
        assert jwcrypto_verify(s["jws"], jwks) == s["payload"]


async def test_the_api_issues_statements_by_itself_once_a_key_file_exists(env: Env) -> None:
    await env.post("plant.net_output", series(T0, 900, lambda i: 480.0, step_s=10))
    settings = Settings(database_url=env.database_url, signing_key_file=env.key_file, statements_every_s=0.2)
    async with running_api(settings, env.api.db, env.api.tokens) as api:
        deadline = asyncio.get_running_loop().time() + 15
        while not (await api.json("/v1/plants/nish/statements", role="eps", **RANGE))["statements"]:
            assert asyncio.get_running_loop().time() < deadline, "no statement issued within 15 s"
            await asyncio.sleep(0.2)
    got = await env.statements(**RANGE)
    assert {(s["kind"], s["period_start"]) for s in got} == {
        ("period", "2026-06-01T10:00:00.000000Z"),
        ("day", "2026-05-31T22:00:00.000000Z"),
    }
