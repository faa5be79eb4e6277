"""Durations as operators write them: 500ms, 30s, 15m, 1h, 1d, 1w."""

from __future__ import annotations

import re
from datetime import timedelta

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> timedelta:
    """'15m' → 15 minutes; raises ValueError naming the accepted forms."""
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"invalid duration {text!r}: use a number and one of ms, s, m, h, d, w (e.g. 15m)")
    return timedelta(seconds=float(match.group(1)) * _UNIT_SECONDS[match.group(2)])
