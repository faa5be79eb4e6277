"""The command lines as a partner and an operator run them: issue, verify offline, recompute from an export,
and `ledger verify` catching a reading changed with plain SQL."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.integration.api.profiles import series
from tests.integration.statements.conftest import Env
from tests.support import REPO_ROOT

T0 = datetime(2026, 6, 1, 10, 0, tzinfo=UTC)


async def baseload(env: Env, *args: str) -> subprocess.CompletedProcess[str]:
    environment = {
        **os.environ,
        "BASELOAD_DATABASE_URL": env.database_url,
        "BASELOAD_API_SIGNING_KEY_FILE": str(env.key_file),
    }
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "services.cli", *args],
        cwd=REPO_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


async def test_issue_verify_recompute_and_ledger_verify_from_the_command_line(env: Env, tmp_path: Path) -> None:
    await env.post("plant.net_output", series(T0, 1800, lambda i: 470.0 + (i % 5) * 3.5, step_s=7))
    issued = await baseload(env, "statement", "issue", "--plant", "nish")
    assert issued.returncode == 0, issued.stderr
    assert "2 period statements and 1 daily statements issued" in issued.stdout

    served = await env.api.get(
        "/v1/plants/nish/statements", role="eps", start="2026-05-31T00:00:00Z", end="2026-06-02T00:00:00Z"
    )
    (tmp_path / "statements.json").write_bytes(served.content)
    jwks = await env.api.get("/v1/plants/nish/signing-keys", role="eps")
    (tmp_path / "jwks.json").write_bytes(jwks.content)
    verified = await baseload(
        env, "statement", "verify", str(tmp_path / "statements.json"), "--jwks", str(tmp_path / "jwks.json")
    )
    assert verified.returncode == 0, verified.stderr
    assert verified.stdout.count("ok  nish") == 3

    tampered = json.loads(served.content)
    first = tampered["statements"][1]["jws"].split(".")
    first[1] = first[1][:20] + ("x" if first[1][20] != "x" else "y") + first[1][21:]
    tampered["statements"][1]["jws"] = ".".join(first)
    (tmp_path / "tampered.json").write_text(json.dumps(tampered))
    refused = await baseload(
        env, "statement", "verify", str(tmp_path / "tampered.json"), "--jwks", str(tmp_path / "jwks.json")
    )
    assert refused.returncode == 1 and "bad_signature" in refused.stderr

    export = tmp_path / "readings.csv"
    exported = await baseload(
        env,
        "export",
        "--signals",
        "plant.net_output",
        "--start",
        "2026-06-01T00:00:00Z",
        "--end",
        "2026-06-02T00:00:00Z",
        "--out",
        str(export),
        "--no-progress",
    )
    assert exported.returncode == 0, exported.stderr
    periods = {"statements": [s for s in tampered["statements"] if s["kind"] == "period"]}
    periods["statements"][0] = json.loads(served.content)["statements"][1]
    (tmp_path / "periods.json").write_text(json.dumps(periods))
    same = await baseload(env, "statement", "recompute", str(tmp_path / "periods.json"), "--readings", str(export))
    assert same.returncode == 0, same.stdout + same.stderr
    assert same.stdout.count("same") == 2

    assert (await baseload(env, "ledger", "verify")).returncode == 0
    await env.api.db.execute("UPDATE readings SET value = value + 0.5 WHERE ts = $1", T0 + timedelta(seconds=700))
    mismatch = await baseload(env, "ledger", "verify", "--plant", "nish")
    assert mismatch.returncode == 1
    assert "MISMATCH plant nish" in mismatch.stderr and "2026-06-01T10:00:00.000000Z" in mismatch.stderr
