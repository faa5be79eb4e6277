"""Bodies that are broken, padded or slow: a precise 4xx in the envelope, nothing half-written, no lock-out."""

from __future__ import annotations

import asyncio
import gzip
import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest

from services.ingest.app import create_app
from services.ingest.settings import Settings
from tests.integration.ingest.conftest import Ingest
from tests.support import make_key, serving

NOW = datetime.now(UTC).replace(microsecond=0)


def reading(value: float, seconds_ago: int = 0) -> dict:
    ts = (NOW - timedelta(seconds=seconds_ago)).isoformat().replace("+00:00", "Z")
    return {"signal": "gt1.active_power", "ts": ts, "value": value}


def batch(*readings: dict) -> bytes:
    return json.dumps({"readings": list(readings)}).encode()


async def stored(db: asyncpg.Pool) -> tuple[int, int]:
    return (await db.fetchval("SELECT count(*) FROM readings"), await db.fetchval("SELECT count(*) FROM rollups_1m"))


@pytest.mark.parametrize(
    "raw",
    [
        batch(reading(1.0), {**reading(2.0, 1), "value": "x"}) + b"x",  # junk after a bad reading
        batch(reading(1.0)).replace(b"gt1.active_power", b"gt1.active_\xffpower"),  # invalid UTF-8 in a string
        batch(reading(1.0))[:-2] + b", [" + b"[" * 1200 + b"]" * 1200 + b"]]}",  # nested 1,200 deep
        batch(reading(1.0))[:-1] + b', "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    ],
    ids=["junk-after-bad-reading", "invalid-utf8", "deep-nesting", "very-deep-nesting"],
)
async def test_undecodable_json_is_a_400_in_the_envelope_and_stores_nothing(
    ingest: Ingest, db: asyncpg.Pool, raw: bytes
) -> None:
    response = await ingest.client.post(
        "/v1/readings",
        content=raw,
        headers={"Authorization": f"Bearer {ingest.token}", "Content-Type": "application/json"},
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "invalid_json"
    assert set(response.json()["error"]) == {"code", "message", "details"}
    assert await stored(db) == (0, 0)


async def test_every_member_of_a_multi_member_gzip_body_is_stored(ingest: Ingest, db: asyncpg.Pool) -> None:
    first = json.dumps({"readings": [reading(1.0, 2)]}).encode()
    # Two gzip members whose concatenation is one JSON document, as `gzip a; gzip b; cat a.gz b.gz` makes.
    body = gzip.compress(first[:-2]) + gzip.compress(b", " + json.dumps(reading(2.0, 1)).encode() + b"]}")
    response = await ingest.client.post(
        "/v1/readings", content=body, headers={"Authorization": f"Bearer {ingest.token}", "Content-Encoding": "gzip"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == 2
    assert await db.fetchval("SELECT count(*) FROM readings") == 2


@pytest.mark.parametrize("tail", [b"junk", b"\0" * 8, gzip.compress(b"{}")[:6]], ids=["junk", "zeros", "cut-member"])
async def test_bytes_after_the_gzip_stream_are_refused(ingest: Ingest, db: asyncpg.Pool, tail: bytes) -> None:
    body = gzip.compress(batch(reading(1.0))) + tail
    response = await ingest.client.post(
        "/v1/readings", content=body, headers={"Authorization": f"Bearer {ingest.token}", "Content-Encoding": "gzip"}
    )
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_gzip"
    assert await stored(db) == (0, 0)


async def _trickle(port: int, token: str, stop: asyncio.Event) -> tuple[float, bytes]:
    """Declare a 1 MB body and send one byte every 0.3 s; return when the server answered and how."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    started = time.monotonic()
    writer.write(
        f"POST /v1/readings HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
        "Content-Type: application/json\r\nContent-Length: 1000000\r\n\r\n{".encode()
    )
    answer = asyncio.ensure_future(reader.read(4096))
    try:
        while not answer.done() and not stop.is_set():
            try:
                writer.write(b" ")
                await writer.drain()
            except ConnectionError:
                break
            await asyncio.wait([answer], timeout=0.3)
        reply = await asyncio.wait_for(answer, timeout=15)
        return time.monotonic() - started, reply
    finally:
        writer.close()


@pytest.fixture
async def strict_ingest(database_url: str, db: asyncpg.Pool) -> AsyncIterator[tuple[str, str]]:
    token = await make_key(db, name="gw-slow")
    settings = Settings(database_url=database_url, body_timeout_s=2.0, body_min_rate_bytes_s=1_000)
    async with serving(create_app(settings)) as url:
        yield url, token


async def test_slow_uploads_are_cut_with_408_and_never_lock_other_gateways_out(
    strict_ingest: tuple[str, str], db: asyncpg.Pool
) -> None:
    url, token = strict_ingest
    stop = asyncio.Event()
    port = int(url.rsplit(":", 1)[1])
    tricklers = [asyncio.create_task(_trickle(port, token, stop)) for _ in range(24)]
    try:
        await asyncio.sleep(1.0)  # every trickler is connected and sending: more than the 4 + 16 of the gate
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            started = time.monotonic()
            response = await client.post(
                "/v1/readings", content=batch(reading(5.0)), headers={"Authorization": f"Bearer {token}"}
            )
            assert response.status_code == 200, response.text
            assert time.monotonic() - started < 5, "a normal request answers promptly (generous bound)"
            results = await asyncio.wait_for(asyncio.gather(*tricklers), timeout=30)
            for elapsed, reply in results:
                assert reply.startswith(b"HTTP/1.1 408"), reply[:200]
                assert b'"code":"body_timeout"' in reply
                assert elapsed < 10, "cut soon after the 2 s allowance"
            metrics = (await client.get("/metrics")).text
            assert "baseload_ingest_body_reads 0.0" in metrics
            after = await client.post(
                "/v1/readings", content=batch(reading(6.0, 1)), headers={"Authorization": f"Bearer {token}"}
            )
            assert after.status_code == 200 and after.json()["accepted"] == 1
    finally:
        stop.set()
        for task in tricklers:
            task.cancel()
    assert await db.fetchval("SELECT count(*) FROM readings") == 2
