"""Plants and signals as the api sees them, and who may read what. Pure: the store fills a `Catalog`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from shared.auth import Principal

RAW_READERS = ("operator", "admin")
AGGREGATE_READERS = ("partner", "operator", "admin")
POWER_KINDS = ("net_output", "active_power")


@dataclass(frozen=True, slots=True)
class Plant:
    id: int
    key: str
    name: str
    capacity_mw: float
    timezone: str
    partners: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Signal:
    id: int
    key: str
    plant_id: int
    kind: str
    unit: str
    min_value: float
    max_value: float
    description: str = ""


@dataclass(frozen=True, slots=True)
class Catalog:
    plants: dict[str, Plant] = field(default_factory=dict)
    signals: dict[str, Signal] = field(default_factory=dict)
    plants_by_id: dict[int, Plant] = field(default_factory=dict)

    @classmethod
    def build(cls, plants: Sequence[Plant], signals: Sequence[Signal]) -> Catalog:
        return cls({p.key: p for p in plants}, {s.key: s for s in signals}, {p.id: p for p in plants})

    def signals_of(self, plant: Plant, kinds: Sequence[str] | None = None) -> list[Signal]:
        return [s for s in self.signals.values() if s.plant_id == plant.id and (kinds is None or s.kind in kinds)]

    def plant_of(self, signal: Signal) -> Plant:
        return self.plants_by_id[signal.plant_id]


def can_read_plant(principal: Principal, plant: Plant) -> bool:
    """Operators and admins read every plant; a partner key only the plants its partner is party to."""
    if principal.role in ("operator", "admin"):
        return True
    return principal.role == "partner" and principal.partner in plant.partners


def visible_plants(principal: Principal, catalog: Catalog) -> list[Plant]:
    return [p for p in catalog.plants.values() if can_read_plant(principal, p)]
