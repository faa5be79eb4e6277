"""`baseload demo` (what `make run` does): the whole system on embedded defaults, in one terminal.

It prepares the database (migrations, the demo plant, fresh demo keys), starts ingest, api and alerts, loads the
alert rules of the demo plant, registers a local webhook sink with the alerts service, and runs the plant simulator
and the SCADA gateway bridge between them. Ctrl-C stops every process.

Time: the alerts service judges settlement periods by the wall clock, and ingest refuses readings from the future.
So with `--time-scale` above 1 the simulator replays the recent past at that speed until it meets the wall clock
(the scenario's event, e.g. the GT trip, `--trip-after` wall seconds in, when the previous settlement period
began), then the same simulator process runs on live (time scale 1): its OPC UA server is not restarted, so the
gateway keeps its session and no second of readings is missing across the switch.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from services.demo_setup import (
    LOCK_FILE,
    DemoError,
    DemoLock,
    Ports,
    SimPlan,
    check_ports_free,
    plan_simulation,
    ports_argument,
    quarter_hour,
)
from shared import auth
from shared.db import asyncpg_dsn, resolve_database_url
from shared.embedded import embedded_status, pgdata_path, stop_embedded
from shared.migrate import upgrade
from shared.plants import apply_plant, load_plant_file
from shared.settings import BaseServiceSettings

REPO_ROOT = Path(__file__).resolve().parent.parent
DEMO_PLANT = REPO_ROOT / "deploy" / "plants" / "nish.yaml"
DEMO_GATEWAY = REPO_ROOT / "deploy" / "gateway.yaml"
DEMO_KEYS = (
    ("gateway", "demo-gateway", None),
    ("operator", "demo-operator", None),
    ("partner", "demo-eps", "eps"),
    ("partner", "demo-socar", "socar"),
    ("admin", "demo-admin", None),
)
SCENARIOS = ("gt_trip", "steady", "ramp", "sensor_bad", "frozen")
SINK_ENDPOINT = "demo-sink"
STALE_RULE = "net-output-stale"
DEMO_PLANT_KEY = "nish"
STALE_GRACE_S = 60.0  # after start-up (or the replay), until live readings flow
START_TIMEOUT_S = 60.0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="baseload demo", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--scenario", choices=SCENARIOS, default="gt_trip", help="the simulator's scenario")
    p.add_argument(
        "--time-scale",
        type=float,
        default=20.0,
        help="replay speed until the simulation meets the wall clock (1: live from the start)",
    )
    p.add_argument(
        "--trip-after",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="wall seconds until the scenario's event (the GT trip)",
    )
    p.add_argument(
        "--fresh",
        action="store_true",
        help="start from an empty embedded database (its data directory's pgdata is deleted first; "
        "refused when BASELOAD_DATABASE_URL is set)",
    )
    p.add_argument(
        "--ports",
        type=ports_argument,
        default=Ports(),
        help="override ports, e.g. ingest=18001,api=18002,alerts=18003,sink=19000,gateway=18010,"
        "opcua=14840,modbus=15020",
    )
    return p


@dataclass(frozen=True, slots=True)
class DemoOptions:
    scenario: str = "gt_trip"
    time_scale: float = 20.0
    trip_after_s: float = 60.0
    ports: Ports = field(default_factory=Ports)
    fresh: bool = False

    def plan(self, now: datetime) -> SimPlan:
        return plan_simulation(now, time_scale=self.time_scale, trip_after_s=self.trip_after_s)


def main(argv: Sequence[str]) -> int:
    args = build_parser().parse_args(list(argv))
    options = DemoOptions(args.scenario, args.time_scale, args.trip_after, args.ports, args.fresh)
    try:
        options.plan(datetime.now(UTC))
    except ValueError as exc:
        print(f"baseload demo: {exc}", file=sys.stderr)
        return 2
    return run_demo(BaseServiceSettings(), options)


async def prepare(url: str) -> dict[str, str]:
    """Load the demo plant and mint fresh demo keys (older demo keys are revoked)."""
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        config = load_plant_file(DEMO_PLANT)
        await apply_plant(conn, config)
        tokens = {}
        for role, name, partner in DEMO_KEYS:
            await auth.revoke_key(conn, name)
            plants = (config.key,) if role == "gateway" else ()
            _, tokens[name] = await auth.create_key(conn, role=role, name=name, partner=partner, plants=plants)
        return tokens
    finally:
        await conn.close()


class Supervisor:
    """The demo's child processes by name; stopping them all on the way out."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.children: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, *args: str, env: dict[str, str] | None = None) -> None:
        # A session of its own: a Ctrl-C in the terminal reaches only the demo, which stops each child once.
        self.children[name] = subprocess.Popen(
            [sys.executable, "-m", "services.cli", *args],
            env={**self.env, **(env or {})},
            cwd=REPO_ROOT,
            start_new_session=True,
        )

    def exited(self) -> tuple[str, int] | None:
        for name, child in self.children.items():
            if (code := child.poll()) is not None:
                return name, code
        return None

    def stop_all(self) -> None:
        # The gateway first: stopped after its simulator, it would warn that its OPC UA connection was lost.
        self._stop([child for name, child in self.children.items() if name == "gateway"])
        self._stop(list(self.children.values()))

    @staticmethod
    def _stop(children: list[subprocess.Popen[bytes]]) -> None:
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGINT)
        for child in children:
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()


