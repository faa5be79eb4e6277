"""The ingest service fixture, for the import tool's tests."""

from tests.integration.ingest.conftest import ingest  # noqa: F401 - re-exported fixture
