"""The sustained_under_delivery rule over a 7-day window (figures, not a test), before and after issue 10 (d):

- before: what the rule read until now, every raw reading of the window (+ the two before it), then one held
  integral per settlement period (the code the rule ran, kept here as the "before");
- after: the held integral per run of equally committed periods, read exactly from the rollups
  (shared/history/rollups.py: hourly middle, 15-minute and minute shoulders, raw only where no row fits).

Then the same for a baseload_deviation rule with `revision_window` 6h (the judged periods were read raw on every tick
before; now their held integrals come from the rollups too).

Loads one 1 Hz net-output signal over `--days` (+ 1 h) through ingest's bulk writer (rollups folded as ingest folds
them), with a few outages longer than max_gap and some Uncertain readings, into a fresh database; then times both
paths, interleaved, `--runs` times each (median), checks they agree, and prints rows read and `uptime`.

    .venv/bin/python -m bench.alerts_sustained [--days 7] [--runs 7]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from bench.common import bench_database
from services.alerts import cli, store
from services.alerts.evaluator import Evaluator
from services.alerts.rules import evaluate, needs
from services.alerts.settings import Settings
from services.ingest.compaction import compress_day
from services.ingest.store import write_readings
from shared.history.reader import readings_between
from shared.history.rollups import ReadStats, held_integrals
from shared.plants import apply_plant, load_plant_file
from shared.settlement import Reading, settlement_periods
from shared.settlement import held_integrals as raw_held_integrals
from shared.settlement.integral import edges_us

START = datetime(2026, 11, 1, tzinfo=UTC)
MAX_GAP_S = 60.0
_US = timedelta(microseconds=1)


def readings(days: int, rng: random.Random) -> list[tuple[datetime, float, int]]:
    out = []
    outages = {rng.randrange(0, days * 86400) for _ in range(3 * days)}  # ~3 outages of 2–10 min a day
    t = 0
    end = days * 86400 + 3600
    while t < end:
        if t in outages:
            t += rng.randrange(120, 600)
            continue
        out.append((START + timedelta(seconds=t), 470.0 + rng.uniform(-5, 5), 0x40000000 if t % 1009 == 0 else 0))
        t += 1
    return out


async def before(conn: asyncpg.Connection, sid: int, book: Any, start: datetime, now: datetime) -> dict[str, float]:
    got = (await readings_between(conn, [sid], start, now + _US, before=2))[sid]
    rows = [Reading(*r) for r in got.rows()]
    periods = settlement_periods(start, now, book.commitments, book.schedule, book.default_period_s, limit=100_000)
    edges = [start, *(q.end for q in periods if start < q.end < now), now]
    area = covered = 0.0
    for period, integral in zip(periods, raw_held_integrals(rows, edges, max_gap_s=MAX_GAP_S), strict=True):
        if period.commitment is not None and not book.excluded(period.start, period.end):
            area += integral.area
            covered += integral.covered_s
    return {"mean_mw": area / covered, "covered_s": covered, "read": len(rows)}


async def after(conn: asyncpg.Connection, rule: Any, books: Any, now: datetime) -> dict[str, float]:
    want = needs(rule, books, now)
    inputs = await store.load_inputs(conn, want, books, now, max_gap_s=MAX_GAP_S)
    evidence = evaluate(rule, inputs, now)[0].evidence
    return {"mean_mw": evidence["mean_mw"], "covered_s": evidence["covered_s"]}


async def deviation_before(conn: asyncpg.Connection, sid: int, rule: Any, books: Any, now: datetime) -> int:
    """The deviation rule's read before: every raw reading since the first judged period, one held integral per
    judged period and for the running one."""
    book = books[rule.plant_id]
    last = book.last_ended(now - timedelta(seconds=rule.params.final_delay))
    judged = book.periods_between(last.end - timedelta(seconds=rule.params.revision_window), last.end)
    got = await readings_between(conn, [sid], judged[0].start, now + _US, before=2)
    rows = [Reading(*r) for r in got[sid].rows()]
    running = book.period_at(now)
    raw_held_integrals(rows, [*(q.start for q in judged), last.end], max_gap_s=MAX_GAP_S)
    raw_held_integrals(rows, [running.start, now], max_gap_s=MAX_GAP_S)
    return len(rows)


async def deviation_after(conn: asyncpg.Connection, rule: Any, books: Any, now: datetime) -> int:
    want = needs(rule, books, now)
    inputs = await store.load_inputs(conn, want, books, now, max_gap_s=MAX_GAP_S)
    evaluate(rule, inputs, now)
    return len(want.held)


async def timed(fn: Any) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = await fn()
    return (time.perf_counter() - t0) * 1000, out


async def measure(
    conn: asyncpg.Connection,
    sid: int,
    plant_id: int,
    rule: Any,
    books: Any,
    start: datetime,
    now: datetime,
    window: str,
    runs: int,
    label: str,
) -> None:
    """Before and after, interleaved, `runs` times each; prints medians, rows read and the numbers."""
    print(f"-- {label}")
    stats = ReadStats({})
    want = needs(rule, books, now)
    for key_sid, edges in want.held:
        await held_integrals(conn, key_sid, edges_us(edges), max_gap_s=MAX_GAP_S, stats=stats)
    times: dict[str, list[float]] = {"before": [], "after": []}
    results: dict[str, Any] = {}
    for _ in range(runs):
        for name, fn in (
            ("before", lambda: before(conn, sid, books[plant_id], start, now)),
            ("after", lambda: after(conn, rule, books, now)),
        ):
            ms, results[name] = await timed(fn)
            times[name].append(ms)
    old, new = results["before"], results["after"]
    assert abs(old["covered_s"] - new["covered_s"]) < 1e-6, (old, new)
    assert abs(old["mean_mw"] - new["mean_mw"]) <= 1e-9 * abs(old["mean_mw"]), (old, new)
    buckets = next(iter(want.held))[1]
    print(f"window {window} ending {now.isoformat()}, {len(buckets) - 1} bucket(s) asked for")
    print(
        f"before: median {statistics.median(times['before']):8.1f} ms  (min {min(times['before']):.1f})  "
        f"raw readings read {old['read']:,}, 1 statement"
    )
    print(
        f"after:  median {statistics.median(times['after']):8.1f} ms  (min {min(times['after']):.1f})  "
        f"rollup rows read {stats.rollup_rows}, raw readings read {stats.readings}, "
        f"{stats.statements} statements"
    )
    print(
        f"same numbers: mean {old['mean_mw']:.9f} vs {new['mean_mw']:.9f} MW, "
        f"covered {old['covered_s']:.3f} vs {new['covered_s']:.3f} s"
    )


async def run(args: argparse.Namespace) -> None:
    rng = random.Random(14)
    async with bench_database() as url:
        conn = await asyncpg.connect(url)
        await store.init_connection(conn)
        plant_id = await apply_plant(conn, load_plant_file("deploy/plants/nish.yaml"))
        sid = int(await conn.fetchval("SELECT id FROM signals WHERE key = 'plant.net_output'"))
        rows = readings(args.days, rng)
        t0 = time.perf_counter()
        for i in range(0, len(rows), 20_000):
            await write_readings(conn, [(sid, ts, v, q) for ts, v, q in rows[i : i + 20_000]], notify_channel=None)
        print(f"loaded {len(rows):,} readings in {time.perf_counter() - t0:.1f} s")
        await conn.execute("VACUUM ANALYZE")
        window = f"{args.days}d"
        rule_in = {
            "name": "sustained",
            "kind": "sustained_under_delivery",
            "params": {"plant": "nish", "window": window},
        }
        await cli.apply(conn, [cli.RULES.validate_python(rule_in)], [], "bench")
        loaded = await store.load_rules(conn)
        (rule,) = loaded.rules.values()
        now = START + timedelta(days=args.days, minutes=52, seconds=13.5)  # an evaluator tick: not on a boundary
        books = await store.load_books(conn, [plant_id], now)
        start = now - timedelta(days=args.days)
        await measure(conn, sid, plant_id, rule, books, start, now, window, args.runs, "hot days")
        for d in range(args.days):  # as the ingest job leaves them: closed days compressed (minute rows may be packed)
            await compress_day(conn, (START + timedelta(days=d)).date(), lock_timeout_ms=60_000)
        await measure(conn, sid, plant_id, rule, books, start, now, window, args.runs, "closed days compressed")
        deviation_in = {
            "name": "deviation",
            "kind": "baseload_deviation",
            "params": {"plant": "nish", "revision_window": "6h"},
        }
        await cli.apply(conn, [cli.RULES.validate_python(deviation_in)], [], "bench")
        deviation = next(r for r in (await store.load_rules(conn)).rules.values() if r.name == "deviation")
        dev: dict[str, list[float]] = {"before": [], "after": []}
        for _ in range(args.runs):
            ms, read = await timed(lambda: deviation_before(conn, sid, deviation, books, now))
            dev["before"].append(ms)
            ms, _ = await timed(lambda: deviation_after(conn, deviation, books, now))
            dev["after"].append(ms)
        print(
            f"deviation rule, revision_window 6h: before median {statistics.median(dev['before']):.1f} ms "
            f"({read:,} raw readings); after median {statistics.median(dev['after']):.1f} ms (rollups)"
        )
        await conn.execute("DELETE FROM alert_rules WHERE name = 'deviation'")
        pool = await asyncpg.create_pool(url, min_size=1, max_size=2, init=store.init_connection)
        evaluator = Evaluator(pool, Settings(database_url=url), url, clock=lambda: now)
        await evaluator.refresh_rules()
        cycles = [(await timed(lambda: evaluator.cycle(set(), full=True)))[0] for _ in range(args.runs)]
        print(f"full evaluator cycle (this one rule, alert rows written): median {statistics.median(cycles):.1f} ms")
        await pool.close()
        await conn.close()
    print("uptime:", os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--runs", type=int, default=7)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
