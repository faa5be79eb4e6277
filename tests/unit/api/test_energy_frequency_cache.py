"""Energy, heat rate, frequency bands, access rules, CSV cells and the bucket cache."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from services.api.cache import BucketCache
from services.api.catalog import Plant, can_read_plant
from services.api.csvout import cell, to_csv
from services.api.energy import heat_rate, per_hour_factor
from services.api.frequency import band_times
from shared.auth import Principal

T0 = datetime(2026, 6, 1, tzinfo=UTC)
PLANT = Plant(1, "nish", "Niš", 500.0, "Europe/Belgrade", ("eps", "socar"))


def test_heat_rate_and_efficiency_from_volume_energy_and_lhv() -> None:
    rate, efficiency = heat_rate(20_000.0, 115.0, 35.8)
    assert rate == pytest.approx(20_000 * 35.8 / 115.0)  # MJ/MWh = kJ/kWh
    assert efficiency == pytest.approx(115.0 * 3600 / (20_000 * 35.8))
    assert heat_rate(20_000.0, 115.0, None) == (None, None) and heat_rate(20_000.0, 0.0, 35.8) == (None, None)
    assert per_hour_factor("Nm3/h") == 3600.0 and per_hour_factor("Nm3/s") == 1.0


def test_band_times_are_cumulative_and_beyond_is_the_rest() -> None:
    out = band_times([500.0, 580.0], 600.0, [0.05, 0.2])
    assert [(b["band_mhz"], b["seconds"]) for b in out["inside"]] == [(50.0, 500.0), (200.0, 580.0)]
    assert out["beyond"] == {"band_mhz": 200.0, "seconds": 20.0, "share": pytest.approx(20 / 600)}


@pytest.mark.parametrize(
    ("role", "partner", "allowed"),
    [
        ("operator", None, True),
        ("admin", None, True),
        ("partner", "eps", True),
        ("partner", "socar", True),
        ("partner", "acme", False),
        ("gateway", None, False),
    ],
)
def test_who_reads_a_plant(role: str, partner: str | None, allowed: bool) -> None:
    assert can_read_plant(Principal(1, "k", role, partner), PLANT) is allowed


def test_csv_cells_are_rfc3339_exact_floats_and_empty_nulls() -> None:
    assert cell(T0) == "2026-06-01T00:00:00Z" and cell(0.1 + 0.2) == "0.30000000000000004" and cell(None) == ""
    assert to_csv([{"a": 1, "b": None}], ["a", "b"]) == b"a,b\r\n1,\r\n"


def test_cache_serves_only_complete_ranges_and_forgets_touched_buckets() -> None:
    cache = BucketCache(max_entries=100)
    cache.enabled = True
    variant = (900.0, "integral")
    starts = [T0 + i * timedelta(minutes=15) for i in range(8)]
    cache.store(7, variant, cache.generation(7), {s: i for i, s in enumerate(starts)})
    assert cache.lookup(7, variant, starts) == {s: i for i, s in enumerate(starts)}
    assert cache.lookup(7, variant, [*starts, T0 - timedelta(minutes=15)]) is None
    cache.on_notification(
        json.dumps(
            {
                "signal_ids": [7],
                "start": (T0 + timedelta(hours=1)).isoformat(),
                "end": (T0 + timedelta(hours=1)).isoformat(),
            }
        )
    )
    assert cache.lookup(7, variant, starts) is None
    assert cache.lookup(7, variant, starts[:3]) is not None  # 00:00–00:45 ends before the change's margin


def test_cache_refuses_what_a_concurrent_change_made_stale() -> None:
    cache = BucketCache(max_entries=100)
    cache.enabled = True
    seen = cache.generation(3)
    cache.invalidate([3], T0, T0)
    cache.store(3, (60.0, "aggregate"), seen, {T0: 1})
    assert cache.lookup(3, (60.0, "aggregate"), [T0]) is None and cache.entries == 0


def test_an_unreadable_notification_clears_everything() -> None:
    cache = BucketCache(max_entries=100)
    cache.enabled = True
    cache.store(1, (60.0, "x"), cache.generation(1), {T0: 1})
    assert cache.entries == 1
    cache.on_notification("not json")
    assert cache.entries == 0


def test_a_query_in_flight_across_a_clear_stores_nothing_even_for_a_signal_never_cached() -> None:
    cache = BucketCache(max_entries=100)
    cache.enabled = True
    seen = cache.generation(9)  # signal 9 has nothing cached yet: clear() used to leave its generation alone
    cache.clear()  # e.g. the change listener reconnected: notifications may have been missed meanwhile
    cache.store(9, (60.0, "aggregate"), seen, {T0: 1})
    assert cache.lookup(9, (60.0, "aggregate"), [T0]) is None and cache.entries == 0
