"""The api's OpenAPI documentation of responses: typed examples of the response models (services/api/schemas.py),
`documented` for a route's `responses=`, and `install_components`, which puts the models' schemas (and the
examples) into the document FastAPI generates."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec

from services.api.schemas import (
    AggregatesOut,
    Bands,
    BandTime,
    Bucket,
    BucketGrid,
    ComplianceOut,
    CompliancePeriod,
    EnergyOut,
    EnergyPeriod,
    EnergySeries,
    Excursion,
    FrequencyOut,
    FuelOut,
    FuelPeriod,
    LatestReading,
    Method,
    Model,
    PlantAggregatesOut,
    PlantOut,
    PlantsOut,
    ReadingOut,
    ReadingsOut,
    SignalColumns,
    SignalOut,
    SignalsOut,
    ValueRange,
)
from shared.errors import error_responses
from shared.settlement import Totals

# Examples (typed, so they follow the models); times are UTC.
T0, T1, T2 = (datetime(2026, 11, 25, 10, m, tzinfo=UTC) for m in (0, 15, 1))
ETC: Method = {"...": "..."}

EXAMPLES: dict[type[Model], Model] = {
    PlantsOut: PlantsOut(
        plants=[
            PlantOut(
                key="nish",
                name="Niš CCGT (EPS / SOCAR)",
                capacity_mw=500.0,
                timezone="Europe/Belgrade",
                partners=["eps", "socar"],
            )
        ]
    ),
    SignalsOut: SignalsOut(
        plant="nish",
        signals=[
            SignalOut(
                key="plant.net_output",
                kind="net_output",
                unit="MW",
                range=ValueRange(min=-30.0, max=560.0),
                description="Net output at the connection point",
                latest=LatestReading(ts=T0, value=481.2, quality=0, severity="good"),
            )
        ],
    ),
    AggregatesOut: AggregatesOut(
        signal="plant.net_output",
        unit="MW",
        every="15m",
        fn=["avg", "twa"],
        method={"alignment": "fixed 900 s buckets aligned to 2000-01-03T00:00:00+00:00", **ETC},
        buckets=[Bucket(start=T0, end=T1, count=900, coverage=1.0, avg=480.0, twa=480.0)],
    ),
    PlantAggregatesOut: PlantAggregatesOut(
        plant="nish",
        every="1m",
        fn=["avg"],
        method=ETC,
        buckets=BucketGrid(start=[T0, T2], end=[T2, datetime(2026, 11, 25, 10, 2, tzinfo=UTC)]),
        signals=[
            SignalColumns(signal="gt1.active_power", unit="MW", avg=[160.2, None], count=[60, 0], coverage=[1.0, 0.0])
        ],
    ),
    ReadingsOut: ReadingsOut(
        signal="grid.frequency",
        unit="Hz",
        readings=[
            ReadingOut(
                ts=datetime(2026, 11, 25, 10, 0, 0, 250000, tzinfo=UTC), value=50.012, quality=0, severity="good"
            )
        ],
        next_cursor="MjAyNi0xMS0yNVQxMDowMDowMC4yNTArMDA6MDA",
    ),
    EnergyOut: EnergyOut(
        plant="nish",
        every="15m",
        method={"integral": "sample-and-hold ...", **ETC},
        series=[
            EnergySeries(
                signal="plant.net_output",
                kind="net_output",
                unit="MWh",
                total_mwh=120.0,
                periods=[EnergyPeriod(start=T0, end=T1, mwh=120.0, mean_mw=480.0, coverage=1.0)],
            )
        ],
    ),
    ComplianceOut: ComplianceOut(
        plant="nish",
        signal="plant.net_output",
        settlement_period_s=900,
        method=ETC,
        periods=[
            CompliancePeriod(
                start=T0,
                end=T1,
                status="non_compliant",
                committed_mw=500.0,
                tolerance_mw=10.0,
                delivered_mw=487.0,
                deviation_mw=-13.0,
                deviation_mwh=-3.25,
                delivered_mwh=121.75,
                within_tolerance=False,
                coverage=1.0,
                commitment_id=1,
                commitment_source="commitment",
                note="",
            )
        ],
        totals=Totals(
            periods=1,
            compliant=0,
            non_compliant=1,
            excluded=0,
            insufficient_data=0,
            no_commitment=0,
            compliant_share=0.0,
            shortfall_mwh=3.25,
            surplus_mwh=0.0,
            committed_mwh=125.0,
            delivered_mwh=121.75,
            availability=0.974,
            data_coverage=1.0,
        ),
    ),
    FrequencyOut: FrequencyOut(
        plant="nish",
        signal="grid.frequency",
        start=T0,
        end=T1,
        min=49.93,
        max=50.04,
        mean=49.998,
        samples=900,
        coverage=1.0,
        bands=Bands(
            inside=[
                BandTime(band_mhz=50, seconds=880.0, share=0.978),
                BandTime(band_mhz=200, seconds=900.0, share=1.0),
            ],
            beyond=BandTime(band_mhz=200, seconds=0.0, share=0.0),
        ),
        excursion_band_mhz=200,
        excursions=[
            Excursion(
                start=T0,
                end=datetime(2026, 11, 25, 10, 0, 20, tzinfo=UTC),
                duration_s=20.0,
                extreme_hz=49.75,
                extreme_deviation_mhz=-250,
                samples=20,
            )
        ],
        excursions_truncated=False,
        method=ETC,
    ),
    FuelOut: FuelOut(
        plant="nish",
        every="15m",
        lhv_mj_per_nm3=35.8,
        method=ETC,
        periods=[
            FuelPeriod(
                start=T0,
                end=T1,
                fuel_nm3=21750.0,
                net_mwh=125.0,
                heat_rate_kj_per_kwh=6229.2,
                efficiency=0.578,
                signals={"gt1.fuel_gas_flow": 10875.0, "gt2.fuel_gas_flow": 10875.0},
            )
        ],
    ),
}

_DOCUMENTED: list[Any] = []  # every type `documented` has referenced, for `components`
REF = "#/components/schemas/{name}"
# FastAPI drops every null from the document it generates (examples too), so `documented` leaves a placeholder that
# `install_components` replaces with the example, nulls and all, once the document is built.
EXAMPLE_MARK = "x-baseload-example"
_EXAMPLES: list[Any] = []


def schema_ref(model: Any) -> dict[str, Any]:
    """A `$ref` to `model`'s schema in the OpenAPI components (registered for `components`)."""
    if model not in _DOCUMENTED:
        _DOCUMENTED.append(model)
    (ref,), _ = msgspec.json.schema_components([model], ref_template=REF)
    return ref


