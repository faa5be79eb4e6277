"""InfluxDB line protocol over HTTP: /write (v1) and /api/v2/write, as Telegraf and the client libraries post."""

from __future__ import annotations

import base64
import gzip
import warnings
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
import yaml

from services.ingest.lineprotocol import PRECISION_NS
from shared.plants import apply_plant, parse_plant
from tests.conftest import DEMO_PLANT
from tests.integration.ingest.conftest import Ingest

NOW = datetime.now(UTC).replace(microsecond=0)


def seconds(ts: datetime) -> int:
    return int(ts.timestamp())


async def stored(db: asyncpg.Pool) -> list[tuple[str, datetime, float, int]]:
    rows = await db.fetch(
        "SELECT s.key, r.ts, r.value, r.quality FROM readings r JOIN signals s ON s.id = r.signal_id"
        " ORDER BY r.ts, s.key"
    )
    return [(r["key"], r["ts"], r["value"], r["quality"]) for r in rows]


async def test_v2_write_stores_every_field_and_answers_204(ingest: Ingest, db: asyncpg.Pool) -> None:
    t = NOW - timedelta(seconds=10)
    body = f"gt1,unit=GT1 active_power=161.5,fuel_gas_flow=42000i {seconds(t)}\ngrid frequency=49.97 {seconds(t) + 1}"
    response = await ingest.client.post(
        "/api/v2/write",
        params={"org": "nish", "bucket": "scada", "precision": "s"},
        content=body,
        headers={"Authorization": f"Token {ingest.token}"},
    )
    assert response.status_code == 204, response.text
    assert await stored(db) == [
        ("gt1.active_power", t, 161.5, 0),
        ("gt1.fuel_gas_flow", t, 42000.0, 0),
        ("grid.frequency", t + timedelta(seconds=1), 49.97, 0),
    ]


async def test_v1_write_takes_the_token_as_p_or_basic_auth_and_gzip(ingest: Ingest, db: asyncpg.Pool) -> None:
    t = NOW - timedelta(seconds=5)
    first = await ingest.client.post(
        "/write",
        params={"db": "scada", "p": ingest.token, "precision": "ms"},
        content=f"st1 active_power=170 {int(t.timestamp() * 1000)}",
    )
    basic = base64.b64encode(f"telegraf:{ingest.token}".encode()).decode()
    line = f"st1 active_power=171 {seconds(t) + 1}000000000".encode()
    second = await ingest.client.post(
        "/write",
        params={"db": "scada"},
        content=gzip.compress(line),
        headers={"Authorization": f"Basic {basic}", "Content-Encoding": "gzip"},
    )
    assert (first.status_code, second.status_code) == (204, 204)
    assert [(k, v) for k, _, v, _ in await stored(db)] == [("st1.active_power", 170.0), ("st1.active_power", 171.0)]


async def test_quality_field_applies_to_the_lines_values(ingest: Ingest, db: asyncpg.Pool) -> None:
    response = await ingest.client.post(
        "/api/v2/write",
        params={"precision": "s"},
        content=f"grid frequency=0,quality=2156527616i {seconds(NOW)}",
        headers={"Authorization": f"Token {ingest.token}"},
    )
    assert response.status_code == 204, response.text
    # BadNotConnected 0x808A0000 stored as the same bits in int4; a Bad value skips the range check.
    assert await stored(db) == [("grid.frequency", NOW, 0.0, 0x808A0000 - 2**32)]


