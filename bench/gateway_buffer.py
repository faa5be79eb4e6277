"""Gateway disk-buffer benchmark: readings offered one data change at a time, in bursts (as OPC UA publish responses
deliver them), until all are on disk. Two ways of queuing them, on the same machine in the same run:

- per-change: one `DiskBuffer.append` (BEGIN IMMEDIATE … COMMIT) per reading on the event loop (the old bridge);
- intake: `Bridge.enqueue` (kept in memory, written once per tick on the buffer's thread).

Prints readings/s to disk, SQLite transactions and event-loop lag (how late a 2 ms sleep wakes up). Asserts nothing.
Bounded: --readings (default 20 000) per mode.

    .venv/bin/python bench/gateway_buffer.py [--readings 20000] [--burst 50] [--rate 0]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from services.gateway.bridge import Bridge
from services.gateway.config import parse_config
from services.gateway.readings import Reading

T0 = datetime(2026, 11, 25, tzinfo=UTC)


async def loop_lag(samples: list[float], stop: asyncio.Event, period_s: float = 0.002) -> None:
    """How late a short sleep wakes up: the time the loop was busy with something else."""
    while not stop.is_set():
        start = time.perf_counter()
        await asyncio.sleep(period_s)
        samples.append(time.perf_counter() - start - period_s)


async def run(mode: str, readings: int, burst: int, rate: float) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        config = parse_config({"ingest": {"key": "bl_bench"}, "buffer": {"path": f"{tmp}/buffer.sqlite3"}}, {})
        bridge = Bridge(config)
        begins: list[str] = []
        # Only to count transactions (not an API): every write transaction starts with BEGIN.
        bridge.buffer._db.set_trace_callback(lambda sql: begins.append(sql) if sql.startswith("BEGIN") else None)
        lags: list[float] = []
        stop = asyncio.Event()
        tasks = [asyncio.create_task(loop_lag(lags, stop)), asyncio.create_task(bridge.intake.run())]
        await asyncio.sleep(0.01)
        start = time.perf_counter()
        for i in range(readings):
            reading = Reading(f"s{i % 40}", T0 + timedelta(milliseconds=i), float(i), 0)
            if mode == "per-change":
                bridge.buffer.append([reading], time.time())
            else:
                bridge.enqueue([reading])
            if i % burst == burst - 1:  # the next publish response
                await asyncio.sleep(0 if not rate else max(0.0, start + (i + 1) / rate - time.perf_counter()))
        while bridge.buffer.depth() < readings:  # noqa: ASYNC110 (the buffer has no event; poll as a reader would)
            await asyncio.sleep(0.001)
        elapsed = time.perf_counter() - start
        stop.set()
        tasks[1].cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await bridge.close()
    lags.sort()
    p99 = lags[int(len(lags) * 0.99)]
    print(
        f"{mode:>10}: {readings} readings in {elapsed:.2f} s = {readings / elapsed:,.0f} readings/s to disk, "
        f"{len(begins)} SQLite transactions; loop lag median {statistics.median(lags) * 1e3:.2f} ms, "
        f"p99 {p99 * 1e3:.2f} ms, max {lags[-1] * 1e3:.2f} ms ({len(lags)} samples)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--readings", type=int, default=20_000)
    parser.add_argument("--burst", type=int, default=50, help="data changes per publish response")
    parser.add_argument("--rate", type=float, default=0.0, help="offered readings/s (0: as fast as possible)")
    args = parser.parse_args()
    for mode in ("per-change", "intake"):
        asyncio.run(run(mode, args.readings, args.burst, args.rate))


if __name__ == "__main__":
    main()
