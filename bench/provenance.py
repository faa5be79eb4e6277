"""What the per-batch provenance row (issue 11) costs on ingest's write path, measured on the write itself.

Alternates, batch by batch on one connection, the write transaction without and with the provenance step
(`batch_digest` of the checked rows + one INSERT into ingest_batches), so both see the same load on a shared
machine; prints the median and mean time of each and the relative cost. Prints figures; asserts nothing.

    .venv/bin/python bench/provenance.py [--batches 80]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import bench_database, now
from bench.ingest import BATCH, SIGNALS, make_plant
from services.ingest import store
from shared.ledger.digest import batch_digest


def batch_rows(ids: list[int], start: datetime) -> list[tuple[int, int, datetime, float, int]]:
    return [
        (i, ids[s], start + timedelta(seconds=k), 100.0 + s + k / 7, 0)
        for i, (k, s) in enumerate((k, s) for k in range(BATCH // SIGNALS) for s in range(SIGNALS))
    ]


async def main(args: argparse.Namespace) -> None:
    async with bench_database() as url:
        _, ids = await make_plant(url)
        conn = await asyncpg.connect(url)
        key_id = await conn.fetchval("SELECT id FROM api_keys LIMIT 1")
        await store.prepare_connection(conn)
        start = datetime.now(UTC).replace(microsecond=0, second=0) - timedelta(days=1)
        await conn.execute("SELECT ensure_readings_partitions($1, $2)", start, start + timedelta(days=2))
        times: dict[bool, list[float]] = {False: [], True: []}
        digests: list[float] = []
        for b in range(args.batches * 2):
            with_provenance = b % 2 == 1
            rows = batch_rows(ids, start + timedelta(seconds=b * (BATCH // SIGNALS)))
            if with_provenance:  # as ingest does: hashed before the write slot, outside the transaction
                t = now()
                digest = batch_digest(rows)
                digests.append(now() - t)
            t = now()
            async with conn.transaction():
                outcome = await store.write_rows(conn, rows, try_append=True)
                if with_provenance:
                    await store.record_batch(conn, key_id, outcome, digest)
            times[with_provenance].append(now() - t)
        await conn.close()
    base, prov = times[False][5:], times[True][5:]  # the first batches warm caches and plans
    print(
        f"Provenance cost: {len(base)} + {len(prov)} alternating write transactions of {BATCH} readings on one "
        "connection (machine shared with other work: compare the columns, not the absolutes)"
    )
    for name, values in (("without provenance", base), ("with provenance", prov)):
        print(
            f"  {name:<20} median {statistics.median(values) * 1000:7.2f} ms   mean "
            f"{statistics.fmean(values) * 1000:7.2f} ms   ({BATCH / statistics.median(values):,.0f} readings/s)"
        )
    digest_ms = statistics.median(digests) * 1000
    print(
        f"  in the transaction (the INSERT): median {statistics.median(prov) / statistics.median(base) - 1:+.1%}, "
        f"mean {statistics.fmean(prov) / statistics.fmean(base) - 1:+.1%}"
    )
    print(
        f"  batch_digest before it: median {digest_ms:.2f} ms per batch (ingest process CPU) = "
        f"{digest_ms / (statistics.median(base) * 1000):.1%} of a write without provenance"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batches", type=int, default=80)
    asyncio.run(main(parser.parse_args()))
