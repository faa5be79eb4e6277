"""`baseload import FILE`: a historian CSV export (gzip accepted) posted to ingest's /v1/readings in batches.

Exactly once: each batch carries an Idempotency-Key made of the file's fingerprint and the batch number, so a retry
or a resumed run never stores a reading twice. Resumable: the number of batches done is kept in FILE.import-state;
run the same command again after an interruption and it goes on from there. Rows refused (by this tool or by
ingest) are written to the report file with their row number and reason.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import hashlib
import io
import json
import os
import sys
import time
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import httpx
import msgspec

from services.cli import CliError
from services.tools.historian import Layout, LayoutError, Reading, detect_layout, to_reading

RETRY_STATUSES = (429, 502, 503, 504)
_encoder = msgspec.json.Encoder()


@dataclass
class Progress:
    rows: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="baseload import", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("file", type=Path, help="CSV or CSV.gz: signal,ts,value[,quality] or tag,timestamp,value[,status]")
    p.add_argument(
        "--ingest-url",
        default=os.environ.get("BASELOAD_GATEWAY_INGEST_URL", "http://127.0.0.1:8001"),
        help="the ingest service (default $BASELOAD_GATEWAY_INGEST_URL or http://127.0.0.1:8001)",
    )
    p.add_argument(
        "--key",
        default=os.environ.get("BASELOAD_IMPORT_KEY") or os.environ.get("BASELOAD_GATEWAY_KEY"),
        help="a gateway or admin API key (default $BASELOAD_IMPORT_KEY, then $BASELOAD_GATEWAY_KEY)",
    )
    p.add_argument("--batch", type=int, default=10_000, help="readings per request (default 10000)")
    p.add_argument("--parallel", type=int, default=2, help="requests in flight at once (default 2)")
    p.add_argument("--report", type=Path, help="where refused rows go (default FILE.rejected.csv)")
    p.add_argument("--restart", action="store_true", help="ignore the saved position and start from the first row")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (it is off anyway when not a TTY)")
    return p


def main(argv: Sequence[str]) -> int:
    args = build_parser().parse_args(list(argv))
    if not args.key:
        raise ValueError("no API key: pass --key or set BASELOAD_IMPORT_KEY (a gateway or admin key)")
    if not args.file.is_file():
        raise FileNotFoundError(f"{args.file}: no such file")
    report = args.report or args.file.with_name(args.file.name + ".rejected.csv")
    state = args.file.with_name(args.file.name + ".import-state")
    done = run_import(
        args.file,
        args.ingest_url,
        args.key,
        batch=args.batch,
        report=report,
        state=state,
        restart=args.restart,
        progress=not args.no_progress,
        parallel=max(1, args.parallel),
    )
    print(
        f"imported {args.file}: {done.rows} rows, {done.accepted} stored, {done.duplicates} already stored, "
        f"{done.rejected} refused" + (f" (see {report})" if done.rejected else ""),
        file=sys.stderr,
    )
    return 0 if not done.rejected else 3


def fingerprint(path: Path) -> str:
    """Size, mtime and the first MiB's hash: enough to tell a resumed file from another one, without a full read."""
    stat = path.stat()
    with open(path, "rb") as fh:
        head = fh.read(1 << 20)
    return hashlib.sha256(f"{stat.st_size}:{stat.st_mtime_ns}:".encode() + head).hexdigest()[:24]


def open_text(path: Path) -> tuple[IO[str], IO[bytes]]:
    """The file as text (gunzipped when it starts with the gzip magic), and the raw file for progress by bytes."""
    raw = open(path, "rb")  # noqa: SIM115 - closed by the caller
    gzipped = raw.read(2) == b"\x1f\x8b"
    raw.seek(0)
    stream: IO[bytes] = gzip.GzipFile(fileobj=raw) if gzipped else raw  # type: ignore[assignment]
    return io.TextIOWrapper(stream, encoding="utf-8-sig", newline=""), raw


def batches(
    rows: Iterator[list[str]], layout: Layout, size: int
) -> Iterator[tuple[list[Reading], list[int], list[tuple[int, str]]]]:
    """(readings, their row numbers, refused rows) per `size` data rows; row 1 is the header."""
    readings: list[Reading] = []
    numbers: list[int] = []
    refused: list[tuple[int, str]] = []
    count = 0
    for number, row in enumerate(rows, start=2):
        if not row:
            continue
        reading = to_reading(row, layout)
        if isinstance(reading, str):
            refused.append((number, reading))
        else:
            readings.append(reading)
            numbers.append(number)
        count += 1
        if count == size:
            yield readings, numbers, refused
            readings, numbers, refused, count = [], [], [], 0
    if count:
        yield readings, numbers, refused


