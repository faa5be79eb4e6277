"""`baseload ledger verify [--plant P] [--since T]`: recompute published statements from the database."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import asyncpg

from services.api.settings import Settings
from services.api.statements import ledger, service
from services.api.statements.cli import timestamp_arg


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="baseload ledger", description=__doc__)
    sub = p.add_subparsers(dest="action", required=True)
    verify = sub.add_parser(
        "verify",
        help="signatures, hashes and chain of every statement; numbers and readings "
        "digest of each latest revision recomputed; exit 1 at the first mismatch",
    )
    verify.add_argument("--plant")
    verify.add_argument("--since", type=timestamp_arg, help="statements issued from this time on")
    return p


def main(argv: Sequence[str]) -> int:
    from services.cli import run_on_connection

    args = build_parser().parse_args(list(argv))
    settings = Settings()

    async def work(conn: asyncpg.Connection) -> ledger.Report:
        return await ledger.verify_ledger(conn, service.Issuing(settings, None), plant_key=args.plant, since=args.since)

    report = run_on_connection(settings, work)
    if report.mismatch is not None:
        print(f"MISMATCH {report.mismatch}", file=sys.stderr)
        return 1
    print(f"ok: {report.checked} statements verified, {report.recomputed} latest revisions recomputed")
    return 0
