"""Signal-mapping templates: how a line-protocol point (measurement, tags, field) names a Baseload signal.

A template is text with placeholders `{measurement}`, `{field}` and `{tag:NAME}`, e.g. `{tag:name}.{field}` for
Telegraf's inputs.modbus (`modbus,name=gt1,slave_id=1 active_power=150`) or `{tag:id}` for inputs.opcua
(`opcua,id=ns\\=2;s\\=gt1.P p=150`). Templates are tried in order; one naming a tag the line lacks is skipped, and
`{measurement}.{field}` is always the last resort. The rendered name is then looked up in the key-mapping table
(`map`): a hit gives the signal key, a miss keeps the rendered name as the signal key.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

DEFAULT_TEMPLATE = "{measurement}.{field}"
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_STRAY_BRACE = re.compile(r"[{}]")


class TemplateError(ValueError):
    """A template with an unknown placeholder or an unbalanced brace."""


# A compiled template part: ("text", literal), ("measurement", ""), ("field", "") or ("tag", NAME).
Part = tuple[str, str]


def compile_template(text: str) -> tuple[Part, ...]:
    """`{tag:id}.{field}` → (("tag", "id"), ("text", "."), ("field", "")); TemplateError names what is wrong."""
    parts: list[Part] = []
    position = 0
    for match in _PLACEHOLDER.finditer(text):
        _literal(text[position : match.start()], text, parts)
        name = match.group(1)
        if name in ("measurement", "field"):
            parts.append((name, ""))
        elif name.startswith("tag:") and len(name) > 4:
            parts.append(("tag", name[4:]))
        else:
            raise TemplateError(
                f"template {text!r}: unknown placeholder {{{name}}}; use {{measurement}}, {{field}} or {{tag:NAME}}"
            )
        position = match.end()
    _literal(text[position:], text, parts)
    if not any(kind != "text" for kind, _ in parts):
        raise TemplateError(f"template {text!r} has no placeholder, so every point would name one signal")
    return tuple(parts)


def _literal(chunk: str, text: str, parts: list[Part]) -> None:
    if _STRAY_BRACE.search(chunk):
        raise TemplateError(f"template {text!r}: unbalanced brace")
    if chunk:
        parts.append(("text", chunk))


def render(parts: tuple[Part, ...], measurement: str, tags: Mapping[str, str], field_name: str) -> str | None:
    """The template's name for this point, or None when it names a tag the point lacks."""
    out = []
    for kind, value in parts:
        if kind == "text":
            out.append(value)
        elif kind == "measurement":
            out.append(measurement)
        elif kind == "field":
            out.append(field_name)
        else:
            tag = tags.get(value)
            if tag is None:
                return None
            out.append(tag)
    return "".join(out)


@dataclass(frozen=True, slots=True)
class SignalMap:
    """Templates tried in order, then the key-mapping table (rendered name → signal key)."""

    templates: tuple[str, ...] = ()
    aliases: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    _compiled: tuple[tuple[Part, ...], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        compiled = tuple(compile_template(t) for t in self.templates)
        object.__setattr__(self, "_compiled", compiled)

    @property
    def needs_tags(self) -> bool:
        return any(kind == "tag" for parts in self._compiled for kind, _ in parts)

    @property
    def is_default(self) -> bool:
        return not self.aliases and all(t == DEFAULT_TEMPLATE for t in self.templates)

    def signal_key(self, measurement: str, tags: Mapping[str, str], field_name: str) -> str:
        """The Baseload signal key this point's field is stored under."""
        for parts in self._compiled:
            name = render(parts, measurement, tags, field_name)
            if name is not None:
                return self.aliases.get(name, name)
        name = f"{measurement}.{field_name}"
        return self.aliases.get(name, name)


DEFAULT_MAP = SignalMap()


def parse_signal_map(raw: object, where: str) -> SignalMap:
    """A `{templates: [...], map: {name: signal}}` mapping from a plant file; TemplateError names the field."""
    if not isinstance(raw, dict):
        raise TemplateError(f"{where}: a mapping with templates and/or map is expected")
    unknown = set(raw) - {"templates", "map"}
    if unknown:
        raise TemplateError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}; use templates and map")
    templates = raw.get("templates") or []
    if isinstance(templates, str):
        templates = [templates]
    if not isinstance(templates, list) or not all(isinstance(t, str) for t in templates):
        raise TemplateError(f"{where}.templates: a list of template strings is expected")
    aliases = raw.get("map") or {}
    if not isinstance(aliases, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in aliases.items()):
        raise TemplateError(f"{where}.map: a mapping of rendered name → signal key (both strings) is expected")
    try:
        return SignalMap(tuple(templates), MappingProxyType(dict(aliases)))
    except TemplateError as exc:
        raise TemplateError(f"{where}.templates: {exc}") from None
