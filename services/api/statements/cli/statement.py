"""`baseload statement issue|verify|recompute`: issue statements now; check them offline, as a partner would."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg

from services.api.settings import Settings
from services.api.statements import service, store
from services.api.statements.cli import timestamp_arg
from shared.ledger import offline
from shared.ledger.keys import load_keyring


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="baseload statement", description=__doc__)
    sub = p.add_subparsers(dest="action", required=True)
    issue = sub.add_parser(
        "issue",
        help="sign every closed period with data (and each closed plant-local day) that "
        "has no statement yet; history included",
    )
    issue.add_argument("--plant", help="one plant (default: all)")
    issue.add_argument("--start", type=timestamp_arg, help="from (default: the first reading)")
    issue.add_argument("--end", type=timestamp_arg, help="until (default: now; open periods are never issued)")
    verify = sub.add_parser("verify", help="check signatures, chain and digest fields offline")
    verify.add_argument("file", type=Path, help="a JWS per line, or a JSON response of the statements api")
    verify.add_argument("--jwks", type=Path, required=True, help="the JWKS from GET /v1/plants/{plant}/signing-keys")
    recompute = sub.add_parser("recompute", help="recompute numbers and readings digest from a raw export")
    recompute.add_argument("file", type=Path)
    recompute.add_argument(
        "--readings",
        type=Path,
        action="append",
        required=True,
        help="CSV from `baseload export` or GET /v1/signals/{signal}/readings (repeatable)",
    )
    return p


def main(argv: Sequence[str]) -> int:
    args = build_parser().parse_args(list(argv))
    if args.action == "issue":
        return _issue(args)
    tokens = offline.tokens_in(args.file.read_text(encoding="utf-8"))
    if args.action == "verify":
        return _verify(tokens, json.loads(args.jwks.read_text(encoding="utf-8")))
    return _recompute(tokens, args.readings)


def _issue(args: argparse.Namespace) -> int:
    from services.cli import run_on_connection

    settings = Settings()
    ctx = service.Issuing(settings, load_keyring(settings.key_file()))
    now = datetime.now(UTC)

    async def work(conn: asyncpg.Connection) -> dict[str, tuple[int, int]]:
        assert ctx.keyring is not None
        await store.register_keys(conn, ctx.keyring.public_jwks()["keys"])
        done = {}
        for subj in await service.subjects(conn, args.plant):
            start = args.start or await store.first_data(conn, subj.net.id)
            periods = days = 0
            while start is not None:
                async with conn.transaction():
                    got = await service.issue_range(conn, ctx, subj, start, args.end or now, now)
                periods += len(got)
                if len(got) < service.MAX_PERIODS_PER_CALL:
                    break
                start = got[-1].period_end
            first = args.start or await store.first_stated(conn, subj.plant.id, "period")
            if first is not None:
                async with conn.transaction():
                    days = len(
                        await service.issue_days(conn, ctx, subj, first - timedelta(days=1), args.end or now, now)
                    )
            done[subj.plant.key] = (periods, days)
        return done

    for plant, (periods, days) in run_on_connection(settings, work).items():
        print(f"plant {plant}: {periods} period statements and {days} daily statements issued")
    return 0


def _verify(tokens: list[str], jwks: dict[str, Any]) -> int:
    try:
        checked = offline.verify_all(tokens, jwks)
    except offline.OfflineError as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        return 1
    for c in checked:
        p = c.payload
        print(
            f"ok  {p['plant']} {p['kind']} {p['period_start']} revision {p['revision']} sequence {p['sequence']} "
            f"{c.hash}"
        )
    print(
        f"{len(checked)} statements verified (signature, canonical payload, digest fields, chain between "
        f"adjacent sequences)",
        file=sys.stderr,
    )
    return 0


def _recompute(tokens: list[str], exports: list[Path]) -> int:
    from shared.ledger.signing import unverified_payload

    failed = 0
    for token in tokens:
        payload = unverified_payload(token)
        rows = offline.read_export(exports, payload["readings"]["signals"][0])
        problems = offline.recompute(payload, rows)
        label = f"{payload['plant']} {payload['kind']} {payload['period_start']} revision {payload['revision']}"
        if problems:
            print(
                f"DIFFERS  {label}: {problems[0]}" + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else "")
            )
            failed += 1
        else:
            print(f"same     {label}")
    return 1 if failed else 0
