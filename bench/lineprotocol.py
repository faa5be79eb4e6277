"""Line-protocol decode rate for realistic gateway lines (tags and an OPC UA `quality` field), in one process.

    .venv/bin/python bench/lineprotocol.py [--lines 50000] [--repeat 5]

Prints lines/s of `services.ingest.lineprotocol.parse_uniform` (the body in columns, what the server tries first)
and of `parse` (line by line, its fallback), best of --repeat, and how many lines took parse's fast path.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from services.ingest import lineprotocol as lp

SIGNALS = (
    "gt1,unit=GT1,site=nish active_power",
    "gt2,unit=GT2,site=nish active_power",
    "st1,unit=ST1,site=nish active_power",
    "grid,site=nish frequency",
)


def body(lines: int) -> str:
    start = 1_764_000_000_000_000_000
    return "\n".join(
        f"{SIGNALS[i % 4]}={150 + i % 97 / 7:.3f},quality={0 if i % 50 else 1083179008}i "
        f"{start + (i // 4) * 1_000_000_000}"
        for i in range(lines)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    text = body(args.lines)
    uniform = lp.parse_uniform(text, "ns")
    assert uniform is not None and len(uniform.timestamps_ns) == args.lines
    best_uniform = best_of(args.repeat, lambda: lp.parse_uniform(text, "ns"))
    result = lp.parse(text, "ns")
    assert not result.errors and len(result.points) == args.lines
    best = best_of(args.repeat, lambda: lp.parse(text, "ns"))
    fast = sum(1 for line in text.split("\n") if lp._parse_common(line, 1, 1, lp.Keys()) is not None)
    print(
        f"line protocol decode, lines with tags and quality (best of {args.repeat} × {args.lines:,} lines):\n"
        f"  in columns (parse_uniform): {args.lines / best_uniform:,.0f} lines/s\n"
        f"  line by line (parse):       {args.lines / best:,.0f} lines/s (fast path took {fast:,} of them)"
    )


def best_of(repeat: int, run: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - started)
    return best


if __name__ == "__main__":
    main()
