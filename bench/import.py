"""Import rate of `baseload import`: a generated historian CSV posted through a real ingest process.

    .venv/bin/python bench/import.py [--rows 1000000] [--batch 10000] [--gzip]

Makes a CSV of --rows readings (200 signals at 1 Hz, ending an hour ago), starts PostgreSQL (embedded, or the
server of BASELOAD_DATABASE_URL) and `baseload serve ingest`, imports the file and prints rows/s. The issue asks for
10,000,000 rows (`--rows 10000000`); on a shared 2-core machine that runs for several minutes.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import bench_database, service_process
from bench.ingest import SIGNALS, make_plant
from services.tools.importer import run_import
from tests.support import free_port


def write_csv(path: Path, rows: int, gzipped: bool) -> None:
    seconds = -(-rows // SIGNALS)
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1, seconds=seconds)
    opener = gzip.open if gzipped else open
    with opener(path, "wt", encoding="utf-8", newline="") as fh:  # type: ignore[operator]
        fh.write("signal,ts,value,quality\n")
        written = 0
        for s in range(seconds):
            ts = (start + timedelta(seconds=s)).isoformat().replace("+00:00", "Z")
            chunk = min(SIGNALS, rows - written)
            fh.write("".join(f"u{i:03d}.p,{ts},{100 + (s * 7 + i) % 97 / 8},0\n" for i in range(chunk)))
            written += chunk


async def main(args: argparse.Namespace) -> None:
    work = Path(tempfile.mkdtemp(prefix="baseload-import-bench-"))
    path = work / ("history.csv.gz" if args.gzip else "history.csv")
    started = time.perf_counter()
    write_csv(path, args.rows, args.gzip)
    print(f"wrote {args.rows:,} rows ({path.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - started:.1f} s")
    async with bench_database() as url:
        token, _ = await make_plant(url)
        port = free_port()
        async with service_process("ingest", url, port):
            started = time.perf_counter()
            done = await asyncio.to_thread(
                run_import,
                path,
                f"http://127.0.0.1:{port}",
                token,
                batch=args.batch,
                report=work / "rejected.csv",
                state=work / "state",
                progress=False,
            )
            elapsed = time.perf_counter() - started
    assert done.accepted == args.rows and done.rejected == 0, done
    print(
        f"baseload import: {args.rows:,} rows in {elapsed:.1f} s = {args.rows / elapsed:,.0f} rows/s "
        f"(batches of {args.batch:,}{', gzip' if args.gzip else ''}; importer, ingest and PostgreSQL on one machine)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--gzip", action="store_true")
    asyncio.run(main(parser.parse_args()))
