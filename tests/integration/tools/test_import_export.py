"""`baseload import` through a real ingest service on 127.0.0.1, and `baseload export` from the same database."""

from __future__ import annotations

import asyncio
import csv
import gzip
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pyarrow.parquet as pq

from services.tools.exporter import export
from services.tools.importer import Progress, fingerprint, run_import
from tests.integration.ingest.conftest import Ingest

T0 = (datetime.now(UTC) - timedelta(hours=2)).replace(microsecond=0)


def iso(seconds: int) -> str:
    return (T0 + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")


async def imported(ingest: Ingest, path: Path, *, batch: int = 3, restart: bool = False) -> Progress:
    return await asyncio.to_thread(
        run_import,
        path,
        ingest.url,
        ingest.token,
        batch=batch,
        report=path.with_suffix(".rejected.csv"),
        state=path.with_suffix(".state"),
        restart=restart,
        progress=False,
    )


async def stored(db: asyncpg.Pool) -> list[tuple[str, datetime, float, int]]:
    rows = await db.fetch(
        "SELECT s.key, r.ts, r.value, r.quality FROM readings r JOIN signals s ON s.id = r.signal_id"
        " ORDER BY s.key, r.ts"
    )
    return [(r["key"], r["ts"], r["value"], r["quality"]) for r in rows]


def report_rows(path: Path) -> list[list[str]]:
    return list(csv.reader(path.with_suffix(".rejected.csv").read_text(encoding="utf-8").splitlines()))[1:]


async def test_a_gzipped_csv_is_stored_once_and_refused_rows_go_to_the_report(
    ingest: Ingest, db: asyncpg.Pool, tmp_path: Path
) -> None:
    lines = (
        ["signal,ts,value,quality"]
        + [f"gt1.active_power,{iso(i)},{150 + i},0" for i in range(7)]
        + [
            f"gt1.active_power,{iso(99)},Shutdown,0",  # row 9: a digital state, refused here
            f"gt9.nope,{iso(1)},1,0",  # row 10: unknown to ingest
        ]
    )
    path = tmp_path / "history.csv.gz"
    path.write_bytes(gzip.compress("\n".join(lines).encode()))
    first = await imported(ingest, path)
    assert (first.rows, first.accepted, first.rejected) == (9, 7, 2)
    assert [(row, code) for row, code, _ in report_rows(path)] == [("9", "invalid_row"), ("10", "unknown_signal")]
    again = await imported(ingest, path)  # a rerun of a finished import stores nothing twice
    assert (again.accepted, again.duplicates) == (0, 7)
    assert [v for _, _, v, _ in await stored(db)] == [150.0 + i for i in range(7)]


async def test_the_pi_layout_maps_status_words_to_qualities(ingest: Ingest, db: asyncpg.Pool, tmp_path: Path) -> None:
    path = tmp_path / "pi.csv"
    path.write_text(
        "Tag,Timestamp,Value,Status\n"
        f"grid.frequency,{iso(0)},50.01,Good\n"
        f"grid.frequency,{iso(1)},0,Bad\n"
        f"grid.frequency,{iso(2)},49.99,Questionable\n"
        f"grid.frequency,{iso(3)},49.98,Pt Created\n",
        encoding="utf-8",
    )
    done = await imported(ingest, path)
    assert (done.accepted, done.rejected) == (3, 1)
    assert [q for *_, q in await stored(db)] == [0, -(2**31), 0x40000000]
    assert report_rows(path)[0][:2] == ["5", "invalid_row"]


async def test_an_interrupted_import_resumes_after_its_last_finished_batch(
    ingest: Ingest, db: asyncpg.Pool, tmp_path: Path
) -> None:
    path = tmp_path / "big.csv"
    path.write_text(
        "signal,ts,value\n" + "".join(f"st1.active_power,{iso(i)},{100 + i}\n" for i in range(9)), encoding="utf-8"
    )
    # What an interruption after the first batch of 3 leaves behind.
    path.with_suffix(".state").write_text(json.dumps({"fingerprint": fingerprint(path), "batches_done": 1}))
    done = await imported(ingest, path)
    assert (done.rows, done.accepted) == (9, 6)
    assert [v for _, _, v, _ in await stored(db)] == [103.0 + i for i in range(6)]  # batch 1 not sent again
    assert not path.with_suffix(".state").exists()
    restarted = await imported(ingest, path, restart=True)
    assert (restarted.accepted, restarted.duplicates) == (3, 6)


async def test_export_writes_csv_that_import_reads_and_parquet(
    ingest: Ingest, db: asyncpg.Pool, tmp_path: Path
) -> None:
    source = tmp_path / "in.csv"
    source.write_text(
        "signal,ts,value,quality\n"
        + "".join(
            f"{key},{iso(i)},{i + 0.25},{quality}\n"
            for i in range(5)
            for key, quality in (("gt1.active_power", 0), ("gt2.active_power", 1083179008))
        ),
        encoding="utf-8",
    )
    assert (await imported(ingest, source, batch=4)).accepted == 10
    start, end = T0, T0 + timedelta(seconds=4)
    async with db.acquire() as conn:
        csv_rows = await export(
            conn, ["gt2.active_power", "gt1.active_power"], start, end, tmp_path / "out.csv", "csv", progress=False
        )
        parquet_rows = await export(
            conn, ["gt1.active_power"], start, end, tmp_path / "out.parquet", "parquet", progress=False
        )
    assert (csv_rows, parquet_rows) == (8, 4)  # --end is exclusive
    exported = list(csv.reader((tmp_path / "out.csv").read_text(encoding="utf-8").splitlines()))
    assert exported[0] == ["signal", "ts", "value", "quality"]
    assert exported[1] == ["gt2.active_power", iso(0), "0.25", "1083179008"]
    table = pq.read_table(tmp_path / "out.parquet").to_pylist()
    assert [(r["signal"], r["value"], r["quality"]) for r in table] == [
        ("gt1.active_power", i + 0.25, 0) for i in range(4)
    ]
    assert table[0]["ts"] == T0
