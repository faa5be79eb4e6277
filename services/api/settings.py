"""Api settings, from `BASELOAD_API_*` environment variables (database: `BASELOAD_DATABASE_URL`).

Domain defaults come from the team's DOMAIN.md (Continental Europe 50 Hz bands, 15-minute settlement).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.contracts import READINGS_CHANNEL
from shared.settings import SettlingServiceSettings


class Settings(SettlingServiceSettings):
    model_config = SettingsConfigDict(env_prefix="BASELOAD_API_", extra="ignore", populate_by_name=True)

    host: str = "127.0.0.1"
    port: int = 8002
    max_buckets: int = Field(default=100_000, ge=1, description="Larger requests are refused with 400.")
    max_points: int = Field(default=1_000_000, ge=1, description="Buckets × signals of a plant aggregates request.")
    max_readings_page: int = Field(default=10_000, ge=1, description="Largest `limit` of a raw readings page.")
    integration: str = Field(
        default="step",
        pattern="^step$",
        description="Energy and twa: sample-and-hold only "
        "(shared/settlement; trapezoid was dropped so that every number has one method).",
    )
    late_data_window_s: int = Field(
        default=3600, ge=0, description="Ranges ending earlier than now minus this get an ETag and are cacheable."
    )
    cache_max_age_s: int = Field(default=300, ge=0)
    nominal_frequency_hz: float = 50.0
    frequency_bands_hz: tuple[float, ...] = Field(
        default=(0.05, 0.2), description="Time is reported inside each ±band and beyond the widest."
    )
    excursion_band_hz: float = Field(default=0.2, gt=0, description="Excursions are runs beyond ±this band.")
    excursion_min_s: float = Field(default=0.0, ge=0, description="Shorter excursions are not listed.")
    max_excursions: int = Field(default=1000, ge=1)
    gas_lhv_mj_per_nm3: float | None = Field(
        default=None, gt=0, description="Fuel-gas lower heating value; enables heat rate and efficiency (≈ 35.8)."
    )
    max_raw_span_days: int = Field(default=31, ge=1, description="Longest range of reports that read raw readings.")
    cache_max_entries: int = Field(
        default=100_000, ge=0, description="Closed buckets kept in memory (0: no cache); invalidated by NOTIFY."
    )
    notify_channel: str = Field(default=READINGS_CHANNEL, description="Where ingest announces new readings.")
    stream_interval_s: float = Field(default=1.0, gt=0)
    dispute_max_substitutes: int = Field(
        default=10_000, ge=1, description="Most substitute readings in one proposed correction."
    )
    catalog_ttl_s: float = Field(default=5.0, ge=0, description="How long plant and signal metadata is cached.")
    signing_key_file: Path | None = Field(
        default=None, description="Statement signing keys (JWKS, mode 0600); default <data_dir>/signing-keys.json."
    )
    statements_every_s: float = Field(
        default=60.0, ge=0, description="How often the issuer signs closed periods and restates late data (0: never)."
    )

    # The dashboard (services/api/ui)
    ui_session_ttl_s: int = Field(default=12 * 3600, ge=60, description="A dashboard sign-in lasts this long.")
    ui_cookie_secure: bool = Field(
        default=False, description="Mark the session cookie Secure (set it when the api is served over HTTPS)."
    )
    ui_stale_after_s: float = Field(
        default=30.0, gt=0, description="The dashboard marks a latest value older than this as stale."
    )
    ui_recent_alerts_h: float = Field(default=24.0, gt=0, description="Resolved alerts shown for this many hours.")

    def key_file(self) -> Path:
        return self.signing_key_file or self.data_dir / "signing-keys.json"
