"""Concurrent append batches merge their rollups in time order (services/ingest/service.py MergeOrder)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from services.ingest.service import MergeOrder
from services.ingest.validation import Checked

T0 = datetime(2026, 11, 27, 12, tzinfo=UTC)


def batch(seconds: int, *signals: int) -> Checked:
    return Checked(oldest=T0 + timedelta(seconds=seconds), signal_ids=frozenset(signals))


async def write(order: MergeOrder, checked: Checked, log: list[str], name: str, start_after: float = 0.0) -> None:
    async with order.batch(checked) as turn:
        await asyncio.sleep(start_after)  # the COPY and the partial rollups before the merge
        async with turn:
            log.append(name)


async def test_a_later_batch_merges_after_the_earlier_one_in_flight_on_the_same_signals() -> None:
    order, log = MergeOrder(wait_s=5), list[str]()
    await asyncio.gather(
        write(order, batch(0, 1, 2), log, "earlier", start_after=0.05),  # registered first, ready last
        write(order, batch(25, 2, 3), log, "later"),
    )
    assert log == ["earlier", "later"]


async def test_batches_of_other_signals_or_earlier_times_do_not_wait() -> None:
    order, log = MergeOrder(wait_s=5), list[str]()
    await asyncio.gather(
        write(order, batch(0, 1), log, "slow", start_after=0.05),
        write(order, batch(25, 2), log, "other signals"),
        write(order, batch(-25, 1), log, "older"),
    )
    assert log == ["other signals", "older", "slow"]


async def test_a_batch_waits_no_longer_than_the_limit() -> None:
    order, log = MergeOrder(wait_s=0.05), list[str]()
    await asyncio.gather(
        write(order, batch(0, 1), log, "stuck", start_after=0.5),
        write(order, batch(25, 1), log, "later"),
    )
    assert log == ["later", "stuck"]
