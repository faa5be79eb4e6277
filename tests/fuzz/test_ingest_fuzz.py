"""Hypothesis against POST /v1/readings over real HTTP: any body, encoding, Content-Type or Idempotency-Key gets an
answer below 500; a refused request writes nothing, an accepted one exactly what it reports."""

from __future__ import annotations

import gzip
import json
import string
import zlib
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.ingest.app import create_app
from services.ingest.settings import Settings
from shared import auth
from tests.fuzz.conftest import derandomize, examples, run_sql, service_thread

NOW = datetime.now(UTC).replace(microsecond=0)
SIGNALS = ["gt1.active_power", "gt2.active_power", "plant.net_output", "grid.frequency", "nope.signal", ""]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)


@st.composite
def readings(draw: st.DrawFn) -> Any:
    """Mostly plausible readings (some valid, some out of range or window), sometimes any JSON at all."""
    if draw(st.integers(0, 9)) == 0:
        return draw(json_values)
    reading: dict[str, Any] = {
        "signal": draw(st.sampled_from(SIGNALS)),
        "ts": (NOW - timedelta(seconds=draw(st.integers(-300, 10**6)))).isoformat().replace("+00:00", "Z"),
        "value": draw(st.floats(-1e3, 1e3) | st.sampled_from([0, 50, 1e308]) | json_values),
    }
    if draw(st.booleans()):
        reading["quality"] = draw(st.sampled_from([0, "good", "bad", 2**32, -1, 0x40000000]) | json_values)
    for name in draw(st.sets(st.sampled_from(["signal", "ts", "value"]), max_size=1)):
        del reading[name]
    return reading


@st.composite
def bodies(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["batch", "batch", "batch", "mutated", "json", "bytes", "nested"]))
    batch = json.dumps({"readings": draw(st.lists(readings(), max_size=12))}).encode()
    if kind == "batch":
        return batch
    if kind == "mutated":  # a batch with bytes spliced in (broken syntax, invalid UTF-8, junk after the end)
        at = draw(st.integers(0, len(batch)))
        return batch[:at] + draw(st.binary(min_size=1, max_size=4)) + batch[at:]
    if kind == "json":
        return json.dumps(draw(json_values)).encode()
    if kind == "nested":
        depth = draw(st.integers(100, 3000))
        return b'{"readings":[' + b"[" * depth + b"]" * depth + b"]}"
    return draw(st.binary(max_size=64))


@st.composite
def requests(draw: st.DrawFn) -> tuple[bytes, dict[str, str]]:
    body = draw(bodies())
    headers: dict[str, str] = {}
    encoding = draw(st.sampled_from([None, "identity", "gzip", "gzip", "gzip-members", "gzip-junk", "br", "x;y"]))
    if encoding == "gzip":
        body = gzip.compress(body)
    elif encoding == "gzip-members":
        cut = draw(st.integers(0, len(body)))
        body, encoding = gzip.compress(body[:cut]) + gzip.compress(body[cut:]), "gzip"
    elif encoding == "gzip-junk":
        body, encoding = gzip.compress(body) + draw(st.binary(min_size=1, max_size=8)), "gzip"
    if encoding is not None:
        headers["Content-Encoding"] = encoding
    content_type = draw(
        st.sampled_from(
            [
                None,
                "application/json",
                "text/plain",
                "application/x-www-form-urlencoded",
                "application/json; charset=latin-1",
            ]
        )
    )
    if content_type is not None:
        headers["Content-Type"] = content_type
    key = draw(
        st.none()
        | st.sampled_from(["k1", "k2", "", "x" * 256])
        | st.text(string.ascii_letters + string.digits + "-_.", min_size=1, max_size=40)
    )
    if key is not None:
        headers["Idempotency-Key"] = key
    return body, headers


def counts(url: str) -> tuple[int, int]:
    async def query(conn: Any) -> tuple[int, int]:
        row = await conn.fetchrow("SELECT (SELECT count(*) FROM readings) AS r, (SELECT count(*) FROM rollups_1m) AS m")
        return row["r"], row["m"]

    return run_sql(url, query)


def test_any_readings_request_is_answered_below_500_and_never_half_written(fuzz_database: str) -> None:
    token = run_sql(fuzz_database, lambda c: auth.create_key(c, role="gateway", name="fuzz", plants=("nish",)))[1]
    with (
        service_thread(create_app(Settings(database_url=fuzz_database))) as url,
        httpx.Client(base_url=url, timeout=30) as client,
    ):

        @settings(
            max_examples=examples(),
            deadline=None,
            derandomize=derandomize(),
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        )
        @given(request=requests())
        def one(request: tuple[bytes, dict[str, str]]) -> None:
            body, headers = request
            before = counts(fuzz_database)
            response = client.post(
                "/v1/readings", content=body, headers={"Authorization": f"Bearer {token}", **headers}
            )
            after = counts(fuzz_database)
            assert response.status_code < 500, response.text
            if response.status_code >= 400:
                assert set(response.json()["error"]) == {"code", "message", "details"}, response.text
                assert after == before, f"a refused request ({response.status_code}) wrote rows"
            else:
                reply = response.json()
                written = 0 if response.headers.get("Idempotent-Replayed") else reply["accepted"]
                assert after[0] - before[0] == written, reply

        one()


def test_a_gzip_member_boundary_anywhere_in_a_batch_loses_nothing(fuzz_database: str) -> None:
    token = run_sql(fuzz_database, lambda c: auth.create_key(c, role="gateway", name="fuzz-gz", plants=("nish",)))[1]
    with (
        service_thread(create_app(Settings(database_url=fuzz_database))) as url,
        httpx.Client(base_url=url, timeout=30) as client,
    ):
        sent = 0

        @settings(max_examples=examples(10), deadline=None, derandomize=derandomize(), database=None)
        @given(count=st.integers(1, 20), cut=st.floats(0, 1), level=st.integers(1, 9))
        def one(count: int, cut: float, level: int) -> None:
            nonlocal sent
            batch = [
                {"signal": "plant.net_output", "value": 100.0, "ts": (NOW - timedelta(seconds=sent + i)).isoformat()}
                for i in range(count)
            ]
            sent += count
            raw = json.dumps({"readings": batch}).encode()
            at = int(len(raw) * cut)
            body = zlib.compress(b"", level)[:0] + gzip.compress(raw[:at], level) + gzip.compress(raw[at:], level)
            response = client.post(
                "/v1/readings", content=body, headers={"Authorization": f"Bearer {token}", "Content-Encoding": "gzip"}
            )
            assert response.status_code == 200, response.text
            assert response.json()["accepted"] == count

        one()
        assert counts(fuzz_database)[0] == sent
