"""Settings common to every Baseload process; each service subclasses `BaseServiceSettings`."""

from __future__ import annotations

from pathlib import Path

import platformdirs
from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("baseload"))


class BaseServiceSettings(BaseSettings):
    """Database location and pool size. The database URL and data dir are read from `BASELOAD_DATABASE_URL`
    (or `DATABASE_URL`) and `BASELOAD_DATA_DIR`; each service subclass sets its own prefix for the rest
    (`BASELOAD_INGEST_`, `BASELOAD_API_`, `BASELOAD_ALERTS_`), so one environment can configure all three.
    """

    model_config = SettingsConfigDict(env_prefix="BASELOAD_", extra="ignore", populate_by_name=True)

    database_url: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("BASELOAD_DATABASE_URL", "DATABASE_URL", "database_url"),
        description="PostgreSQL URL; without it an embedded PostgreSQL is started in data_dir.",
    )
    data_dir: Path = Field(
        default_factory=default_data_dir,
        validation_alias=AliasChoices("BASELOAD_DATA_DIR", "data_dir"),
        description="Embedded PostgreSQL and local state.",
    )
    db_pool_size: int = Field(default=4, ge=1, le=64)
    db_connect_timeout_s: float = Field(default=5.0, gt=0)
    log_level: str = "info"


class SettlingServiceSettings(BaseServiceSettings):
    """A service that states settlement numbers (the api and alerts). Their parameters are read from one set of
    variables, without the service prefix, so the compliance report and the alerts cannot be configured apart."""

    max_gap_s: float = Field(
        default=60.0,
        gt=0,
        le=60.0,
        validation_alias=AliasChoices("BASELOAD_MAX_GAP_S"),
        description="A reading holds its value until the next one, at most this long; longer gaps are not bridged.",
    )
    settlement_period_s: int = Field(
        default=900,
        gt=0,
        validation_alias=AliasChoices("BASELOAD_SETTLEMENT_PERIOD_S"),
        description="The settlement period where no commitment names its own.",
    )
    compliance_min_coverage: float = Field(
        default=0.5,
        ge=0,
        le=1,
        # The api's older name still works; either name sets it for both services.
        validation_alias=AliasChoices("BASELOAD_COMPLIANCE_MIN_COVERAGE", "BASELOAD_API_COMPLIANCE_MIN_COVERAGE"),
        description="Periods with less Good net-output coverage are `insufficient_data` (not assessed).",
    )
