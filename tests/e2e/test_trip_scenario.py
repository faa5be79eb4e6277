"""As a user runs it: `baseload demo` with the GT trip, replayed fast from the recent past, against this test's
database. A signed alert must reach the webhook sink, and the api must show the tripped settlement period as
non-compliant with the shortfall."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import subprocess
import time
from dataclasses import asdict, fields
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from services.demo import Ports
from tests.support import cli_process, free_port, make_key

REPO = Path(__file__).resolve().parents[2]
BUDGET_S = 150.0  # 46 s on a quiet machine; 87–97 s measured with 8 helpers sharing its 2 cores
# The plant after a GT trip (DOMAIN.md layout): GT2 alone at ~163 MW and the steam turbine, fed by one GT's
# exhaust, settling at half its ~167 MW (time constant ~2 min), less ~2.5 % auxiliary load.
SETTLED_NET_MW = (163.0 + 167.0 / 2) * (1 - 0.025)
COMMITTED_MW, TOLERANCE_MW = 480.0, 10.0  # deploy/plants/nish.yaml


async def test_a_gt_trip_arrives_signed_at_the_sink_and_shows_as_a_non_compliant_period(
    tmp_path: Path, database_url: str, db: asyncpg.Pool
) -> None:
    ports = Ports(**{f.name: free_port() for f in fields(Ports)})
    env = {"BASELOAD_DATABASE_URL": database_url, "BASELOAD_DATA_DIR": str(tmp_path / "data")}
    log = tmp_path / "demo.log"
    key = await make_key(db, role="partner", partner="eps")
    deadline = time.monotonic() + BUDGET_S
    port_args = ",".join(f"{name}={port}" for name, port in asdict(ports).items())
    with cli_process(
        "demo", "--time-scale", "30", "--trip-after", "5", "--ports", port_args, env=env, log=log, stop_timeout=40
    ) as proc:  # the demo stops its children itself
        async with httpx.AsyncClient(timeout=5.0) as http:
            event = await _wait_for_deviation_alert(http, f"http://127.0.0.1:{ports.sink}", proc, deadline, log)
            period = await _wait_for_a_complete_period(http, f"http://127.0.0.1:{ports.api}", key, proc, deadline, log)
    secret = await db.fetchval("SELECT secret FROM webhook_endpoints WHERE name = 'demo-sink'")

    headers, body = event["headers"], event["body"].encode()
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    mac = hmac.new(base64.b64decode(secret.removeprefix("whsec_")), signed, hashlib.sha256).digest()
    assert "v1," + base64.b64encode(mac).decode() in headers["webhook-signature"].split()
    payload = json.loads(body)
    assert payload["type"] == "alert.firing" and payload["data"]["severity"] == "critical"
    assert payload["data"]["labels"]["plant"] == "nish"
    assert payload["data"]["evidence"]["deviation_mw"] < -TOLERANCE_MW

    assert period["status"] == "non_compliant" and period["within_tolerance"] is False
    assert period["committed_mw"] == COMMITTED_MW
    # The trip starts the period, so the steam turbine's decay adds a little to the settled output.
    assert SETTLED_NET_MW - 5 < period["delivered_mw"] < SETTLED_NET_MW + 25
    assert period["deviation_mw"] == pytest.approx(period["delivered_mw"] - COMMITTED_MW)
    assert period["deviation_mwh"] == pytest.approx(period["deviation_mw"] * 0.25)


async def _wait_for_deviation_alert(
    http: httpx.AsyncClient, sink: str, proc: subprocess.Popen[bytes], deadline: float, log: Path
) -> dict[str, Any]:
    while True:
        _check_alive(proc, deadline, log, "no baseload-deviation alert at the sink")
        try:
            events = (await http.get(f"{sink}/v1/events")).json()["events"]
        except httpx.HTTPError:
            events = []
        for event in events:
            data = event["payload"].get("data", {}) if isinstance(event["payload"], dict) else {}
            # A revision alert (a period's verdict changed by late data, likely on a loaded machine) names the
            # same rule; the trip is judged by the final or projected check.
            if data.get("rule", {}).get("name") == "baseload-deviation" and data["labels"].get("check") != "revision":
                return event
        await asyncio.sleep(0.5)


async def _wait_for_a_complete_period(
    http: httpx.AsyncClient, api: str, key: str, proc: subprocess.Popen[bytes], deadline: float, log: Path
) -> dict[str, Any]:
    now = datetime.now(UTC)
    params = {"start": (now - timedelta(hours=1)).isoformat(), "end": now.isoformat()}
    while True:
        _check_alive(proc, deadline, log, "no settlement period was fully covered")
        response = await http.get(
            f"{api}/v1/plants/nish/compliance", params=params, headers={"Authorization": f"Bearer {key}"}
        )
        if response.status_code == 200:
            complete = [p for p in response.json()["periods"] if p["coverage"] >= 0.95]
            if complete:
                return complete[0]
        await asyncio.sleep(1.0)


def _check_alive(proc: subprocess.Popen[bytes], deadline: float, log: Path, what: str) -> None:
    if proc.poll() is not None:
        raise AssertionError(f"the demo exited ({proc.returncode}):\n{log.read_text()[-4000:]}")
    if time.monotonic() > deadline:
        raise AssertionError(f"{what} within {BUDGET_S:g} s:\n{log.read_text()[-4000:]}")
