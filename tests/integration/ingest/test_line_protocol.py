"""InfluxDB line protocol over HTTP: /write (v1) and /api/v2/write, as Telegraf and the client libraries post."""

from __future__ import annotations

import base64
import gzip
from datetime import UTC, datetime, timedelta

import asyncpg

from tests.integration.ingest.conftest import Ingest

NOW = datetime.now(UTC).replace(microsecond=0)


def seconds(ts: datetime) -> int:
    return int(ts.timestamp())


async def stored(db: asyncpg.Pool) -> list[tuple[str, datetime, float, int]]:
    rows = await db.fetch("SELECT s.key, r.ts, r.value, r.quality FROM readings r JOIN signals s ON s.id = r.signal_id"
                          " ORDER BY r.ts, s.key")
    return [(r["key"], r["ts"], r["value"], r["quality"]) for r in rows]


async def test_v2_write_stores_every_field_and_answers_204(ingest: Ingest, db: asyncpg.Pool) -> None:
    t = NOW - timedelta(seconds=10)
    body = f"gt1,unit=GT1 active_power=161.5,fuel_gas_flow=42000i {seconds(t)}\ngrid frequency=49.97 {seconds(t) + 1}"
    response = await ingest.client.post("/api/v2/write", params={"org": "nish", "bucket": "scada", "precision": "s"},
                                        content=body, headers={"Authorization": f"Token {ingest.token}"})
    assert response.status_code == 204, response.text
    assert await stored(db) == [
        ("gt1.active_power", t, 161.5, 0), ("gt1.fuel_gas_flow", t, 42000.0, 0),
        ("grid.frequency", t + timedelta(seconds=1), 49.97, 0),
    ]


async def test_v1_write_takes_the_token_as_p_or_basic_auth_and_gzip(ingest: Ingest, db: asyncpg.Pool) -> None:
    t = NOW - timedelta(seconds=5)
    first = await ingest.client.post("/write", params={"db": "scada", "p": ingest.token, "precision": "ms"},
                                     content=f"st1 active_power=170 {int(t.timestamp() * 1000)}")
    basic = base64.b64encode(f"telegraf:{ingest.token}".encode()).decode()
    line = f"st1 active_power=171 {seconds(t) + 1}000000000".encode()
    second = await ingest.client.post(
        "/write", params={"db": "scada"}, content=gzip.compress(line),
        headers={"Authorization": f"Basic {basic}", "Content-Encoding": "gzip"})
    assert (first.status_code, second.status_code) == (204, 204)
    assert [(k, v) for k, _, v, _ in await stored(db)] == [("st1.active_power", 170.0), ("st1.active_power", 171.0)]


async def test_quality_field_applies_to_the_lines_values(ingest: Ingest, db: asyncpg.Pool) -> None:
    response = await ingest.client.post("/api/v2/write", params={"precision": "s"},
                                        content=f"grid frequency=0,quality=2156527616i {seconds(NOW)}",
                                        headers={"Authorization": f"Token {ingest.token}"})
    assert response.status_code == 204, response.text
    # BadNotConnected 0x808A0000 stored as the same bits in int4; a Bad value skips the range check.
    assert await stored(db) == [("grid.frequency", NOW, 0.0, 0x808A0000 - 2**32)]


async def test_partial_write_stores_good_lines_and_names_the_bad_ones(ingest: Ingest, db: asyncpg.Pool) -> None:
    body = "\n".join([
        f"gt1 active_power=150 {seconds(NOW)}",
        "gt1 active_power=",                                 # 2: syntax
        f"gt9 active_power=1 {seconds(NOW)}",                # 3: unknown signal
        f"gt2 active_power=151 {seconds(NOW)}",
        f'gt2 note="hi" {seconds(NOW)}',                     # 5: string
    ])
    response = await ingest.client.post("/api/v2/write", params={"precision": "s"}, content=body,
                                        headers={"Authorization": f"Token {ingest.token}"})
    assert response.status_code == 400
    payload = response.json()
    assert payload["code"] == "invalid" and payload["line"] == 2
    assert "line 2" in payload["message"] and "line 3" in payload["message"] and "line 5" in payload["message"]
    assert [d["line"] for d in payload["error"]["details"]["lines"]] == [2, 3, 5]
    assert [k for k, *_ in await stored(db)] == ["gt1.active_power", "gt2.active_power"]


async def test_missing_timestamp_is_the_server_time(ingest: Ingest, db: asyncpg.Pool) -> None:
    before = datetime.now(UTC)
    response = await ingest.client.post("/write", content="plant net_output=478.2",
                                        headers={"Authorization": f"Token {ingest.token}"})
    assert response.status_code == 204
    ((_, ts, value, _),) = await stored(db)
    assert value == 478.2 and before - timedelta(seconds=1) <= ts <= datetime.now(UTC)


async def test_line_protocol_auth_errors(ingest: Ingest) -> None:
    missing = await ingest.client.post("/api/v2/write", content="gt1 active_power=1")
    wrong = await ingest.client.post("/write", params={"p": "bl_wrong"}, content="gt1 active_power=1")
    assert (missing.status_code, wrong.status_code) == (401, 401)
    assert (await ingest.client.get("/ping")).status_code == 204
