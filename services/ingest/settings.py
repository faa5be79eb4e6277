"""Ingest settings, from `BASELOAD_INGEST_*` environment variables (database: `BASELOAD_DATABASE_URL`)."""

from __future__ import annotations

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from shared.contracts import READINGS_CHANNEL
from shared.settings import BaseServiceSettings


class Settings(BaseServiceSettings):
    model_config = SettingsConfigDict(env_prefix="BASELOAD_INGEST_", extra="ignore", populate_by_name=True)

    host: str = "127.0.0.1"
    port: int = 8001
    max_readings_per_request: int = Field(default=50_000, ge=1)
    max_body_bytes: int = Field(default=64 * 1024 * 1024, ge=1024, description="Also caps gzip-decoded size.")
    max_future_skew_s: float = Field(default=120.0, ge=0, description="Readings further ahead are rejected.")
    retention_days: int = Field(
        default=3650,
        ge=1,
        description="Readings older than this are rejected on write and dropped by the retention job (whole UTC days).",
    )
    rollup_retention_days: int | None = Field(
        default=None,
        ge=1,
        description="15-minute and 1-hour rollups older than this are deleted; unset keeps them forever.",
    )
    rollup_1m_retention_days: int | None = Field(
        default=None,
        ge=1,
        description="1-minute rollups older than this are deleted (statements are recomputed from them); unset: "
        "as `rollup_retention_days`.",
    )
    retention_lock_timeout_ms: int = Field(
        default=1000, ge=1, description="Longest wait of the retention job for a lock; it retries on its next run."
    )
    max_concurrent_writes: int = Field(default=4, ge=1, description="Write transactions in flight at once.")
    max_queued_writes: int = Field(default=16, ge=0, description="Requests that may wait for a write slot.")
    queue_timeout_s: float = Field(default=5.0, gt=0, description="Longest wait for a write slot before 503.")
    max_body_reads: int = Field(
        default=64,
        ge=1,
        description="Request bodies being received at once (else 503); no write slot is held while a body arrives.",
    )
    body_timeout_s: float = Field(
        default=10.0,
        gt=0,
        description="Time a body may take to arrive; beyond it, it "
        "must keep up `body_min_rate_bytes_s` on average, else 408.",
    )
    body_min_rate_bytes_s: int = Field(
        default=16_384,
        ge=1,
        description="Slowest average upload rate accepted once "
        "`body_timeout_s` has passed (16 KiB/s: a 64 MiB body may take ~70 min).",
    )
    partitions_ahead_days: int = Field(default=7, ge=1)
    compress_after_hours: float = Field(
        default=48.0,
        ge=1.0,
        description="A UTC day of readings is compressed into blocks this long after it ends (issue 14): late data "
        "within it is written as hot rows; later it is merged into its block (slower, still exactly once). 48 h "
        "lets a gateway's store-and-forward backlog after a weekend-long outage land hot; at least 1 h, so writers "
        "need no check for today.",
    )
    compress_every_s: float = Field(
        default=900.0,
        ge=0,
        description="How often ingest looks for closed days to compress (0: never; see `baseload compress`).",
    )
    compress_lock_timeout_ms: int = Field(
        default=1000,
        ge=1,
        description="Longest wait for the locks that empty and drop a compressed day's partition; ingest queues "
        "behind the drop's lock while it waits, so keep it short (the day is retried on the next run).",
    )
    idempotency_ttl_h: int = Field(default=24, ge=1)
    notify_channel: str = READINGS_CHANNEL
    gc_gen0_threshold: int = Field(
        default=50_000,
        ge=0,
        description="Allocations between young-generation GC passes; a batch allocates ~10^4 objects, so Python's "
        "700 runs the collector dozens of times per request (0 keeps Python's default).",
    )

    @model_validator(mode="after")
    def _rollups_outlive_readings(self) -> Settings:
        # Aggregates over stored readings come from the rollups, hourly ones from rollups_1h: a rollup horizon
        # shorter than the readings', or 1-minute rows kept longer than the coarse ones, would leave data that
        # readers cannot aggregate (they pick the coarsest table aligned with the buckets asked for).
        coarse, fine = self.rollup_retention_days, self.rollup_1m_retention_days
        for name, days in (("rollup_retention_days", coarse), ("rollup_1m_retention_days", fine)):
            if days is not None and days < self.retention_days:
                raise ValueError(f"{name} ({days}) must be at least retention_days ({self.retention_days})")
        if coarse is not None and fine is not None and fine > coarse:
            raise ValueError(f"rollup_1m_retention_days ({fine}) must not exceed rollup_retention_days ({coarse})")
        return self
