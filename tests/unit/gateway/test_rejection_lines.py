"""The gateway logs ingest's per-reading rejections as one readable line per kind, with a count (issue 13)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.gateway.readings import Reading
from services.gateway.sender import rejection_lines

T0 = datetime(2026, 11, 27, 14, 40, 51, tzinfo=UTC)


def test_one_line_per_rejection_kind_with_count_signals_span_and_an_example() -> None:
    batch = [
        Reading(s, T0 + timedelta(seconds=i), 100.0 + i)
        for i, s in enumerate(
            ["gt1.active_power", "gt2.active_power", "gt1.active_power", "x.unknown", "st1.active_power"]
        )
    ]
    conflict = "a different value is already stored for this signal and time"
    rejected = [{"index": i, "code": "conflicting_value", "message": conflict} for i in (0, 1, 2, 4)]
    rejected.append({"index": 3, "code": "unknown_signal", "message": "no signal x.unknown"})
    assert rejection_lines(rejected, batch) == [
        "ingest rejected 4 readings as conflicting_value (gt1.active_power, gt2.active_power, st1.active_power; "
        f"2026-11-27T14:40:51.000000Z .. 2026-11-27T14:40:55.000000Z): {conflict}",
        "ingest rejected 1 reading as unknown_signal (x.unknown; 2026-11-27T14:40:54.000000Z): no signal x.unknown",
    ]
    assert all("Reading(" not in line for line in rejection_lines(rejected, batch))  # no Python reprs


def test_many_signals_are_abbreviated_and_a_bad_index_still_counts() -> None:
    batch = [Reading(f"s{i}", T0, 1.0) for i in range(5)]
    rejected = [{"index": i, "code": "conflicting_value", "message": "x"} for i in range(5)]
    rejected.append({"index": 99, "code": "out_of_range"})
    assert rejection_lines(rejected, batch) == [
        "ingest rejected 5 readings as conflicting_value (s0, s1, s2 +2 more; 2026-11-27T14:40:51.000000Z): x",
        "ingest rejected 1 reading as out_of_range",
    ]
