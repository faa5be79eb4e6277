"""The acknowledgement write exists once (shared/alert_acks.py): the alerts API and the dashboard run the same
statement, so they cannot leave an acknowledged alert in two different shapes."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[3]


def test_the_ack_update_is_written_in_one_place() -> None:
    sources = [*(REPO / "services").rglob("*.py"), *(REPO / "shared").rglob("*.py")]
    writers = [p.relative_to(REPO).as_posix() for p in sources if "SET acked_by" in p.read_text(encoding="utf-8")]
    assert writers == ["shared/alert_acks.py"]
