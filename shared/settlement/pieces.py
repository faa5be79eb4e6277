"""Where each part of a bucket's held integral is read from: the coarsest rollup rows that fit it exactly. Pure.

A bucket [lo, hi) with arbitrary edges splits into pieces: its middle aligned to the coarsest rollup width, the
shoulders to finer widths, and what is left at either end (less than the finest width) from raw readings. The held
integral is additive over pieces (every piece is computed with the same hold rule and its holds clipped to the
piece), so the bucket's integral is the sum of its pieces'. A piece whose rows cannot give the integral exactly
(a step longer than the maximum gap inside a row, `shared.settlement.rollup.NotExact`) is split again: that row's
span goes to the next finer width, the rest stays.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

RAW = 0  # the width of a piece read from raw readings


@dataclass(frozen=True, slots=True)
class Piece:
    bucket: int  # index of the bucket the piece belongs to
    lo_us: int  # [lo, hi) in epoch µs
    hi_us: int
    width_us: int  # the rollup width it is read at; RAW for raw readings


def _ceil(t: int, width: int) -> int:
    return -(-t // width) * width


def split(bucket: int, lo: int, hi: int, widths: Sequence[int]) -> list[Piece]:
    """[lo, hi) as pieces of the coarsest widths that align (`widths` coarsest first, each a multiple of the
    next), in time order; a part aligned to no width is a RAW piece."""
    if lo >= hi:
        return []
    if not widths:
        return [Piece(bucket, lo, hi, RAW)]
    width, finer = widths[0], widths[1:]
    a, b = _ceil(lo, width), hi // width * width
    if a >= b:
        return split(bucket, lo, hi, finer)
    return [*split(bucket, lo, a, finer), Piece(bucket, a, b, width), *split(bucket, b, hi, finer)]


def plan(bounds_us: Sequence[int], widths: Sequence[int]) -> list[Piece]:
    """Every bucket [bounds[i], bounds[i+1]) split into pieces (see `split`), in time order."""
    return [piece for i in range(len(bounds_us) - 1) for piece in split(i, bounds_us[i], bounds_us[i + 1], widths)]


def demote(pieces: Sequence[Piece], bad_starts: Sequence[int], widths: Sequence[int]) -> list[Piece]:
    """`pieces` (all of one width) with the span of every bad row (start in `bad_starts`, sorted) cut out and split
    at the widths finer than theirs; in time order."""
    out: list[Piece] = []
    k = 0
    for p in pieces:
        finer = [w for w in widths if w < p.width_us]
        lo = p.lo_us
        while k < len(bad_starts) and bad_starts[k] < p.lo_us:
            k += 1
        while k < len(bad_starts) and bad_starts[k] < p.hi_us:
            start = bad_starts[k]
            if start > lo:
                out.append(Piece(p.bucket, lo, start, p.width_us))
            out.extend(split(p.bucket, start, start + p.width_us, finer))
            lo = start + p.width_us
            k += 1
        if lo < p.hi_us:
            out.append(Piece(p.bucket, lo, p.hi_us, p.width_us))
    return out


def clusters(pieces: Sequence[Piece], *, max_gap_us: int) -> list[list[Piece]]:
    """Pieces in time order grouped into runs whose gaps are at most `max_gap_us`: each run is read at once (the
    rows in its gaps too), runs further apart separately."""
    out: list[list[Piece]] = []
    for p in pieces:
        if out and p.lo_us - out[-1][-1].hi_us <= max_gap_us:
            out[-1].append(p)
        else:
            out.append([p])
    return out
