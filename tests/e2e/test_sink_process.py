"""`baseload sink` as a process: signed deliveries are shown once, forged and stale ones get 401."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import subprocess
import time
from pathlib import Path

import httpx

from tests.support import cli_process, free_port

REPO = Path(__file__).resolve().parents[2]
KEY = b"sink-e2e-key-32-bytes-long......"
SECRET = "whsec_" + base64.b64encode(KEY).decode()
BODY = (
    b'{"type":"alert.firing","timestamp":"2026-11-25T10:15:12Z","data":{"rule":{"name":"grid-frequency-band"},'
    b'"severity":"critical","labels":{"plant":"nish"},"summary":"grid frequency 49.780 Hz, band 49.8-50.2 Hz",'
    b'"evidence":{"frequency_hz":49.78,"delta_mhz":-220.0}}}'
)


def signed(msg_id: str, ts: int, body: bytes = BODY, key: bytes = KEY) -> dict[str, str]:
    mac = hmac.new(key, f"{msg_id}.{ts}.".encode() + body, hashlib.sha256).digest()
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(ts),
        "webhook-signature": "v1," + base64.b64encode(mac).decode(),
        "content-type": "application/json",
    }


async def test_the_sink_shows_each_genuine_delivery_once_and_refuses_forged_or_stale_ones(tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "sink.log"
    with cli_process("sink", "--port", str(port), env={"BASELOAD_SINK_SECRET": SECRET}, log=log) as proc:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5.0) as http:
            await _wait_up(http, proc)
            now = int(time.time())
            first = await http.post("/webhooks/demo", content=BODY, headers=signed("msg_a", now))
            again = await http.post("/webhooks/demo", content=BODY, headers=signed("msg_a", now))
            forged = await http.post("/", content=BODY, headers=signed("msg_b", now, key=b"x" * 32))
            tampered = await http.post("/", content=BODY + b" ", headers=signed("msg_c", now))
            stale = await http.post("/", content=BODY, headers=signed("msg_d", now - 600))
            events = (await http.get("/v1/events")).json()
    assert (first.status_code, first.json()) == (200, {"received": True, "duplicate": False})
    assert (again.status_code, again.json()) == (200, {"received": True, "duplicate": True})
    assert [r.status_code for r in (forged, tampered, stale)] == [401, 401, 401]
    assert [r.json()["error"]["code"] for r in (forged, tampered, stale)] == [
        "invalid_signature",
        "invalid_signature",
        "stale_timestamp",
    ]
    assert [e["webhook_id"] for e in events["events"]] == ["msg_a"] and events["rejected"] == 3
    shown = [line for line in log.read_text().splitlines() if "grid-frequency-band" in line]
    assert len(shown) == 1 and "FIRING critical grid-frequency-band plant=nish" in shown[0]
    assert "f 49.78 Hz Δf -220 mHz" in shown[0]


async def _wait_up(http: httpx.AsyncClient, proc: subprocess.Popen[bytes]) -> None:
    for _ in range(200):
        assert proc.poll() is None, "the sink exited"
        try:
            if (await http.get("/healthz")).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        await asyncio.sleep(0.05)
    raise AssertionError("the sink did not start in 10 s")
