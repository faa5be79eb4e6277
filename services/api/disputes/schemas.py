"""Request bodies of the dispute, correction and partner-webhook endpoints (pydantic), response models (msgspec,
like services/api/schemas.py) and their examples."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, TypeVar

import msgspec
from msgspec import UNSET, UnsetType
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from services.api.disputes.outbox import EVENT_TYPES
from services.api.openapi import documented
from services.api.schemas import Model

M = TypeVar("M", bound=Model)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# PostgreSQL text cannot hold NUL: refused at the edge (422), never a database error.
NO_NUL = r"^[^\x00]*$"


class DisputeIn(Strict):
    period_start: AwareDatetime = Field(description="Start of the settlement period disputed (UTC-aligned).")
    reason: str = Field(min_length=1, max_length=2000, pattern=NO_NUL)
    evidence: str = Field(
        default="", max_length=20_000, pattern=NO_NUL, description="Free text: what was observed, references."
    )
    attachment_digest: str | None = Field(default=None, description="sha256:<64 hex> of a document kept elsewhere.")


class CommentIn(Strict):
    text: str = Field(min_length=1, max_length=20_000, pattern=NO_NUL)


class SubstituteIn(Strict):
    ts: AwareDatetime
    value: float


class ReadingsCorrectionIn(Strict):
    kind: Literal["readings"]
    signal: str | None = Field(
        default=None, max_length=200, pattern=NO_NUL, description="Default: the plant's net-output signal."
    )
    start: AwareDatetime = Field(description="The substituted interval [start, end) inside the disputed period.")
    end: AwareDatetime
    readings: list[SubstituteIn] = Field(description="Replace every original reading of the interval.")
    note: str = Field(default="", max_length=20_000, pattern=NO_NUL)


class EnergyCorrectionIn(Strict):
    kind: Literal["energy"]
    energy_mwh: float = Field(description="Substitute delivered energy for the whole period (net output, MWh).")
    note: str = Field(default="", max_length=20_000, pattern=NO_NUL)


CorrectionIn = Annotated[ReadingsCorrectionIn | EnergyCorrectionIn, Field(discriminator="kind")]


class RejectIn(Strict):
    reason: str = Field(default="", max_length=20_000, pattern=NO_NUL)


EventType = Literal[EVENT_TYPES]  # type: ignore[valid-type]


class PartnerEndpointIn(Strict):
    name: str = Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9._-]+$")
    url: str = Field(pattern=r"^https?://[^\s/@\x00]+(/[^\s\x00]*)?$", max_length=2000)
    event_types: list[EventType] = Field(default_factory=list, description="Empty: every event.")


T0 = "2026-11-25T10:00:00Z"
DISPUTE_EXAMPLE: dict[str, Any] = {
    "id": 1,
    "plant": "nish",
    "period_start": T0,
    "period_end": "2026-11-25T10:15:00Z",
    "status": "open",
    "reason": "meter outage 10:03–10:06",
    "evidence": "GT1 transducer fault, see log #4411",
    "attachment_digest": None,
    "opened_by": "eps-analyst",
    "opened_by_partner": "eps",
    "created_at": T0,
    "events": [
        {
            "id": 1,
            "at": T0,
            "kind": "opened",
            "actor": "eps-analyst",
            "actor_role": "partner",
            "actor_partner": "eps",
            "correction_id": None,
            "detail": {},
        }
    ],
    "corrections": [
        {
            "id": 1,
            "kind": "readings",
            "signal": "plant.net_output",
            "starts_at": "2026-11-25T10:03:00Z",
            "ends_at": "2026-11-25T10:06:00Z",
            "energy_mwh": None,
            "note": "",
            "status": "pending",
            "proposed_by": "eps-analyst",
            "proposed_by_partner": "eps",
            "proposed_at": T0,
            "decided_at": None,
            "approvals": [],
            "waiting_for": ["eps", "socar"],
            "substitutes": [
                {"ts": "2026-11-25T10:03:00Z", "value": 480.0, "quality": 0x40910000, "severity": "uncertain"}
            ],
            "original_readings": [],
        }
    ],
}

LIST_EXAMPLE: dict[str, Any] = {
    "plant": "nish",
    "disputes": [
        {
            **{k: v for k, v in DISPUTE_EXAMPLE.items() if k not in ("events", "corrections")},
            "pending_corrections": 1,
            "updated_at": T0,
        }
    ],
}
ENDPOINTS_EXAMPLE: dict[str, Any] = {
    "plant": "nish",
    "endpoints": [
        {
            "id": 7,
            "name": "eps-settlement",
            "url": "https://settlement.eps.example/hooks/baseload",
            "partner": "eps",
            "plant": "nish",
            "event_types": ["statement.restated"],
            "enabled": True,
            "created_at": T0,
        }
    ],
}
DELIVERIES_EXAMPLE: dict[str, Any] = {
    "plant": "nish",
    "deliveries": [
        {
            "id": 42,
            "endpoint_id": 7,
            "endpoint": "eps-settlement",
            "partner": "eps",
            "event_type": "statement.restated",
            "webhook_id": "msg_5f0c…",
            "status": "delivered",
            "attempts": 1,
            "created_at": T0,
            "delivered_at": T0,
            "last_error": None,
        }
    ],
}


def ok(model: type[Model], example: dict[str, Any], *errors: int, status: int = 200) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route: its model's schema with the example, and the errors it can return."""
    return documented(model, *errors, example=example, status=status)


