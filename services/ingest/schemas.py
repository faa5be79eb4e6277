"""The ingest wire formats: the JSON batch (decoded with msgspec) and the reply."""

from __future__ import annotations

from datetime import datetime

import msgspec
from pydantic import BaseModel, Field


class ReadingIn(msgspec.Struct):
    signal: str
    ts: datetime
    value: float
    quality: int | str = 0


class BatchIn(msgspec.Struct):
    readings: list[ReadingIn]


class LooseBatchIn(msgspec.Struct):
    """The batch when some reading does not decode: each one is checked on its own."""

    readings: list[msgspec.Raw]


class RejectionOut(msgspec.Struct):
    index: int
    code: str
    message: str


class WriteReply(msgspec.Struct):
    accepted: int
    duplicates: int
    rejected: list[RejectionOut]


# Pydantic mirrors, only for the OpenAPI document (/docs); the hot path decodes with msgspec.
class ReadingDoc(BaseModel):
    signal: str = Field(examples=["gt1.active_power"])
    ts: datetime = Field(
        description="RFC 3339 with an offset (the source timestamp)", examples=["2026-11-25T10:00:00.250Z"]
    )
    value: float = Field(examples=[251.3])
    quality: int | str = Field(default=0, description='OPC UA StatusCode (uint32) or "good"/"uncertain"/"bad"')


class BatchDoc(BaseModel):
    readings: list[ReadingDoc]


class RejectionDoc(BaseModel):
    index: int
    code: str = Field(examples=["unknown_signal"])
    message: str


class WriteReplyDoc(BaseModel):
    accepted: int = Field(description="Readings stored by this request")
    duplicates: int = Field(description="Readings already stored with the same value and quality (retries)")
    rejected: list[RejectionDoc]
