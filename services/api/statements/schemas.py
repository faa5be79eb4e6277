"""Response models of the statement endpoints (msgspec, like services/api/schemas.py), their examples and CSV rows.

Times are strings here: statements carry the ledger's canonical timestamps (`shared.ledger.canonical.timestamp`,
microseconds and `Z`), the same bytes for every reader.
"""

from __future__ import annotations

from typing import Any

from services.api.schemas import Model


class StatementEntry(Model):
    kind: str  # period | day
    period_start: str
    period_end: str
    revision: int
    sequence: int
    issued_at: str
    kid: str
    hash: str
    previous: str | None
    reason: str | None
    jws: str  # the compact JWS: what is signed
    payload: dict[str, Any]  # its payload, decoded for convenience


class StatementsOut(Model):
    plant: str
    start: str
    end: str
    as_of: str | None
    statements: list[StatementEntry]


class RevisionsOut(Model):
    plant: str
    kind: str
    period_start: str
    revisions: list[StatementEntry]


class SigningKeysOut(Model):
    keys: list[dict[str, Any]]  # RFC 7517 JWKs (Ed25519: kty, crv, x, kid, alg, use)


class VerifiedOut(Model):
    valid: bool
    current: bool
    latest_revision: int | None
    payload: dict[str, Any]


class StatementRow(Model):
    """A statement as a CSV row: the entry's fields and the payload's numbers, flattened."""

    kind: str
    period_start: str
    period_end: str
    revision: int
    issued_at: str
    status: str | None
    committed_mw: float | None
    delivered_mw: float | None
    deviation_mw: float | None
    deviation_mwh: float | None
    energy_mwh: float | None
    coverage: float | None
    readings_digest: str | None
    reason: str | None
    previous: str | None
    hash: str
    jws: str


_T = "2026-11-25T10:00:00.000000Z"
ENTRY_EXAMPLE = StatementEntry(
    kind="period",
    period_start=_T,
    period_end="2026-11-25T10:15:00.000000Z",
    revision=1,
    sequence=42,
    issued_at="2026-11-25T11:16:00.000000Z",
    kid="e9ZlkP3qvZsU32MwPOekLhigrQpaMwcRL",
    hash="sha256:9f2c…",
    previous="sha256:51aa…",
    reason=None,
    jws="eyJhbGciOiJFZERTQSIs…",
    payload={"schema": "baseload.statement/1", "plant": "nish", "status": "compliant", "...": "..."},
)
STATEMENTS_EXAMPLE = StatementsOut(plant="nish", start=_T, end=_T, as_of=None, statements=[ENTRY_EXAMPLE])
REVISIONS_EXAMPLE = RevisionsOut(plant="nish", kind="period", period_start=_T, revisions=[ENTRY_EXAMPLE])
KEYS_EXAMPLE = SigningKeysOut(
    keys=[
        {
            "kty": "OKP",
            "crv": "Ed25519",
            "x": "2revdNa96CvnRt51Es_LbIgfdwCf…",
            "kid": "e9ZlkP3qvZsU32MwPOekLhigrQpaMwcRL",
            "alg": "EdDSA",
            "use": "sig",
        }
    ]
)
VERIFIED_EXAMPLE = VerifiedOut(valid=True, current=True, latest_revision=1, payload=ENTRY_EXAMPLE.payload)
