"""The `baseload` command as a user runs it: one clear line per error, --version, help on every option."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from services import cli, demo
from services.demo_setup import LOCK_FILE, DemoLock, Ports

REPO_ROOT = Path(__file__).resolve().parents[2]


def baseload(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "services.cli", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "BASELOAD_DEBUG": "", **(env or {})},
    )


def test_version_is_printed() -> None:
    result = baseload("--version")
    assert result.returncode == 0 and result.stdout.startswith("baseload ")


def options(parser: argparse.ArgumentParser) -> list[tuple[str, argparse.Action]]:
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found += [(f"{name} {n}", a) for n, a in options(sub)]
        elif not isinstance(action, argparse._HelpAction | argparse._VersionAction):
            found.append((action.dest, action))
    return found


@pytest.mark.parametrize("parser", [cli.build_parser(), demo.build_parser()], ids=["baseload", "demo"])
def test_every_option_and_argument_has_help(parser: argparse.ArgumentParser) -> None:
    missing = [name for name, action in options(parser) if not action.help]
    assert missing == []


@pytest.mark.parametrize("command", [["keys", "list"], ["migrate"], ["plant", "load", "deploy/plants/nish.yaml"]])
def test_an_unreachable_database_is_one_line_and_a_non_zero_exit(command: list[str]) -> None:
    result = baseload(*command, env={"BASELOAD_DATABASE_URL": "postgresql://postgres@127.0.0.1:1/none"})
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert "cannot reach the database" in result.stderr and "--debug" in result.stderr


def test_debug_shows_the_traceback() -> None:
    result = baseload("--debug", "keys", "list", env={"BASELOAD_DATABASE_URL": "postgresql://postgres@127.0.0.1:1/x"})
    assert result.returncode != 0 and "Traceback" in result.stderr


def test_a_second_demo_is_refused_at_once_and_changes_nothing(tmp_path: Path) -> None:
    # The database URL leads nowhere: were the second demo to touch it, the error would be another one.
    env = {"BASELOAD_DATA_DIR": str(tmp_path), "BASELOAD_DATABASE_URL": "postgresql://postgres@127.0.0.1:1/none"}
    with DemoLock.acquire(tmp_path / LOCK_FILE, Ports()):
        result = baseload("demo", env=env, timeout=30)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1
    assert f"another Baseload demo is running (pid {os.getpid()}, ingest 8001" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo.lock"]


def test_a_one_off_command_stops_the_embedded_postgresql_it_started() -> None:
    # Not tmp_path: under root the server runs as the `embedded_postgres` user, who cannot enter pytest's 0700 dirs.
    with tempfile.TemporaryDirectory(prefix="baseload-cli-") as data_dir:
        os.chmod(data_dir, 0o755)
        _one_off_command_leaves_no_server(data_dir)


def _one_off_command_leaves_no_server(data_dir: str) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("BASELOAD_DATABASE_URL", "DATABASE_URL")}
    env["BASELOAD_DATA_DIR"] = data_dir  # no database URL: the embedded server of this data directory
    result = subprocess.run(
        [sys.executable, "-m", "services.cli", "keys", "list"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert "run `baseload migrate` first" in result.stderr  # it did reach the embedded server (no tables yet)
    status = subprocess.run(
        [sys.executable, "-m", "services.cli", "db", "status"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert (status.returncode, status.stdout.strip()) == (1, "not running")
