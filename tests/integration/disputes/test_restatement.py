"""The whole two-party correction: propose → one approval → still the old numbers and statement → second approval
→ the compliance numbers change and the period is restated (revision 2, revision 1 kept), and both partners'
endpoints receive `statement.restated` on real receivers on 127.0.0.1."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from services.alerts.dispatch import Dispatcher
from services.api.statements import worker
from services.api.statements.service import Issuing
from shared.ledger.digest import Row
from shared.ledger.offline import recompute
from shared.quality import from_db, to_db
from tests.integration.alerts.helpers import Receiver, fast_settings
from tests.integration.disputes.conftest import P0, P1, Disputes, iso, substitution
from tests.support import serving

BAD = to_db(0x808A0000)  # BadNotConnected: the meter was down from 10:03 to 10:06


async def period(disputes: Disputes) -> dict:
    body = await disputes.api.json("/v1/plants/nish/compliance", role="socar", start=iso(P0), end=iso(P1))
    return body["periods"][0]


async def revisions(disputes: Disputes) -> list[dict]:
    return (await disputes.api.json(f"/v1/plants/nish/statements/{iso(P0)}", role="eps"))["revisions"]


async def test_a_correction_approved_by_both_partners_restates_the_period_for_both(
    signed: tuple[Disputes, Issuing], database_url: str
) -> None:
    disputes, ctx = signed
    api = disputes.api
    await api.db.execute("""UPDATE commitments SET committed_mw = 420, tolerance_mw = 10, tolerance_pct = NULL
                            WHERE plant_id = (SELECT id FROM plants WHERE key = 'nish')""")
    good = [(P0 + timedelta(seconds=s), 400.0) for s in range(-20, 920, 10) if not 180 <= s < 360]
    await api.write("plant.net_output", good)
    await api.write("plant.net_output", [(P0 + timedelta(seconds=s), 0.0) for s in range(180, 360, 10)], quality=BAD)
    assert await worker.scan(api.db, ctx, datetime.now(UTC)) >= 1
    before = await period(disputes)
    assert (before["status"], before["delivered_mw"], before["coverage"]) == ("non_compliant", 400.0, 0.8)
    assert [r["revision"] for r in await revisions(disputes)] == [1]

    eps_hook, socar_hook = Receiver(), Receiver()
    async with serving(eps_hook.app()) as eps_url, serving(socar_hook.app()) as socar_url:
        for hook, role, url in ((eps_hook, "eps", eps_url), (socar_hook, "socar", socar_url)):
            created = await disputes.post(
                "/v1/plants/nish/webhook-endpoints",
                {"name": f"{role}-statements", "url": f"{url}/hook", "event_types": ["statement.restated"]},
                role=role,
            )
            assert created.status_code == 201, created.text
            hook.secret = created.json()["secret"]

        dispute_id = await disputes.opened(reason="meter down 10:03–10:06", evidence="GT1 transducer fault")
        correction_id = await disputes.proposed(dispute_id, substitution(P0 + timedelta(minutes=3), 3, 480.0))
        assert (await disputes.approve(dispute_id, correction_id, role="eps")).status_code == 200
        assert await period(disputes) == before  # one approval: the old numbers and the old statement
        assert [r["revision"] for r in await revisions(disputes)] == [1]

        second = await disputes.approve(dispute_id, correction_id, role="socar")
        assert second.status_code == 200, second.text
        restated = second.json()["dispute"]["events"][-1]["detail"]["restated_revisions"]
        assert [(r["kind"], r["revision"]) for r in restated][:1] == [("period", 2)]

        after = await period(disputes)
        assert (after["status"], after["delivered_mw"], after["coverage"]) == ("compliant", 416.0, 1.0)
        stated = await revisions(disputes)
        assert [r["revision"] for r in stated] == [2, 1]
        assert stated[0]["payload"]["delivered_mw"] == 416.0 and stated[1]["payload"]["delivered_mw"] == 400.0
        restatement = stated[0]["payload"]["restatement"]
        assert restatement["correction_id"] == correction_id and restatement["replaces"] == stated[1]["hash"]
        await _both_revisions_recompute_offline(disputes, stated)

        async with httpx.AsyncClient(timeout=5) as client:
            dispatcher = Dispatcher(api.db, fast_settings(database_url), database_url, client)
            while await dispatcher.deliver_one():
                pass
    for hook in (eps_hook, socar_hook):
        events = [r.json() for r in hook.received]
        assert all(r.verified for r in hook.received)
        periods = [e["data"] for e in events if e["type"] == "statement.restated" and e["data"]["kind"] == "period"]
        assert [(p["period_start"], p["revision"], p["jws"]) for p in periods] == [
            (stated[0]["period_start"], 2, stated[0]["jws"])
        ]


async def _both_revisions_recompute_offline(disputes: Disputes, stated: list[dict]) -> None:
    """A partner with the raw export (the untouched originals) and the signed payloads re-derives both revisions:
    revision 2 states the agreed substitutes, so it recomputes too; without them its numbers would not."""
    export = [
        Row("plant.net_output", r["ts"], r["value"], from_db(r["quality"]))
        for r in await disputes.api.db.fetch(
            """SELECT ts, value, quality FROM readings WHERE signal_id = (SELECT id FROM signals
           WHERE key = 'plant.net_output') ORDER BY ts"""
        )
    ]
    latest, first = stated[0]["payload"], stated[1]["payload"]
    assert [c["kind"] for c in latest["corrections"]] == ["readings"] and first["corrections"] == []
    assert recompute(latest, export) == [] and recompute(first, export) == []
    assert recompute({**latest, "corrections": []}, export) != []
