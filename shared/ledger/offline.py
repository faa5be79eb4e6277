"""Checking statements without a database, as a partner would: signatures against a JWKS, the chain between the
statements at hand, the digest fields, and a recomputation of numbers and digest from a raw readings export."""

from __future__ import annotations

import csv
import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from shared.ledger.canonical import parse_timestamp
from shared.ledger.digest import Row, context_rows, readings_digest
from shared.ledger.payload import corrections_from_json
from shared.ledger.signing import VerificationError, statement_hash, verify
from shared.settlement.commitments import CommitmentInForce
from shared.settlement.corrections import corrected_integral, correction_for, correction_margin
from shared.settlement.integral import Reading, held_integral
from shared.settlement.verdict import Exclusion, settle_period

DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
NUMBERS = (
    "status",
    "committed_mw",
    "tolerance_mw",
    "delivered_mw",
    "deviation_mw",
    "deviation_mwh",
    "energy_mwh",
    "coverage",
)
REL_TOLERANCE = 1e-9  # the rollup path and the raw integral agree to this (issue 10); floats summed in another order


@dataclass(frozen=True, slots=True)
class Checked:
    token: str
    hash: str
    payload: dict[str, Any]


class OfflineError(ValueError):
    """The first problem found, in words a partner can act on."""


def tokens_in(text: str) -> list[str]:
    """Compact JWS tokens in a file: one per line, or every `jws` field of a JSON response of the statements api."""
    stripped = text.strip()
    if stripped[:1] in ("{", "["):
        found: list[str] = []
        _collect(json.loads(stripped), found)
        return found
    return [line.strip() for line in stripped.splitlines() if line.strip()]


def _collect(doc: Any, out: list[str]) -> None:
    if isinstance(doc, dict):
        if isinstance(doc.get("jws"), str):
            out.append(doc["jws"])
            return
        for value in doc.values():
            _collect(value, out)
    elif isinstance(doc, list):
        for value in doc:
            _collect(value, out)


def verify_all(tokens: Sequence[str], jwks: Mapping[str, Any]) -> list[Checked]:
    """Signature, canonical payload and digest fields of each; the chain wherever two sequences are adjacent."""
    if not tokens:
        raise OfflineError("no statements in the file")
    checked = []
    for i, token in enumerate(tokens):
        try:
            payload = verify(token, jwks)
        except VerificationError as exc:
            raise OfflineError(f"statement {i + 1}: {exc.code}: {exc.message}") from exc
        for name in ("readings_digest", "previous"):
            value = payload.get(name)
            if not (value is None and name == "previous") and not (isinstance(value, str) and DIGEST.match(value)):
                raise OfflineError(f"statement {i + 1}: {name} {value!r} is not sha256:<64 hex>")
        checked.append(Checked(token, statement_hash(token), payload))
    by_sequence = {(c.payload["plant"], c.payload["sequence"]): c for c in checked}
    for c in checked:
        prior = by_sequence.get((c.payload["plant"], c.payload["sequence"] - 1))
        if prior is not None and c.payload["previous"] != prior.hash:
            raise OfflineError(
                f"chain broken: statement {c.payload['sequence']} names previous "
                f"{c.payload['previous']} but statement {prior.payload['sequence']} hashes to "
                f"{prior.hash}"
            )
        if c.payload["sequence"] == 1 and c.payload["previous"] is not None:
            raise OfflineError("chain broken: the first statement must have previous = null")
    return checked


def read_export(paths: Iterable[Path], default_signal: str) -> list[Row]:
    """Rows of CSV exports: `baseload export` (signal,ts,value,quality) or the readings api's CSV (ts,value,quality)."""
    rows: list[Row] = []
    for path in paths:
        with open(path, newline="", encoding="utf-8") as fh:
            for rec in csv.DictReader(fh):
                rows.append(
                    Row(
                        rec.get("signal") or default_signal,
                        parse_timestamp(rec["ts"]),
                        float(rec["value"]),
                        int(rec.get("quality") or 0),
                    )
                )
    return rows


def recompute(payload: Mapping[str, Any], export: Sequence[Row]) -> list[str]:
    """Differences between a period statement and what its readings give (empty: everything agrees)."""
    start, end = parse_timestamp(payload["period_start"]), parse_timestamp(payload["period_end"])
    signals = set(payload["readings"]["signals"])
    rows = context_rows([r for r in export if r.signal in signals], start, end)
    problems = []
    digest = readings_digest(rows)
    if digest.digest != payload["readings_digest"]:
        problems.append(
            f"readings_digest: statement {payload['readings_digest']} ({payload['readings']['rows']} "
            f"rows), export {digest.digest} ({digest.rows} rows)"
        )
    if payload.get("kind") == "period":
        problems += _numbers_differ(payload, [r for r in export if r.signal in signals], rows, start, end)
    return problems


def _numbers_differ(
    payload: Mapping[str, Any], export: Sequence[Row], rows: Sequence[Row], start: datetime, end: datetime
) -> list[str]:
    params = payload["parameters"]
    max_gap_s = params["max_gap_s"]
    # Agreed corrections (stated in the payload with every substitute) change the numbers exactly as the api's
    # settlement applies them: the same shared functions, over the originals around the period.
    correction = correction_for(
        corrections_from_json(payload.get("corrections") or []), start, end, max_gap_s=max_gap_s
    )
    if correction is None:
        integral = held_integral([Reading(r.ts, r.value, r.quality) for r in rows], start, end, max_gap_s=max_gap_s)
    else:
        margin = correction_margin(max_gap_s)
        around = context_rows(export, start - margin, end + margin)
        integral = corrected_integral(
            [Reading(r.ts, r.value, r.quality) for r in around], correction, start, end, max_gap_s=max_gap_s
        )
    c = payload.get("commitment")
    commitment = (
        None
        if c is None
        else CommitmentInForce(
            c.get("commitment_id"),
            parse_timestamp(c["valid_from"]),
            c["committed_mw"],
            c["tolerance_mw"],
            c["period_s"],
            c["source"],
        )
    )
    exclusion = Exclusion(start, end, payload.get("note", "")) if payload["status"] == "excluded" else None
    got = settle_period(start, end, commitment, exclusion, integral, min_coverage=params["min_coverage"])
    mine = {
        "status": got.status,
        "committed_mw": got.committed_mw,
        "tolerance_mw": got.tolerance_mw,
        "delivered_mw": got.delivered_mw,
        "deviation_mw": got.deviation_mw,
        "deviation_mwh": got.deviation_mwh,
        "energy_mwh": got.delivered_mwh,
        "coverage": got.coverage,
    }
    return [
        f"{name}: statement {payload.get(name)!r}, recomputed {mine[name]!r}"
        for name in NUMBERS
        if not _same(payload.get(name), mine[name])
    ]


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, int | float) and isinstance(b, int | float) and not isinstance(a, bool):
        return math.isclose(a, b, rel_tol=REL_TOLERANCE, abs_tol=1e-9)
    return a == b