def child_env(settings: BaseServiceSettings, url: str, ports: Ports, gateway_key: str) -> dict[str, str]:
    env = {
        **os.environ,
        "BASELOAD_DATABASE_URL": url,
        "BASELOAD_GATEWAY_KEY": gateway_key,
        "BASELOAD_GATEWAY_BUFFER_PATH": str(settings.data_dir / "gateway-buffer.sqlite3"),
        "BASELOAD_GATEWAY_INGEST_URL": f"http://127.0.0.1:{ports.ingest}",
        "BASELOAD_GATEWAY_HTTP_PORT": str(ports.gateway),
        "BASELOAD_GATEWAY_OPCUA_ENDPOINT": f"opc.tcp://127.0.0.1:{ports.opcua}/baseload/",
        "BASELOAD_GATEWAY_MODBUS_PORT": str(ports.modbus),
        "BASELOAD_ALERTS_WEBHOOK_ALLOW_CIDRS": "127.0.0.1/32",
    }  # the demo's webhook sink runs on this host
    for service in ("INGEST", "API", "ALERTS"):  # quieter services, so the sink's lines stand out
        env.setdefault(f"BASELOAD_{service}_LOG_LEVEL", "warning")
    return env


def simulator_args(ports: Ports, scenario: str, start: datetime, time_scale: float, event_at_s: float) -> list[str]:
    """A replay (time scale > 1) goes live by itself when it meets the clock (`--then-live`)."""
    args = [
        "simulate",
        "--opcua-port",
        str(ports.opcua),
        "--modbus-port",
        str(ports.modbus),
        "--scenario",
        scenario,
        f"--event-at={event_at_s:.3f}",
        "--time-scale",
        f"{time_scale:g}",
        "--start",
        start.isoformat(),
    ]
    return [*args, "--then-live"] if time_scale > 1 else args


