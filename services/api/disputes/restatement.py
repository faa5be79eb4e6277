"""The one place where an applied correction restates its settlement period.

The statements service issues the new signed revision (and its `statement.restated` webhooks) in the caller's
transaction. Until it is wired in, nothing is restated here and no revision is reported.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg


async def restate_period(conn: asyncpg.Connection, state: Any, plant_key: str, period_start: datetime, *,
                         reason: str, now: datetime, details: dict[str, Any]) -> list[Any]:
    """Restate the period after a correction took effect; returns the new revisions (JSON-able)."""
    return []
