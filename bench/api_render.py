"""Rendering benchmark for the api's response models: figures, not a test. `python bench/api_render.py [--repeat 20]`.

Times the JSON rendering of the two largest responses — one signal's aggregates (10 000 buckets, every function) and
a plant's aggregates (200 signals × 1 440 one-minute buckets, columnar) — built as the response models and encoded
(what the api does), against shaping and encoding the same payload as plain dicts (as before the models). Best and
median of `--repeat` runs each, in milliseconds; no database.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from services.api.aggregates import bucket_rows
from services.api.buckets import make_bucketing
from services.api.routes import bucket_models
from services.api.schemas import AggregatesOut, BucketGrid, PlantAggregatesOut, SignalColumns

FNS = ["avg", "min", "max", "first", "last", "twa"]
T0 = datetime(2026, 11, 1, tzinfo=UTC)
encode = msgspec.json.Encoder().encode


def value_columns(n: int) -> dict[str, list[Any]]:
    """One signal's arrays as `services.api.aggregates.shape_grid` returns them."""
    arrays: dict[str, list[Any]] = {f: [480.0 + (i % 97) * 0.01 + k for i in range(n)] for k, f in enumerate(FNS)}
    return {**arrays, "count": [900] * n, "coverage": [1.0] * n}


def columns(signals: int, n: int) -> list[dict[str, Any]]:
    """Per signal, arrays as `services.api.aggregates.shape_grid` returns them."""
    arrays = {f: [480.0 + (i % 89) * 0.01 for i in range(n)] for f in FNS}
    return [
        {"signal": f"s{k:03d}", "unit": "MW", **arrays, "count": [60] * n, "coverage": [1.0] * n}
        for k in range(signals)
    ]


def timed(label: str, fn: Callable[[], bytes], repeat: int) -> float:
    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        size = len(fn())
        runs.append((time.perf_counter() - started) * 1000)
    print(f"{label:48s} best {min(runs):7.2f} ms  median {statistics.median(runs):7.2f} ms  ({size / 1e6:.1f} MB)")
    return min(runs)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f}, {os.cpu_count()} CPUs")

    b = make_bucketing(T0, T0 + timedelta(minutes=15 * 10_000), timedelta(minutes=15), max_buckets=10_000)
    values = value_columns(b.count)
    head = {"signal": "plant.net_output", "unit": "MW", "every": "15m", "fn": FNS, "method": {"m": "..."}}
    timed(
        "signal aggregates, dict rows (before)",
        lambda: encode({**head, "buckets": bucket_rows(values, b, FNS, "none")}),
        args.repeat,
    )
    timed(
        "signal aggregates, models (now)",
        lambda: encode(AggregatesOut(**head, buckets=bucket_models(values, b, "none"))),
        args.repeat,
    )

    cols = columns(200, 1440)
    starts = [T0 + timedelta(minutes=i) for i in range(1440)]
    grid = {"start": starts, "end": [*starts[1:], starts[-1] + timedelta(minutes=1)]}
    head = {"plant": "nish", "every": "1m", "fn": FNS, "method": {"m": "..."}}
    timed(
        "plant aggregates 200 signals, dicts (before)",
        lambda: encode({**head, "buckets": grid, "signals": cols}),
        args.repeat,
    )
    timed(
        "plant aggregates 200 signals, models (now)",
        lambda: encode(
            PlantAggregatesOut(**head, buckets=BucketGrid(**grid), signals=[SignalColumns(**c) for c in cols])
        ),
        args.repeat,
    )


if __name__ == "__main__":
    main()