def run_demo(settings: BaseServiceSettings, options: DemoOptions) -> int:
    """Run the demo until Ctrl-C (0) or until a process fails (1)."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    try:  # before anything changes: a second demo, or a port taken, is refused here
        lock = DemoLock.acquire(settings.data_dir / LOCK_FILE, options.ports)
    except DemoError as exc:
        print(f"baseload demo: {exc}", file=sys.stderr)
        return 1
    with lock:
        try:
            check_ports_free(options.ports)
        except DemoError as exc:
            print(f"baseload demo: {exc}", file=sys.stderr)
            return 1
        return _run_with_database(settings, options)


def _run_with_database(settings: BaseServiceSettings, options: DemoOptions) -> int:
    if options.fresh:
        if settings.database_url is not None:
            print(
                "baseload demo: --fresh only empties the embedded database; BASELOAD_DATABASE_URL is set",
                file=sys.stderr,
            )
            return 2
        stop_embedded(settings.data_dir)
        shutil.rmtree(pgdata_path(settings.data_dir), ignore_errors=True)
        print("  [demo] --fresh: starting from an empty embedded database", flush=True)
    # The demo stops the embedded PostgreSQL on exit only if it started it (`baseload db start` keeps it up).
    started_database = settings.database_url is None and embedded_status(settings.data_dir) is None
    url = resolve_database_url(settings)
    try:
        return _run(settings, options, url)
    finally:
        if started_database:
            stop_embedded(settings.data_dir)
            print("Embedded PostgreSQL stopped.", flush=True)


def _run(settings: BaseServiceSettings, options: DemoOptions, url: str) -> int:
    upgrade(url)
    tokens = asyncio.run(prepare(url))
    options = _continue_after_earlier_runs(options, url)
    ports, scenario = options.ports, options.scenario
    sup = Supervisor(child_env(settings, url, ports, tokens["demo-gateway"]))
    stopping = _on_stop_signals()
    try:
        for service in ("ingest", "api", "alerts"):
            sup.start(service, "serve", service, "--port", str(getattr(ports, service)))
        _wait_healthy(sup, ports)
        secret = _configure_alerts(sup, ports, tokens["demo-admin"], options.plan(datetime.now(UTC)))
        sup.start("sink", "sink", "--port", str(ports.sink), env={"BASELOAD_SINK_SECRET": secret})
        plan = options.plan(datetime.now(UTC))  # planned again: the replay must meet the clock from now
        sup.start("simulator", *simulator_args(ports, scenario, plan.start, plan.time_scale, plan.event_at_s))
        wait_listening(sup, "the simulator", (ports.opcua, ports.modbus))  # the gateway's sources first
        sup.start("gateway", "gateway", "--config", str(DEMO_GATEWAY))
        print_banner(ports, tokens, plan, scenario)
        return _supervise(sup, stopping)
    except DemoError as exc:
        print(f"baseload demo: {exc}", file=sys.stderr)
        return 1
    finally:
        sup.stop_all()
        print("Baseload demo stopped.", flush=True)


def _continue_after_earlier_runs(options: DemoOptions, url: str) -> DemoOptions:
    """A rerun whose replay window already holds readings of an earlier run would only replay duplicates (and see
    no new alert): it runs live instead, and says so. `--fresh` starts from an empty embedded database."""
    plan = options.plan(datetime.now(UTC))
    if plan.catch_up_s <= 0:
        return options
    newest = asyncio.run(newest_demo_reading(url, plan.start))
    if newest is None:
        print(
            f"  [demo] replaying from {plan.start:%H:%M:%S} UTC (no earlier demo readings in that window)", flush=True
        )
        return options
    print(
        f"  [demo] readings of an earlier demo run reach {newest:%H:%M:%S} UTC, inside the replay window: running "
        f"live from now, so nothing is stored twice (`baseload demo --fresh` replays the trip on an empty "
        f"database)",
        flush=True,
    )
    return replace(options, time_scale=1.0)


async def newest_demo_reading(url: str, since: datetime) -> datetime | None:
    """The newest stored reading of the demo plant at or after `since`, if any."""
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        # Hot rows or compressed blocks (shared/history): one statement, one snapshot.
        newest: datetime | None = await conn.fetchval(
            """SELECT greatest(
                   (SELECT max(r.ts) FROM readings r JOIN signals s ON s.id = r.signal_id
                    JOIN plants p ON p.id = s.plant_id WHERE p.key = $1 AND r.ts >= $2),
                   (SELECT max(b.last_ts) FROM reading_blocks b JOIN signals s ON s.id = b.signal_id
                    JOIN plants p ON p.id = s.plant_id WHERE p.key = $1 AND b.last_ts >= $2))""",
            DEMO_PLANT_KEY,
            since,
        )
        return newest
    finally:
        await conn.close()


def _on_stop_signals() -> list[bool]:
    stopping = [False]

    def on_signal(*_: object) -> None:
        stopping[0] = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    return stopping


def _supervise(sup: Supervisor, stopping: list[bool]) -> int:
    while not stopping[0]:
        time.sleep(0.2)
        done = sup.exited()
        if done is None:
            continue
        name, code = done
        print(f"baseload demo: {name} exited with code {code}; stopping", file=sys.stderr)
        return 1
    return 0


def _wait_healthy(sup: Supervisor, ports: Ports) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    pending = {name: f"http://127.0.0.1:{getattr(ports, name)}/readyz" for name in ("ingest", "api", "alerts")}
    with httpx.Client(timeout=2.0) as http:
        while pending:
            if (done := sup.exited()) is not None:
                raise DemoError(f"{done[0]} exited during start-up (code {done[1]}); is its port taken?")
            if time.monotonic() > deadline:
                raise DemoError(f"{', '.join(pending)} did not become ready in {START_TIMEOUT_S:g} s")
            for name, url in list(pending.items()):
                try:
                    if http.get(url).status_code == 200:
                        del pending[name]
                except httpx.HTTPError:
                    pass
            time.sleep(0.2)


def _configure_alerts(sup: Supervisor, ports: Ports, admin_token: str, plan: SimPlan) -> str:
    """Mute the stale-data rule until live readings flow, load the plant's alert rules, and
    (re)register the sink as a webhook endpoint. Returns the endpoint's signing secret.

    The silence comes first: loaded before it, the stale rule could fire (no live data yet) and notify once."""
    base = f"http://127.0.0.1:{ports.alerts}/v1"
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {admin_token}"}, timeout=10.0) as http:
        # Replaying, readings are older than the rule's 30 s; live, there are none until the gateway's first post.
        until = datetime.now(UTC) + timedelta(seconds=max(plan.catch_up_s, 0) + STALE_GRACE_S)
        _checked(
            http.post(
                "/silences",
                json={
                    "matchers": [{"name": "alertname", "value": STALE_RULE}],
                    "ends_at": until.isoformat(),
                    "comment": "demo start-up and replay: no live readings yet",
                    "created_by": "baseload demo",
                },
            )
        )
        load = subprocess.run(
            [sys.executable, "-m", "services.cli", "alerts", "load", str(DEMO_PLANT)],
            env=sup.env,
            cwd=REPO_ROOT,
            timeout=START_TIMEOUT_S,
            check=False,
        )
        if load.returncode != 0:
            raise DemoError("loading the alert rules failed")
        for endpoint in _checked(http.get("/webhook-endpoints")):
            if endpoint["name"] == SINK_ENDPOINT:  # its secret was shown once, in an earlier run: start afresh
                _checked(http.delete(f"/webhook-endpoints/{endpoint['id']}"))
        created = _checked(
            http.post(
                "/webhook-endpoints",
                json={
                    "name": SINK_ENDPOINT,
                    "url": f"http://127.0.0.1:{ports.sink}/webhooks/demo",
                    "format": "standard",
                },
            )
        )
    return str(created["secret"])


def wait_listening(sup: Supervisor, name: str, ports: tuple[int, ...], timeout_s: float = START_TIMEOUT_S) -> None:
    """Until every port accepts a TCP connection on 127.0.0.1 (or `name` exits, or the time is up)."""
    deadline = time.monotonic() + timeout_s
    pending = list(ports)
    while pending:
        if (done := sup.exited()) is not None:
            raise DemoError(f"{done[0]} exited during start-up (code {done[1]}); is its port taken?")
        if time.monotonic() > deadline:
            raise DemoError(f"{name} did not listen on {', '.join(map(str, pending))} in {timeout_s:g} s")
        with socket.socket() as probe:
            probe.settimeout(0.5)
            if probe.connect_ex(("127.0.0.1", pending[0])) == 0:
                pending.pop(0)
                continue
        time.sleep(0.1)


def _checked(response: httpx.Response) -> Any:  # the JSON body: an object or a list
    if response.status_code >= 300:
        raise DemoError(f"{response.request.method} {response.request.url} → {response.status_code} {response.text}")
    return response.json() if response.content else {}


def print_banner(ports: Ports, tokens: dict[str, str], plan: SimPlan, scenario: str) -> None:
    api, alerts = f"http://127.0.0.1:{ports.api}", f"http://127.0.0.1:{ports.alerts}"
    print(f"""
