"""Store-and-forward against the real ingest and PostgreSQL: outages and restarts lose nothing, twice nothing."""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from services.gateway.bridge import running_bridge
from services.gateway.buffer import DiskBuffer
from services.gateway.readings import Reading
from services.ingest.app import create_app
from services.ingest.settings import Settings
from services.simulator.model import SIGNALS
from services.simulator.runner import running_simulator
from shared.quality import to_db
from tests.integration.gateway.conftest import gateway_config, opcua_section, simulator_options, wait_for
from tests.support import free_port, make_key, serving

# The outage is 30 s; the default keeps the suite fast. BASELOAD_TEST_OUTAGE_S=30 runs the full one.
OUTAGE_S = float(os.environ.get("BASELOAD_TEST_OUTAGE_S", "3"))
OPCUA_SIGNALS = ["gt1.active_power", "gt2.active_power", "st1.active_power", "plant.net_output"]
MODBUS_SIGNALS = ["grid.frequency", "gt1.fuel_gas_flow", "gt2.fuel_gas_flow"]


def modbus_section(port: int) -> dict:
    orders = ["ABCD", "CDAB", "DCBA"]
    registers = [
        {"address": 100 * k + 2 * SIGNALS.index(s), "signal": s, "word_order": o}
        for s, o, k in zip(MODBUS_SIGNALS, orders, (0, 1, 3), strict=True)
    ]
    return {"port": port, "poll_interval_s": 0.2, "timeout_s": 0.5, "registers": registers}


def key_of(reading: Reading) -> tuple[str, datetime, float, int]:
    return reading.signal, reading.ts, reading.value, to_db(reading.quality)


async def stored(db: asyncpg.Pool) -> list[tuple[str, datetime, float, int]]:
    rows = await db.fetch("SELECT s.key, r.ts, r.value, r.quality FROM readings r JOIN signals s ON s.id = r.signal_id")
    return [(r["key"], r["ts"].astimezone(UTC), r["value"], r["quality"]) for r in rows]


def plant_bridge_config(tmp_path: Path, sim: Any, options: Any, *, port: int, token: str) -> Any:
    """The bridge reading the simulator over OPC UA and Modbus, posting to ingest on `port`."""
    return gateway_config(
        tmp_path,
        ingest_url=f"http://127.0.0.1:{port}",
        key=token,
        opcua=opcua_section(sim.opcua.endpoint, OPCUA_SIGNALS),
        modbus=modbus_section(options.modbus_port),
    )


async def test_every_reading_arrives_exactly_once_across_an_ingest_outage(
    tmp_path: Path, database_url: str, db: asyncpg.Pool
) -> None:
    token = await make_key(db, role="gateway")
    port = free_port()
    observed: list[Reading] = []
    options = simulator_options(tick_s=0.2)
    async with running_simulator(options) as sim:
        config = plant_bridge_config(tmp_path, sim, options, port=port, token=token)
        health_url = f"http://{config.http.host}:{config.http.port}/healthz"
        async with running_bridge(config, observers=[observed.append]) as bridge, httpx.AsyncClient() as http:
            async with serving(create_app(Settings(database_url=database_url)), port=port):
                await wait_for(lambda: bridge.sender.last_success is not None and len(observed) > 20, 20, "flow")
            # Ingest is down: readings keep coming and wait on disk.
            depth_at_outage = bridge.buffer.depth()
            await wait_for(lambda: bridge.buffer.depth() > depth_at_outage + 20, 20, "buffering")
            await asyncio.sleep(OUTAGE_S)
            during = (await http.get(health_url)).json()
            assert during["status"] == "degraded" and during["buffer_depth"] > 20
            assert during["oldest_buffered_age_s"] >= OUTAGE_S * 0.5
            async with serving(create_app(Settings(database_url=database_url)), port=port):
                await wait_for(lambda: bridge.buffer.depth() < 20, 30, "the backlog to drain")
                await bridge.stop_sources()
                await wait_for(lambda: bridge.buffer.depth() == 0, 30, "the last batch")
                after = (await http.get(health_url)).json()
                metrics = (await http.get(health_url.replace("healthz", "metrics"))).text
    rows = await stored(db)
    assert len(rows) == len(observed) == len({(r.signal, r.ts) for r in observed})
    assert sorted(rows) == sorted(key_of(r) for r in observed)
    assert {r[0] for r in rows} == set(OPCUA_SIGNALS) | set(MODBUS_SIGNALS)
    assert after["status"] == "ok" and after["buffer_depth"] == 0 and after["last_successful_post"]
    assert "gateway_buffer_depth 0.0" in metrics


async def test_a_restarted_bridge_replays_its_buffer(tmp_path: Path, database_url: str, db: asyncpg.Pool) -> None:
    token = await make_key(db, role="gateway")
    port = free_port()
    observed: list[Reading] = []
    options = simulator_options(tick_s=0.2)
    async with running_simulator(options) as sim:
        config = plant_bridge_config(tmp_path, sim, options, port=port, token=token)
        # Ingest is not there at all: everything stays on disk when the bridge stops.
        async with running_bridge(config, serve_http=False, observers=[observed.append]) as bridge:
            await wait_for(lambda: bridge.buffer.depth() >= 40, 20, "a backlog")
            await bridge.stop_sources()
    left = DiskBuffer(config.buffer.path, 1000)
    assert left.depth() == len(observed) >= 40
    left.close()
    replay_only = config.model_copy(update={"opcua": None, "modbus": None})
    async with (
        serving(create_app(Settings(database_url=database_url)), port=port),
        running_bridge(replay_only, serve_http=False) as bridge,
    ):
        await wait_for(lambda: bridge.buffer.depth() == 0, 30, "the replay")
    assert sorted(await stored(db)) == sorted(key_of(r) for r in observed)
