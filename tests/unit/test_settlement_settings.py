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