Baseload demo is running. Press Ctrl-C to stop.

  dashboard  {api}/   (open it and sign in with a demo key below, e.g. demo-eps)
  ingest     http://127.0.0.1:{ports.ingest}   (POST /v1/readings, docs at /docs)
  api        {api}   (docs at /docs)
  alerts     {alerts}   (docs at /docs)
  sink       http://127.0.0.1:{ports.sink}   (prints each verified alert; GET /v1/events)
  gateway    http://127.0.0.1:{ports.gateway}/healthz
  simulator  opc.tcp://127.0.0.1:{ports.opcua}/baseload/  +  modbus 127.0.0.1:{ports.modbus}
""")
    for name, token in tokens.items():
        print(f"  {name:<15} {token}")
    print(f"\n  {_timeline(plan, scenario)}\n")
    since = quarter_hour(plan.start).strftime("%Y-%m-%dT%H:%M:%SZ")
    print(
        f"""  Try (the operator key reads everything; partner keys read their plants):
    export KEY={tokens["demo-operator"]}
    curl -s -H "Authorization: Bearer $KEY" \\
      "{api}/v1/plants/nish/compliance?start={since}&end=$(date -u +%FT%TZ)" | python3 -m json.tool
    curl -s -H "Authorization: Bearer $KEY" "{alerts}/v1/alerts" | python3 -m json.tool
    curl -s -H "Authorization: Bearer $KEY" \\
      "{api}/v1/signals/plant.net_output/aggregates?start={since}&end=$(date -u +%FT%TZ)&every=5m&fn=avg,min,max"
    curl -s "http://127.0.0.1:{ports.sink}/v1/events" | python3 -m json.tool
""",
        flush=True,
    )


def _timeline(plan: SimPlan, scenario: str) -> str:
    event = "GT1 trips" if scenario == "gt_trip" else f"the {scenario} event starts"
    if plan.catch_up_s <= 0:
        return f"Live simulation: {event} at {plan.event_ts:%H:%M:%S} UTC."
    return (
        f"Replaying from {plan.start:%H:%M:%S} UTC at {plan.time_scale:g}x: {event} at {plan.event_ts:%H:%M:%S} "
        f"UTC, about {plan.event_at_s / plan.time_scale:.0f} s from now.\n  The replay meets the clock in "
        f"{plan.catch_up_s:.0f} s, then runs live; the stale-data rule is silenced until then."
    )