async def test_partial_write_stores_good_lines_and_names_the_bad_ones(ingest: Ingest, db: asyncpg.Pool) -> None:
    body = "\n".join(
        [
            f"gt1 active_power=150 {seconds(NOW)}",
            "gt1 active_power=",  # 2: syntax
            f"gt9 active_power=1 {seconds(NOW)}",  # 3: unknown signal
            f"gt2 active_power=151 {seconds(NOW)}",
            f'gt2 note="hi" {seconds(NOW)}',  # 5: a string field, skipped and counted
        ]
    )
    response = await ingest.client.post(
        "/api/v2/write", params={"precision": "s"}, content=body, headers={"Authorization": f"Token {ingest.token}"}
    )
    assert response.status_code == 400
    payload = response.json()
    assert payload["code"] == "invalid" and payload["line"] == 2
    assert "line 2" in payload["message"] and "line 3" in payload["message"] and "line 5" not in payload["message"]
    assert [d["line"] for d in payload["error"]["details"]["lines"]] == [2, 3]
    assert payload["error"]["details"]["ignored_string_fields"] == 1
    assert [k for k, *_ in await stored(db)] == ["gt1.active_power", "gt2.active_power"]


async def test_missing_timestamp_is_the_server_time(ingest: Ingest, db: asyncpg.Pool) -> None:
    before = datetime.now(UTC)
    response = await ingest.client.post(
        "/write", content="plant net_output=478.2", headers={"Authorization": f"Token {ingest.token}"}
    )
    assert response.status_code == 204
    ((_, ts, value, _),) = await stored(db)
    assert value == 478.2 and before - timedelta(seconds=1) <= ts <= datetime.now(UTC)


async def test_line_protocol_auth_errors(ingest: Ingest) -> None:
    missing = await ingest.client.post("/api/v2/write", content="gt1 active_power=1")
    wrong = await ingest.client.post("/write", params={"p": "bl_wrong"}, content="gt1 active_power=1")
    assert (missing.status_code, wrong.status_code) == (401, 401)
    assert (await ingest.client.get("/ping")).status_code == 204


def token_header(token: str) -> dict[str, str]:
    return {"Authorization": f"Token {token}"}


async def load_nish_with(db: asyncpg.Pool, line_protocol: dict) -> None:
    """The demo plant file with a `line_protocol` section, applied as `baseload plant load` would."""
    doc = yaml.safe_load(DEMO_PLANT.read_text(encoding="utf-8"))
    async with db.acquire() as conn:
        await apply_plant(conn, parse_plant({**doc, "line_protocol": line_protocol}))


async def test_string_fields_are_skipped_counted_and_never_drop_the_lines_numbers(
    ingest: Ingest, db: asyncpg.Pool
) -> None:
    ns = seconds(NOW) * 10**9
    body = f'st1,host=x active_power=150i,status="running" {ns}\ngt1 running=t,note="ok" {ns}'
    response = await ingest.client.post("/api/v2/write", content=body, headers=token_header(ingest.token))
    assert response.status_code == 400  # gt1.running is no signal of the plant; st1.active_power is stored
    assert response.json()["error"]["details"]["ignored_string_fields"] == 2
    assert response.headers["X-Baseload-Ignored-String-Fields"] == "2"
    assert await stored(db) == [("st1.active_power", NOW, 150.0, 0)]
    ok = await ingest.client.post(
        "/api/v2/write", content=f'gt2 active_power=151,state="up" {ns}', headers=token_header(ingest.token)
    )
    assert ok.status_code == 204 and ok.headers["X-Baseload-Ignored-String-Fields"] == "1"


async def test_the_influxdb_1_8_token_form_user_colon_password_authenticates(ingest: Ingest, db: asyncpg.Pool) -> None:
    response = await ingest.client.post(
        "/api/v2/write",
        params={"precision": "s"},
        content=f"gt1 active_power=120 {seconds(NOW)}",
        headers=token_header(f"telegraf:{ingest.token}"),
    )
    wrong = await ingest.client.post(
        "/api/v2/write", content="gt1 active_power=121", headers=token_header(f"{ingest.token}:nope")
    )
    assert (response.status_code, wrong.status_code) == (204, 401)
    assert [v for _, _, v, _ in await stored(db)] == [120.0]


