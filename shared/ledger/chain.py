"""The per-plant hash chain: each statement names the hash of the one issued before it for the same plant."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class ChainBreak:
    sequence: int
    message: str


def check_chain(statements: Iterable[tuple[str, Mapping[str, Any]]]) -> ChainBreak | None:
    """The first break in (hash, payload) pairs of one plant ordered by `sequence`: a gap, a reordering or a
    `previous` that is not the prior statement's hash. A chain starting mid-way (a `--since` slice) is fine."""
    prior: tuple[str, int] | None = None
    for token_hash, payload in statements:
        seq = int(payload["sequence"])
        if prior is None:
            if seq == 1 and payload.get("previous") is not None:
                return ChainBreak(seq, "the first statement of a plant must have previous = null")
        elif seq != prior[1] + 1:
            return ChainBreak(seq, f"statement {prior[1] + 1} is missing (sequence jumps from {prior[1]} to {seq})")
        elif payload.get("previous") != prior[0]:
            return ChainBreak(
                seq,
                f"statement {seq} names previous {payload.get('previous')} but statement "
                f"{prior[1]} hashes to {prior[0]}",
            )
        prior = (token_hash, seq)
    return None
