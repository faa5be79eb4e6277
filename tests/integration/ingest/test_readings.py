"""POST /v1/readings against real PostgreSQL over real HTTP."""

from __future__ import annotations

import asyncio
import gzip
import json
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx

from shared import quality
from tests.integration.ingest.conftest import Ingest
from tests.support import make_key

NOW = datetime.now(UTC).replace(microsecond=0)


def iso(ts: datetime) -> str:
    return ts.isoformat().replace("+00:00", "Z")


def reading(
    signal: str = "gt1.active_power", *, at: datetime | None = None, value: float = 160.0, q: int | str | None = None
) -> dict:
    body = {"signal": signal, "ts": iso(at or NOW), "value": value}
    if q is not None:
        body["quality"] = q
    return body


async def test_a_batch_is_stored_and_counted(ingest: Ingest, db: asyncpg.Pool) -> None:
    batch = [reading(at=NOW - timedelta(seconds=i), value=150 + i) for i in range(10)]
    batch.append(reading("grid.frequency", value=49.98, q="uncertain"))
    response = await ingest.post(batch)
    assert response.status_code == 200, response.text
    assert response.json() == {"accepted": 11, "duplicates": 0, "rejected": []}
    rows = await db.fetch(
        "SELECT s.key, r.ts, r.value, r.quality FROM readings r JOIN signals s ON s.id = r.signal_id"
        " ORDER BY s.key, r.ts"
    )
    assert len(rows) == 11
    freq = rows[0]  # "grid.frequency" sorts first
    assert (freq["key"], freq["value"], quality.from_db(freq["quality"])) == ("grid.frequency", 49.98, 0x40000000)


