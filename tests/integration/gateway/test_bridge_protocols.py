"""The bridge against the simulator over real OPC UA and Modbus TCP on 127.0.0.1."""

from __future__ import annotations

import asyncio
import struct
from datetime import UTC, datetime
from pathlib import Path

from services.gateway.bridge import running_bridge
from services.gateway.metrics import GatewayMetrics
from services.gateway.modbus_source import ModbusSource
from services.gateway.readings import BAD_DEVICE_FAILURE, BAD_NOT_CONNECTED, GOOD, Reading, parse_ts
from services.simulator.model import SIGNALS, PlantParams, Scenario, ScenarioKind, sample
from services.simulator.registers import BLOCK_SIZE, WORD_ORDERS
from services.simulator.runner import running_simulator
from tests.integration.gateway.conftest import (
    Receiver,
    gateway_config,
    opcua_section,
    simulator_options,
    wait_for,
)
from tests.support import free_port, serving

POWER = ["gt1.active_power", "gt2.active_power", "st1.active_power", "plant.net_output"]


def float32(value: float) -> float:
    return struct.unpack(">f", struct.pack(">f", value))[0]


async def test_opcua_values_timestamps_and_bad_status_arrive_as_the_model_made_them(tmp_path: Path) -> None:
    # The sensor fails 10 s in: late enough that the bridge, even on a loaded machine, has subscribed and holds a
    # good value to carry (a Bad status before any good value is a gap, by design). Starting the simulator and the
    # bridge took ~5 s with the load average at 9 on the 2 cores, and 5 s here then failed.
    scenario = Scenario(ScenarioKind.SENSOR_BAD, event_at_s=10.0, signal="gt2.active_power")
    options = simulator_options(scenario=scenario, tick_s=0.25)
    receiver = Receiver()
    async with serving(receiver.app()) as url, running_simulator(options) as sim:
        config = gateway_config(tmp_path, ingest_url=url, opcua=opcua_section(sim.opcua.endpoint, POWER))
        async with running_bridge(config, serve_http=False):
            await wait_for(lambda: sum(r["quality"] != GOOD for r in receiver.readings) >= 3, 30, "Bad readings")
    good = [r for r in receiver.readings if r["quality"] == GOOD]
    assert len(good) > 10
    for r in good:  # every value is the model's, at the simulated time its source timestamp says
        t = (parse_ts(r["ts"]) - options.start).total_seconds()
        assert t == round(t / 0.25) * 0.25
        assert r["value"] == sample(PlantParams(), scenario, 1, t).value(r["signal"])
    bad = [r for r in receiver.readings if r["quality"] != GOOD]
    assert {r["signal"] for r in bad} == {"gt2.active_power"}
    assert {r["quality"] for r in bad} == {0x808C0000}  # BadSensorFailure, as the device said
    last_good = max((r for r in good if r["signal"] == "gt2.active_power"), key=lambda r: r["ts"])
    assert all(r["value"] == last_good["value"] and r["ts"] > last_good["ts"] for r in bad)


async def test_modbus_float32_decodes_in_every_word_order_with_scale_and_offset() -> None:
    # A very slow clock keeps the simulator on its first tick, so every read sees the same plant.
    options = simulator_options(time_scale=0.0001)
    registers = [
        {"address": BLOCK_SIZE * k + 2 * SIGNALS.index("grid.frequency"), "signal": f"f.{order}", "word_order": order}
        for k, order in enumerate(WORD_ORDERS)
    ]
    registers.append(
        {
            "address": BLOCK_SIZE * 2 + 2 * SIGNALS.index("gt1.fuel_gas_flow"),
            "signal": "fuel.sm3h",
            "word_order": "BADC",
            "scale": 1.0549,
            "offset": -3.0,
        }
    )
    async with running_simulator(options) as sim:
        config = gateway_config(
            Path("/nonexistent"),
            ingest_url="http://127.0.0.1:9",
            modbus={"port": sim.options.modbus_port, "registers": registers},
        )
        source = ModbusSource(config, lambda _: None, GatewayMetrics())
        now = datetime.now(UTC)
        readings = await source.poll(now)
        source.client.close()
    expected = sample(PlantParams(), Scenario(), 1, 0.0)
    frequency = float32(expected.value("grid.frequency"))
    assert frequency == float32(sim.state.value("grid.frequency"))
    assert readings[:4] == [Reading(f"f.{o}", now, frequency, GOOD) for o in WORD_ORDERS]
    assert readings[4].value == float32(expected.value("gt1.fuel_gas_flow")) * 1.0549 - 3.0


