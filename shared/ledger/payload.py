"""What a statement says: the payload of a period or a plant-local day, and what changed between two revisions."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from shared.ledger.canonical import parse_timestamp, timestamp
from shared.ledger.digest import CONTEXT_RULE, ReadingsDigest
from shared.settlement.corrections import EnergyOverride, Substitution
from shared.settlement.integral import Reading

Correction = Substitution[Any] | EnergyOverride

SCHEMA = "baseload.statement/1"
NUMBERS = (
    "status",
    "committed_mw",
    "tolerance_mw",
    "delivered_mw",
    "deviation_mw",
    "deviation_mwh",
    "energy_mwh",
    "coverage",
    "commitment",
    "note",
)
# Fields that say where a statement sits rather than what it states: a restatement compares everything else.
PLACEMENT = ("revision", "sequence", "issued_at", "previous", "restatement")


@dataclass(frozen=True, slots=True)
class PeriodNumbers:
    """One settlement period's numbers, as the settlement engine gave them."""

    start: datetime
    end: datetime
    status: str
    committed_mw: float | None
    tolerance_mw: float | None
    delivered_mw: float | None
    deviation_mw: float | None
    deviation_mwh: float | None
    energy_mwh: float | None
    coverage: float
    commitment: Mapping[str, Any] | None = None
    note: str = ""

    def as_json(self) -> dict[str, Any]:
        return {
            "period_start": timestamp(self.start),
            "period_end": timestamp(self.end),
            "status": self.status,
            "committed_mw": number(self.committed_mw),
            "tolerance_mw": number(self.tolerance_mw),
            "delivered_mw": number(self.delivered_mw),
            "deviation_mw": number(self.deviation_mw),
            "deviation_mwh": number(self.deviation_mwh),
            "energy_mwh": number(self.energy_mwh),
            "coverage": number(self.coverage),
            "commitment": dict(self.commitment) if self.commitment else None,
            "note": self.note,
        }


@dataclass(frozen=True, slots=True)
class Evidence:
    """Which readings the numbers came from: the signals, the rows selected by `CONTEXT_RULE` and their digest."""

    signals: tuple[str, ...]
    first: datetime | None
    last: datetime | None
    digest: ReadingsDigest

    def as_json(self) -> dict[str, Any]:
        return {
            "signals": list(self.signals),
            "rule": CONTEXT_RULE,
            "rows": self.digest.rows,
            "first_ts": timestamp(self.first) if self.first else None,
            "last_ts": timestamp(self.last) if self.last else None,
            "order": "signal (UTF-8 bytes), ts",
        }


@dataclass(frozen=True, slots=True)
class Placement:
    """Where a statement sits: its revision, its place in the plant's chain, when and why it was issued."""

    revision: int
    sequence: int
    issued_at: datetime
    previous: str | None
    restatement: Mapping[str, Any] | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


def number(value: float | None) -> float | None:
    """JSON has no NaN or infinity; a number that is not finite is stated as null."""
    if value is None or not math.isfinite(value):
        return None
    return float(value)


def period_payload(
    plant: str,
    numbers: PeriodNumbers,
    method: Mapping[str, str],
    parameters: Mapping[str, Any],
    evidence: Evidence,
    placement: Placement,
    corrections: Sequence[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "kind": "period",
        "plant": plant,
        **numbers.as_json(),
        "method": dict(method),
        "parameters": dict(parameters),
        "readings": evidence.as_json(),
        "readings_digest": evidence.digest.digest,
        "corrections": list(corrections),
        **_placed(placement),
    }


def corrections_json(applied: Sequence[Correction], signal_key: str) -> list[dict[str, Any]]:
    """The agreed corrections that reach a period, in the order they took effect, with every substitute reading:
    what an offline recomputation needs besides the raw readings (the originals, which the digest covers)."""
    out: list[dict[str, Any]] = []
    for item in applied:
        if isinstance(item, EnergyOverride):
            out.append(
                {
                    "kind": "energy",
                    "period_start": timestamp(item.period_start),
                    "period_end": timestamp(item.period_end),
                    "energy_mwh": number(item.energy_mwh),
                }
            )
        else:
            out.append(
                {
                    "kind": "readings",
                    "signal": signal_key,
                    "starts_at": timestamp(item.starts_at),
                    "ends_at": timestamp(item.ends_at),
                    "readings": [[timestamp(r.ts), float(r.value), int(r.quality)] for r in item.readings],
                }
            )
    return out


def corrections_from_json(doc: Sequence[Mapping[str, Any]]) -> list[Correction]:
    """The inverse of `corrections_json` (the substitution's database signal id is not stated: 0 here)."""
    out: list[Correction] = []
    for item in doc:
        if item["kind"] == "energy":
            out.append(
                EnergyOverride(
                    parse_timestamp(item["period_start"]),
                    parse_timestamp(item["period_end"]),
                    float(item["energy_mwh"]),
                )
            )
        else:
            out.append(
                Substitution(
                    0,
                    parse_timestamp(item["starts_at"]),
                    parse_timestamp(item["ends_at"]),
                    tuple(Reading(parse_timestamp(ts), float(v), int(q)) for ts, v, q in item["readings"]),
                )
            )
    return out


def day_payload(
    plant: str,
    day: date,
    timezone: str,
    start: datetime,
    end: datetime,
    periods: Sequence[PeriodNumbers],
    totals: Mapping[str, Any],
    method: Mapping[str, str],
    parameters: Mapping[str, Any],
    evidence: Evidence,
    placement: Placement,
) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "kind": "day",
        "plant": plant,
        "day": day.isoformat(),
        "timezone": timezone,
        "period_start": timestamp(start),
        "period_end": timestamp(end),
        "periods": [p.as_json() for p in periods],
        "totals": {k: _plain(v) for k, v in totals.items()},
        "method": dict(method),
        "parameters": dict(parameters),
        "readings": evidence.as_json(),
        "readings_digest": evidence.digest.digest,
        **_placed(placement),
    }


def _placed(p: Placement) -> dict[str, Any]:
    return {
        "revision": p.revision,
        "sequence": p.sequence,
        "issued_at": timestamp(p.issued_at),
        "previous": p.previous,
        "restatement": dict(p.restatement) if p.restatement else None,
    }


def _plain(value: Any) -> Any:
    return number(value) if isinstance(value, float) else value


def content(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The statement without its placement: two revisions with equal content state the same."""
    return {k: v for k, v in payload.items() if k not in PLACEMENT}


def changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every stated value that differs, as {field, old, new}; nested fields by path (`periods[3].delivered_mw`)."""
    out: list[dict[str, Any]] = []
    _diff(content(old), content(new), "", out)
    return out


def _diff(old: Any, new: Any, path: str, out: list[dict[str, Any]]) -> None:
    if isinstance(old, dict) and isinstance(new, dict) and path not in ("commitment",):
        for key in sorted(set(old) | set(new)):
            _diff(old.get(key), new.get(key), f"{path}.{key}" if path else key, out)
    elif isinstance(old, list) and isinstance(new, list) and len(old) == len(new) and path == "periods":
        for i, (a, b) in enumerate(zip(old, new, strict=True)):
            _diff(a, b, f"{path}[{i}]", out)
    elif old != new:
        out.append({"field": path, "old": old, "new": new})
