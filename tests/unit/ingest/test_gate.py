"""Backpressure: bounded admissions and write slots, 503 beyond them."""

from __future__ import annotations

import asyncio

import pytest

from services.ingest.gate import WriteGate
from shared.errors import ApiError


async def test_admissions_beyond_capacity_are_refused_with_retry_after() -> None:
    gate = WriteGate(slots=1, queue=1, queue_timeout_s=1)
    async with gate.admit(), gate.admit():
        with pytest.raises(ApiError) as refused:
            async with gate.admit():
                pass
    assert refused.value.status == 503 and refused.value.headers["Retry-After"] == "1"
    async with gate.admit():  # capacity is given back
        assert gate.admitted == 1


async def test_a_write_waits_for_a_slot_then_gives_up() -> None:
    gate = WriteGate(slots=1, queue=4, queue_timeout_s=0.05)
    release = asyncio.Event()

    async def holder() -> None:
        async with gate.write_slot():
            await release.wait()

    task = asyncio.create_task(holder())
    await asyncio.sleep(0)
    with pytest.raises(ApiError) as refused:
        async with gate.write_slot():
            pass
    assert refused.value.code == "overloaded"
    release.set()
    await task
    async with gate.write_slot():
        assert gate.writing == 1


async def test_bodies_being_received_are_bounded_apart_from_the_write_gate() -> None:
    gate = WriteGate(slots=1, queue=0, queue_timeout_s=1, max_reads=2)
    async with gate.reading(), gate.reading():
        with pytest.raises(ApiError) as refused:
            async with gate.reading():
                pass
        async with gate.admit():  # a received request still gets in while two bodies arrive
            assert gate.admitted == 1
    assert refused.value.status == 503 and gate.reads == 0
