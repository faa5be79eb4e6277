"""Signal-mapping templates (shared/signalmap.py) and the plant file's `line_protocol` section."""

from __future__ import annotations

import pytest

from shared.plants import PlantConfigError, parse_plant
from shared.signalmap import DEFAULT_MAP, SignalMap, TemplateError, parse_signal_map

PLANT = {"plant": {"key": "nish", "name": "Niš", "capacity_mw": 500}}


@pytest.mark.parametrize(
    ("templates", "tags", "expected"),
    [
        ((), {}, "opcua.value"),
        (("{tag:name}",), {"name": "gt1_power"}, "gt1_power"),
        (("{tag:name}.{field}",), {"name": "gt1"}, "gt1.value"),
        (("{tag:id}", "{tag:name}"), {"name": "b"}, "b"),  # the first template's tag is missing: the next one
        (("{tag:id}",), {"name": "b"}, "opcua.value"),  # no template applies: the default
        (("site-{tag:site}/{measurement}/{field}",), {"site": "nish"}, "site-nish/opcua/value"),
    ],
)
def test_templates_render_in_order_and_fall_back_to_measurement_dot_field(
    templates: tuple[str, ...], tags: dict[str, str], expected: str
) -> None:
    assert SignalMap(templates).signal_key("opcua", tags, "value") == expected


def test_the_key_mapping_table_turns_rendered_names_into_signal_keys() -> None:
    signal_map = SignalMap(("{tag:id}",), {"ns=2;s=gt1.P": "gt1.active_power"})
    assert signal_map.signal_key("opcua", {"id": "ns=2;s=gt1.P"}, "v") == "gt1.active_power"
    assert signal_map.signal_key("opcua", {"id": "ns=2;s=other"}, "v") == "ns=2;s=other"


@pytest.mark.parametrize("template", ["{tag}", "{tags:x}", "{measurment}", "{field", "x}", "constant", "{tag:}"])
def test_malformed_templates_are_refused_with_a_reason(template: str) -> None:
    with pytest.raises(TemplateError, match="template"):
        SignalMap((template,))


def test_the_default_map_needs_no_tags() -> None:
    assert DEFAULT_MAP.is_default and not DEFAULT_MAP.needs_tags
    assert SignalMap(("{tag:id}",)).needs_tags


def test_a_plant_file_configures_a_plant_map_and_per_gateway_key_maps() -> None:
    config = parse_plant(
        {
            **PLANT,
            "line_protocol": {
                "templates": ["{tag:name}.{field}"],
                "map": {"GT1.P": "gt1.active_power"},
                "gateways": {"telegraf-opcua": {"templates": "{tag:id}", "map": {"ns=2;i=1": "grid.frequency"}}},
            },
        }
    )
    maps = dict(config.signal_maps)
    assert set(maps) == {"plant:nish", "key:telegraf-opcua"}
    assert maps["plant:nish"].signal_key("modbus", {"name": "GT1"}, "P") == "gt1.active_power"
    assert maps["key:telegraf-opcua"].signal_key("opcua", {"id": "ns=2;i=1"}, "x") == "grid.frequency"


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"templates": ["{nope}"]}, "line_protocol.templates"),
        ({"map": {"a": 1}}, "line_protocol.map"),
        ({"gateways": {"gw": {"template": "{tag:id}"}}}, "line_protocol.gateways.gw"),
        ("{tag:id}", "line_protocol"),
    ],
)
def test_a_bad_line_protocol_section_names_its_field(section: object, message: str) -> None:
    with pytest.raises(PlantConfigError, match=message):
        parse_plant({**PLANT, "line_protocol": section})


def test_parse_signal_map_accepts_the_documented_shape() -> None:
    assert parse_signal_map({"templates": ["{tag:id}"]}, "x").templates == ("{tag:id}",)