async def test_telegraf_opcua_output_is_stored_under_the_plants_signals_by_configuration(
    ingest: Ingest, db: asyncpg.Pool
) -> None:
    await load_nish_with(
        db,
        {
            "templates": ["{tag:id}"],
            "map": {
                "ns=3;i=1001": "gt1.active_power",
                "ns=3;i=1002": "gt2.active_power",
                "ns=3;i=1003": "st1.active_power",
            },
        },
    )
    ns = seconds(NOW) * 10**9
    body = "\n".join(
        [  # Telegraf's documented inputs.opcua output, values and time changed
            rf'group1_metric_name,group1_tag=val1,id=ns\=3;i\=1001,node1_tag=val2 name=161.5,Quality="OK (0x0)" {ns}',
            rf'group1_metric_name,group1_tag=val1,id=ns\=3;i\=1002,node1_tag=val3 name=158.25,Quality="OK (0x0)" {ns}',
            rf'group2_metric_name,group2_tag=val3,id=ns\=3;i\=1003,node2_tag=val4 Quality="OK (0x0)",saw=170 {ns}',
        ]
    )
    response = await ingest.client.post(
        "/write", params={"db": "nish"}, content=body, headers=token_header(ingest.token)
    )
    assert response.status_code == 204, response.text
    assert response.headers["X-Baseload-Ignored-String-Fields"] == "3"
    assert await stored(db) == [
        ("gt1.active_power", NOW, 161.5, 0),
        ("gt2.active_power", NOW, 158.25, 0),
        ("st1.active_power", NOW, 170.0, 0),
    ]


async def test_a_gateway_keys_own_map_applies_without_naming_the_plant(ingest: Ingest, db: asyncpg.Pool) -> None:
    await load_nish_with(
        db,
        {
            "gateways": {
                "gw-test": {
                    "templates": ["{tag:name}.{field}"],
                    "map": {"GT1.Power": "gt1.active_power", "grid.Frequency": "grid.frequency"},
                }
            }
        },
    )
    ms = seconds(NOW) * 1000
    body = (
        f"modbus,name=GT1,slave_id=1,type=holding_register Power=155.5 {ms}\n"
        f"modbus,name=grid,slave_id=2,type=holding_register Frequency=49.98 {ms}"
    )
    response = await ingest.client.post(
        "/api/v2/write",
        params={"bucket": "anything", "precision": "ms"},
        content=body,
        headers=token_header(ingest.token),
    )
    assert response.status_code == 204, response.text
    assert [(k, v) for k, _, v, _ in await stored(db)] == [("grid.frequency", 49.98), ("gt1.active_power", 155.5)]


async def test_distinct_nanoseconds_in_one_microsecond_are_a_line_error_never_a_silent_conflict(
    ingest: Ingest, db: asyncpg.Pool
) -> None:
    ns = seconds(NOW) * 10**9
    body = f"gt1 active_power=150 {ns + 100}\ngt1 active_power=151 {ns + 900}\ngt2 active_power=152 {ns + 900}"
    response = await ingest.client.post("/write", content=body, headers=token_header(ingest.token))
    assert response.status_code == 400
    (problem,) = response.json()["error"]["details"]["lines"]
    assert problem["line"] == 2 and problem["message"].startswith("timestamp_collision:")
    assert await stored(db) == [("gt1.active_power", NOW, 150.0, 0), ("gt2.active_power", NOW, 152.0, 0)]
    later = await ingest.client.post(
        "/write", content=f"gt1 active_power=153 {ns + 500}", headers=token_header(ingest.token)
    )
    assert later.json()["error"]["details"]["lines"][0]["message"].startswith("timestamp_collision:")


