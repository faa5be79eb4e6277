"""The api's response models and its OpenAPI document: examples follow the models, every /v1 read names one."""

from __future__ import annotations

from typing import Any

import jsonschema_rs
import msgspec
import pytest

from services.api import openapi, schemas
from services.api.app import create_app
from services.api.settings import Settings


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    return create_app(Settings()).openapi()


@pytest.mark.parametrize("model", list(openapi.EXAMPLES), ids=lambda m: m.__name__)
def test_each_example_is_an_instance_of_its_model_and_validates_against_the_document(
    spec: dict[str, Any], model: type[schemas.Model]
) -> None:
    example = openapi.EXAMPLES[model]
    assert type(example) is model
    as_json = msgspec.json.decode(msgspec.json.encode(example))
    assert msgspec.convert(as_json, model) == example  # strict decoding: the example round-trips
    schema = {"$ref": f"#/components/schemas/{model.__name__}", "components": spec["components"]}
    assert jsonschema_rs.validator_for(schema).is_valid(as_json)


def test_every_v1_read_documents_a_model_with_its_example(spec: dict[str, Any]) -> None:
    named = {m.__name__ for m in openapi.EXAMPLES}
    checked = 0
    for path, ops in spec["paths"].items():
        get = ops.get("get")
        if not path.startswith("/v1/") or get is None or path.endswith("/stream"):
            continue
        content = get["responses"]["200"]["content"]
        json_doc = content["application/json"]
        assert "example" in json_doc, path
        ref = json_doc.get("schema", {}).get("$ref", "")
        if ref.removeprefix("#/components/schemas/") in named:
            checked += 1
            validator = jsonschema_rs.validator_for({"$ref": ref, "components": spec["components"]})
            assert validator.is_valid(json_doc["example"]), path
    assert checked == 9  # plants, signals, two aggregates, readings, energy, compliance, frequency, fuel


def test_unasked_aggregate_functions_are_absent_not_null() -> None:
    bucket = schemas.Bucket(start=openapi.T0, end=openapi.T1, avg=None, count=0, coverage=0.0)
    assert msgspec.json.decode(msgspec.json.encode(bucket)) == {
        "start": "2026-11-25T10:00:00Z",
        "end": "2026-11-25T10:15:00Z",
        "avg": None,
        "count": 0,
        "coverage": 0.0,
    }


def test_csv_columns_are_the_row_models_fields() -> None:
    assert schemas.columns(schemas.PlantRow) == ["key", "name", "capacity_mw", "timezone"]
    assert schemas.columns(schemas.FuelRow) == [
        f for f in schemas.columns(schemas.FuelPeriod) if f != "signals"
    ]  # the CSV leaves out the per-signal volumes
    assert schemas.columns(schemas.EnergyPeriod, prefix=("signal",))[0] == "signal"


def test_every_v1_json_response_documents_a_model_whose_example_validates(spec: dict[str, Any]) -> None:
    """Reads and writes alike: each 2xx JSON body of /v1 names a response model, and its example follows it."""
    documented = []
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            for status, response in op["responses"].items():
                json_doc = response.get("content", {}).get("application/json")
                if not path.startswith("/v1/") or not status.startswith("2") or json_doc is None:
                    continue
                if path.endswith("/stream"):  # text/event-stream; FastAPI adds an empty JSON schema beside it
                    continue
                ref = json_doc.get("schema", {}).get("$ref", "")
                assert ref.startswith("#/components/schemas/"), (method, path)
                assert "example" in json_doc, (method, path)
                validator = jsonschema_rs.validator_for({"$ref": ref, "components": spec["components"]})
                errors = [e.message for e in validator.iter_errors(json_doc["example"])]
                assert not errors, (method, path, errors)
                documented.append((method, path))
    assert len(documented) >= 9 + 10 + 4  # the api's reads, disputes and webhooks, statements
