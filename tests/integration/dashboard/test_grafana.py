"""deploy/grafana: provisioning structure, and every SQL query of the dashboard run on the real schema as the
read-only role the dashboard migration creates (Grafana's macros replaced by the SQL Grafana would send)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import yaml

from services.ingest.store import write_readings

GRAFANA = Path(__file__).resolve().parents[3] / "deploy" / "grafana"
DASHBOARD = GRAFANA / "dashboards" / "baseload.json"
READONLY_ROLE = "baseload_readonly"
VIEWS = (
    "Live values",
    "Alerts",
    "Net output against the commitment band",
    "Settlement periods by verdict",
    "delivered vs committed",
    "Grid frequency",
    "excursions",
)


def dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text())


def queries(doc: dict[str, Any]) -> list[tuple[str, str]]:
    """(where, SQL) of every panel target and every query variable."""
    out = [(f"{p['title']} / {t['refId']}", t["rawSql"]) for p in doc["panels"] for t in p.get("targets", [])]
    out += [(f"variable {v['name']}", v["query"]) for v in doc["templating"]["list"] if v["type"] == "query"]
    return out


def concrete(sql: str, start: datetime, end: datetime, plant: str) -> str:
    """The SQL Grafana sends: $__timeFilter(c) → c BETWEEN …, $__timeFrom()/$__timeTo() → literals, $plant."""
    lo, hi = f"'{start.isoformat()}'", f"'{end.isoformat()}'"
    sql = re.sub(r"\$__timeFilter\(([^)]+)\)", lambda m: f"{m.group(1)} BETWEEN {lo} AND {hi}", sql)
    sql = sql.replace("$__timeFrom()", lo).replace("$__timeTo()", hi).replace("$plant", plant)
    assert "$" not in sql, f"an unreplaced macro or variable in: {sql}"
    return sql


def test_provisioning_points_grafana_at_the_dashboard_and_the_read_only_source() -> None:
    sources = yaml.safe_load((GRAFANA / "provisioning" / "datasources" / "baseload.yaml").read_text())
    [source] = sources["datasources"]
    assert sources["apiVersion"] == 1 and source["type"] == "grafana-postgresql-datasource"
    assert source["uid"] == "baseload-pg" and source["editable"] is False
    assert source["secureJsonData"]["password"] == "${BASELOAD_GRAFANA_DB_PASSWORD}"  # from the environment only
    providers = yaml.safe_load((GRAFANA / "provisioning" / "dashboards" / "baseload.yaml").read_text())
    [provider] = providers["providers"]
    assert provider["type"] == "file" and provider["options"]["path"] == "/var/lib/grafana/dashboards"


def test_the_dashboard_has_the_same_views_as_the_browser_dashboard() -> None:
    doc = dashboard()
    titles = [p["title"] for p in doc["panels"]]
    for view in VIEWS:
        assert any(view in t for t in titles), view
    assert doc["timezone"] == "Europe/Belgrade" and doc["uid"] == "baseload-plant"
    ids = [p["id"] for p in doc["panels"]]
    assert len(ids) == len(set(ids))
    for p in doc["panels"]:
        assert p["datasource"]["uid"] == "baseload-pg", p["title"]
        assert set(p["gridPos"]) == {"x", "y", "w", "h"} and p["gridPos"]["x"] + p["gridPos"]["w"] <= 24
        for t in p["targets"]:
            assert t["datasource"]["uid"] == "baseload-pg" and t["rawQuery"] and t["format"] in ("table", "time_series")
    assert [v["name"] for v in doc["templating"]["list"]] == ["plant"]


async def _arrange(db: asyncpg.Pool, now: datetime) -> None:
    """Net output for the last two hours (one period below the band), frequency with an excursion, an alert."""
    ids = {r["key"]: r["id"] for r in await db.fetch("SELECT id, key FROM signals")}
    rows = []
    for i in range(0, 7200, 10):
        ts = now - timedelta(seconds=7200 - i)
        rows.append((ids["plant.net_output"], ts, 330.0 if 1800 <= i < 2700 else 481.0, 0))
    for i in range(600):
        ts = now - timedelta(seconds=600 - i)
        rows.append((ids["grid.frequency"], ts, 49.75 if 100 <= i < 110 else 50.01, 0))
    rows.append((ids["gt1.active_power"], now, 0.0, -2147483648))  # Bad
    async with db.acquire() as conn:
        await write_readings(conn, rows)
        rule = await conn.fetchval(
            "INSERT INTO alert_rules (name, kind, severity, params) VALUES "
            "('gt1-hot', 'threshold', 'warning', '{}') RETURNING id"
        )
        await conn.execute(
            "INSERT INTO alerts (rule_id, fingerprint, labels, state, firing_since, evidence) VALUES "
            "($1, 'fp', '{\"plant\": \"nish\"}', 'firing', $2, '{\"value\": 199}')",
            rule,
            now,
        )


async def test_every_query_runs_on_the_real_schema_as_the_read_only_role(db: asyncpg.Pool) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    await _arrange(db, now)
    results: dict[str, list[asyncpg.Record]] = {}
    async with db.acquire() as conn:
        await conn.execute(f"SET ROLE {READONLY_ROLE}")
        try:
            for where, sql in queries(dashboard()):
                results[where] = await conn.fetch(concrete(sql, now - timedelta(hours=3), now, "nish"))
        finally:
            await conn.execute("RESET ROLE")
    latest = {r["signal"]: r for r in results["Live values / A"]}
    assert latest["plant.net_output"]["value"] == 481.0 and latest["gt1.active_power"]["quality"] == "bad"
    verdicts = [r["verdict"] for r in results["Settlement periods by verdict (indicative) / A"]]
    assert "non-compliant" in verdicts and "compliant" in verdicts
    [excursion] = results["Frequency excursions beyond ±200 mHz / A"]
    assert excursion["readings"] == 10 and excursion["deviation mHz"] == -250
    assert [r["state"] for r in results["Alerts: firing and recent / A"]] == ["firing"]
    assert [r["key"] for r in results["variable plant"]] == ["nish"]


async def test_the_read_only_role_cannot_write_or_read_keys(db: asyncpg.Pool) -> None:
    async with db.acquire() as conn:
        await conn.execute(f"SET ROLE {READONLY_ROLE}")
        try:
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.execute("DELETE FROM readings")
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.fetch("SELECT token_hash FROM api_keys")
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.fetch("SELECT id_hash FROM ui_sessions")
        finally:
            await conn.execute("RESET ROLE")


def test_the_compose_grafana_profile_mounts_the_provisioning_and_sets_what_it_reads() -> None:
    compose = yaml.safe_load((GRAFANA.parents[1] / "docker-compose.yml").read_text())
    grafana, login = compose["services"]["grafana"], compose["services"]["grafana-db-user"]
    assert grafana["profiles"] == login["profiles"] == ["grafana"]
    assert re.fullmatch(r"grafana/grafana-oss:\d+\.\d+\.\d+", grafana["image"])
    assert all(p.startswith("127.0.0.1:") for p in grafana["ports"])
    mounts = {v.split(":")[0]: v.split(":")[1] for v in grafana["volumes"]}
    assert mounts["./deploy/grafana/provisioning"] == "/etc/grafana/provisioning"
    provider = yaml.safe_load((GRAFANA / "provisioning" / "dashboards" / "baseload.yaml").read_text())
    assert mounts["./deploy/grafana/dashboards"] == provider["providers"][0]["options"]["path"]
    source = (GRAFANA / "provisioning" / "datasources" / "baseload.yaml").read_text()
    assert set(re.findall(r"\$\{(\w+)\}", source)) <= set(grafana["environment"])
    assert grafana["environment"]["BASELOAD_GRAFANA_DB_USER"] == "baseload_grafana"
    assert "baseload_grafana" in (GRAFANA / "create-login.sql").read_text()
    assert login["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
