"""The README's five-minute tour, run as written against a live `baseload demo`: its `sh` blocks are extracted
from README.md (so the README cannot drift from the product), ports and key placeholders replaced by this demo's,
and each block must exit 0 and print what its `# ...` comments promise."""

from __future__ import annotations

import os
import re
import subprocess
import time
from dataclasses import asdict, fields
from pathlib import Path

import asyncpg
import httpx

from services.demo_setup import Ports
from tests.support import cli_process, free_port

REPO = Path(__file__).resolve().parents[2]
BUDGET_S = 60.0
DEFAULT_PORTS = {f"127.0.0.1:{port}": name for name, port in asdict(Ports()).items()}


def tour() -> tuple[str, list[str]]:
    """The tour's text and its `sh` blocks that talk to the demo (with curl; e.g. a docker compose block is not
    for a demo on this machine)."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    text = readme[readme.index("## A five-minute tour") : readme.index("## Ingest in detail")]
    return text, [block for block in re.findall(r"```sh\n(.*?)```", text, flags=re.S) if "curl " in block]


def placeholders(text: str) -> dict[str, str]:
    """`bl_ZQ91…` → `demo-eps`, from the banner the README shows."""
    return {token: name for name, token in re.findall(r"^\s+(demo-[a-z]+)\s+(bl_\S+…)", text, flags=re.M)}


def promised(block: str) -> list[str]:
    """What the block's output must contain: a status line, a header, or a reply's first key-value pair."""
    expected = []
    for comment in re.findall(r"^# (.+)$", block, flags=re.M):
        if comment.startswith("HTTP/"):
            expected.append(comment.split()[1])
        elif re.match(r"[A-Z][\w-]+: ", comment):
            expected.append(comment)
        elif comment.startswith("{") and (pair := re.match(r'\{("\w+":[^,}]+)', comment)):
            expected.append(pair.group(1))
    return expected


def live(block: str, ports: Ports, tokens: dict[str, str], names: dict[str, str]) -> str:
    for address, name in DEFAULT_PORTS.items():
        block = block.replace(address, f"127.0.0.1:{getattr(ports, name)}")
    for placeholder, name in names.items():
        block = block.replace(placeholder, tokens[name])
    return block


def test_the_readme_tour_runs_as_written_against_a_live_demo(
    tmp_path: Path, database_url: str, db: asyncpg.Pool
) -> None:
    text, blocks = tour()
    names = placeholders(text)
    assert len(blocks) >= 4 and set(names.values()) >= {"demo-eps", "demo-operator", "demo-gateway"}
    ports = Ports(**{f.name: free_port() for f in fields(Ports)})
    env = {"BASELOAD_DATABASE_URL": database_url, "BASELOAD_DATA_DIR": str(tmp_path / "data")}
    log = tmp_path / "demo.log"
    port_args = ",".join(f"{name}={port}" for name, port in asdict(ports).items())
    deadline = time.monotonic() + BUDGET_S
    with cli_process("demo", "--time-scale", "1", "--ports", port_args, env=env, log=log, stop_timeout=40) as proc:
        tokens = _wait_for_banner(log, proc, deadline)
        _wait_for_readings(ports, tokens["demo-operator"], proc, deadline, log)
        exported = ""  # one shell session: a block sees what earlier blocks exported
        for block in blocks:
            script = exported + live(block, ports, tokens, names)
            exported = "".join(line + "\n" for line in script.splitlines() if line.startswith("export "))
            result = subprocess.run(
                ["bash", "-euo", "pipefail", "-c", script],
                capture_output=True,
                text=True,
                timeout=30,
                env={"PATH": os.environ["PATH"], "LC_ALL": "C"},
            )
            assert result.returncode == 0, f"{script}\n{result.stdout}\n{result.stderr}"
            assert '"error"' not in result.stdout, f"{script}\n{result.stdout}"
            for expected in promised(block):
                output = result.stdout.replace('": ', '":').lower()  # json.tool's spacing; header names' case
                assert expected.lower() in output, f"{script}\n{result.stdout}"
    demo_output = log.read_text(errors="replace")
    assert "Traceback" not in demo_output and "net-output-stale" not in demo_output, demo_output


def _wait_for_banner(log: Path, proc: subprocess.Popen[bytes], deadline: float) -> dict[str, str]:
    while True:
        assert proc.poll() is None, log.read_text(errors="replace")
        assert time.monotonic() < deadline, "no banner:\n" + log.read_text(errors="replace")
        found = dict(re.findall(r"^\s+(demo-[a-z]+)\s+(bl_[\w-]+)$", log.read_text(errors="replace"), flags=re.M))
        if len(found) == 5:
            return found
        time.sleep(0.3)


def _wait_for_readings(ports: Ports, key: str, proc: subprocess.Popen[bytes], deadline: float, log: Path) -> None:
    """The gateway has stored plant data (the tour's queries then have something to show)."""
    url = f"http://127.0.0.1:{ports.api}/v1/signals/plant.net_output/readings"
    while True:
        assert proc.poll() is None, log.read_text(errors="replace")
        assert time.monotonic() < deadline, "no readings:\n" + log.read_text(errors="replace")
        try:
            response = httpx.get(
                url,
                params={"start": "2020-01-01T00:00:00Z", "end": "2100-01-01T00:00:00Z"},
                headers={"Authorization": f"Bearer {key}"},
                timeout=5,
            )
            if response.status_code == 200 and response.json().get("readings"):
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
