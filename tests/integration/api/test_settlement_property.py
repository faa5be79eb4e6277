"""Property: whatever the sampling and however it arrives, the api's energy, twa, coverage and compliance equal an
exact reference integral computed here, independently, from the raw readings.

Readings (irregular runs, deadband-like plateaus, gaps shorter and longer than the maximum gap, mixed qualities,
duplicates) are posted to the ingest service over HTTP in random batch splits and random order, so late data lands
inside minutes already rolled up; then (the compressed variant) they are moved into compressed blocks before the
api is asked. The reference below is written from the rule as stated in the README, in exact
rational arithmetic, and does not use shared.settlement.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from services.api.settings import Settings as ApiSettings
from services.ingest.app import create_app as create_ingest
from services.ingest.settings import Settings as IngestSettings
from tests.integration.api.conftest import Api, running_api
from tests.integration.history.helpers import compress
from tests.support import make_key, serving

MAX_GAP_S = 60
GOOD, UNCERTAIN, BAD = 0, 0x40900000, 0x808A0000
SIGNAL = "plant.net_output"
BELGRADE = ZoneInfo("Europe/Belgrade")
US = timedelta(microseconds=1)


@dataclass(frozen=True)
class Sample:
    ts: datetime
    value: float
    quality: int


def reference(samples: Sequence[Sample], lo: datetime, hi: datetime, *, good_only: bool) -> tuple[Fraction, Fraction]:
    """(area in value·s, covered s) over [lo, hi), exactly. Over readings of every quality in time order, a reading
    holds until the next one if that is at most MAX_GAP_S away, otherwise for the step from the reading before it
    (at most MAX_GAP_S; nothing for the very first reading); with the Good filter only Good readings' holds count."""
    area = covered = Fraction(0)
    for i, s in enumerate(samples):
        after = (samples[i + 1].ts - s.ts) // US if i + 1 < len(samples) else None
        before = (s.ts - samples[i - 1].ts) // US if i > 0 else 0
        hold = after if after is not None and after <= MAX_GAP_S * 1_000_000 else min(before, MAX_GAP_S * 1_000_000)
        if good_only and s.quality >> 30 != 0:
            continue
        start, end = max(s.ts, lo), min(s.ts + hold * US, hi)
        if end > start:
            seconds = Fraction((end - start) // US, 1_000_000)
            area += Fraction(s.value) * seconds
            covered += seconds
    return area, covered


@st.composite
def samplings(draw: st.DrawFn) -> list[tuple[int, float, int]]:
    """(ms offset, value, quality) of irregular runs separated by short and long gaps."""
    out: list[tuple[int, float, int]] = []
    t, value = draw(st.integers(0, 59_999)), draw(st.floats(100, 500))
    for _ in range(draw(st.integers(1, 5))):
        spacing = draw(st.sampled_from([250, 1000, 2000, 7_300, 30_000, 59_000]))
        for _ in range(draw(st.integers(1, 30))):
            if draw(st.integers(0, 3)) == 0:  # report by exception: a change beyond the deadband
                value = min(550.0, max(0.0, value + draw(st.floats(-40, 40))))
            out.append((t, value, draw(st.sampled_from([GOOD] * 6 + [UNCERTAIN, BAD]))))
            t += spacing + draw(st.integers(0, 1_700))
        t += draw(st.one_of(st.integers(1_000, 59_000), st.integers(61_000, 400_000)))
    return out


@dataclass
class Services:
    api: Api
    ingest: httpx.AsyncClient
    gateway: str
    day: itertools.count


@pytest.fixture
async def services(database_url: str, db: asyncpg.Pool) -> AsyncIterator[Services]:
    await db.execute("""INSERT INTO commitments (plant_id, valid_from, committed_mw, tolerance_mw, settlement_period_s)
                        SELECT id, '2026-01-02', 300, 10, 900 FROM plants WHERE key = 'nish'""")
    # (it overlaps the plant file's open-ended 480 MW commitment from 2026-01-01: the latest valid_from wins)
    gateway = await make_key(db, role="gateway", name="property-gw")
    api_settings = ApiSettings(database_url=database_url, cache_max_entries=0)
    async with (
        running_api(api_settings, db) as api,
        # No background compression: the compressed variant moves the readings itself, at a known moment.
        serving(create_ingest(IngestSettings(database_url=database_url, compress_every_s=0))) as ingest_url,
        httpx.AsyncClient(base_url=ingest_url, timeout=30) as ingest,
    ):
        yield Services(api, ingest, gateway, itertools.count())


async def post_in_random_batches(s: Services, samples: list[Sample], rnd: random.Random) -> None:
    docs = [{"signal": SIGNAL, "ts": x.ts.isoformat(), "value": x.value, "quality": x.quality} for x in samples]
    docs += rnd.sample(docs, k=len(docs) // 5)  # duplicates, identical, posted again
    rnd.shuffle(docs) if rnd.random() < 0.5 else None  # fully out of order, or in order with late batches below
    cuts = sorted(rnd.sample(range(1, len(docs)), k=min(len(docs) - 1, rnd.randint(0, 6)))) if len(docs) > 1 else []
    batches = [docs[a:b] for a, b in itertools.pairwise([0, *cuts, len(docs)])]
    rnd.shuffle(batches)
    for batch in batches:
        reply = await s.ingest.post(
            "/v1/readings", json={"readings": batch}, headers={"Authorization": f"Bearer {s.gateway}"}
        )
        assert reply.status_code == 200 and not reply.json()["rejected"], reply.text


def expected_rollups(samples: Sequence[Sample], width: timedelta) -> dict[datetime, tuple]:
    """Per bucket of `width`: count, first_ts, last_ts, last value, and over consecutive readings inside it the
    area, the Good area and held seconds, the longest step and the step into the last reading (exact)."""
    groups: dict[datetime, list[Sample]] = {}
    origin = datetime(2000, 1, 1, tzinfo=UTC)
    for x in samples:
        groups.setdefault(origin + (x.ts - origin) // width * width, []).append(x)
    out = {}
    for bucket, g in groups.items():
        steps = [Fraction((b.ts - a.ts) // US, 1_000_000) for a, b in itertools.pairwise(g)]
        good = [a.quality >> 30 == 0 for a in g[:-1]]
        out[bucket] = (
            len(g),
            g[0].ts,
            g[-1].ts,
            g[-1].value,
            sum((Fraction(a.value) * st for a, st in zip(g, steps, strict=False)), Fraction(0)),
            sum((Fraction(a.value) * st for a, st, ok in zip(g, steps, good, strict=False) if ok), Fraction(0)),
            sum((st for st, ok in zip(steps, good, strict=True) if ok), Fraction(0)),
            max(steps, default=Fraction(0)),
            steps[-1] if steps else None,
        )
    return out


async def check_rollups(db: asyncpg.Pool, sid: int, samples: Sequence[Sample]) -> None:
    for table, width in (
        ("rollups_1m", timedelta(minutes=1)),
        ("rollups_15m", timedelta(minutes=15)),
        ("rollups_1h", timedelta(hours=1)),
    ):
        rows = await db.fetch(
            f"""SELECT bucket, count, first_ts, last_ts, last_value, area, good_area, good_held_s,
                                         max_step_s, last_step_s FROM {table} WHERE signal_id = $1""",
            sid,
        )
        expected = expected_rollups(samples, width)
        assert {r["bucket"] for r in rows} == set(expected), table
        for r in rows:
            n, first, last, value, area, good_area, held, max_step, last_step = expected[r["bucket"]]
            assert (r["count"], r["first_ts"], r["last_ts"], r["last_value"]) == (n, first, last, value), table
            for got, exact, what in (
                (r["area"], area, "area"),
                (r["good_area"], good_area, "good_area"),
                (r["good_held_s"], held, "good_held_s"),
                (r["max_step_s"], max_step, "max"),
            ):
                close(got, exact, f"{table} {what} {r['bucket']}")
            assert (r["last_step_s"] is None) == (last_step is None), table
            if last_step is not None:
                close(r["last_step_s"], last_step, f"{table} last_step_s {r['bucket']}")


def close(got: float | None, exact: Fraction, what: str) -> None:
    assert got is not None, what
    assert abs(Fraction(got) - exact) <= Fraction(1, 10**9) * max(abs(exact), Fraction(1, 1000)), (
        what,
        got,
        float(exact),
    )


def iso(ts: datetime) -> str:
    return ts.isoformat().replace("+00:00", "Z")


# Bounded: no shrinking (each example costs about a dozen HTTP round trips); a failure prints its example.
@settings(
    max_examples=12,
    deadline=None,
    phases=(Phase.explicit, Phase.reuse, Phase.generate),
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(raw=samplings(), rnd=st.randoms(use_true_random=False))
@pytest.mark.parametrize("compressed", [False, True], ids=["hot", "compressed"])
async def test_api_numbers_equal_the_exact_integral_of_the_raw_readings(
    services: Services, raw: list[tuple[int, float, int]], rnd: random.Random, compressed: bool
) -> None:
    # Each example gets its own days; data starts at 22:30 UTC, so Belgrade's local midnight falls inside it.
    base = datetime(2026, 1, 5, 22, 30, tzinfo=UTC) + timedelta(days=3 * (next(services.day) % 90))
    samples = [Sample(base + timedelta(milliseconds=ms), v, q) for ms, v, q in raw]
    # Only this example's readings exist (an earlier example's last reading would give the first one a step before).
    sid = await services.api.signal_id(SIGNAL)
    await services.api.db.execute("DELETE FROM readings WHERE signal_id = $1", sid)
    await services.api.db.execute("DELETE FROM reading_blocks WHERE signal_id = $1", sid)
    await services.api.db.execute("DELETE FROM rollup_days WHERE signal_id = $1", sid)
    for table in ("rollups_1m", "rollups_15m", "rollups_1h"):
        await services.api.db.execute(f"DELETE FROM {table} WHERE signal_id = $1", sid)
    await post_in_random_batches(services, samples, rnd)
    await check_rollups(services.api.db, sid, samples)
    if compressed:  # the raw reads below find them in blocks only, the 1-minute rollups in packed days only
        day = base.replace(hour=0, minute=0)
        assert await compress(services.api.db, day, day + timedelta(days=3)) == len(samples)
    lo = base.replace(minute=0) - timedelta(hours=1)
    hi = samples[-1].ts.replace(minute=0, second=0, microsecond=0) + timedelta(hours=2)
    api = services.api
    span = {"start": iso(lo), "end": iso(hi)}

    energy = await api.json("/v1/plants/nish/energy", every="15m", **span)
    periods = next(x for x in energy["series"] if x["signal"] == SIGNAL)["periods"]
    for p in periods:
        a, c = reference(samples, datetime.fromisoformat(p["start"]), datetime.fromisoformat(p["end"]), good_only=True)
        if c:
            close(p["mwh"], a / 3600, f"energy {p['start']}")
        close(p["coverage"], c / 900, f"energy coverage {p['start']}")

    for quality, good_only in (("good", True), ("all", False)):
        for params in ({"every": "5m"}, {"every": "1d", "tz": "Europe/Belgrade"}, {"every": "1h", "tz": "UTC"}):
            body = await api.json(
                f"/v1/signals/{SIGNAL}/aggregates", fn="twa", fill="null", quality=quality, **params, **span
            )
            for b in body["buckets"]:
                start, end = datetime.fromisoformat(b["start"]), datetime.fromisoformat(b["end"])
                a, c = reference(samples, start, end, good_only=good_only)
                close(b["coverage"], c / Fraction((end - start) // US, 1_000_000), f"coverage {params} {b}")
                if c:
                    close(b["twa"], a / c, f"twa {quality} {params} {b['start']}")
                else:
                    assert b["twa"] is None
            if params.get("tz") == "Europe/Belgrade":
                starts = [datetime.fromisoformat(b["start"]) for b in body["buckets"]]
                assert all(s.astimezone(BELGRADE).hour == 0 for s in starts)

    fine_lo = samples[0].ts.replace(second=0, microsecond=0)
    fine = await api.json(
        f"/v1/signals/{SIGNAL}/aggregates",
        fn="twa",
        fill="null",
        every="10s",
        start=iso(fine_lo),
        end=iso(fine_lo + timedelta(minutes=5)),
    )
    for b in fine["buckets"]:
        start = datetime.fromisoformat(b["start"])
        a, c = reference(samples, start, start + timedelta(seconds=10), good_only=True)
        close(b["coverage"], c / 10, f"10 s coverage {b['start']}")
        assert (b["twa"] is None) == (c == 0)
        if c:
            close(b["twa"], a / c, f"10 s twa {b['start']}")

    compliance = await api.json("/v1/plants/nish/compliance", **span)
    assert compliance["periods"]
    for p in compliance["periods"]:
        a, c = reference(samples, datetime.fromisoformat(p["start"]), datetime.fromisoformat(p["end"]), good_only=True)
        close(p["coverage"], c / 900, f"compliance coverage {p['start']}")
        assert p["committed_mw"] == 300.0
        if c == 0:
            assert p["status"] == "insufficient_data" and p["delivered_mw"] is None
            continue
        close(p["delivered_mw"], a / c, f"delivered {p['start']}")
        close(p["delivered_mwh"], a / 3600, f"delivered_mwh {p['start']}")
        mean = a / c
        expected = (
            "insufficient_data"
            if c / 900 < Fraction(1, 2)
            else "compliant"
            if abs(mean - 300) <= 10
            else "non_compliant"
        )
        assert p["status"] == expected, (p, float(mean))
        if expected != "insufficient_data":
            close(p["deviation_mwh"], (mean - 300) / 4, f"deviation_mwh {p['start']}")
    total = sum(
        (Fraction(p["delivered_mwh"]) for p in compliance["periods"] if p["delivered_mwh"] is not None), Fraction(0)
    )
    close(compliance["totals"]["delivered_mwh"] or 0.0, total, "totals.delivered_mwh")
