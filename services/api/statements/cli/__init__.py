"""Command lines of statements: `baseload keys signing`, `baseload statement`, `baseload ledger`."""

from __future__ import annotations

import argparse
from datetime import datetime

from shared.ledger.canonical import parse_timestamp


def timestamp_arg(text: str) -> datetime:
    try:
        return parse_timestamp(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not RFC 3339 with an offset, e.g. 2026-11-25T00:00:00Z") from exc