def run_import(
    path: Path,
    ingest_url: str,
    key: str,
    *,
    batch: int,
    report: Path,
    state: Path,
    restart: bool = False,
    progress: bool = True,
    parallel: int = 2,
) -> Progress:
    """Post the file's rows in batches; resume after the batches a saved state says are done."""
    print_ = fingerprint(path)
    started = time.monotonic()
    skip = 0 if restart else _saved(state, print_)
    done = Progress()
    text, raw = open_text(path)
    with (
        text,
        raw,
        httpx.Client(base_url=ingest_url, timeout=120, headers={"Authorization": f"Bearer {key}"}) as http,
        open(report, "a" if skip else "w", newline="", encoding="utf-8") as report_fh,
        _bar(path, progress) as bar,
    ):
        reject_writer = csv.writer(report_fh)
        if not skip:
            reject_writer.writerow(["row", "code", "message"])
        reader = csv.reader(text)
        try:
            layout = detect_layout(next(reader))
        except StopIteration:
            raise LayoutError(f"{path} is empty") from None
        # `parallel` batches in flight while the next is read: the file is parsed while ingest stores.
        with ThreadPoolExecutor(max_workers=parallel) as poster:
            pending: deque[tuple[Future[tuple[dict[str, Any], bool]], int, list[int], list[tuple[int, str]]]] = deque()
            for index, (readings, numbers, refused) in enumerate(batches(reader, layout, batch)):
                done.rows += len(readings) + len(refused)
                if index >= skip:
                    pending.append(
                        (poster.submit(_post, http, readings, f"import-{print_}-{index}"), index, numbers, refused)
                    )
                    if len(pending) > parallel:
                        _record(*pending.popleft(), done, reject_writer, report_fh, state, print_)
                bar.update(raw.tell() - bar.n)
                rate = done.rows / max(time.monotonic() - started, 1e-9)
                bar.set_postfix_str(f"{done.rows:,} rows, {rate:,.0f} rows/s, {done.rejected:,} refused", refresh=False)
            while pending:
                _record(*pending.popleft(), done, reject_writer, report_fh, state, print_)
    state.unlink(missing_ok=True)
    return done


def _record(
    posted: Future[tuple[dict[str, Any], bool]],
    index: int,
    numbers: list[int],
    refused: list[tuple[int, str]],
    done: Progress,
    reject_writer: Any,
    report_fh: IO[str],
    state: Path,
    print_: str,
) -> None:
    """A batch's outcome, in file order: counts, refused rows to the report, then the resume point."""
    reply, replayed = posted.result()
    if replayed:  # this batch was stored by an earlier run: its rows count as already stored
        done.duplicates += reply["accepted"] + reply["duplicates"]
    else:
        done.accepted += reply["accepted"]
        done.duplicates += reply["duplicates"]
    rejected = [(numbers[r["index"]], r["code"], r["message"]) for r in reply["rejected"]]
    rejected += [(n, "invalid_row", m) for n, m in refused]
    reject_writer.writerows(sorted(rejected))
    report_fh.flush()
    done.rejected += len(rejected)
    _save(state, print_, index + 1)


def _post(http: httpx.Client, readings: list[Reading], idempotency_key: str) -> tuple[dict[str, Any], bool]:
    """One batch, retried on overload and lost connections (the Idempotency-Key makes retries exactly-once)."""
    body = _encoder.encode({"readings": readings})
    for attempt in range(8):
        try:
            response = http.post(
                "/v1/readings",
                content=body,
                headers={"Content-Type": "application/json", "Idempotency-Key": idempotency_key},
            )
        except httpx.TransportError as exc:
            if attempt == 7:
                raise CliError(
                    f"cannot reach ingest at {http.base_url} ({exc}); the import resumes from its last "
                    "finished batch when run again"
                ) from exc
            time.sleep(min(2**attempt * 0.25, 10))
            continue
        if response.status_code in RETRY_STATUSES and attempt < 7:
            time.sleep(min(2**attempt * 0.25, 10))
            continue
        if response.status_code != 200:
            error = response.json().get("error", {}) if response.content else {}
            raise CliError(f"ingest answered {response.status_code}: {error.get('message', response.text[:200])}")
        result: dict[str, Any] = response.json()
        return result, response.headers.get("idempotent-replayed") == "true"
    raise AssertionError("unreachable")


def _saved(state: Path, print_: str) -> int:
    try:
        saved = json.loads(state.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return 0
    if saved.get("fingerprint") != print_:
        return 0  # another file under the same name: start afresh
    return int(saved.get("batches_done", 0))


def _save(state: Path, print_: str, batches_done: int) -> None:
    tmp = state.with_name(state.name + ".tmp")
    tmp.write_text(json.dumps({"fingerprint": print_, "batches_done": batches_done}), encoding="utf-8")
    tmp.replace(state)  # atomic: an interruption leaves the old state or the new one


def _bar(path: Path, enabled: bool) -> Any:
    from tqdm import tqdm

    # disable=None: tqdm turns itself off when stderr is not a terminal.
    return tqdm(
        total=path.stat().st_size,
        unit="B",
        unit_scale=True,
        desc=path.name,
        disable=None if enabled else True,
        smoothing=0.1,
    )
