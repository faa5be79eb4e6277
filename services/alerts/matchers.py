"""Label matchers (Alertmanager style: =, !=, =~, !~) for silences and endpoint filters."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

OPS = ("=", "!=", "=~", "!~")


@dataclass(frozen=True, slots=True)
class Matcher:
    name: str
    value: str
    op: str = "="

    def matches(self, labels: Mapping[str, str]) -> bool:
        actual = labels.get(self.name, "")
        if self.op == "=":
            return actual == self.value
        if self.op == "!=":
            return actual != self.value
        found = re.fullmatch(self.value, actual) is not None
        return found if self.op == "=~" else not found

    def as_dict(self) -> dict[str, str]:
        return {"name": self.name, "value": self.value, "op": self.op}


def from_dicts(raw: Iterable[Mapping[str, Any]]) -> tuple[Matcher, ...]:
    return tuple(Matcher(str(m["name"]), str(m["value"]), str(m.get("op", "="))) for m in raw)


def all_match(matchers: Iterable[Matcher], labels: Mapping[str, str]) -> bool:
    return all(m.matches(labels) for m in matchers)
