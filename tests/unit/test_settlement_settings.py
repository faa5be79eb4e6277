"""The api and the alerts service read the settlement parameters from the same variables, so they cannot be set
apart (one truth for the numbers both state)."""

from __future__ import annotations

import pytest

from services.alerts.settings import Settings as AlertsSettings
from services.api.settings import Settings as ApiSettings


def test_api_and_alerts_read_one_max_gap_and_one_settlement_period(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BASELOAD_MAX_GAP_S", "30")
    monkeypatch.setenv("BASELOAD_SETTLEMENT_PERIOD_S", "3600")
    api, alerts = ApiSettings(), AlertsSettings()
    assert (api.max_gap_s, api.settlement_period_s) == (alerts.max_gap_s, alerts.settlement_period_s) == (30.0, 3600)


@pytest.mark.parametrize("name", ["BASELOAD_COMPLIANCE_MIN_COVERAGE", "BASELOAD_API_COMPLIANCE_MIN_COVERAGE"])
def test_alerts_read_the_coverage_threshold_the_compliance_report_uses(
    monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    monkeypatch.setenv(name, "0.8")
    assert AlertsSettings().compliance_min_coverage == 0.8


def test_the_api_and_alerts_read_one_coverage_threshold(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BASELOAD_API_COMPLIANCE_MIN_COVERAGE", "0.7")
    assert ApiSettings().compliance_min_coverage == AlertsSettings().compliance_min_coverage == 0.7