# --- response models (msgspec, like services/api/schemas.py): the JSON bodies and their OpenAPI schemas -----------


class DisputeRow(Model):
    id: int
    plant: str
    period_start: datetime
    period_end: datetime
    status: str
    reason: str
    evidence: str
    attachment_digest: str | None
    opened_by: str
    opened_by_partner: str
    created_at: datetime


class DisputeSummary(DisputeRow):
    pending_corrections: int
    updated_at: datetime


class DisputesOut(Model):
    plant: str
    disputes: list[DisputeSummary]


class DisputeEvent(Model):
    id: int
    at: datetime
    kind: str
    actor: str
    actor_role: str
    actor_partner: str | None
    correction_id: int | None
    detail: dict[str, Any]


class Approval(Model):
    partner: str
    by: str
    at: datetime


class SubstituteOut(Model):
    ts: datetime
    value: float
    quality: int
    severity: str


class CorrectionOut(Model, kw_only=True):
    """A correction; `substitutes` and `original_readings` only for `kind: readings`."""

    id: int
    kind: str
    signal: str | None
    starts_at: datetime
    ends_at: datetime
    energy_mwh: float | None
    note: str
    status: str
    proposed_by: str
    proposed_by_partner: str
    proposed_at: datetime
    decided_at: datetime | None
    approvals: list[Approval]
    waiting_for: list[str]
    substitutes: list[SubstituteOut] | UnsetType = UNSET
    original_readings: list[SubstituteOut] | UnsetType = UNSET


class DisputeOut(DisputeRow):
    events: list[DisputeEvent]
    corrections: list[CorrectionOut]


class ProposedOut(Model):
    correction_id: int
    dispute: DisputeOut


class ApprovedOut(Model):
    correction_id: int
    applied: bool
    approved_by: list[str]
    waiting_for: list[str]
    dispute: DisputeOut


class EndpointOut(Model):
    id: int
    name: str
    url: str
    partner: str
    plant: str
    event_types: list[str]
    enabled: bool
    created_at: datetime


class EndpointCreatedOut(EndpointOut):
    secret: str  # shown once


class EndpointsOut(Model):
    plant: str
    endpoints: list[EndpointOut]


class DeliveryOut(Model):
    id: int
    endpoint_id: int
    endpoint: str
    partner: str
    event_type: str
    webhook_id: str
    status: str
    attempts: int
    created_at: datetime
    delivered_at: datetime | None
    last_error: str | None


class DeliveriesOut(Model):
    plant: str
    deliveries: list[DeliveryOut]


def shaped(model: type[M], value: Any) -> M:
    """The service's result as its response model (strict: a shape the model does not describe is an error)."""
    return msgspec.convert(value, model)