@pytest.mark.parametrize(
    ("bad", "precision"),
    [
        ("gt1 active_power=100 300000000000", "s"),
        ("gt1 active_power=100 -300000000000", "s"),
        ("gt1 active_power=100 90000000", "h"),
        ("gt1 active_power=1" + "0" * 309 + "i", "s"),
    ],
)
async def test_an_out_of_range_time_or_integer_rejects_its_line_and_the_good_lines_are_stored(
    ingest: Ingest, db: asyncpg.Pool, bad: str, precision: str
) -> None:
    good = seconds(NOW) * 10**9 // PRECISION_NS[precision]
    body = f"gt2 active_power=140 {good}\n{bad}\nst1 active_power=141 {good}"
    response = await ingest.client.post(
        "/write", params={"precision": precision}, content=body, headers=token_header(ingest.token)
    )
    assert response.status_code == 400
    assert [d["line"] for d in response.json()["error"]["details"]["lines"]] == [2]
    assert [k for k, *_ in await stored(db)] == ["gt2.active_power", "st1.active_power"]


async def test_too_many_lines_are_refused_from_a_count_before_any_parsing(ingest: Ingest, db: asyncpg.Pool) -> None:
    body = b"gt1 active_power=1 1\n" * 1_500_000  # 31 MB, under the body limit
    response = await ingest.client.post("/api/v2/write", content=body, headers=token_header(ingest.token))
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_many_lines"
    assert response.json()["error"]["details"]["count"] == 1_500_001
    assert await stored(db) == []


async def test_a_huge_line_of_escapes_is_refused_and_the_other_lines_are_stored(
    ingest: Ingest, db: asyncpg.Pool
) -> None:
    huge = "gt1,t=" + "\\ " * 1_000_000 + f" active_power=1 {seconds(NOW)}"
    body = f"{huge}\ngt2 active_power=149 {seconds(NOW)}"
    response = await ingest.client.post(
        "/write", params={"precision": "s"}, content=body, headers=token_header(ingest.token)
    )
    assert response.status_code == 400
    (problem,) = response.json()["error"]["details"]["lines"]
    assert problem["line"] == 1 and "at most 65536" in problem["message"]
    assert [k for k, *_ in await stored(db)] == ["gt2.active_power"]


async def test_ping_answers_get_and_head_and_the_openapi_document_has_no_duplicate_operation(ingest: Ingest) -> None:
    get, head = await ingest.client.get("/ping"), await ingest.client.head("/ping")
    assert (get.status_code, head.status_code) == (204, 204) and head.headers["X-Influxdb-Version"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # FastAPI warns "Duplicate Operation ID" when /docs is first opened
        document = (await ingest.client.get("/openapi.json")).json()
    assert list(document["paths"]["/ping"]) == ["get"]


async def test_a_gateway_key_scoped_to_one_plant_uses_that_plants_map_without_naming_it(
    ingest: Ingest, db: asyncpg.Pool
) -> None:
    await load_nish_with(db, {"templates": ["{tag:name}.{field}"], "map": {"GT2.Power": "gt2.active_power"}})
    body = f"modbus,name=GT2,slave_id=1,type=holding_register Power=157.25 {seconds(NOW)}"
    response = await ingest.client.post(
        "/write", params={"db": "telegraf", "precision": "s"}, content=body, headers=token_header(ingest.token)
    )  # Telegraf's default database name
    assert response.status_code == 204, response.text
    assert await stored(db) == [("gt2.active_power", NOW, 157.25, 0)]


async def test_a_subnormal_value_rejects_its_line_and_the_good_lines_are_stored(
    ingest: Ingest, db: asyncpg.Pool
) -> None:
    t = seconds(NOW)
    body = f"gt2 active_power=140 {t}\ngt1 active_power=1e-320 {t}\nst1 active_power=141 {t}"
    response = await ingest.client.post(
        "/write", params={"precision": "s"}, content=body, headers=token_header(ingest.token)
    )
    assert response.status_code == 400
    (problem,) = response.json()["error"]["details"]["lines"]
    assert problem["line"] == 2 and "subnormal" in problem["message"]
    assert [k for k, *_ in await stored(db)] == ["gt2.active_power", "st1.active_power"]
