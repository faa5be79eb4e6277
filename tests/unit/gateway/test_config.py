"""Gateway configuration: the shipped file is valid, environment overrides apply, mistakes are refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from services.gateway.config import load_config, parse_config

REPO = Path(__file__).resolve().parents[3]


def test_the_shipped_config_maps_every_demo_signal_once() -> None:
    config = load_config(REPO / "deploy" / "gateway.yaml", {"BASELOAD_GATEWAY_KEY": "bl_test"})
    signals = [n.signal for n in config.opcua.nodes] + [r.signal for r in config.modbus.registers]
    plant = (REPO / "deploy" / "plants" / "nish.yaml").read_text()
    assert len(signals) == len(set(signals)) == 7
    assert all(f"key: {s}," in plant for s in signals)
    assert config.ingest_key() == "bl_test"


def test_environment_overrides_the_file() -> None:
    env = {
        "BASELOAD_GATEWAY_INGEST_URL": "http://ingest:8001",
        "BASELOAD_GATEWAY_BUFFER_PATH": "/data/q.sqlite3",
        "BASELOAD_GATEWAY_OPCUA_ENDPOINT": "opc.tcp://simulator:4840/baseload/",
        "BASELOAD_GATEWAY_HTTP_PORT": "9000",
    }
    config = parse_config({"opcua": {"nodes": []}}, env)
    assert config.ingest.url == "http://ingest:8001"
    assert str(config.buffer.path) == "/data/q.sqlite3"
    assert config.opcua.endpoint == "opc.tcp://simulator:4840/baseload/"
    assert config.http.port == 9000
    assert config.modbus is None  # an override never switches a source on


def test_a_missing_key_is_reported() -> None:
    with pytest.raises(ValueError, match="BASELOAD_GATEWAY_KEY"):
        parse_config({}, {}).ingest_key()


@pytest.mark.parametrize(
    "doc",
    [
        {"modbus": {"registers": [{"address": 0, "signal": "a", "word_order": "ABDC"}]}},
        {"batch": {"max_size": 0}},
        {"unknown_section": {}},
        {
            "opcua": {"nodes": [{"node_id": "ns=2;s=a", "signal": "a"}]},
            "modbus": {"registers": [{"address": 0, "signal": "a"}]},
        },
    ],
)
def test_invalid_configs_are_refused(doc: dict) -> None:
    with pytest.raises(ValidationError):
        parse_config(doc, {})
