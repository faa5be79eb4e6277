"""Gateway configuration: one YAML file (`deploy/gateway.yaml`), validated once at start-up.

The ingest key may live in the file or, better, in `BASELOAD_GATEWAY_KEY`; the variables in `ENV_OVERRIDES`
override the file too (handy inside containers).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

WordOrder = Literal["ABCD", "CDAB", "BADC", "DCBA"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class IngestConfig(_Strict):
    url: str = "http://127.0.0.1:8001"
    key: SecretStr | None = None
    timeout_s: float = Field(default=10.0, gt=0)


class BatchConfig(_Strict):
    max_size: int = Field(default=500, ge=1, le=50_000)
    max_age_s: float = Field(default=1.0, gt=0, description="Send a partial batch once its oldest reading is this old.")


class RetryConfig(_Strict):
    base_s: float = Field(default=0.5, gt=0)
    max_s: float = Field(default=30.0, gt=0)
    max_retry_after_s: float = Field(default=300.0, gt=0, description="Cap on a server's Retry-After.")


class BufferConfig(_Strict):
    path: Path = Path("gateway-buffer.sqlite3")
    max_readings: int = Field(default=2_000_000, ge=100, description="When full, the oldest readings are dropped.")
    write_interval_s: float = Field(
        default=0.05,
        ge=0,
        le=1.0,
        description="Readings handed over within this tick are written in one transaction (off the event loop).",
    )


class HttpConfig(_Strict):
    host: str = "127.0.0.1"
    port: int = Field(default=8010, ge=0, le=65535)


class OpcUaNode(_Strict):
    node_id: str  # e.g. "ns=2;s=gt1.active_power"
    signal: str
    sampling_interval_ms: float = Field(default=1000.0, ge=0)
    deadband: float | None = Field(default=None, ge=0, description="Absolute deadband in engineering units.")
    # The server keeps this many changes between two publishes and drops the oldest beyond it: a source that
    # changes faster than publishing_interval / sampling_interval (a replay at 20x, a burst) needs the room.
    queue_size: int = Field(default=100, ge=1, le=10_000, description="Changes the server queues between publishes.")


class OpcUaConfig(_Strict):
    endpoint: str = "opc.tcp://127.0.0.1:4840/baseload/"
    publishing_interval_ms: float = Field(default=1000.0, gt=0)
    reconnect_max_s: float = Field(default=10.0, gt=0)
    nodes: list[OpcUaNode] = Field(default_factory=list)


class ModbusRegister(_Strict):
    address: int = Field(ge=0, le=65534, description="Protocol address (40001 is 0).")
    signal: str
    word_order: WordOrder = "ABCD"
    scale: float = 1.0
    offset: float = 0.0


class ModbusConfig(_Strict):
    host: str = "127.0.0.1"
    port: int = Field(default=5020, ge=1, le=65535)
    device_id: int = Field(default=1, ge=0, le=255)
    poll_interval_s: float = Field(default=1.0, gt=0)
    timeout_s: float = Field(default=2.0, gt=0)
    registers: list[ModbusRegister] = Field(default_factory=list)


class GatewayConfig(_Strict):
    ingest: IngestConfig = Field(default_factory=IngestConfig)
    batch: BatchConfig = Field(default_factory=BatchConfig)
    retry: RetryConfig = Field(default_factory=RetryConfig)
    buffer: BufferConfig = Field(default_factory=BufferConfig)
    http: HttpConfig = Field(default_factory=HttpConfig)
    bad_readings: Literal["hold_last", "drop"] = Field(
        default="hold_last",
        description="A Bad status without a value: send the last value received with the Bad code, or leave a gap.",
    )
    opcua: OpcUaConfig | None = None
    modbus: ModbusConfig | None = None

    @model_validator(mode="after")
    def _signals_unique(self) -> GatewayConfig:
        signals = [n.signal for n in (self.opcua.nodes if self.opcua else [])]
        signals += [r.signal for r in (self.modbus.registers if self.modbus else [])]
        duplicated = sorted({s for s in signals if signals.count(s) > 1})
        if duplicated:
            raise ValueError(f"each signal must have one source; mapped twice: {', '.join(duplicated)}")
        return self

    def ingest_key(self) -> str:
        key = self.ingest.key.get_secret_value() if self.ingest.key else None
        if not key:
            raise ValueError("no ingest key: set ingest.key in the config or BASELOAD_GATEWAY_KEY")
        return key


def load_config(path: Path | str, environ: dict[str, str] | None = None) -> GatewayConfig:
    """Read the YAML file and apply the environment overrides."""
    env = dict(os.environ if environ is None else environ)
    with open(path, encoding="utf-8") as fh:
        doc = yaml.safe_load(fh) or {}
    return parse_config(doc, env)


# Environment variable → (section, field): what a container usually needs to change without editing the file.
ENV_OVERRIDES = {
    "BASELOAD_GATEWAY_KEY": ("ingest", "key"),
    "BASELOAD_GATEWAY_INGEST_URL": ("ingest", "url"),
    "BASELOAD_GATEWAY_BUFFER_PATH": ("buffer", "path"),
    "BASELOAD_GATEWAY_HTTP_HOST": ("http", "host"),
    "BASELOAD_GATEWAY_HTTP_PORT": ("http", "port"),
    "BASELOAD_GATEWAY_OPCUA_ENDPOINT": ("opcua", "endpoint"),
    "BASELOAD_GATEWAY_MODBUS_HOST": ("modbus", "host"),
    "BASELOAD_GATEWAY_MODBUS_PORT": ("modbus", "port"),
}


def parse_config(doc: dict[str, Any], env: dict[str, str]) -> GatewayConfig:
    doc = dict(doc)
    for name, (section, key) in ENV_OVERRIDES.items():
        if not env.get(name):
            continue
        if section in ("opcua", "modbus") and doc.get(section) is None:
            continue  # an override never switches a source on
        doc[section] = {**(doc.get(section) or {}), key: env[name]}
    return GatewayConfig.model_validate(doc)
