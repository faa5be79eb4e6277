"""Disputes and two-party corrections over real HTTP and PostgreSQL: the flow, every refusal, concurrency."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import asyncpg

from services.api.disputes.corrected import corrected_integrals
from shared.quality import UNCERTAIN_SUBSTITUTE_VALUE
from shared.settlement.integral import Integral
from tests.integration.disputes.conftest import P0, P1, Disputes, iso, substitution

TABLES = (
    "disputes",
    "dispute_events",
    "corrections",
    "correction_approvals",
    "reading_substitutions",
    "webhook_outbox",
)


async def settled(db: asyncpg.Pool) -> dict[datetime, Integral]:
    """What settlement takes for the period from approved corrections (see services/api/disputes/corrected.py)."""
    async with db.acquire() as conn:
        plant_id = await conn.fetchval("SELECT id FROM plants WHERE key = 'nish'")
        signal_id = await conn.fetchval("SELECT id FROM signals WHERE key = 'plant.net_output'")
        return await corrected_integrals(conn, plant_id, signal_id, [(P0, P1)], max_gap_s=60)


async def counts(db: asyncpg.Pool) -> dict[str, int]:
    return {t: await db.fetchval(f"SELECT count(*) FROM {t}") for t in TABLES}


async def test_a_correction_takes_effect_only_after_both_partners_approve(disputes: Disputes) -> None:
    api = disputes.api
    await api.write("plant.net_output", [(P0 + timedelta(seconds=10 * i), 400.0) for i in range(90)])
    dispute_id = await disputes.opened(evidence="GT1 transducer fault", attachment_digest="sha256:" + "ab" * 32)
    correction_id = await disputes.proposed(dispute_id, substitution(P0 + timedelta(minutes=3), 3, 480.0))

    first = await disputes.approve(dispute_id, correction_id, role="eps")
    assert first.status_code == 200, first.text
    assert (first.json()["applied"], first.json()["waiting_for"]) == (False, ["socar"])
    pending = await disputes.detail(dispute_id, role="socar")
    assert pending["corrections"][0]["status"] == "pending"
    assert await settled(api.db) == {}  # one approval: settlement still uses the originals

    second = await disputes.approve(dispute_id, correction_id, role="socar")
    assert second.status_code == 200, second.text
    assert (second.json()["applied"], second.json()["approved_by"]) == (True, ["eps", "socar"])

    detail = await disputes.detail(dispute_id, role="eps")
    assert detail["status"] == "corrected"
    assert [e["kind"] for e in detail["events"]] == [
        "opened",
        "correction_proposed",
        "correction_approved",
        "correction_approved",
        "correction_applied",
    ]
    assert [(e["actor"], e["actor_partner"]) for e in detail["events"][:4]] == [
        ("eps-analyst", "eps"),
        ("eps-analyst", "eps"),
        ("eps-analyst", "eps"),
        ("socar-analyst", "socar"),
    ]
    correction = detail["corrections"][0]
    assert correction["status"] == "applied" and correction["waiting_for"] == []
    assert [a["partner"] for a in correction["approvals"]] == ["eps", "socar"]
    assert {(s["value"], s["quality"], s["severity"]) for s in correction["substitutes"]} == {
        (480.0, UNCERTAIN_SUBSTITUTE_VALUE, "uncertain")
    }
    assert len(correction["substitutes"]) == 18
    # The originals are untouched and readable: in the dispute and through the raw readings endpoint.
    assert {r["value"] for r in correction["original_readings"]} == {400.0}
    raw = await api.json("/v1/signals/plant.net_output/readings", start=iso(P0), end=iso(P1))
    assert [r["value"] for r in raw["readings"]] == [400.0] * 90

    assert await settled(api.db) == {P0: Integral(400.0 * 720 + 480.0 * 180, 900.0)}

    listed = await api.json("/v1/plants/nish/disputes", role="socar")
    assert [(d["id"], d["status"], d["pending_corrections"]) for d in listed["disputes"]] == [
        (dispute_id, "corrected", 0)
    ]


async def test_an_energy_correction_and_comments_are_recorded_with_their_authors(disputes: Disputes) -> None:
    dispute_id = await disputes.opened(role="socar")
    comment = await disputes.post(
        f"/v1/plants/nish/disputes/{dispute_id}/comments", {"text": "we agree"}, role="operator"
    )
    assert comment.status_code == 201, comment.text
    correction_id = await disputes.proposed(dispute_id, {"kind": "energy", "energy_mwh": 121.5}, role="socar")
    for role in ("socar", "eps"):
        assert (await disputes.approve(dispute_id, correction_id, role=role)).status_code == 200
    detail = await disputes.detail(dispute_id)
    assert detail["corrections"][0]["energy_mwh"] == 121.5
    assert detail["corrections"][0]["starts_at"] == iso(P0) and detail["corrections"][0]["ends_at"] == iso(P1)
    assert [(e["kind"], e["actor_role"]) for e in detail["events"][:2]] == [
        ("opened", "partner"),
        ("commented", "operator"),
    ]
    assert detail["events"][1]["detail"] == {"text": "we agree"}


async def test_every_refusal_is_a_precise_4xx_and_writes_nothing(disputes: Disputes) -> None:
    dispute_id = await disputes.opened()
    pending_id = await disputes.proposed(dispute_id, substitution(P0, 5, 470.0))
    before = await counts(disputes.api.db)
    now = datetime.now(UTC)
    open_now = now - timedelta(minutes=now.minute % 15, seconds=now.second, microseconds=now.microsecond)
    cases = [
        (disputes.open(period_start=P0 + timedelta(minutes=7)), 404, "unknown_period"),
        (disputes.open(period_start=open_now), 409, "period_not_closed"),
        (disputes.open(period_start=datetime(9999, 12, 31, 23, 45, tzinfo=UTC)), 400, "invalid_time"),
        (
            disputes.post(
                "/v1/plants/nish/disputes", {"reason": "x", "period_start": "0001-01-01T00:00:00+07:23"}, role="eps"
            ),
            400,
            "invalid_time",
        ),  # found by Schemathesis: a 500 before
        (
            disputes.api.get("/v1/plants/nish/disputes", role="eps", start="0001-01-01T00:00:00+01:00"),
            400,
            "invalid_time",
        ),
        (
            disputes.post("/v1/plants/nish/webhook-endpoints", {"name": "x", "url": "http://\u0000"}, role="eps"),
            422,
            "invalid_request",
        ),
        (disputes.open(attachment_digest="md5:abc"), 400, "invalid_attachment_digest"),
        (disputes.open(reason=""), 422, "invalid_request"),
        (disputes.open(reason="meter\u0000down"), 422, "invalid_request"),  # PostgreSQL text cannot hold NUL
        (
            disputes.post(f"/v1/plants/nish/disputes/{dispute_id}/comments", {"text": "\u0000"}, role="eps"),
            422,
            "invalid_request",
        ),
        (
            disputes.post(
                "/v1/plants/nish/webhook-endpoints", {"name": "x", "url": "http://u:p@127.0.0.1/"}, role="eps"
            ),
            422,
            "invalid_request",
        ),
        (
            disputes.post(
                "/v1/plants/nish/disputes", {"reason": "x", "period_start": "2026-11-20T10:00:00"}, role="eps"
            ),
            422,
            "invalid_request",
        ),
        (disputes.propose(999, substitution(P0, 1, 480.0)), 404, "unknown_dispute"),
        (disputes.propose(dispute_id, substitution(P0 + timedelta(minutes=4), 3, 480.0)), 409, "correction_overlaps"),
        (disputes.propose(dispute_id, {"kind": "energy", "energy_mwh": 100.0}), 409, "correction_overlaps"),
        (
            disputes.propose(dispute_id, substitution(P1 - timedelta(minutes=1), 2, 480.0)),
            400,
            "interval_outside_period",
        ),
        (disputes.propose(dispute_id, substitution(P0 + timedelta(minutes=6), 1, 9999.0)), 400, "value_out_of_range"),
        (
            disputes.propose(dispute_id, {**substitution(P0 + timedelta(minutes=6), 1, 480.0), "readings": []}),
            400,
            "no_substitute_readings",
        ),
        (
            disputes.propose(
                dispute_id,
                {**substitution(P0 + timedelta(minutes=6), 1, 480.0), "readings": [{"ts": iso(P0), "value": 480.0}]},
            ),
            400,
            "reading_outside_interval",
        ),
        (
            disputes.propose(
                dispute_id, {**substitution(P0 + timedelta(minutes=6), 1, 480.0), "signal": "other.net_output"}
            ),
            404,
            "unknown_signal",
        ),
        (disputes.propose(dispute_id, {"kind": "energy", "energy_mwh": float("1e9")}), 400, "value_out_of_range"),
        (disputes.propose(dispute_id, {"kind": "guess"}), 422, "invalid_request"),
        (disputes.approve(dispute_id, 999, role="eps"), 404, "unknown_correction"),
        (disputes.approve(dispute_id, 2**31, role="eps"), 422, "invalid_request"),
        (disputes.api.get("/v1/plants/nish/disputes/99999999999", role="eps"), 422, "invalid_request"),
        (disputes.api.get("/v1/plants/nish/disputes/999999", role="eps"), 404, "unknown_dispute"),
        (disputes.approve(dispute_id, pending_id, role="operator"), 403, "partner_key_required"),
        (disputes.approve(dispute_id, pending_id, role="admin"), 403, "partner_key_required"),
        (disputes.approve(dispute_id, pending_id, role="stranger"), 403, "forbidden_plant"),
        (disputes.approve(dispute_id, pending_id, role="gateway"), 403, "forbidden_role"),
    ]
    for request, status, code in cases:
        response = await request
        assert (response.status_code, response.json()["error"]["code"]) == (status, code), response.text
        assert set(response.json()["error"]) == {"code", "message", "details"}
    assert await counts(disputes.api.db) == before

    assert (await disputes.approve(dispute_id, pending_id, role="eps")).status_code == 200
    twice = await disputes.approve(dispute_id, pending_id, role="eps2")  # another key of the same partner
    assert (twice.status_code, twice.json()["error"]["code"]) == (409, "already_approved")
    assert (await disputes.approve(dispute_id, pending_id, role="socar")).status_code == 200
    after = await disputes.approve(dispute_id, pending_id, role="socar")
    assert (after.status_code, after.json()["error"]["code"]) == (409, "correction_not_pending")


async def test_a_proposer_alone_can_never_make_a_correction_take_effect(disputes: Disputes) -> None:
    dispute_id = await disputes.opened(role="stranger", plant="other")  # acme is the only partner of `other`
    correction_id = await disputes.proposed(
        dispute_id, {"kind": "energy", "energy_mwh": 20.0}, role="stranger", plant="other"
    )
    alone = await disputes.approve(dispute_id, correction_id, role="stranger", plant="other")
    assert (alone.status_code, alone.json()["error"]["code"]) == (409, "second_party_required")
    detail = await disputes.detail(dispute_id, plant="other")
    assert detail["corrections"][0]["status"] == "pending" and detail["corrections"][0]["approvals"] == []


async def test_concurrent_approvals_apply_a_correction_exactly_once(disputes: Disputes) -> None:
    dispute_id = await disputes.opened()
    correction_id = await disputes.proposed(dispute_id, {"kind": "energy", "energy_mwh": 110.0})
    responses = await asyncio.gather(
        *(disputes.approve(dispute_id, correction_id, role=role) for role in ("eps", "eps2", "socar", "eps", "socar"))
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200, 200, 409, 409, 409]
    assert sum(r.json().get("applied", False) for r in responses if r.status_code == 200) == 1
    kinds = [e["kind"] for e in (await disputes.detail(dispute_id))["events"]]
    assert kinds.count("correction_applied") == 1 and kinds.count("correction_approved") == 2


async def test_concurrent_overlapping_proposals_leave_exactly_one_pending(disputes: Disputes) -> None:
    dispute_id = await disputes.opened()
    bodies = [substitution(P0 + timedelta(minutes=m), 3, 470.0 + m) for m in (2, 3, 4)] + [
        {"kind": "energy", "energy_mwh": 100.0}
    ]
    responses = await asyncio.gather(
        *(
            disputes.propose(dispute_id, body, role=role)
            for body, role in zip(bodies, ("eps", "socar", "eps", "socar"), strict=True)
        )
    )
    assert sorted(r.status_code for r in responses) == [201, 409, 409, 409]
    assert {r.json()["error"]["code"] for r in responses if r.status_code == 409} == {"correction_overlaps"}
    assert await disputes.api.db.fetchval("SELECT count(*) FROM corrections WHERE status = 'pending'") == 1


async def test_a_rejected_correction_frees_its_interval_and_never_applies(disputes: Disputes) -> None:
    dispute_id = await disputes.opened()
    first = await disputes.proposed(dispute_id, substitution(P0, 2, 470.0))
    rejected = await disputes.post(
        f"/v1/plants/nish/disputes/{dispute_id}/corrections/{first}/reject", {"reason": "wrong meter"}, role="socar"
    )
    assert rejected.status_code == 200, rejected.text
    approve = await disputes.approve(dispute_id, first, role="eps")
    assert (approve.status_code, approve.json()["error"]["code"]) == (409, "correction_not_pending")
    assert await disputes.proposed(dispute_id, substitution(P0, 2, 471.0)) > first
