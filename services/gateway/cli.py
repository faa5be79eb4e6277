"""`baseload gateway --config deploy/gateway.yaml`: the SCADA bridge (OPC UA + Modbus → ingest, store-and-forward)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from pydantic import ValidationError

from services.gateway.buffer import DiskBuffer
from services.gateway.config import GatewayConfig, load_config


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="baseload gateway", description=__doc__)
    p.add_argument("--config", type=Path, default=Path("deploy/gateway.yaml"))
    p.add_argument("--check", action="store_true", help="validate the configuration and exit")
    p.add_argument(
        "--requeue-dead-letters",
        action="store_true",
        help="put dead-lettered readings back in the queue (after fixing the cause) and exit",
    )
    p.add_argument("--log-level", default="info")
    return p


def main(argv: Sequence[str]) -> int:
    args = build_parser().parse_args(list(argv))
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        config = load_config(args.config)
        if not args.requeue_dead_letters:
            config.ingest_key()
    except (OSError, ValueError, ValidationError) as exc:
        print(f"baseload gateway: {args.config}: {exc}", file=sys.stderr)
        return 2
    if args.check:
        print(_summary(config))
        return 0
    if args.requeue_dead_letters:
        buffer = DiskBuffer(config.buffer.path, config.buffer.max_readings)
        print(f"requeued {buffer.requeue_dead_letters(time.time())} readings")
        buffer.close()
        return 0
    from services.gateway.bridge import run_forever

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run_forever(config))
    return 0


def _summary(config: GatewayConfig) -> str:
    opcua = len(config.opcua.nodes) if config.opcua else 0
    modbus = len(config.modbus.registers) if config.modbus else 0
    return (
        f"ok: {opcua} OPC UA node(s), {modbus} Modbus register(s) → {config.ingest.url}; "
        f"buffer {config.buffer.path}; health on http://{config.http.host}:{config.http.port}/healthz"
    )
