"""The README's architecture section names every source folder, and names no folder that does not exist."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def architecture_section() -> str:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    start = readme.index("## Architecture\n")
    return readme[start : readme.index("\n## ", start + 1)]


def named_folders(text: str) -> set[str]:
    """`services/api/ui/`-style paths in backticks (a trailing slash marks a folder)."""
    return {m.rstrip("/") for m in re.findall(r"`((?:services|shared|deploy|tests|bench)(?:/[\w.]+)*/)`", text)}


def source_folders() -> set[str]:
    """Every folder under services/ and shared/ holding Python modules."""
    found = set()
    for top in ("services", "shared"):
        for path in (REPO / top).rglob("*.py"):
            folder = path.parent.relative_to(REPO).as_posix()
            if folder not in ("services", "shared") and "__pycache__" not in folder:
                found.add(folder)
    return found


def test_every_source_folder_is_in_the_architecture_section() -> None:
    missing = sorted(source_folders() - named_folders(architecture_section()))
    assert not missing, f"README ## Architecture does not mention: {missing}"


def test_every_folder_the_section_names_exists() -> None:
    named = named_folders(architecture_section())
    assert {"services/gateway", "shared/settlement"} <= named  # the pattern reads the table
    assert not [f for f in sorted(named) if not (REPO / f).is_dir()]


def test_the_section_has_its_picture() -> None:
    assert "┌" in architecture_section() and "ingest :8001" in architecture_section()
