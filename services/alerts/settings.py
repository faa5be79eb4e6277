"""Alerts settings, from `BASELOAD_ALERTS_*` environment variables (database: `BASELOAD_DATABASE_URL`)."""

from __future__ import annotations

import ipaddress
from typing import Annotated, Any

from pydantic import Field, field_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from shared.contracts import READINGS_CHANNEL
from shared.settings import SettlingServiceSettings

# The Standard Webhooks retry schedule: immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h.
STANDARD_WEBHOOKS_SCHEDULE_S = (0.0, 5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0)


class Settings(SettlingServiceSettings):
    model_config = SettingsConfigDict(env_prefix="BASELOAD_ALERTS_", extra="ignore", populate_by_name=True)

    host: str = "127.0.0.1"
    port: int = 8003
    db_pool_size: int = Field(default=10, ge=3, le=64, description="API + evaluator + one per dispatch worker.")
    external_url: str = Field(default="http://127.0.0.1:8003", description="Base of links in notifications.")
    evaluator_enabled: bool = True
    dispatcher_enabled: bool = True
    readings_channel: str = READINGS_CHANNEL
    outbox_channel: str = "baseload_alerts_outbox"
    rules_channel: str = "baseload_alerts_rules"
    tick_s: float = Field(default=1.0, gt=0, description="Timer evaluation (deadman, period ends, pending, repeats).")
    full_sweep_s: float = Field(default=15.0, gt=0, description="Every rule is evaluated at least this often.")
    rules_refresh_s: float = Field(default=30.0, gt=0)
    dispatch_concurrency: int = Field(default=4, ge=1, le=32)
    dispatch_poll_s: float = Field(default=1.0, gt=0, description="Look for due retries at least this often.")
    delivery_timeout_s: float = Field(default=10.0, gt=0, le=300, description="Whole request, connect to reply.")
    delivery_lease_margin_s: float = Field(
        default=20.0,
        gt=0,
        description="A claimed delivery is leased for the timeout plus this margin; if the sender"
        " dies, another worker resends it (same webhook-id) once the lease expires.",
    )
    webhook_allow_cidrs: Annotated[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...], NoDecode] = Field(
        default=(),
        description="Address ranges webhook targets may use beyond public addresses, comma-separated"
        " (e.g. 127.0.0.1/32 for a receiver on this host). Empty: public addresses only.",
    )
    retry_schedule_s: tuple[float, ...] = Field(
        default=STANDARD_WEBHOOKS_SCHEDULE_S,
        min_length=1,
        description="Delay before each attempt; its length is the attempt limit, then the delivery is dead-lettered.",
    )
    retry_jitter: float = Field(default=0.1, ge=0, le=1, description="± fraction of each delay, random.")
    metrics_refresh_s: float = Field(default=5.0, gt=0, description="How often the /metrics gauges are re-read.")
    delivery_log_retention_days: float = Field(
        default=30.0, gt=0, description="Delivered notifications (and attempts) kept this long."
    )

    @field_validator("webhook_allow_cidrs", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @property
    def delivery_lease_s(self) -> float:
        return self.delivery_timeout_s + self.delivery_lease_margin_s