async def test_every_bad_reading_is_rejected_alone_and_the_rest_stored(ingest: Ingest, db: asyncpg.Pool) -> None:
    batch = [
        reading(value=100.0),  # 0 good
        reading("no.such_signal"),  # 1
        {"signal": "gt1.active_power", "ts": iso(NOW - timedelta(seconds=1)), "value": 7.25e-7},  # 2 → 1e999
        reading(value=900.0, at=NOW - timedelta(seconds=2)),  # 3 outside [-10, 200]
        reading(at=NOW + timedelta(hours=1)),  # 4 future
        reading(at=NOW - timedelta(days=4000)),  # 5 before retention
        reading(at=NOW - timedelta(seconds=3), q="excellent"),  # 6
        reading(at=NOW - timedelta(seconds=4), q=2**32),  # 7 not a uint32
        {"signal": "gt1.active_power", "ts": "yesterday", "value": 1.0},  # 8
        {"signal": "gt1.active_power", "ts": "2026-11-25T10:00:00", "value": 1.0},  # 9 no offset
        {"signal": "gt1.active_power", "ts": iso(NOW), "value": "high"},  # 10
        {"signal": "gt1.active_power", "value": 1.0},  # 11 no ts
        reading(value=900.0, at=NOW - timedelta(seconds=5), q="bad"),  # 12 Bad: range not checked
        "not an object",  # 13
    ]
    # JSON has no infinity, but 1e999 is valid JSON that overflows a float64: write it by hand.
    raw = json.dumps({"readings": batch}).replace("7.25e-07", "1e999").encode()
    response = await ingest.client.post(
        "/v1/readings",
        content=raw,
        headers={"Authorization": f"Bearer {ingest.token}", "Content-Type": "application/json"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    codes = {r["index"]: r["code"] for r in body["rejected"]}
    assert codes == {
        1: "unknown_signal",
        2: "non_finite_value",
        3: "out_of_range",
        4: "future_timestamp",
        5: "too_old",
        6: "invalid_quality",
        7: "invalid_quality",
        8: "invalid_timestamp",
        9: "invalid_timestamp",
        10: "invalid_value",
        11: "invalid_reading",
        13: "invalid_reading",
    }
    assert all(r["message"] for r in body["rejected"])
    assert (body["accepted"], body["duplicates"]) == (2, 0)
    assert await db.fetchval("SELECT count(*) FROM readings") == 2


async def test_retried_batch_stores_nothing_twice(ingest: Ingest, db: asyncpg.Pool) -> None:
    batch = [reading(at=NOW - timedelta(seconds=i), value=float(i)) for i in range(100)]
    first = await ingest.post(batch)
    second = await ingest.post(batch)
    assert first.json()["accepted"] == 100
    assert second.json() == {"accepted": 0, "duplicates": 100, "rejected": []}
    assert await db.fetchval("SELECT count(*) FROM readings") == 100
    assert await db.fetchval("SELECT sum(count) FROM rollups_1m") == 100
    # The first batch was live data (append path); the retry looked older than what is stored (dedup path).
    metrics = (await ingest.client.get("/metrics")).text
    assert 'baseload_ingest_write_path_total{path="append"} 1.0' in metrics
    assert 'baseload_ingest_write_path_total{path="dedup"} 1.0' in metrics


async def test_live_batch_colliding_with_a_write_unseen_by_this_process_falls_back(
    ingest: Ingest, db: asyncpg.Pool
) -> None:
    from services.ingest.store import write_readings

    sig = await db.fetchval("SELECT id FROM signals WHERE key = 'gt1.active_power'")
    async with db.acquire() as conn:  # another writer (a second replica, say) stored a reading at NOW
        await write_readings(conn, [(sig, NOW, 140.0, 0)])
    response = await ingest.post([reading(at=NOW, value=140.0), reading(at=NOW + timedelta(seconds=1), value=141.0)])
    assert response.json() == {"accepted": 1, "duplicates": 1, "rejected": []}
    assert await db.fetchval("SELECT sum(count) FROM rollups_1m") == 2
    metrics = (await ingest.client.get("/metrics")).text
    assert 'baseload_ingest_write_path_total{path="dedup"} 1.0' in metrics


async def test_duplicates_within_a_batch_keep_the_first_and_flag_changed_values(
    ingest: Ingest, db: asyncpg.Pool
) -> None:
    same = reading(value=120.0)
    changed = reading(value=121.0)
    response = await ingest.post([same, same, changed])
    body = response.json()
    assert (body["accepted"], body["duplicates"]) == (1, 1)
    assert [(r["index"], r["code"]) for r in body["rejected"]] == [(2, "conflicting_value")]
    assert await db.fetchval("SELECT value FROM readings") == 120.0


async def test_idempotency_key_returns_the_original_response(ingest: Ingest, db: asyncpg.Pool) -> None:
    batch = [reading(value=130.0), reading("no.such_signal")]
    first = await ingest.post(batch, **{"Idempotency-Key": "batch-42"})
    again = await ingest.post(batch, **{"Idempotency-Key": "batch-42"})
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json() and first.json()["accepted"] == 1
    assert again.headers["Idempotent-Replayed"] == "true"
    other = await ingest.post([reading(value=131.0)], **{"Idempotency-Key": "batch-42"})
    assert other.status_code == 422 and other.json()["error"]["code"] == "idempotency_key_reused"
    assert await db.fetchval("SELECT count(*) FROM readings") == 1


async def test_concurrent_retries_with_one_idempotency_key_write_once(ingest: Ingest, db: asyncpg.Pool) -> None:
    batch = [reading(at=NOW - timedelta(seconds=i), value=i / 10) for i in range(500)]
    replies = await asyncio.gather(*(ingest.post(batch, **{"Idempotency-Key": "k"}) for _ in range(4)))
    assert {json.dumps(r.json(), sort_keys=True) for r in replies} == {
        json.dumps({"accepted": 500, "duplicates": 0, "rejected": []}, sort_keys=True)
    }
    assert sorted(r.headers.get("Idempotent-Replayed", "") for r in replies) == ["", "true", "true", "true"]
    assert await db.fetchval("SELECT count(*) FROM readings") == 500


async def test_gzip_bodies_are_accepted(ingest: Ingest, db: asyncpg.Pool) -> None:
    body = gzip.compress(json.dumps({"readings": [reading(value=99.5)]}).encode())
    response = await ingest.client.post(
        "/v1/readings",
        content=body,
        headers={
            "Authorization": f"Bearer {ingest.token}",
            "Content-Encoding": "gzip",
            "Content-Type": "application/json",
        },
    )
    assert response.json()["accepted"] == 1
    broken = await ingest.client.post(
        "/v1/readings",
        content=body[:-8],
        headers={"Authorization": f"Bearer {ingest.token}", "Content-Encoding": "gzip"},
    )
    assert broken.status_code == 400 and broken.json()["error"]["code"] == "invalid_gzip"
    odd = await ingest.client.post(
        "/v1/readings", content=body, headers={"Authorization": f"Bearer {ingest.token}", "Content-Encoding": "br"}
    )
    assert odd.status_code == 415


async def test_malformed_bodies_store_nothing(ingest: Ingest, db: asyncpg.Pool) -> None:
    auth = {"Authorization": f"Bearer {ingest.token}"}
    not_json = await ingest.client.post("/v1/readings", content=b"{readings: oops", headers=auth)
    assert not_json.status_code == 400 and not_json.json()["error"]["code"] == "invalid_json"
    wrong_shape = await ingest.client.post("/v1/readings", json={"data": [reading()]}, headers=auth)
    assert wrong_shape.status_code == 422 and wrong_shape.json()["error"]["code"] == "invalid_batch"
    assert set(wrong_shape.json()["error"]) == {"code", "message", "details"}
    assert await db.fetchval("SELECT count(*) FROM readings") == 0


async def test_too_many_readings_is_413(database_url: str, db: asyncpg.Pool) -> None:
    from services.ingest.app import create_app
    from services.ingest.settings import Settings
    from tests.support import serving

    token = await make_key(db)
    app = create_app(Settings(database_url=database_url, max_readings_per_request=10))
    async with serving(app) as url, httpx.AsyncClient(base_url=url) as client:
        response = await client.post(
            "/v1/readings",
            headers={"Authorization": f"Bearer {token}"},
            json={"readings": [reading(at=NOW - timedelta(seconds=i)) for i in range(11)]},
        )
    assert response.status_code == 413 and response.json()["error"]["code"] == "too_many_readings"
    assert await db.fetchval("SELECT count(*) FROM readings") == 0


async def test_auth_missing_wrong_revoked_and_wrong_role(ingest: Ingest, db: asyncpg.Pool) -> None:
    body = {"readings": [reading()]}
    missing = await ingest.client.post("/v1/readings", json=body)
    wrong = await ingest.client.post("/v1/readings", json=body, headers={"Authorization": "Bearer bl_nope"})
    operator = await make_key(db, role="operator", name="op")
    role = await ingest.client.post("/v1/readings", json=body, headers={"Authorization": f"Bearer {operator}"})
    revoked_token = await make_key(db, role="gateway", name="old-gw")
    await db.execute("UPDATE api_keys SET revoked_at = now() WHERE name = 'old-gw'")
    revoked = await ingest.client.post("/v1/readings", json=body, headers={"Authorization": f"Bearer {revoked_token}"})
    assert [r.status_code for r in (missing, wrong, role, revoked)] == [401, 401, 403, 401]
    assert [r.json()["error"]["code"] for r in (missing, wrong, role, revoked)] == [
        "missing_credentials",
        "invalid_credentials",
        "forbidden_role",
        "invalid_credentials",
    ]
    assert await db.fetchval("SELECT count(*) FROM readings") == 0


async def test_backfills_get_partitions_on_demand(ingest: Ingest, db: asyncpg.Pool) -> None:
    old = datetime(2021, 3, 14, 1, 59, 26, tzinfo=UTC)
    response = await ingest.post([reading(at=old), reading(at=old + timedelta(days=400))])
    assert response.json()["accepted"] == 2
    for day in ("20210314", "20220418"):
        assert await db.fetchval("SELECT to_regclass($1) IS NOT NULL", f"readings_{day}")
    assert not await db.fetchval("SELECT to_regclass('readings_20210315') IS NOT NULL")  # sparse, not the gap


async def test_a_commit_notifies_the_touched_signals_and_range(ingest: Ingest, database_url: str) -> None:
    conn = await asyncpg.connect(database_url)
    received: asyncio.Queue[str] = asyncio.Queue()
    await conn.add_listener("baseload_readings", lambda *args: received.put_nowait(args[-1]))
    try:
        t0 = NOW - timedelta(seconds=30)
        await ingest.post([reading(at=t0), reading("grid.frequency", at=NOW, value=50.01)])
        payload = json.loads(await asyncio.wait_for(received.get(), 5))
    finally:
        await conn.close()
    ids = await asyncpg.connect(database_url)
    try:
        expected = sorted(
            await ids.fetchval("SELECT array_agg(id) FROM signals WHERE key IN ('gt1.active_power', 'grid.frequency')")
        )
    finally:
        await ids.close()
    assert payload["signal_ids"] == expected
    assert datetime.fromisoformat(payload["start"]) == t0 and datetime.fromisoformat(payload["end"]) == NOW


async def test_gateway_last_seen_is_recorded(ingest: Ingest, db: asyncpg.Pool) -> None:
    assert await db.fetchval("SELECT last_seen_at FROM api_keys WHERE name = 'gw-test'") is None
    await ingest.post([reading()])
    assert await db.fetchval("SELECT last_seen_at FROM api_keys WHERE name = 'gw-test'") is not None


async def test_metrics_count_readings_by_gateway(ingest: Ingest) -> None:
    await ingest.post([reading(), reading("nope.nope")])
    text = (await ingest.client.get("/metrics")).text
    assert 'baseload_ingest_readings_total{gateway="gw-test",outcome="accepted"} 1.0' in text
    assert 'baseload_ingest_readings_total{gateway="gw-test",outcome="rejected"} 1.0' in text
    assert "baseload_ingest_batch_seconds_bucket" in text
    assert (await ingest.client.get("/readyz")).status_code == 200


async def test_partitions_ahead_are_created_at_start_up(database_url: str, db: asyncpg.Pool) -> None:
    from services.ingest.app import create_app
    from services.ingest.settings import Settings
    from tests.support import serving

    ahead = f"readings_{(datetime.now(UTC) + timedelta(days=9)).strftime('%Y%m%d')}"
    assert not await db.fetchval("SELECT to_regclass($1) IS NOT NULL", ahead)
    async with serving(create_app(Settings(database_url=database_url, partitions_ahead_days=10))):
        for _ in range(100):
            if await db.fetchval("SELECT to_regclass($1) IS NOT NULL", ahead):
                break
            await asyncio.sleep(0.05)
    assert await db.fetchval("SELECT to_regclass($1) IS NOT NULL", ahead)


async def test_a_gzip_bomb_is_refused_without_decoding_it_all(database_url: str, db: asyncpg.Pool) -> None:
    from services.ingest.app import create_app
    from services.ingest.settings import Settings
    from tests.support import serving

    token = await make_key(db)
    bomb = gzip.compress(b"[" + b" " * 5_000_000 + b"]")  # 5 MB of spaces in ~5 kB
    async with (
        serving(create_app(Settings(database_url=database_url, max_body_bytes=1_000_000))) as url,
        httpx.AsyncClient(base_url=url) as client,
    ):
        response = await client.post(
            "/v1/readings", content=bomb, headers={"Authorization": f"Bearer {token}", "Content-Encoding": "gzip"}
        )
    assert len(bomb) < 10_000
    assert response.status_code == 413 and response.json()["error"]["code"] == "payload_too_large"


async def test_a_subnormal_value_is_refused_alone_and_never_reaches_the_rollup_fold(
    ingest: Ingest, db: asyncpg.Pool
) -> None:
    # PostgreSQL refuses float8 products that underflow to 0 (1e-320 × a step in seconds): before this check such a
    # reading was a 500 on the de-duplicating path. Posted twice so the retry takes that path.
    batch = [
        reading(at=NOW - timedelta(seconds=3), value=150.0),
        reading(at=NOW - timedelta(seconds=2), value=1e-320, q="bad"),  # Bad: the range check is skipped
        reading(at=NOW - timedelta(seconds=1), value=-5e-324),
        reading(at=NOW, value=0.0),
    ]
    for attempt in range(2):
        response = await ingest.post(batch)
        assert response.status_code == 200, response.text
        body = response.json()
        assert [(r["index"], r["code"]) for r in body["rejected"]] == [(1, "invalid_value"), (2, "invalid_value")]
        assert "subnormal" in body["rejected"][0]["message"]
        assert (body["accepted"], body["duplicates"]) == ((2, 0) if attempt == 0 else (0, 2))
    assert [r["value"] for r in await db.fetch("SELECT value FROM readings ORDER BY ts")] == [150.0, 0.0]
