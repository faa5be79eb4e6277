"""The dashboard's pure parts: which day is shown, CSRF tokens, same-origin checks, the vendored chart library."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from starlette.requests import Request

from services.api.ui import session
from services.api.ui.days import local_today, parse_day

VENDOR = Path(__file__).resolve().parents[3] / "services" / "api" / "ui" / "static" / "vendor"
BELGRADE = "Europe/Belgrade"


@pytest.mark.parametrize(
    ("now", "text", "expected"),
    [
        (datetime(2026, 11, 27, 22, 30, tzinfo=UTC), None, date(2026, 11, 27)),  # 23:30 in Belgrade
        (datetime(2026, 11, 27, 23, 30, tzinfo=UTC), None, date(2026, 11, 28)),  # 00:30 the next local day
        (datetime(2026, 11, 27, 12, 0, tzinfo=UTC), "2026-03-29", date(2026, 3, 29)),
        (datetime(2026, 11, 27, 12, 0, tzinfo=UTC), "2026-11-28", None),  # the future has no settlement day yet
        (datetime(2026, 11, 27, 12, 0, tzinfo=UTC), "27.11.2026", None),
        (datetime(2026, 11, 27, 12, 0, tzinfo=UTC), "2026-02-30", None),
    ],
)
def test_the_day_shown_is_a_past_or_current_plant_local_day(
    now: datetime, text: str | None, expected: date | None
) -> None:
    assert parse_day(text, BELGRADE, now) == expected


def test_today_is_the_plants_day_not_utcs() -> None:
    assert local_today("Asia/Tokyo", datetime(2026, 11, 27, 16, 0, tzinfo=UTC)) == date(2026, 11, 28)


def test_csrf_tokens_belong_to_their_session_only() -> None:
    a, b = session.new_session_id(), session.new_session_id()
    assert a != b and len(a) >= 43
    assert session.csrf_matches(a, session.csrf_token(a))
    assert not session.csrf_matches(a, session.csrf_token(b))
    assert not session.csrf_matches(a, None) and not session.csrf_matches(a, "")
    assert session.csrf_token(a) != a and a not in session.csrf_token(a)
    assert session.session_hash(a) == hashlib.sha256(a.encode()).digest()


def _request(headers: dict[str, str]) -> Request:
    raw = [(k.lower().encode(), v.encode()) for k, v in {"host": "127.0.0.1:8002", **headers}.items()]
    return Request(
        {
            "type": "http",
            "method": "POST",
            "scheme": "http",
            "path": "/ui/login",
            "headers": raw,
            "server": ("127.0.0.1", 8002),
            "query_string": b"",
        }
    )


@pytest.mark.parametrize(
    ("headers", "same"),
    [
        ({"origin": "http://127.0.0.1:8002"}, True),
        ({"origin": "http://evil.example"}, False),
        ({"origin": "null"}, False),
        ({"origin": "http://127.0.0.1:8002.evil.example"}, False),
        ({"referer": "http://127.0.0.1:8002/ui/login"}, True),
        ({"referer": "http://127.0.0.1:80020/ui/login"}, False),
        ({}, False),  # neither header: refused
    ],
)
def test_state_changes_must_come_from_this_origin(headers: dict[str, str], same: bool) -> None:
    assert session.same_origin(_request(headers)) is same


def test_uplot_is_the_pinned_npm_release_with_its_licence() -> None:
    digests = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in VENDOR.iterdir()}
    assert digests["uPlot.iife.min.js"] == "19c8d4c6ad88929a79f4ae49d6f7161566dfd0ba3d15cc495e974f787eb78f1f"
    assert digests["uPlot.min.css"] == "df630c6a8d6f8eeaff264b50f73ce5b114f646ffd9a0bb74f049b0a00135fa04"
    assert (VENDOR / "uPlot.iife.min.js").read_text().startswith("/*! https://github.com/leeoniya/uPlot (v1.6.32) */")
    assert "MIT License" in (VENDOR / "uPlot.LICENSE").read_text()