def documented(
    model: type[Model], *errors: int, csv: list[str] | None = None, example: Any = None, status: int = 200
) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route: the JSON schema of `model` with its example, the CSV columns when the route has a
    table, and the errors it can return."""
    sample = EXAMPLES.get(model) if example is None else example
    content: dict[str, Any] = {"application/json": {"schema": schema_ref(model)}}
    if sample is not None:
        _EXAMPLES.append(msgspec.to_builtins(sample))
        content["application/json"]["example"] = {EXAMPLE_MARK: len(_EXAMPLES) - 1}
    if csv is not None:
        content["text/csv"] = {"schema": {"type": "string"}, "example": ",".join(csv) + "\r\n"}
    ok = "Created" if status == 201 else "OK"
    return {status: {"description": ok, "content": content}, **error_responses(401, 403, *errors)}


def components() -> dict[str, Any]:
    """The schemas `documented` referenced, for the OpenAPI document's `components.schemas`."""
    _, found = msgspec.json.schema_components(_DOCUMENTED, ref_template=REF)
    return found


def install_components(document: dict[str, Any]) -> dict[str, Any]:
    """Add the response models' schemas to an OpenAPI document (a name clash with FastAPI's own is an error) and
    put the examples in place."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    ours = components()
    clash = sorted(set(ours) & set(schemas))
    if clash:
        raise RuntimeError(f"OpenAPI schema names used twice: {clash}")
    schemas.update(ours)
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            for response in operation.get("responses", {}).values():
                for media in response.get("content", {}).values():
                    example = media.get("example")
                    if isinstance(example, dict) and EXAMPLE_MARK in example:
                        media["example"] = _EXAMPLES[example[EXAMPLE_MARK]]
    return document
