"""OPC UA StatusCode handling: stored as int4 (the uint32 bit pattern), severity from the top two bits."""

from __future__ import annotations

from shared.contracts import QualityClass

GOOD = 0x00000000
UNCERTAIN = 0x40000000
BAD = 0x80000000
UINT32_MAX = 0xFFFFFFFF

# Good readings have top bits 00, i.e. a non-negative int4 below 0x40000000 once reinterpreted. A literal range
# (not a function call) so the planner can use it against indexes and partial aggregates.
GOOD_SQL_PREDICATE = f"quality BETWEEN 0 AND {UNCERTAIN - 1}"

NAMED: dict[str, int] = {QualityClass.GOOD: GOOD, QualityClass.UNCERTAIN: UNCERTAIN, QualityClass.BAD: BAD}


def to_db(status_code: int) -> int:
    """uint32 StatusCode to the int4 with the same bits."""
    return status_code - 0x100000000 if status_code >= 0x80000000 else status_code


def from_db(stored: int) -> int:
    """int4 from the database back to the uint32 StatusCode."""
    return stored + 0x100000000 if stored < 0 else stored


def severity(status_code: int) -> QualityClass:
    """The quality class of a StatusCode (top bits 11 count as bad, per OPC UA Part 4)."""
    top = (status_code >> 30) & 0b11
    return {0: QualityClass.GOOD, 1: QualityClass.UNCERTAIN}.get(top, QualityClass.BAD)


def is_good(status_code: int) -> bool:
    return (status_code >> 30) & 0b11 == 0


# Opc.Ua.StatusCodes UncertainSubstituteValue ("an operational value that was manually overwritten"; checked
# against asyncua's ua.StatusCodes): the quality of a substitute reading agreed by both partners in a correction.
UNCERTAIN_SUBSTITUTE_VALUE = 0x40910000
