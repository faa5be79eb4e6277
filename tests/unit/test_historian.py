"""Historian CSV layouts (services/tools/historian.py): header detection and rows → readings or reasons."""

from __future__ import annotations

import pytest

from services.tools.historian import Layout, LayoutError, detect_layout, to_reading

BASELOAD = detect_layout(["signal", "ts", "value", "quality"])
PI = detect_layout(["Tag", " Timestamp", "Value", "Status"])


def test_both_layouts_are_recognised_by_their_header_in_any_order_and_case() -> None:
    assert Layout("baseload", 0, 1, 2, 3) == BASELOAD
    assert Layout("pi", 0, 1, 2, 3) == PI
    assert detect_layout(["value", "ts", "signal"]) == Layout("baseload", 2, 1, 0, None)


def test_an_unknown_header_says_what_is_expected() -> None:
    with pytest.raises(LayoutError, match="expected signal,ts,value"):
        detect_layout(["time", "name", "v"])


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        (
            ["gt1.active_power", "2026-11-25T10:00:00Z", "251.3", "0"],
            {"signal": "gt1.active_power", "ts": "2026-11-25T10:00:00Z", "value": 251.3, "quality": 0},
        ),
        (
            ["gt1.active_power", "2026-11-25T10:00:00Z", "251.3", ""],
            {"signal": "gt1.active_power", "ts": "2026-11-25T10:00:00Z", "value": 251.3},
        ),
        (["f", "t", "1", "0x808A0000"], {"signal": "f", "ts": "t", "value": 1.0, "quality": 0x808A0000}),
    ],
)
def test_baseload_rows_become_readings(row: list[str], expected: dict[str, object]) -> None:
    assert to_reading(row, BASELOAD) == expected


@pytest.mark.parametrize(
    ("status", "quality"),
    [("Good", "good"), ("BAD", "bad"), ("Questionable", "uncertain"), ("Substituted", "uncertain"), ("192", 192)],
)
def test_pi_status_words_become_qualities(status: str, quality: object) -> None:
    assert to_reading(["grid.frequency", "2026-11-25T10:00:00Z", "50.01", status], PI) == {
        "signal": "grid.frequency",
        "ts": "2026-11-25T10:00:00Z",
        "value": 50.01,
        "quality": quality,
    }


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        (["gt1", "t"], "expected at least 4 columns"),
        (["gt1", "t", "Shutdown", "Good"], "is not a number"),
        (["gt1", "t", "nan", "Good"], "not a finite number"),
        (["gt1", "t", "1", "I/O Timeout"], "is not good/uncertain/bad"),
    ],
)
def test_rows_that_cannot_be_readings_say_why(row: list[str], reason: str) -> None:
    result = to_reading(row, PI)
    assert isinstance(result, str) and reason in result
