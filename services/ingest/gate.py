"""Backpressure: a bounded number of requests in the building and of write transactions in flight."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from shared.errors import ApiError

RETRY_AFTER_S = 1


def overloaded(reason: str) -> ApiError:
    return ApiError(
        503,
        "overloaded",
        f"Ingest is at capacity ({reason}); nothing was stored. Retry later.",
        headers={"Retry-After": str(RETRY_AFTER_S)},
    )


class WriteGate:
    """Bodies are received first (at most `max_reads` at once), outside the gate proper; then at most
    `slots + queue` received requests are admitted (bounding buffered bodies) and `slots` writes run at once.
    A slow upload therefore holds a read place, which its body timeout gives back, never a write slot."""

    def __init__(self, slots: int, queue: int, queue_timeout_s: float, max_reads: int = 64) -> None:
        self.slots = slots
        self.capacity = slots + queue
        self.queue_timeout_s = queue_timeout_s
        self.max_reads = max_reads
        self.reads = 0
        self.admitted = 0
        self.writing = 0
        self._semaphore = asyncio.Semaphore(slots)

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[None]:
        if self.reads >= self.max_reads:
            raise overloaded(f"{self.reads} request bodies being received")
        self.reads += 1
        try:
            yield
        finally:
            self.reads -= 1

    @asynccontextmanager
    async def admit(self) -> AsyncIterator[None]:
        if self.admitted >= self.capacity:
            raise overloaded(f"{self.admitted} requests in progress")
        self.admitted += 1
        try:
            yield
        finally:
            self.admitted -= 1

    @asynccontextmanager
    async def write_slot(self) -> AsyncIterator[None]:
        try:
            await asyncio.wait_for(self._semaphore.acquire(), self.queue_timeout_s)
        except TimeoutError:
            raise overloaded(f"no write slot within {self.queue_timeout_s:g} s") from None
        self.writing += 1
        try:
            yield
        finally:
            self.writing -= 1
            self._semaphore.release()
