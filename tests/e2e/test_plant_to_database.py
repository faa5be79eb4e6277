"""As a user runs it: `baseload serve ingest`, `simulate` and `gateway` as processes, into PostgreSQL."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

import asyncpg
import httpx
import yaml

from services.simulator.model import SIGNALS
from tests.support import cli_process, free_port, make_key

REPO = Path(__file__).resolve().parents[2]


async def test_simulated_plant_reaches_the_database_through_gateway_and_ingest(
    tmp_path: Path, database_url: str, db: asyncpg.Pool
) -> None:
    ingest_port, opcua_port, modbus_port, health_port = (free_port() for _ in range(4))
    config = yaml.safe_load((REPO / "deploy" / "gateway.yaml").read_text())
    config["opcua"]["endpoint"] = f"opc.tcp://127.0.0.1:{opcua_port}/baseload/"
    config["modbus"].update(port=modbus_port, poll_interval_s=0.5)
    config["batch"]["max_age_s"] = 0.5
    config_file = tmp_path / "gateway.yaml"
    config_file.write_text(yaml.safe_dump(config))
    env = {
        "BASELOAD_DATABASE_URL": database_url,
        "BASELOAD_INGEST_PORT": str(ingest_port),
        "BASELOAD_GATEWAY_KEY": await make_key(db, role="gateway"),
        "BASELOAD_GATEWAY_INGEST_URL": f"http://127.0.0.1:{ingest_port}",
        "BASELOAD_GATEWAY_BUFFER_PATH": str(tmp_path / "buffer.sqlite3"),
        "BASELOAD_GATEWAY_HTTP_PORT": str(health_port),
    }
    with (
        cli_process("serve", "ingest", env=env, log=tmp_path / "ingest.log"),
        cli_process(
            "simulate",
            "--opcua-port",
            str(opcua_port),
            "--modbus-port",
            str(modbus_port),
            "--tick",
            "0.5",
            env=env,
            log=tmp_path / "simulator.log",
        ),
        cli_process("gateway", "--config", str(config_file), env=env, log=tmp_path / "gateway.log") as gateway,
    ):
        signals = await _wait_for_all_signals(db, gateway, tmp_path / "gateway.log")
        async with httpx.AsyncClient() as http:
            health = (await http.get(f"http://127.0.0.1:{health_port}/healthz")).json()
    assert signals == set(SIGNALS)
    assert health["status"] == "ok" and health["last_successful_post"] is not None
    assert health["sources"] == {"opcua": {"connected": True}, "modbus": {"connected": True}}


async def _wait_for_all_signals(db: asyncpg.Pool, gateway: subprocess.Popen[bytes], log: Path) -> set[str]:
    found: set[str] = set()
    for _ in range(300):
        if gateway.poll() is not None:
            raise AssertionError(f"gateway exited, see {log}")
        rows = await db.fetch("SELECT DISTINCT s.key FROM readings r JOIN signals s ON s.id = r.signal_id")
        found = {r["key"] for r in rows}
        if found == set(SIGNALS):
            break
        await asyncio.sleep(0.1)
    return found
