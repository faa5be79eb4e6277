"""Pydantic request and response models; validation errors name the field (422 in the common envelope)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from services.alerts.egress import check_url_shape
from services.alerts.params import (
    MAX_DURATION_S,
    CorrectedDeviationParams,
    DeviationParams,
    Duration,
    FrequencyBandParams,
    Key,
    Mw,
    ParamsBase,
    StaleParams,
    Strict,
    SustainedParams,
    ThresholdParams,
)

__all__ = ["MAX_DURATION_S", "Duration", "Key", "Mw"]  # re-exported for the routes and the plant file

EARLIEST, LATEST = datetime(1970, 1, 1, tzinfo=UTC), datetime(2200, 1, 1, tzinfo=UTC)


def _in_range(ts: datetime) -> datetime:
    if not EARLIEST <= ts < LATEST:
        raise ValueError("timestamps must lie between 1970-01-01 and 2200-01-01")
    return ts


Timestamp = Annotated[AwareDatetime, AfterValidator(_in_range)]
Severity = Literal["critical", "warning", "info"]
LabelName = Annotated[str, Field(pattern=r"^[a-zA-Z_][a-zA-Z0-9_]*$", max_length=100)]
Labels = Annotated[dict[LabelName, Annotated[str, Field(max_length=500)]], Field(max_length=50)]
Text = Annotated[str, Field(max_length=2000)]


class RuleCommon(Strict):
    name: str = Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_.:-]+$")
    severity: Severity = "warning"
    labels: Labels = Field(default_factory=dict)
    for_: Duration = Field(default=0.0, alias="for")
    keep_firing_for: Duration = 0.0
    repeat_interval: Duration = Field(default=14400.0, gt=0)
    enabled: bool = True

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    if TYPE_CHECKING:  # each rule kind below declares its own `kind` literal and typed `params` model
        kind: str
        params: ParamsBase

    def stored_params(self) -> dict[str, Any]:
        return self.params.stored()


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
    labels: Labels = Field(default_factory=dict)
    options: Annotated[
        dict[Annotated[str, Field(max_length=100)], Annotated[str, Field(max_length=1000)]], Field(max_length=20)
    ] = Field(default_factory=dict)
    enabled: bool = True

    @model_validator(mode="after")
    def _pagerduty_key(self) -> EndpointIn:
        if self.format == "pagerduty" and not self.options.get("routing_key"):
            raise ValueError("the pagerduty format needs options.routing_key")
        return self


# --- responses ----------------------------------------------------------------------------------------------------
# The JSON body and the OpenAPI schema of every alerts endpoint: the API is these models, not the table columns
# (a column added to a table does not appear in a response until a model names it).


class Out(BaseModel):
    model_config = ConfigDict(extra="ignore")


class RuleOut(Out):
    id: int
    name: str
    kind: str
    severity: str
    labels: dict[str, str]
    params: dict[str, Any] = Field(description="As stored: durations in seconds under `<name>_s`.")
    for_s: float
    keep_firing_for_s: float
    repeat_interval_s: float
    enabled: bool
    created_at: datetime
    updated_at: datetime
    last_error: str | None = Field(description="Why the rule last failed to load or evaluate (it is skipped).")
    last_error_at: datetime | None


class CommitmentOut(Out):
    id: int
    plant: str
    valid_from: datetime
    valid_to: datetime | None
    committed_mw: float
    tolerance_mw: float | None
    tolerance_pct: float | None
    settlement_period_s: int
    note: str


class ScheduleStored(Out):
    stored: int = Field(description="Entries written (created or replaced).")


class ScheduleEntryOut(Out):
    period_start: datetime
    committed_mw: float


class ExclusionOut(Out):
    id: int
    starts_at: datetime
    ends_at: datetime
    reason: str


class EndpointOut(Out):
    id: int
    name: str
    url: str
    format: str
    severities: list[str]
    labels: dict[str, str]
    options: dict[str, Any]
    enabled: bool
    created_at: datetime


class EndpointCreated(EndpointOut):
    secret: str = Field(description="The signing secret (whsec_…), shown in this response only.")


class SilenceOut(Out):
    id: int
    matchers: list[dict[str, str]]
    starts_at: datetime
    ends_at: datetime
    created_by: str
    comment: str
    created_at: datetime


class AlertOut(Out):
    id: int
    rule_id: int
    rule: str
    kind: str
    severity: str
    fingerprint: str
    labels: dict[str, str]
    state: str
    pending_since: datetime | None
    firing_since: datetime | None
    resolved_at: datetime | None
    last_notified_at: datetime | None
    incident: int
    acked_by: str | None
    acked_at: datetime | None
    ack_comment: str | None
    value: float | None
    evidence: dict[str, Any]
    evaluated_at: datetime | None


class TransitionOut(Out):
    at: datetime
    from_state: str
    to_state: str
    evidence: dict[str, Any]


class AlertDetail(AlertOut):
    transitions: list[TransitionOut]


class _Delivery(Out):
    id: int
    endpoint_id: int
    endpoint: str
    alert_id: int | None
    event_type: str
    webhook_id: str
    status: str
    next_attempt_at: datetime | None
    created_at: datetime
    delivered_at: datetime | None
    last_error: str | None


class AttemptOut(Out):
    attempt: int
    at: datetime
    status_code: int | None
    latency_ms: float
    error: str | None


class DeliveryOut(_Delivery):
    attempts: int = Field(description="Attempts made so far.")


class DeliveryDetail(_Delivery):
    attempts: list[AttemptOut] = Field(description="Every attempt made so far, oldest first.")
