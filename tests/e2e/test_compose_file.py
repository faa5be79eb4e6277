"""docker-compose.yml and deploy/Dockerfile, checked structurally (this machine has no Docker engine)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from services.cli import build_parser
from services.gateway.cli import build_parser as gateway_parser
from services.gateway.config import load_config
from services.simulator.cli import build_parser as simulator_parser
from shared.embedded import SERVER_SETTINGS

REPO = Path(__file__).resolve().parents[2]
APP_SERVICES = ("ingest", "api", "alerts")
GRAFANA = ("grafana-db-user", "grafana")  # the "grafana" profile: deploy/grafana, tested in tests/integration/dashboard


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((REPO / "docker-compose.yml").read_text())


def test_the_services_are_all_there(compose: dict[str, Any]) -> None:
    assert set(compose["services"]) == {"postgres", "migrate", *APP_SERVICES, "simulator", "gateway", *GRAFANA}
    assert compose["services"]["simulator"]["profiles"] == ["plant"]
    assert compose["services"]["gateway"]["profiles"] == ["plant"]
    assert all("profiles" not in compose["services"][s] for s in ("postgres", "migrate", *APP_SERVICES))


def test_postgres_is_pinned_and_health_checked(compose: dict[str, Any]) -> None:
    pg = compose["services"]["postgres"]
    assert re.fullmatch(r"postgres:\d+\.\d+(-[a-z]+)?", pg["image"])
    assert "pg_isready" in " ".join(pg["healthcheck"]["test"])


def test_postgres_runs_the_settings_of_the_embedded_server(compose: dict[str, Any]) -> None:
    command = compose["services"]["postgres"]["command"]
    assert command[0] == "postgres"
    flags = dict(
        value.split("=", 1) for option, value in zip(command[1::2], command[2::2], strict=True) if option == "-c"
    )
    assert flags == SERVER_SETTINGS


def test_every_dependency_and_volume_exists(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name, service in services.items():
        for dependency, rule in (service.get("depends_on") or {}).items():
            assert dependency in services, f"{name} depends on unknown {dependency}"
            if rule["condition"] == "service_healthy":
                assert "healthcheck" in services[dependency], f"{dependency} has no health check"
        for volume in service.get("volumes") or []:
            source = volume.split(":")[0]
            assert (REPO / source).exists() if source.startswith("./") else source in compose["volumes"]


def test_services_run_after_migrations_on_the_database_url(compose: dict[str, Any]) -> None:
    for name in APP_SERVICES:
        service = compose["services"][name]
        assert service["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        assert service["environment"]["BASELOAD_DATABASE_URL"].startswith("postgresql://")
        assert service["environment"][f"BASELOAD_{name.upper()}_HOST"] == "0.0.0.0"
        assert "healthcheck" in service
        assert all(p.startswith("127.0.0.1:") for p in service["ports"])
    migrate = compose["services"]["migrate"]
    assert "services.cli migrate" in migrate["command"][0] and migrate["restart"] == "no"


def test_one_image_built_from_the_dockerfile(compose: dict[str, Any]) -> None:
    ours = [s for name, s in compose["services"].items() if name not in ("postgres", *GRAFANA)]
    assert {s["image"] for s in ours} == {"baseload:local"}
    assert {s["build"]["dockerfile"] for s in ours} == {"deploy/Dockerfile"}
    assert (REPO / "deploy" / "Dockerfile").exists()


def test_commands_are_valid_cli_invocations(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name in APP_SERVICES:
        args = build_parser().parse_args(services[name]["command"])
        assert (args.command, args.service) == ("serve", name)
    sim = services["simulator"]["command"]
    assert sim[0] == "simulate" and simulator_parser().parse_args(sim[1:]).host == "0.0.0.0"
    gateway = services["gateway"]["command"]
    config_path = gateway_parser().parse_args(gateway[1:]).config
    env = {k: str(v) for k, v in services["gateway"]["environment"].items()}
    config = load_config(REPO / config_path, {**env, "BASELOAD_GATEWAY_KEY": "bl_x"})
    assert config.ingest.url == "http://ingest:8001" and config.modbus.host == "simulator"
    assert config.opcua.endpoint.startswith("opc.tcp://simulator:4840")


def test_the_dockerfile_copies_what_exists_and_runs_the_cli() -> None:
    text = (REPO / "deploy" / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11\.\d+-slim", text, re.M)
    for line in re.findall(r"^COPY (.+)$", text, re.M):
        for source in line.split()[:-1]:
            assert (REPO / source).exists(), source
    assert 'ENTRYPOINT ["python", "-m", "services.cli"]' in text
    assert re.search(r"^USER (?!root)", text, re.M)


def test_the_migrate_step_runs_real_commands_on_real_files(compose: dict[str, Any]) -> None:
    from services.alerts.cli import main as alerts_main

    (script,) = compose["services"]["migrate"]["command"]
    steps = [step.strip().removeprefix("python -m services.cli ").split() for step in script.split("&&")]
    assert [s[:2] for s in steps] == [["migrate"], ["plant", "load"], ["alerts", "load"]]
    assert build_parser().parse_args(steps[1]).file.exists()
    # `alerts check` validates the same file the way `alerts load` reads it, without a database.
    assert alerts_main(["check", *steps[2][2:]]) == 0
