"""`baseload ledger verify`: recompute published statements from the database and name the first mismatch."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from services.api.statements import service, store
from services.api.statements.numbers import settle
from shared.ledger.canonical import canonical, parse, parse_timestamp, timestamp
from shared.ledger.chain import check_chain
from shared.ledger.payload import Placement, changes
from shared.ledger.signing import VerificationError, statement_hash, verify


@dataclass(frozen=True, slots=True)
class Mismatch:
    plant: str
    kind: str
    period_start: datetime
    revision: int
    sequence: int
    problem: str

    def __str__(self) -> str:
        return (
            f"plant {self.plant} {self.kind} {timestamp(self.period_start)} revision {self.revision} "
            f"(sequence {self.sequence}): {self.problem}"
        )


@dataclass(frozen=True, slots=True)
class Report:
    checked: int
    recomputed: int
    mismatch: Mismatch | None


async def verify_ledger(
    conn: asyncpg.Connection, ctx: service.Issuing, *, plant_key: str | None = None, since: datetime | None = None
) -> Report:
    """Signatures, hashes and the chain of every statement; numbers and digests of each latest revision."""
    jwks = {"keys": await store.published_keys(conn)}
    checked = recomputed = 0
    for subj in await service.subjects(conn, plant_key):
        stored = await store.chain(conn, subj.plant.id, since)
        payloads: list[tuple[str, dict[str, Any]]] = []
        for s in stored:
            checked += 1
            problem, payload = _check_stored(s, jwks)
            if problem:
                return Report(checked, recomputed, _mismatch(subj, s, problem))
            payloads.append((s.hash, payload))
        broken = check_chain(payloads)
        if broken is not None:
            s = next(x for x in stored if x.sequence == broken.sequence)
            return Report(checked, recomputed, _mismatch(subj, s, broken.message))
        newest = {(s.kind, s.period_start): (s, p) for s, (_, p) in zip(stored, payloads, strict=True)}
        for s, payload in sorted(newest.values(), key=lambda x: x[0].sequence):
            recomputed += 1
            diff = await _recompute_diff(conn, ctx, subj, s, payload)
            if diff:
                first = diff[0]
                problem = (
                    f"{first['field']} is {first['old']!r} in the statement but {first['new']!r} from the "
                    f"database now" + (f" (and {len(diff) - 1} more)" if len(diff) > 1 else "")
                )
                return Report(checked, recomputed, _mismatch(subj, s, problem))
    return Report(checked, recomputed, None)


def _check_stored(s: store.Stored, jwks: Mapping[str, Any]) -> tuple[str | None, dict[str, Any]]:
    if statement_hash(s.jws) != s.hash:
        return f"stored hash {s.hash} is not the hash of the stored JWS", {}
    try:
        payload = verify(s.jws, jwks)
    except VerificationError as exc:
        return f"{exc.code}: {exc.message}", {}
    expected = {
        "kind": s.kind,
        "period_start": timestamp(s.period_start),
        "revision": s.revision,
        "sequence": s.sequence,
        "previous": s.previous,
    }
    for name, value in expected.items():
        if payload.get(name) != value:
            return f"the row says {name} = {value!r} but the signed payload says {payload.get(name)!r}", payload
    return None, payload


async def _recompute_diff(
    conn: asyncpg.Connection, ctx: service.Issuing, subj: service.Subject, s: store.Stored, payload: dict[str, Any]
) -> list[dict[str, Any]]:
    placement = Placement(
        s.revision, s.sequence, parse_timestamp(payload["issued_at"]), s.previous, payload.get("restatement")
    )
    if s.kind == "day":
        build = await service.day_builder(conn, ctx, subj, service.local_day(s.period_start, subj.plant.timezone))
    else:
        periods, _, method = await settle(conn, subj.plant, subj.net, s.period_start, s.period_end, ctx.settings)
        numbers = next(p for p in periods if p.start == s.period_start)
        build = await service.period_builder(conn, ctx, subj, numbers, method)
    return changes(payload, parse(canonical(build(placement))))


def _mismatch(subj: service.Subject, s: store.Stored, problem: str) -> Mismatch:
    return Mismatch(subj.plant.key, s.kind, s.period_start, s.revision, s.sequence, problem)