async def test_a_modbus_device_failure_becomes_a_bad_reading_holding_the_last_value() -> None:
    scenario = Scenario(ScenarioKind.SENSOR_BAD, event_at_s=3.0, signal="grid.frequency")  # margin for the 1st poll
    options = simulator_options(scenario=scenario, tick_s=0.5)
    registers = [{"address": 2 * SIGNALS.index(s), "signal": s} for s in ("grid.frequency", "gt1.fuel_gas_flow")]
    async with running_simulator(options) as sim:
        config = gateway_config(
            Path("/nonexistent"),
            ingest_url="http://127.0.0.1:9",
            modbus={"port": sim.options.modbus_port, "registers": registers},
        )
        source = ModbusSource(config, lambda _: None, GatewayMetrics())
        before = await source.poll(datetime.now(UTC))
        await wait_for(lambda: sim.state.t >= 3.0, 15, "the sensor failure")
        after = await source.poll(datetime.now(UTC))
        source.client.close()
    assert [r.quality for r in before] == [GOOD, GOOD]
    assert after[0].quality == BAD_DEVICE_FAILURE and after[0].value == before[0].value
    assert after[1].quality == GOOD


async def test_modbus_reconnects_by_itself_and_marks_the_outage_bad() -> None:
    port = free_port()
    registers = [{"address": 2 * SIGNALS.index("grid.frequency"), "signal": "grid.frequency"}]
    config = gateway_config(
        Path("/nonexistent"),
        ingest_url="http://127.0.0.1:9",
        modbus={"port": port, "registers": registers, "timeout_s": 0.5},
    )
    metrics = GatewayMetrics()
    source = ModbusSource(config, lambda _: None, metrics)
    assert await source.poll(datetime.now(UTC)) == []  # nothing read yet: a gap, not a made-up value
    async with running_simulator(simulator_options(modbus_port=port)):
        first = await source.poll(datetime.now(UTC))
    down = datetime.now(UTC)
    outage = await source.poll(down)
    async with running_simulator(simulator_options(modbus_port=port, seed=2)):
        back = await source.poll(datetime.now(UTC))
    source.client.close()
    assert first[0].quality == GOOD
    assert outage == [Reading("grid.frequency", down, first[0].value, BAD_NOT_CONNECTED)]
    assert back[0].quality == GOOD and back[0].value != first[0].value


async def test_opcua_reconnects_after_the_server_restarts(tmp_path: Path) -> None:
    options = simulator_options(tick_s=0.25)
    receiver = Receiver()
    async with serving(receiver.app()) as url:
        config = gateway_config(
            tmp_path,
            ingest_url=url,
            opcua=opcua_section(f"opc.tcp://127.0.0.1:{options.opcua_port}/baseload/", ["grid.frequency"]),
        )
        async with running_bridge(config, serve_http=False) as bridge:
            async with running_simulator(options):
                await wait_for(lambda: len(receiver.readings) >= 3, 15, "first readings")
            await wait_for(lambda: not bridge.sources[0].connected, 15, "the loss to be noticed")
            restarted = datetime.now(UTC)
            async with running_simulator(simulator_options(opcua_port=options.opcua_port, tick_s=0.25)):
                await wait_for(
                    lambda: any(parse_ts(r["ts"]) > restarted for r in receiver.readings),
                    30,
                    "readings after the restart",
                )
            await asyncio.sleep(0)
