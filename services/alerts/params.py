"""The parameters of each rule kind, typed, with their defaults written once: the API and the plant file validate
them on the way in (services/alerts/schemas.py), and the evaluator parses the stored row into the same model once,
when it loads the rule, so the rule functions read typed attributes and never repeat a default. Pure (pydantic).

Stored params (the `alert_rules.params` column) carry durations in seconds under a `_s` name (`max_age_s`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from shared.durations import parse_duration

# Bounds that keep every stored value inside what Python's timedelta and datetime (and PostgreSQL) can hold.
MAX_DURATION_S = 366 * 86400.0


def _seconds(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return parse_duration(value).total_seconds()
        except (ValueError, OverflowError) as exc:  # "99999999999w" overflows timedelta
            raise ValueError(f"invalid duration {value[:50]!r}: at most 366d, e.g. 30s, 15m, 1h") from exc
    return value


def no_nul(value: Any) -> Any:
    """PostgreSQL text cannot hold NUL: refuse it at the edge, in any string of the body (keys included)."""
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError("text must not contain NUL characters")
    elif isinstance(value, dict):
        for key, item in value.items():
            no_nul(key)
            no_nul(item)
    elif isinstance(value, list | tuple):
        for item in value:
            no_nul(item)
    return value


Duration = Annotated[
    float,
    BeforeValidator(_seconds),
    Field(ge=0, le=MAX_DURATION_S, description="Seconds, or text like 30s, 15m, 1h (at most 366d)."),
]
Key = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_.:-]+$")]
Mw = Annotated[float, Field(ge=-1e6, le=1e6)]
# Stored params carry durations in seconds under a `_s` name.
DURATION_FIELDS = ("max_age", "max_silence", "window", "final_delay", "revision_window")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _text_without_nul(cls, value: Any) -> Any:
        return no_nul(value)


class ParamsBase(Strict):
    """Frozen: a loaded rule's parameters never change under the evaluator."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)

    def stored(self) -> dict[str, Any]:
        """The form kept in `alert_rules.params` (durations as `<name>_s` seconds)."""
        return {(f"{k}_s" if k in DURATION_FIELDS else k): v for k, v in self.model_dump().items()}


class ThresholdParams(ParamsBase):
    signal: Key
    op: Literal["above", "below"]
    value: Mw
    max_age: Duration = 300.0


class FrequencyBandParams(ParamsBase):
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


class StaleParams(ParamsBase):
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


class DeviationParams(ParamsBase):
    plant: Key
    signal: Key = "plant.net_output"
    early_warning: bool = True
    min_elapsed_fraction: float = Field(default=0.2, ge=0, le=1)
    min_coverage: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="Only ever stricter: a period settled with less coverage than this gets no alert verdict. The"
        " settlement verdict itself uses the one threshold the api uses (BASELOAD_COMPLIANCE_MIN_COVERAGE).",
    )
    final_delay: Duration = Field(
        default=10.0, description="Grace after a period ends before its final verdict (late data)."
    )
    revision_window: Duration = Field(
        default=3600.0,
        le=6 * 3600.0,
        description="How long after its end a period's final verdict is re-checked; a change (late data, or a"
        " commitment edited after the verdict: committed MW and verdict from → to) is announced by the rule's"
        " `check: revision` alert (at most 6h: those periods' readings are read on every"
        " evaluation).",
    )
    max_age: Duration = 300.0


class CorrectedDeviationParams(DeviationParams):
    frequency_signal: Key = "grid.frequency"
    droop: float = Field(default=0.05, gt=0, le=1)
    deadband_mhz: float = Field(default=10.0, ge=0, le=1000)
    p_nominal_mw: float | None = Field(default=None, gt=0, le=1e6, description="Default: the plant's capacity.")
    nominal_hz: float = Field(default=50.0, gt=0, le=1000)
    full_activation_mhz: float | None = Field(default=200.0, gt=0, le=10000)


class SustainedParams(ParamsBase):
    plant: Key
    signal: Key = "plant.net_output"
    window: Duration = 3600.0
    margin_mw: float | None = Field(default=None, ge=0, le=1e6, description="Default: the commitment's tolerance.")
    min_coverage: float = Field(
        default=0.5, ge=0, le=1, description="Held seconds / window below which the window is not judged."
    )
    max_age: Duration = 300.0

    @model_validator(mode="after")
    def _window(self) -> SustainedParams:
        if not 60 <= self.window <= 7 * 86400:
            raise ValueError("window must be between 1m and 7d")
        return self


RuleParams = (
    ThresholdParams | FrequencyBandParams | StaleParams | DeviationParams | CorrectedDeviationParams | SustainedParams
)
PARAMS: dict[str, type[RuleParams]] = {
    "threshold": ThresholdParams,
    "frequency_band": FrequencyBandParams,
    "stale": StaleParams,
    "baseload_deviation": DeviationParams,
    "frequency_corrected_deviation": CorrectedDeviationParams,
    "sustained_under_delivery": SustainedParams,
}


def from_stored(kind: str, stored: Mapping[str, Any]) -> RuleParams:
    """Parse a stored row's params into its kind's model (raises KeyError for an unknown kind, ValidationError
    for params the API would refuse)."""
    model = PARAMS[kind]
    names = {f"{name}_s": name for name in DURATION_FIELDS}
    return model.model_validate({names.get(k, k): v for k, v in stored.items()})
