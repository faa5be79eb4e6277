"""The api's response models: one msgspec Struct per response shape, used for the JSON body (encoded by msgspec), the
CSV columns (`columns`) and the OpenAPI document (services/api/openapi.py), so the three cannot drift.

msgspec rather than pydantic: bodies are encoded straight from the Structs without a validation pass (aggregate
responses run to tens of thousands of numbers). Aggregate value fields the request did not ask for are `UNSET`:
absent from the JSON, not null.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
from msgspec import UNSET, UnsetType

from shared.settlement import Totals

Method = dict[str, Any]  # the method statement: how every number was computed, in words (free-form by design)


class Model(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Base of the response models (documented with `additionalProperties: false`)."""


# GET /v1/plants
class PlantRow(Model):
    key: str
    name: str
    capacity_mw: float
    timezone: str


class PlantOut(PlantRow):
    partners: list[str]


class PlantsOut(Model):
    plants: list[PlantOut]


# GET /v1/plants/{plant}/signals
class ValueRange(Model):
    min: float
    max: float


class LatestReading(Model):
    ts: datetime
    value: float
    quality: int  # the OPC UA StatusCode (uint32)
    severity: str  # shared.contracts.QualityClass


class SignalOut(Model):
    key: str
    kind: str
    unit: str
    range: ValueRange
    description: str
    latest: LatestReading | None


class SignalsOut(Model):
    plant: str
    signals: list[SignalOut]


class SignalRow(Model):
    """A signal as a CSV row (range and latest reading flattened)."""

    key: str
    kind: str
    unit: str
    min: float
    max: float
    latest_ts: datetime | None
    latest_value: float | None


# GET /v1/signals/{signal}/aggregates
class Bucket(Model):
    """One bucket; the value functions not asked for (`fn`) are absent. Positional fields (count and coverage
    before the optional values) so that buckets are built from the value columns without a dict per bucket."""

    start: datetime
    end: datetime
    count: int
    coverage: float
    avg: float | UnsetType | None = UNSET
    min: float | UnsetType | None = UNSET
    max: float | UnsetType | None = UNSET
    first: float | UnsetType | None = UNSET
    last: float | UnsetType | None = UNSET
    twa: float | UnsetType | None = UNSET


BUCKET_VALUES = ("avg", "min", "max", "first", "last", "twa")  # Bucket's optional fields, in order
# The CSV columns of buckets: the value functions asked for sit between end and count (in the order asked for).
BUCKET_COLUMNS = ["start", "end", *BUCKET_VALUES, "count", "coverage"]


class AggregatesOut(Model):
    signal: str
    unit: str
    every: str
    fn: list[str]
    method: Method
    buckets: list[Bucket]


# GET /v1/plants/{plant}/aggregates
class BucketGrid(Model):
    start: list[datetime]
    end: list[datetime]


class SignalColumns(Model, kw_only=True):
    """One signal's arrays, aligned to `buckets`; the value functions not asked for are absent."""

    signal: str
    unit: str
    avg: list[float | None] | UnsetType = UNSET
    min: list[float | None] | UnsetType = UNSET
    max: list[float | None] | UnsetType = UNSET
    first: list[float | None] | UnsetType = UNSET
    last: list[float | None] | UnsetType = UNSET
    twa: list[float | None] | UnsetType = UNSET
    count: list[int]
    coverage: list[float]


class PlantAggregatesOut(Model):
    plant: str
    every: str
    fn: list[str]
    method: Method
    buckets: BucketGrid
    signals: list[SignalColumns]


# GET /v1/signals/{signal}/readings
class ReadingOut(Model):
    ts: datetime
    value: float
    quality: int
    severity: str


class ReadingsOut(Model):
    signal: str
    unit: str
    readings: list[ReadingOut]
    next_cursor: str | None


# GET /v1/plants/{plant}/energy
class EnergyPeriod(Model):
    start: datetime
    end: datetime
    mwh: float | None
    mean_mw: float | None
    coverage: float


class EnergySeries(Model):
    signal: str
    kind: str
    unit: str
    total_mwh: float
    periods: list[EnergyPeriod]


class EnergyOut(Model):
    plant: str
    every: str
    method: Method
    series: list[EnergySeries]


# GET /v1/plants/{plant}/compliance
class CompliancePeriod(Model):
    start: datetime
    end: datetime
    status: str  # shared.settlement STATUSES
    committed_mw: float | None
    tolerance_mw: float | None
    delivered_mw: float | None
    deviation_mw: float | None
    deviation_mwh: float | None
    delivered_mwh: float | None
    within_tolerance: bool | None
    coverage: float
    commitment_id: int | None
    commitment_source: str | None
    note: str


class ComplianceOut(Model):
    plant: str
    signal: str
    settlement_period_s: int
    method: Method
    periods: list[CompliancePeriod]
    totals: Totals


# GET /v1/plants/{plant}/frequency
class BandTime(Model):
    band_mhz: int
    seconds: float
    share: float | None


class Bands(Model):
    inside: list[BandTime]
    beyond: BandTime


class Excursion(Model):
    start: datetime
    end: datetime
    duration_s: float
    extreme_hz: float
    extreme_deviation_mhz: int
    samples: int


class FrequencyOut(Model):
    plant: str
    signal: str
    start: datetime
    end: datetime
    min: float | None
    max: float | None
    mean: float | None
    samples: int
    coverage: float
    bands: Bands
    excursion_band_mhz: int
    excursions: list[Excursion]
    excursions_truncated: bool
    method: Method


# GET /v1/plants/{plant}/fuel
class FuelRow(Model):
    start: datetime
    end: datetime
    fuel_nm3: float | None
    net_mwh: float | None
    heat_rate_kj_per_kwh: float | None
    efficiency: float | None


class FuelPeriod(FuelRow):
    signals: dict[str, float]  # fuel volume (Nm3) per fuel_gas_flow signal with data in the period


class FuelOut(Model):
    plant: str
    every: str
    lhv_mj_per_nm3: float | None
    method: Method
    periods: list[FuelPeriod]


# GET /v1/plants/{plant}/stream (each `event: latest`)
class StreamValue(Model):
    ts: datetime
    value: float
    quality: int


class StreamEvent(Model):
    plant: str
    sent_at: datetime
    signals: dict[str, StreamValue]


def columns(model: type[Model], *, prefix: tuple[str, ...] = ()) -> list[str]:
    """CSV columns of a row model: `prefix` (the keys a long-format table adds), then the model's fields in order."""
    return [*prefix, *model.__struct_fields__]


assert sorted(BUCKET_COLUMNS) == sorted(columns(Bucket))
