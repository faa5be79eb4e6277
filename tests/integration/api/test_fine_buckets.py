"""Sub-minute aggregates (1s … 30s) computed from raw readings: exact values against independent computations."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

from shared.quality import to_db
from tests.integration.api.conftest import Api

T0 = datetime(2026, 6, 1, 10, 0, tzinfo=UTC)
PATH = "/v1/signals/gt1.active_power/aggregates"
BAD = to_db(0x80000000)  # OPC UA Bad
UNCERTAIN = to_db(0x40000000)


def iso(ts: datetime) -> str:
    return ts.isoformat().replace("+00:00", "Z")


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def span(lo: float, hi: float, **params: str) -> dict[str, str]:
    return {"start": iso(at(lo)), "end": iso(at(hi)), **params}


async def test_ten_second_buckets_of_a_1hz_profile_are_exact(api: Api) -> None:
    samples = [(at(i), 200.0 + (i * 7919 % 13) * 0.25) for i in range(60)]
    await api.write("gt1.active_power", samples)
    q = span(0, 60, every="10s", fn="avg,min,max,count,first,last")
    body = await api.json(PATH, **q)
    expected = []
    for k in range(6):
        values = [v for _, v in samples[10 * k : 10 * k + 10]]
        expected.append(
            {
                "start": iso(at(10 * k)),
                "end": iso(at(10 * k + 10)),
                "min": min(values),
                "max": max(values),
                "count": 10,
                "first": values[0],
                "last": values[-1],
                "coverage": 1.0,
            }
        )
        assert abs(body["buckets"][k]["avg"] - sum(values) / 10) < 1e-9
    assert [{k: v for k, v in b.items() if k != "avg"} for b in body["buckets"]] == expected
    assert body["every"] == "10s" and body["method"]["source"].startswith("readings")
    response = await api.client.get(
        PATH, params=q, headers={"Authorization": f"Bearer {api.tokens['eps']}", "Accept": "text/csv"}
    )
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [(r["start"], float(r["max"]), int(r["count"])) for r in rows] == [
        (e["start"], e["max"], 10) for e in expected
    ]


async def test_twa_holds_irregular_readings_within_each_bucket(api: Api) -> None:
    # Holds (max gap 60 s): 0→4 at 10, 4→13 at 20, 13→40 at 40, 40→67 at 5 (the next reading is 160 s away: as
    # long as the step before, 27 s), 200→260 at 7 (no next reading: the step before, 160 s, capped at 60 s).
    await api.write("gt1.active_power", [(at(0), 10), (at(4), 20), (at(13), 40), (at(40), 5), (at(200), 7)])
    body = await api.json(PATH, **span(0, 210, every="15s", fn="twa,avg,count"))
    got = [(b["start"], b["twa"], b["avg"], b["count"], b["coverage"]) for b in body["buckets"]]
    # fill none omits only buckets with neither a reading nor a hold: [15,30), [45,60) and [60,75) are held.
    assert [g[0] for g in got] == [iso(at(t)) for t in (0, 15, 30, 45, 60, 195)]
    # [0,15): 10·4 + 20·9 + 40·2 = 300 over 15 s.  [30,45): 40·10 + 5·5 = 425 over 15 s.  [195,210): 7 for 10 s.
    assert abs(got[0][1] - 20.0) < 1e-9 and abs(got[0][2] - 70 / 3) < 1e-9 and got[0][3:] == (3, 1.0)
    assert got[1] == (iso(at(15)), 40.0, None, 0, 1.0)  # no reading starts inside: the 13 s reading holds
    assert abs(got[2][1] - 425 / 15) < 1e-9 and got[2][2:] == (5.0, 1, 1.0)
    assert got[3] == (iso(at(45)), 5.0, None, 0, 1.0)
    assert abs(got[5][1] - 7.0) < 1e-9 and got[5][3] == 1 and abs(got[5][4] - 10 / 15) < 1e-9
    assert "sample-and-hold" in body["method"]["twa"]
    # Readings before `start` still hold into the range, and their step before is known at the edge.
    edge = await api.json(PATH, **span(30, 45, every="15s", fn="twa"))
    assert abs(edge["buckets"][0]["twa"] - 425 / 15) < 1e-9
    late = await api.json(PATH, **span(195, 210, every="15s", fn="twa"))
    assert abs(late["buckets"][0]["twa"] - 7.0) < 1e-9 and abs(late["buckets"][0]["coverage"] - 10 / 15) < 1e-9
    gap = await api.json(PATH, **span(60, 75, every="15s", fn="twa", fill="null"))
    assert gap["buckets"][0]["count"] == 0 and gap["buckets"][0]["twa"] == 5.0  # 60→67 held at 5
    assert abs(gap["buckets"][0]["coverage"] - 7 / 15) < 1e-9
    empty = await api.json(PATH, **span(75, 90, every="15s", fn="twa", fill="null"))
    assert empty["buckets"][0]["twa"] is None and empty["buckets"][0]["coverage"] == 0.0


async def test_only_good_readings_count_unless_quality_all(api: Api) -> None:
    await api.write("gt1.active_power", [(at(i), 10.0) for i in range(0, 20, 2)])
    await api.write("gt1.active_power", [(at(i), 1000.0) for i in range(1, 20, 4)], quality=BAD)
    await api.write("gt1.active_power", [(at(i), 1000.0) for i in range(3, 20, 4)], quality=UNCERTAIN)
    q = span(0, 20, every="10s", fn="avg,max,count,twa")
    good = (await api.json(PATH, **q))["buckets"]
    assert [(b["avg"], b["max"], b["count"], b["twa"]) for b in good] == [(10.0, 10.0, 5, 10.0)] * 2
    every = (await api.json(PATH, **q, quality="all"))["buckets"]
    # 1 Hz alternating 10 and 1000: each holds 1 s.
    assert [(b["avg"], b["max"], b["count"], b["twa"]) for b in every] == [(505.0, 1000.0, 10, 505.0)] * 2


async def test_fill_previous_and_linear_over_empty_fine_buckets(api: Api) -> None:
    await api.write("gt1.active_power", [(at(i), 1.0) for i in range(10)] + [(at(i), 4.0) for i in range(30, 40)])
    q = span(0, 40, every="10s", fn="avg")
    linear = (await api.json(PATH, **q, fill="linear"))["buckets"]
    assert [(b["avg"], b["count"]) for b in linear] == [(1.0, 10), (2.0, 0), (3.0, 0), (4.0, 10)]
    previous = (await api.json(PATH, **q, fill="previous"))["buckets"]
    assert [b["avg"] for b in previous] == [1.0, 1.0, 1.0, 4.0]
    none = (await api.json(PATH, **q))["buckets"]
    # The 10:00:09 reading holds until the next, 21 s later (within the 60 s maximum gap): [10,30) are covered.
    assert [(b["start"], b["coverage"]) for b in none] == [(iso(at(t)), 1.0) for t in (0, 10, 20, 30)]


async def test_plant_aggregates_serve_fine_buckets_too(api: Api) -> None:
    await api.write("gt1.active_power", [(at(i), float(i)) for i in range(20)])
    body = await api.json(
        "/v1/plants/nish/aggregates", **span(0, 20, every="5s", fn="max", signals="gt1.active_power,gt2.active_power")
    )
    by_signal = {s["signal"]: s for s in body["signals"]}
    assert by_signal["gt1.active_power"]["max"] == [4.0, 9.0, 14.0, 19.0]
    assert by_signal["gt2.active_power"]["count"] == [0, 0, 0, 0]


async def test_bad_fine_requests_are_refused_with_400(api: Api) -> None:
    cases = [
        (span(0, 28 * 3600, every="1s"), "too_many_buckets"),
        (span(0, 60, every="10s", tz="Europe/Belgrade"), "unsupported_tz"),
        (span(0, 60, every="3s"), "unknown_every"),
    ]
    for params, code in cases:
        response = await api.get(PATH, **params)
        assert response.status_code == 400 and response.json()["error"]["code"] == code, response.text
    assert (await api.get(PATH, **span(0, 100_000, every="1s", fn="count"))).status_code == 200
