"""Sink settings, from `BASELOAD_SINK_*` environment variables (or `baseload sink` flags)."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.sink.verify import DEFAULT_TOLERANCE_S


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BASELOAD_SINK_", extra="ignore", populate_by_name=True)

    host: str = "127.0.0.1"
    port: int = 9000
    secret: SecretStr = Field(description="The endpoint's signing secret, whsec_<base64>.")
    tolerance_s: float = Field(
        default=DEFAULT_TOLERANCE_S,
        gt=0,
        description="Deliveries whose webhook-timestamp is further from now are refused.",
    )
    keep_events: int = Field(default=1000, ge=1, description="Verified deliveries kept for GET /v1/events.")
    log_level: str = "warning"
