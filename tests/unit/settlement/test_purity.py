"""The settlement engine stays pure: importing it loads no database driver, web framework or HTTP client."""

from __future__ import annotations

import subprocess
import sys


def test_the_settlement_package_imports_no_io_library() -> None:
    code = (
        "import sys, shared.settlement, shared.settlement.rollup; "
        "print(sorted(m for m in ('asyncpg', 'fastapi', 'httpx', 'starlette') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "[]"
