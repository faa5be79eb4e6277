"""Pydantic request and response models; validation errors name the field (422 in the common envelope)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    model_validator,
)

from services.alerts.egress import check_url_shape
from shared.durations import parse_duration

# Bounds that keep every stored value inside what Python's timedelta and datetime (and PostgreSQL) can hold.
MAX_DURATION_S = 366 * 86400.0
EARLIEST, LATEST = datetime(1970, 1, 1, tzinfo=UTC), datetime(2200, 1, 1, tzinfo=UTC)


def _seconds(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return parse_duration(value).total_seconds()
        except (ValueError, OverflowError) as exc:  # "99999999999w" overflows timedelta
            raise ValueError(f"invalid duration {value[:50]!r}: at most 366d, e.g. 30s, 15m, 1h") from exc
    return value


def _in_range(ts: datetime) -> datetime:
    if not EARLIEST <= ts < LATEST:
        raise ValueError("timestamps must lie between 1970-01-01 and 2200-01-01")
    return ts


def _no_nul(value: Any) -> Any:
    """PostgreSQL text cannot hold NUL: refuse it at the edge, in any string of the body (keys included)."""
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError("text must not contain NUL characters")
    elif isinstance(value, dict):
        for key, item in value.items():
            _no_nul(key)
            _no_nul(item)
    elif isinstance(value, list | tuple):
        for item in value:
            _no_nul(item)
    return value


Duration = Annotated[
    float,
    BeforeValidator(_seconds),
    Field(ge=0, le=MAX_DURATION_S, description="Seconds, or text like 30s, 15m, 1h (at most 366d)."),
]
Timestamp = Annotated[AwareDatetime, AfterValidator(_in_range)]
Severity = Literal["critical", "warning", "info"]
LabelName = Annotated[str, Field(pattern=r"^[a-zA-Z_][a-zA-Z0-9_]*$", max_length=100)]
Labels = Annotated[dict[LabelName, Annotated[str, Field(max_length=500)]], Field(max_length=50)]
Key = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_.:-]+$")]
Text = Annotated[str, Field(max_length=2000)]
Mw = Annotated[float, Field(ge=-1e6, le=1e6)]
# Stored params carry durations in seconds under a `_s` name.
DURATION_FIELDS = ("max_age", "max_silence", "window", "final_delay")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _text_without_nul(cls, value: Any) -> Any:
        return _no_nul(value)


class ThresholdParams(Strict):
    signal: Key
    op: Literal["above", "below"]
    value: Mw
    max_age: Duration = 300.0


class FrequencyBandParams(Strict):
    signal: Key = "grid.frequency"
    low_hz: float = Field(default=49.8, ge=0, le=1000)
    high_hz: float = Field(default=50.2, ge=0, le=1000)
    nominal_hz: float = Field(default=50.0, gt=0, le=1000)
    max_age: Duration = 300.0

    @model_validator(mode="after")
    def _ordered(self) -> FrequencyBandParams:
        if not self.low_hz < self.high_hz:
            raise ValueError("low_hz must be below high_hz")
        return self


class StaleParams(Strict):
    signal: Key | None = None
    gateway: str | None = Field(
        default=None, min_length=1, max_length=200, description="The name of a gateway API key."
    )
    max_silence: Duration

    @model_validator(mode="after")
    def _one_target(self) -> StaleParams:
        if (self.signal is None) == (self.gateway is None):
            raise ValueError("give exactly one of signal or gateway")
        return self


class DeviationParams(Strict):
    plant: Key
    signal: Key = "plant.net_output"
    early_warning: bool = True
    min_elapsed_fraction: float = Field(default=0.2, ge=0, le=1)
    min_coverage: float = Field(default=0.5, ge=0, le=1)
    final_delay: Duration = 10.0
    max_age: Duration = 300.0


class CorrectedDeviationParams(DeviationParams):
    frequency_signal: Key = "grid.frequency"
    droop: float = Field(default=0.05, gt=0, le=1)
    deadband_mhz: float = Field(default=10.0, ge=0, le=1000)
    p_nominal_mw: float | None = Field(default=None, gt=0, le=1e6, description="Default: the plant's capacity.")
    nominal_hz: float = Field(default=50.0, gt=0, le=1000)
    full_activation_mhz: float | None = Field(default=200.0, gt=0, le=10000)


class SustainedParams(Strict):
    plant: Key
    signal: Key = "plant.net_output"
    window: Duration = 3600.0
    margin_mw: float | None = Field(default=None, ge=0, le=1e6, description="Default: the commitment's tolerance.")
    min_coverage: float = Field(default=0.5, ge=0, le=1)
    max_age: Duration = 300.0

    @model_validator(mode="after")
    def _window(self) -> SustainedParams:
        if not 60 <= self.window <= 7 * 86400:
            raise ValueError("window must be between 1m and 7d")
        return self


class RuleCommon(Strict):
    name: str = Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_.:-]+$")
    severity: Severity = "warning"
    labels: Labels = {}
    for_: Duration = Field(default=0.0, alias="for")
    keep_firing_for: Duration = 0.0
    repeat_interval: Duration = Field(default=14400.0, gt=0)
    enabled: bool = True

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    if TYPE_CHECKING:  # each rule kind below declares its own `kind` literal and typed `params` model
        kind: str
        params: BaseModel

    def stored_params(self) -> dict[str, Any]:
        raw = self.params.model_dump()
        return {(f"{k}_s" if k in DURATION_FIELDS else k): v for k, v in raw.items()}


class ThresholdRule(RuleCommon):
    kind: Literal["threshold"]
    params: ThresholdParams


class FrequencyBandRule(RuleCommon):
    kind: Literal["frequency_band"]
    params: FrequencyBandParams = FrequencyBandParams()


class StaleRule(RuleCommon):
    kind: Literal["stale"]
    params: StaleParams


class DeviationRule(RuleCommon):
    kind: Literal["baseload_deviation"]
    params: DeviationParams


class CorrectedDeviationRule(RuleCommon):
    kind: Literal["frequency_corrected_deviation"]
    params: CorrectedDeviationParams


class SustainedRule(RuleCommon):
    kind: Literal["sustained_under_delivery"]
    params: SustainedParams


RuleIn = Annotated[
    ThresholdRule | FrequencyBandRule | StaleRule | DeviationRule | CorrectedDeviationRule | SustainedRule,
    Field(discriminator="kind"),
]


class RuleOut(BaseModel):
    id: int
    name: str
    kind: str
    severity: str
    labels: dict[str, str]
    params: dict[str, Any]
    for_s: float
    keep_firing_for_s: float
    repeat_interval_s: float
    enabled: bool
    created_at: datetime
    updated_at: datetime


class CommitmentIn(Strict):
    plant: Key
    valid_from: Timestamp
    valid_to: Timestamp | None = None
    committed_mw: float = Field(ge=0, le=1e6)
    tolerance_mw: float | None = Field(default=None, ge=0, le=1e6)
    tolerance_pct: float | None = Field(default=None, ge=0, le=100)
    settlement_period: Duration = 900.0
    note: Text = ""

    @model_validator(mode="after")
    def _consistent(self) -> CommitmentIn:
        if (self.tolerance_mw is None) == (self.tolerance_pct is None):
            raise ValueError("give exactly one of tolerance_mw or tolerance_pct")
        if self.valid_to is not None and self.valid_to <= self.valid_from:
            raise ValueError("valid_to must be after valid_from")
        period = self.settlement_period
        if period < 60 or period != int(period) or 86400 % int(period):
            raise ValueError("settlement_period must be whole seconds, at least 1m, dividing a day (e.g. 15m, 1h)")
        return self


class CommitmentOut(BaseModel):
    id: int
    plant: str
    valid_from: datetime
    valid_to: datetime | None
    committed_mw: float
    tolerance_mw: float | None
    tolerance_pct: float | None
    settlement_period_s: int
    note: str


class ScheduleEntry(Strict):
    period_start: Timestamp
    committed_mw: float = Field(ge=0, le=1e6)


class ScheduleIn(Strict):
    entries: list[ScheduleEntry] = Field(min_length=1, max_length=10_000)


class ExclusionIn(Strict):
    starts_at: Timestamp
    ends_at: Timestamp
    reason: Text = ""

    @model_validator(mode="after")
    def _ordered(self) -> ExclusionIn:
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self


class MatcherIn(Strict):
    name: LabelName
    value: str = Field(max_length=500)
    op: Literal["=", "!=", "=~", "!~"] = "="

    @model_validator(mode="after")
    def _valid_regex(self) -> MatcherIn:
        if self.op in ("=~", "!~"):
            try:
                re.compile(self.value)
            except re.error as exc:
                raise ValueError(f"value is not a valid regular expression: {exc}") from exc
        return self


class SilenceIn(Strict):
    matchers: list[MatcherIn] = Field(min_length=1, max_length=50)
    starts_at: Timestamp | None = None
    ends_at: Timestamp
    comment: Text = ""
    created_by: str | None = Field(default=None, max_length=200)


class AckIn(Strict):
    who: str | None = Field(default=None, max_length=200, description="Default: the API key's name.")
    comment: str = Field(default="", max_length=2000)


class EndpointIn(Strict):
    name: str = Field(min_length=1, max_length=200)
    url: Annotated[str, AfterValidator(check_url_shape)] = Field(
        pattern=r"^https?://",
        max_length=2000,
        description="http(s) URL without credentials; private, loopback and link-local targets are refused unless"
        " an operator allows them (BASELOAD_ALERTS_WEBHOOK_ALLOW_CIDRS).",
    )
    format: Literal["standard", "alertmanager", "pagerduty", "slack"] = "standard"
    severities: list[Severity] = Field(default=[], max_length=3)
    labels: Labels = {}
    options: Annotated[
        dict[Annotated[str, Field(max_length=100)], Annotated[str, Field(max_length=1000)]], Field(max_length=20)
    ] = {}
    enabled: bool = True

    @model_validator(mode="after")
    def _pagerduty_key(self) -> EndpointIn:
        if self.format == "pagerduty" and not self.options.get("routing_key"):
            raise ValueError("the pagerduty format needs options.routing_key")
        return self
