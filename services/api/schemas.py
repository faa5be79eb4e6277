"""OpenAPI documentation of the responses: one example per endpoint (bodies are encoded with msgspec)."""

from __future__ import annotations

from typing import Any

from shared.errors import error_responses

T0, T1 = "2026-11-25T10:00:00Z", "2026-11-25T10:15:00Z"

EXAMPLES: dict[str, dict[str, Any]] = {
    "plants": {
        "plants": [
            {
                "key": "nish",
                "name": "Niš CCGT (EPS / SOCAR)",
                "capacity_mw": 500.0,
                "timezone": "Europe/Belgrade",
                "partners": ["eps", "socar"],
            }
        ]
    },
    "signals": {
        "plant": "nish",
        "signals": [
            {
                "key": "plant.net_output",
                "kind": "net_output",
                "unit": "MW",
                "range": {"min": -30.0, "max": 560.0},
                "description": "Net output at the connection point",
                "latest": {"ts": T0, "value": 481.2, "quality": 0, "severity": "good"},
            }
        ],
    },
    "aggregates": {
        "signal": "plant.net_output",
        "unit": "MW",
        "every": "15m",
        "fn": ["avg", "twa"],
        "method": {"alignment": "fixed 900 s buckets aligned to 2000-01-03T00:00:00+00:00", "...": "..."},
        "buckets": [{"start": T0, "end": T1, "count": 900, "avg": 480.0, "twa": 480.0, "coverage": 1.0}],
    },
    "plant_aggregates": {
        "plant": "nish",
        "every": "1m",
        "fn": ["avg"],
        "method": {"...": "..."},
        "buckets": {"start": [T0, "2026-11-25T10:01:00Z"], "end": ["2026-11-25T10:01:00Z", "2026-11-25T10:02:00Z"]},
        "signals": [
            {"signal": "gt1.active_power", "unit": "MW", "avg": [160.2, None], "count": [60, 0], "coverage": [1.0, 0.0]}
        ],
    },
    "readings": {
        "signal": "grid.frequency",
        "readings": [{"ts": "2026-11-25T10:00:00.250000Z", "value": 50.012, "quality": 0, "severity": "good"}],
        "next_cursor": "MjAyNi0xMS0yNVQxMDowMDowMC4yNTArMDA6MDA",
    },
    "energy": {
        "plant": "nish",
        "every": "15m",
        "method": {"integral": "sample-and-hold ...", "...": "..."},
        "series": [
            {
                "signal": "plant.net_output",
                "kind": "net_output",
                "unit": "MWh",
                "total_mwh": 120.0,
                "periods": [{"start": T0, "end": T1, "mwh": 120.0, "mean_mw": 480.0, "coverage": 1.0}],
            }
        ],
    },
    "compliance": {
        "plant": "nish",
        "signal": "plant.net_output",
        "settlement_period_s": 900,
        "method": {"...": "..."},
        "periods": [
            {
                "start": T0,
                "end": T1,
                "status": "non_compliant",
                "committed_mw": 500.0,
                "tolerance_mw": 10.0,
                "delivered_mw": 487.0,
                "deviation_mw": -13.0,
                "deviation_mwh": -3.25,
                "delivered_mwh": 121.75,
                "within_tolerance": False,
                "coverage": 1.0,
                "note": "",
            }
        ],
        "totals": {
            "periods": 1,
            "compliant": 0,
            "non_compliant": 1,
            "excluded": 0,
            "insufficient_data": 0,
            "no_commitment": 0,
            "compliant_share": 0.0,
            "shortfall_mwh": 3.25,
            "surplus_mwh": 0.0,
            "committed_mwh": 125.0,
            "delivered_mwh": 121.75,
            "availability": 0.974,
            "data_coverage": 1.0,
        },
    },
    "frequency": {
        "plant": "nish",
        "signal": "grid.frequency",
        "min": 49.93,
        "max": 50.04,
        "mean": 49.998,
        "samples": 900,
        "coverage": 1.0,
        "method": {"...": "..."},
        "bands": {
            "inside": [
                {"band_mhz": 50.0, "seconds": 880.0, "share": 0.978},
                {"band_mhz": 200.0, "seconds": 900.0, "share": 1.0},
            ],
            "beyond": {"band_mhz": 200.0, "seconds": 0.0, "share": 0.0},
        },
        "excursions": [
            {
                "start": T0,
                "end": "2026-11-25T10:00:20Z",
                "duration_s": 20.0,
                "extreme_hz": 49.75,
                "extreme_deviation_mhz": -250.0,
                "samples": 20,
            }
        ],
        "excursions_truncated": False,
    },
    "fuel": {
        "plant": "nish",
        "every": "15m",
        "lhv_mj_per_nm3": 35.8,
        "method": {"...": "..."},
        "periods": [
            {
                "start": T0,
                "end": T1,
                "fuel_nm3": 21750.0,
                "net_mwh": 125.0,
                "heat_rate_kj_per_kwh": 6229.2,
                "efficiency": 0.578,
                "signals": {"gt1.fuel_gas_flow": 10875.0, "gt2.fuel_gas_flow": 10875.0},
            }
        ],
    },
}


def documented(example: str, *errors: int, csv: bool = True) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route: its JSON example (and CSV) plus the errors it can return."""
    content: dict[str, Any] = {"application/json": {"example": EXAMPLES[example]}}
    if csv:
        content["text/csv"] = {"schema": {"type": "string"}, "example": "start,end,...\r\n"}
    return {200: {"description": "OK", "content": content}, **error_responses(401, 403, *errors)}
