"""`baseload simulate`: the demo plant over OPC UA and Modbus TCP, with scenarios, a seed and a time scale."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from services.simulator.model import SIGNALS, PlantParams, Scenario, ScenarioKind
from services.simulator.registers import BLOCK_SIZE, WORD_ORDERS
from services.simulator.runner import Simulator, SimulatorOptions, running_simulator
from shared.plants import PlantConfigError, load_plant_file

DEFAULT_PLANT = Path(__file__).resolve().parents[2] / "deploy" / "plants" / "nish.yaml"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="baseload simulate", description=__doc__)
    p.add_argument("--plant", type=Path, default=DEFAULT_PLANT, help="plant YAML (default: the demo plant)")
    p.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    p.add_argument("--opcua-port", type=int, default=4840)
    p.add_argument("--modbus-port", type=int, default=5020)
    p.add_argument("--modbus-device-id", type=int, default=1)
    p.add_argument("--scenario", choices=[k.value for k in ScenarioKind], default="steady")
    p.add_argument("--event-at", type=float, default=60.0, help="simulated seconds until the scenario's event")
    p.add_argument(
        "--signal",
        default="gt2.active_power",
        choices=SIGNALS,
        help="the sensor that goes Bad or freezes (sensor_bad, frozen)",
    )
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--time-scale", type=float, default=1.0, help="simulated seconds per wall second")
    p.add_argument("--tick", type=float, default=1.0, help="simulated seconds between values")
    p.add_argument(
        "--start",
        type=datetime.fromisoformat,
        help="simulated time at t=0, with offset (default: now); use a past start with --time-scale > 1 "
        "so source timestamps do not run into the future",
    )
    p.add_argument(
        "--then-live",
        action="store_true",
        help="with a past --start: replay at --time-scale until simulated time meets the clock, then "
        "run live (time scale 1) in the same servers, so clients keep their sessions",
    )
    p.add_argument("--duration", type=float, help="stop after this many wall seconds")
    return p


def options_from_args(args: argparse.Namespace) -> SimulatorOptions:
    plant = load_plant_file(args.plant)
    missing = [s for s in SIGNALS if s not in {sig.key for sig in plant.signals}]
    if missing:
        raise PlantConfigError(f"the simulator needs these signals in {args.plant}: {', '.join(missing)}")
    if args.time_scale <= 0 or args.tick <= 0:
        raise ValueError("--time-scale and --tick must be positive")
    if args.start is not None and args.start.tzinfo is None:
        raise ValueError("--start needs a UTC offset, e.g. 2026-11-25T00:00:00+00:00")
    return SimulatorOptions(
        host=args.host,
        opcua_port=args.opcua_port,
        modbus_port=args.modbus_port,
        modbus_device_id=args.modbus_device_id,
        seed=args.seed,
        scenario=Scenario(ScenarioKind(args.scenario), event_at_s=args.event_at, signal=args.signal),
        params=replace(PlantParams(), nominal_mw=plant.capacity_mw),
        time_scale=args.time_scale,
        tick_s=args.tick,
        start=args.start,
        plant_name=plant.key,
        then_live=args.then_live,
    )


def main(argv: Sequence[str]) -> int:
    args = build_parser().parse_args(list(argv))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        options = options_from_args(args)
    except (OSError, ValueError) as exc:
        print(f"baseload simulate: {exc}", file=sys.stderr)
        return 2
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_run(options, args.duration))
    return 0


async def _run(options: SimulatorOptions, duration: float | None) -> None:
    async with running_simulator(options) as sim:
        print(f"OPC UA  {sim.opcua.endpoint}  nodes ns={sim.opcua.namespace_index};s=<signal>", flush=True)
        print(
            f"Modbus  {options.host}:{options.modbus_port} device {options.modbus_device_id}, FLOAT32 holding "
            f"registers: signal i at {BLOCK_SIZE}·k + 2i for word order k in {', '.join(WORD_ORDERS)}"
        )
        for i, signal in enumerate(SIGNALS):
            print(f"  {2 * i:>3}  {signal}")
        print(
            f"scenario {options.scenario.kind.value}, seed {options.seed}, time scale {options.time_scale}", flush=True
        )
        live = asyncio.create_task(_say_when_live(sim)) if sim.clock.live_after_s is not None else None
        try:
            if duration is None:
                await asyncio.Event().wait()
            else:
                await asyncio.sleep(duration)
        finally:
            if live is not None:
                live.cancel()


async def _say_when_live(sim: Simulator) -> None:
    clock = sim.clock
    assert clock.live_after_s is not None
    await asyncio.sleep(max(clock.wall_delay(clock.live_after_s, time.monotonic()), 0.0))
    print(
        f"\n  [simulator] caught up with the clock; running live from "
        f"{clock.timestamp(clock.live_after_s):%H:%M:%S} UTC\n",
        flush=True,
    )
