"""`baseload export --signals a,b --start T --end T`: readings to CSV (signal,ts,value,quality) or Parquet.

Reads the database directly (BASELOAD_DATABASE_URL or the embedded server), one signal after the other in time
order, with a progress bar over the rows (off when not a TTY). The CSV is the layout `baseload import` reads.
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg

from services.tools import store

CHUNK = 50_000


def _time(text: str) -> datetime:
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} needs a UTC offset, e.g. 2026-11-25T00:00:00Z")
    return parsed


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="baseload export", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--signals", required=True, help="comma-separated signal keys, e.g. gt1.active_power,grid.frequency")
    p.add_argument("--start", required=True, type=_time, help="first instant (inclusive), RFC 3339 with an offset")
    p.add_argument("--end", required=True, type=_time, help="last instant (exclusive), RFC 3339 with an offset")
    p.add_argument("--out", type=Path, required=True, help="output file; .parquet writes Parquet, anything else CSV")
    p.add_argument("--format", choices=("csv", "parquet"), help="override the format the file name implies")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (it is off anyway when not a TTY)")
    return p


def main(argv: Sequence[str]) -> int:
    from services.cli import run_on_connection
    from shared.settings import BaseServiceSettings

    args = build_parser().parse_args(list(argv))
    keys = [k.strip() for k in args.signals.split(",") if k.strip()]
    if args.end <= args.start:
        raise ValueError("--end must be after --start")
    fmt = args.format or ("parquet" if args.out.suffix == ".parquet" else "csv")

    async def work(conn: asyncpg.Connection) -> int:
        return await export(conn, keys, args.start, args.end, args.out, fmt, progress=not args.no_progress)

    rows = run_on_connection(BaseServiceSettings(), work)
    print(f"exported {rows} readings of {len(keys)} signal(s) to {args.out} ({fmt})", file=sys.stderr)
    return 0


async def export(
    conn: asyncpg.Connection,
    keys: list[str],
    start: datetime,
    end: datetime,
    out: Path,
    fmt: str,
    *,
    progress: bool = True,
) -> int:
    """Write the readings; returns how many."""
    from tqdm import tqdm

    if missing := await store.unknown_signals(conn, keys):
        raise ValueError(f"unknown signal(s): {', '.join(missing)}")
    total = await store.count_readings(conn, keys, start, end)
    writer = _ParquetOut(out) if fmt == "parquet" else _CsvOut(out)
    written = 0
    with (
        writer,
        tqdm(total=total, unit="rows", unit_scale=True, desc=out.name, disable=None if progress else True) as bar,
    ):
        for key in keys:
            async for rows in store.stream_readings(conn, key, start, end, CHUNK):
                writer.write(rows)
                written += len(rows)
                bar.update(len(rows))
    return written


class _CsvOut:
    def __init__(self, path: Path) -> None:
        self.fh = open(path, "w", newline="", encoding="utf-8")  # noqa: SIM115 - closed in __exit__
        self.csv = csv.writer(self.fh)
        self.csv.writerow(["signal", "ts", "value", "quality"])

    def write(self, rows: list[Any]) -> None:
        self.csv.writerows(
            (r["key"], r["ts"].isoformat().replace("+00:00", "Z"), repr(r["value"]), r["quality"] & 0xFFFFFFFF)
            for r in rows
        )

    def __enter__(self) -> _CsvOut:
        return self

    def __exit__(self, *_: object) -> None:
        self.fh.close()


class _ParquetOut:
    def __init__(self, path: Path) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        self.pa = pa
        self.schema = pa.schema(
            [
                ("signal", pa.string()),
                ("ts", pa.timestamp("us", tz="UTC")),
                ("value", pa.float64()),
                ("quality", pa.uint32()),
            ]
        )
        self.writer = pq.ParquetWriter(path, self.schema, compression="zstd")

    def write(self, rows: list[Any]) -> None:
        pa = self.pa
        table = pa.table(
            {
                "signal": [r["key"] for r in rows],
                "ts": [r["ts"] for r in rows],
                "value": [r["value"] for r in rows],
                "quality": [r["quality"] & 0xFFFFFFFF for r in rows],
            },
            schema=self.schema,
        )
        self.writer.write_table(table)

    def __enter__(self) -> _ParquetOut:
        return self

    def __exit__(self, *_: object) -> None:
        self.writer.close()
