"""Request bodies of the dispute, correction and partner-webhook endpoints (pydantic), and response examples."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from services.api.disputes.outbox import EVENT_TYPES


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DisputeIn(Strict):
    period_start: AwareDatetime = Field(description="Start of the settlement period disputed (UTC-aligned).")
    reason: str = Field(min_length=1, max_length=2000)
    evidence: str = Field(default="", max_length=20_000, description="Free text: what was observed, references.")
    attachment_digest: str | None = Field(default=None, description="sha256:<64 hex> of a document kept elsewhere.")


class CommentIn(Strict):
    text: str = Field(min_length=1, max_length=20_000)


class SubstituteIn(Strict):
    ts: AwareDatetime
    value: float


class ReadingsCorrectionIn(Strict):
    kind: Literal["readings"]
    signal: str | None = Field(default=None, description="Default: the plant's net-output signal.")
    start: AwareDatetime = Field(description="The substituted interval [start, end) inside the disputed period.")
    end: AwareDatetime
    readings: list[SubstituteIn] = Field(description="Replace every original reading of the interval.")
    note: str = Field(default="", max_length=20_000)


class EnergyCorrectionIn(Strict):
    kind: Literal["energy"]
    energy_mwh: float = Field(description="Substitute delivered energy for the whole period (net output, MWh).")
    note: str = Field(default="", max_length=20_000)


CorrectionIn = Annotated[ReadingsCorrectionIn | EnergyCorrectionIn, Field(discriminator="kind")]


class RejectIn(Strict):
    reason: str = Field(default="", max_length=20_000)


EventType = Literal[EVENT_TYPES]  # type: ignore[valid-type]


class PartnerEndpointIn(Strict):
    name: str = Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9._-]+$")
    url: str = Field(pattern=r"^https?://[^\s/]+", max_length=2000)
    event_types: list[EventType] = Field(default_factory=list, description="Empty: every event.")


T0 = "2026-11-25T10:00:00Z"
DISPUTE_EXAMPLE: dict[str, Any] = {
    "id": 1, "plant": "nish", "period_start": T0, "period_end": "2026-11-25T10:15:00Z", "status": "open",
    "reason": "meter outage 10:03–10:06", "evidence": "GT1 transducer fault, see log #4411",
    "attachment_digest": None, "opened_by": "eps-analyst", "opened_by_partner": "eps", "created_at": T0,
    "events": [{"id": 1, "at": T0, "kind": "opened", "actor": "eps-analyst", "actor_role": "partner",
                "actor_partner": "eps", "correction_id": None, "detail": {}}],
    "corrections": [{"id": 1, "kind": "readings", "signal": "plant.net_output", "starts_at": "2026-11-25T10:03:00Z",
                     "ends_at": "2026-11-25T10:06:00Z", "energy_mwh": None, "status": "pending",
                     "proposed_by": "eps-analyst", "proposed_by_partner": "eps", "approvals": [],
                     "waiting_for": ["eps", "socar"], "substitutes": [
                         {"ts": "2026-11-25T10:03:00Z", "value": 480.0, "quality": 0x40910000,
                          "severity": "uncertain"}], "original_readings": []}],
}
