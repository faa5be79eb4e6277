"""The demo's guards and plans, apart from its processes: ports (and the --ports option), the single-instance lock
and port check that refuse a second demo before anything changes, and the simulated-time plan (a replay that meets
the wall clock, then live)."""

from __future__ import annotations

import argparse
import fcntl
import os
import socket
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Ports:
    ingest: int = 8001
    api: int = 8002
    alerts: int = 8003
    sink: int = 9000
    gateway: int = 8010
    opcua: int = 4840
    modbus: int = 5020


def ports_argument(text: str) -> Ports:
    """argparse type for --ports: its error is the message alone (not the function's name)."""
    try:
        return parse_ports(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("--ports: ")) from None


def parse_ports(text: str, base: Ports = Ports()) -> Ports:
    """`api=18002,sink=19000` → the default ports with those replaced."""
    names = {f.name for f in fields(Ports)}
    changes = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, _, value = item.partition("=")
        if name not in names or not value.isdigit() or not 0 < int(value) < 65536:
            raise ValueError(f"--ports: {item!r} is not one of {', '.join(sorted(names))} = a port number")
        changes[name] = int(value)
    return replace(base, **changes)


@dataclass(frozen=True, slots=True)
class SimPlan:
    """How the simulator runs: from `start` at `time_scale` for `catch_up_s` wall seconds, then live."""

    start: datetime  # simulated time at t = 0
    time_scale: float
    event_at_s: float  # simulated seconds after `start`
    catch_up_s: float  # 0: live from the start

    @property
    def event_ts(self) -> datetime:
        return self.start + timedelta(seconds=self.event_at_s)

    def live_event_at_s(self, live_start: datetime) -> float:
        """The event's offset for a live run starting at `live_start` (negative once it has happened)."""
        return (self.event_ts - live_start).total_seconds()


def quarter_hour(ts: datetime, period_s: int = 900) -> datetime:
    """The start of the UTC-aligned settlement period containing `ts`."""
    return EPOCH + timedelta(seconds=(ts - EPOCH).total_seconds() // period_s * period_s)


def plan_simulation(
    now: datetime, *, time_scale: float, trip_after_s: float, period_s: int = 900, start_up_s: float = 2.0
) -> SimPlan:
    """Live at time scale 1. Faster, a replay whose event starts the previous settlement period, `trip_after_s`
    wall seconds in, and that ends just behind the clock even if the simulator takes `start_up_s` to start
    (its `--duration` counts from then, while simulated time runs from its first moment)."""
    if time_scale < 1:
        raise ValueError("the time scale must be at least 1: readings may not come from the future")
    if time_scale == 1:
        return SimPlan(now, 1.0, trip_after_s, 0.0)
    event_ts = quarter_hour(now, period_s) - timedelta(seconds=period_s)
    start = event_ts - timedelta(seconds=time_scale * trip_after_s)
    catch_up_s = (now - start).total_seconds() / (time_scale - 1) - start_up_s
    if catch_up_s <= 0:
        raise ValueError("the time scale is too high for the replay to start before it meets the clock")
    return SimPlan(start, time_scale, time_scale * trip_after_s, catch_up_s)


class DemoError(RuntimeError):
    """The demo cannot go on; the message says why."""


LOCK_FILE = "demo.lock"


class DemoLock:
    """An exclusive lock on `<data dir>/demo.lock` (released by the OS if the demo dies), holding its pid and ports
    so that a second demo can say which one runs."""

    def __init__(self, handle: IO[str]) -> None:
        self.handle = handle

    @classmethod
    def acquire(cls, path: Path, ports: Ports) -> DemoLock:
        handle = open(path, "a+", encoding="utf-8")  # noqa: SIM115 - held open for the demo's lifetime
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            handle.close()
            raise DemoError(
                f"another Baseload demo is running ({holder}); stop it with Ctrl-C in its terminal "
                f"(or `kill -INT <pid>`), or give this one its own BASELOAD_DATA_DIR and --ports"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}, {describe_ports(ports)}")
        handle.flush()
        return cls(handle)

    def __enter__(self) -> DemoLock:
        return self

    def __exit__(self, *_: object) -> None:
        self.handle.close()


def describe_ports(ports: Ports) -> str:
    return ", ".join(f"{f.name} {getattr(ports, f.name)}" for f in fields(Ports))


def check_ports_free(ports: Ports, host: str = "127.0.0.1") -> None:
    """DemoError naming the first port something else listens on."""
    for f in fields(Ports):
        port = getattr(ports, f.name)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((host, port))
            except OSError:
                raise DemoError(
                    f"port {port} ({f.name}) on {host} is in use by another program; free it or move "
                    f"the demo, e.g. --ports {f.name}={port + 10000}"
                ) from None
