"""`baseload keys signing create|list`: the Ed25519 keys that sign statements (a key file outside the database)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from services.api.settings import Settings
from shared.ledger.keys import add_key, load_keyring


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="baseload keys signing", description=__doc__)
    sub = p.add_subparsers(dest="action", required=True)
    create = sub.add_parser("create", help="add a new signing key (it signs from now on; older keys stay published)")
    create.add_argument(
        "--file", type=Path, help="key file (default: BASELOAD_API_SIGNING_KEY_FILE or <data dir>/signing-keys.json)"
    )
    show = sub.add_parser("list", help="key ids in the key file, the active one last")
    show.add_argument("--file", type=Path)
    return p


def main(argv: Sequence[str]) -> int:
    args = build_parser().parse_args(list(argv))
    path = args.file or Settings().key_file()
    if args.action == "create":
        key = add_key(path, datetime.now(UTC))
        print(key.kid)
        print(f"signing key {key.kid} added to {path} (mode 0600); it signs from the api's next start", file=sys.stderr)
        return 0
    ring = load_keyring(path)
    for key in ring.keys:
        print(key.kid, "(active)" if key is ring.active else "")
    return 0
