"""The dispute and correction rules as tables: periods, overlap, approvals, substitutes, the overlay."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from services.api.disputes import workflow
from services.api.disputes.workflow import Pending, Period, Refusal
from shared.settlement.corrections import (
    EnergyOverride,
    Substitution,
    apply_substitutions,
    corrected_integral,
    period_overlay,
)
from shared.settlement.integral import Integral, Reading, held_integral

T = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T + timedelta(minutes=minutes)


def refused(call: object, *args: object) -> tuple[int, str]:
    with pytest.raises(Refusal) as caught:
        call(*args)  # type: ignore[operator]
    return caught.value.status, caught.value.code


@pytest.mark.parametrize(
    ("start", "now", "expected"),
    [
        (at(0), NOW, (at(0), at(15))),
        (at(15), at(15 + 15 + 60), (at(15), at(30))),  # closes exactly at end + late window
        (at(7), NOW, (404, "unknown_period")),
        (at(15), at(15 + 15 + 59), (409, "period_not_closed")),
        (datetime(1969, 12, 31, 23, 45, tzinfo=UTC), NOW, (400, "invalid_time")),
        (datetime(9999, 12, 31, 23, 45, tzinfo=UTC), NOW, (400, "invalid_time")),
    ],
)
def test_a_dispute_names_a_closed_settlement_period(start: datetime, now: datetime, expected: tuple) -> None:
    if isinstance(expected[0], int):
        assert refused(workflow.settlement_period, start, 900, now, 3600) == expected
    else:
        assert workflow.settlement_period(start, 900, now, 3600) == Period(*expected)


def test_an_hourly_period_is_aligned_to_the_hour_in_any_offset() -> None:
    local = datetime.fromisoformat("2026-11-20T11:00:00+01:00")
    assert workflow.settlement_period(local, 3600, NOW, 3600) == Period(at(0), at(60))


SIGNAL_A, SIGNAL_B = 1, 2


@pytest.mark.parametrize(
    ("new", "pending", "clash"),
    [
        (Pending(0, "readings", SIGNAL_A, at(3), at(6)), [Pending(1, "readings", SIGNAL_A, at(5), at(8))], 1),
        (Pending(0, "readings", SIGNAL_A, at(3), at(6)), [Pending(1, "readings", SIGNAL_A, at(6), at(8))], None),
        (Pending(0, "readings", SIGNAL_A, at(3), at(6)), [Pending(1, "readings", SIGNAL_B, at(3), at(6))], None),
        (Pending(0, "energy", None, at(0), at(15)), [Pending(1, "readings", SIGNAL_B, at(3), at(6))], 1),
        (Pending(0, "readings", SIGNAL_A, at(3), at(6)), [Pending(1, "energy", None, at(0), at(15))], 1),
        (Pending(0, "energy", None, at(15), at(30)), [Pending(1, "energy", None, at(0), at(15))], None),
    ],
)
def test_a_correction_overlaps_a_pending_one_on_the_same_signal_and_time(
    new: Pending, pending: list[Pending], clash: int | None
) -> None:
    found = workflow.conflicting(new, pending)
    assert (found.id if found else None) == clash


@pytest.mark.parametrize(
    ("partners", "approved", "partner", "status", "expected"),
    [
        (("eps", "socar"), (), "eps", "pending", (("eps",), ("socar",), False)),
        (("eps", "socar"), ("eps",), "socar", "pending", (("eps", "socar"), (), True)),
        (("eps", "socar"), ("socar",), "eps", "pending", (("eps", "socar"), (), True)),
        (("a", "b", "c"), ("a", "b"), "c", "pending", (("a", "b", "c"), (), True)),
        (("a", "b", "c"), ("a",), "c", "pending", (("a", "c"), ("b",), False)),
        (("eps", "socar"), ("eps",), "eps", "pending", (409, "already_approved")),
        (("acme",), (), "acme", "pending", (409, "second_party_required")),
        (("eps", "socar"), ("eps",), "socar", "applied", (409, "correction_not_pending")),
        (("eps", "socar"), (), "eps", "rejected", (409, "correction_not_pending")),
    ],
)
def test_a_correction_takes_effect_when_every_partner_has_approved(
    partners: tuple, approved: tuple, partner: str, status: str, expected: tuple
) -> None:
    if isinstance(expected[0], int):
        assert refused(workflow.approve, partners, approved, partner, status) == expected
    else:
        got = workflow.approve(partners, approved, partner, status)
        assert (got.approved, got.waiting_for, got.takes_effect) == expected


@pytest.mark.parametrize(
    ("times", "values", "code"),
    [
        ([], [], "no_substitute_readings"),
        ([at(3), at(3)], [1.0, 2.0], "duplicate_timestamp"),
        ([at(6)], [1.0], "reading_outside_interval"),
        ([at(2.99)], [1.0], "reading_outside_interval"),
        ([at(3)], [float("nan")], "value_out_of_range"),
        ([at(3)], [561.0], "value_out_of_range"),
        ([at(3) + timedelta(seconds=i) for i in range(11)], [1.0] * 11, "too_many_readings"),
    ],
)
def test_substitute_readings_are_checked_before_anything_is_stored(times: list, values: list, code: str) -> None:
    assert refused(workflow.check_substitutes, times, values, at(3), at(6), (-30.0, 560.0), 10) == (400, code)


def test_valid_substitutes_energy_and_digests_pass() -> None:
    workflow.check_substitutes([at(3), at(5.9)], [-30.0, 560.0], at(3), at(6), (-30.0, 560.0), 10)
    workflow.check_energy(140.0, Period(at(0), at(15)), (-30.0, 560.0))
    workflow.check_digest("sha256:" + "0f" * 32)
    assert refused(workflow.check_energy, 141.0, Period(at(0), at(15)), (-30.0, 560.0)) == (400, "value_out_of_range")
    assert refused(workflow.check_digest, "sha256:" + "0F" * 32) == (400, "invalid_attachment_digest")
    assert refused(workflow.check_interval, Period(at(0), at(15)), at(14), at(16)) == (400, "interval_outside_period")
    assert refused(workflow.check_interval, Period(at(0), at(15)), at(4), at(4)) == (400, "invalid_interval")


@dataclass(frozen=True)
class R:
    ts: datetime
    value: float
    quality: int = 0


def test_the_overlay_replaces_exactly_the_substituted_interval() -> None:
    originals = [R(at(m), 400.0) for m in range(6)]
    subs = [Substitution(1, at(2), at(4), (R(at(2.5), 480.0, 0x40910000), R(at(3.5), 481.0, 0x40910000)))]
    got = apply_substitutions(originals, subs)
    assert [(r.ts, r.value) for r in got] == [
        (at(0), 400.0),
        (at(1), 400.0),
        (at(2.5), 480.0),
        (at(3.5), 481.0),
        (at(4), 400.0),
        (at(5), 400.0),
    ]
    assert [r.value for r in originals] == [400.0] * 6  # the input is not changed


def test_a_later_substitution_wins_where_two_applied_ones_overlap() -> None:
    originals = [R(at(0), 400.0), R(at(1), 0.0, 0x80000000), R(at(2), 400.0)]
    first = Substitution(1, at(0.5), at(1.5), (R(at(1), 470.0, 0x40910000),))
    second = Substitution(1, at(0.9), at(1.1), (R(at(1), 475.0, 0x40910000),))
    assert [r.value for r in apply_substitutions(originals, [first, second])] == [400.0, 475.0, 400.0]


def steady(value: float, start_s: int, end_s: int, quality: int = 0) -> list[Reading]:
    return [Reading(T + timedelta(seconds=s), value, quality) for s in range(start_s, end_s, 10)]


def test_a_corrected_period_is_the_engines_held_integral_with_agreed_substitutes_counted_as_good() -> None:
    # 400 MW every 10 s, but the meter reported Bad from 3:00 to 6:00; the partners agree 480 MW there.
    readings = [*steady(400.0, -20, 180), *steady(0.0, 180, 360, 0x808A0000), *steady(400.0, 360, 910)]
    before = held_integral(readings, at(0), at(15), max_gap_s=60)
    assert (before.area, before.covered_s) == (400.0 * 720, 720.0)
    sub = Substitution(1, at(3), at(6), tuple(steady(480.0, 180, 360, 0x40910000)))
    after = corrected_integral(readings, [sub], at(0), at(15), max_gap_s=60)
    assert (after.area, after.covered_s) == (400.0 * 720 + 480.0 * 180, 900.0)
    assert corrected_integral(readings, EnergyOverride(at(0), at(15), 121.5), at(0), at(15), max_gap_s=60) == Integral(
        121.5 * 3600, 900.0
    )


SUB_A = Substitution(1, at(3), at(6), ())
SUB_B = Substitution(1, at(8), at(9), ())
ENERGY = EnergyOverride(at(0), at(15), 100.0)


@pytest.mark.parametrize(
    ("applied", "expected"),
    [
        ([], None),
        ([SUB_A], [SUB_A]),
        ([SUB_A, SUB_B], [SUB_A, SUB_B]),
        ([SUB_A, ENERGY], ENERGY),
        ([ENERGY, SUB_B], [SUB_B]),
        ([Substitution(1, at(15), at(16), ())], None),
    ],
)
def test_the_correction_that_took_effect_last_decides_a_period(applied: list, expected: object) -> None:
    assert period_overlay(applied, at(0), at(15)) == expected
