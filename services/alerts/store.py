"""SQL of the hot paths: rules and their inputs, alert rows, transitions, the outbox and the delivery log.

Configuration CRUD (rules, commitments, endpoints, silences) lives in `config_store.py`. Functions take a
connection inside the caller's transaction and never commit.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg
from pydantic import ValidationError

from services.alerts.deviation import CommitmentBook, Minute
from services.alerts.lifecycle import AlertState, Timing
from services.alerts.matchers import Matcher, from_dicts
from services.alerts.params import from_stored
from services.alerts.rules import KINDS, Inputs, Needs, Rule, Sample
from shared.commitments import Commitment
from shared.history.rollups import held_integrals
from shared.settlement import Exclusion
from shared.settlement.integral import edges_us

LATEST_LOOKBACK = timedelta(days=1)
# Schedules and exclusions are read back as far as the longest rule looks (a 7-day sustained window, plus a day).
BOOK_BEHIND, BOOK_AHEAD = timedelta(days=8), timedelta(days=1)
SIGNAL_ROLES = ("signal", "frequency_signal")


async def init_connection(conn: asyncpg.Connection) -> None:
    """Pool `init`: JSON columns as Python values."""
    for name in ("json", "jsonb"):
        await conn.set_type_codec(name, encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


# --- rules --------------------------------------------------------------------------------------------------------


class RuleLoadError(ValueError):
    """A stored rule that cannot become a domain `Rule` (bad timing, a signal that no longer exists, ...)."""


@dataclass
class LoadedRules:
    rules: dict[int, Rule]
    failed: dict[int, str]  # rule id → why it could not be loaded
    marked: set[int]  # rules whose row carries an error from an earlier load or cycle


async def load_rules(conn: asyncpg.Connection) -> LoadedRules:
    """Every enabled rule as a domain `Rule`, with signal keys resolved to ids; rows that cannot be loaded are
    reported in `failed`, never raised, so one broken row cannot stop the others."""
    signals = {r["key"]: (r["id"], r["plant_id"]) for r in await conn.fetch("SELECT id, key, plant_id FROM signals")}
    plants = {r["id"]: r for r in await conn.fetch("SELECT id, key, capacity_mw FROM plants")}
    plant_ids = {r["key"]: r["id"] for r in plants.values()}
    out = LoadedRules({}, {}, set())
    for row in await conn.fetch("SELECT * FROM alert_rules WHERE enabled ORDER BY id"):
        if row["last_error"] is not None:
            out.marked.add(row["id"])
        try:
            out.rules[row["id"]] = rule_from_row(dict(row), signals, plants, plant_ids)
        except Exception as exc:  # any defect of one stored row: that rule is reported and skipped
            out.failed[row["id"]] = describe(exc)
    return out


def describe(exc: BaseException) -> str:
    """A short, single-line description of why a rule failed."""
    what = "invalid rule" if isinstance(exc, RuleLoadError) else type(exc).__name__
    return f"{what}: {exc}".replace("\n", " ")[:300]


def rule_from_row(
    row: Mapping[str, Any],
    signals: Mapping[str, tuple[int, int]],
    plants: Mapping[int, Any],
    plant_ids: Mapping[str, int],
) -> Rule:
    """The stored row as a domain `Rule`: params parsed once into the kind's typed model, keys resolved to ids."""
    stored = row["params"]
    if not isinstance(stored, Mapping):
        raise RuleLoadError("params is not an object")
    if row["kind"] not in KINDS:
        raise RuleLoadError(f"unknown kind {str(row['kind'])[:50]!r}")
    try:
        params = from_stored(row["kind"], stored)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise RuleLoadError(f"params.{where}: {first['msg']}") from exc
    keys = {role: getattr(params, role, None) for role in SIGNAL_ROLES}
    resolved = {role: signals[key] for role, key in keys.items() if key is not None and key in signals}
    for role, key in keys.items():
        if key is not None and role not in resolved:
            raise RuleLoadError(f"params.{role}: no signal {key[:100]!r}")
    plant_key: str | None = getattr(params, "plant", None)
    plant_id = plant_ids.get(plant_key) if plant_key else None
    if plant_key and plant_id is None:
        raise RuleLoadError(f"params.plant: no plant {plant_key[:100]!r}")
    if plant_id is None and "signal" in resolved:
        plant_id = resolved["signal"][1]
    plant = plants.get(plant_id) if plant_id is not None else None
    return Rule(
        id=row["id"],
        name=row["name"],
        kind=row["kind"],
        severity=row["severity"],
        labels=row["labels"],
        params=params,
        timing=Timing(
            timedelta(seconds=row["for_s"]),
            timedelta(seconds=row["keep_firing_for_s"]),
            timedelta(seconds=row["repeat_interval_s"]),
        ),
        signals={role: ids[0] for role, ids in resolved.items()},
        plant_id=plant_id,
        plant_key=plant["key"] if plant else None,
        p_nominal_mw=plant["capacity_mw"] if plant else None,
    )


async def mark_rule_errors(conn: asyncpg.Connection, errors: Mapping[int, str], at: datetime) -> None:
    """Note on each rule why it failed (shown by GET /v1/rules)."""
    await conn.executemany(
        "UPDATE alert_rules SET last_error = $2, last_error_at = $3 WHERE id = $1",
        [(rule_id, error, at) for rule_id, error in errors.items()],
    )


async def clear_rule_errors(conn: asyncpg.Connection, rule_ids: Iterable[int]) -> None:
    await conn.execute(
        "UPDATE alert_rules SET last_error = NULL WHERE id = ANY($1::int[]) AND last_error IS NOT NULL", list(rule_ids)
    )


async def lock_rules(conn: asyncpg.Connection, rule_ids: Iterable[int]) -> set[int]:
    """Lock the rules this replica evaluates now; rules another replica holds are skipped (and retried later)."""
    rows = await conn.fetch(
        "SELECT id FROM alert_rules WHERE id = ANY($1::int[]) FOR UPDATE SKIP LOCKED", list(rule_ids)
    )
    return {r["id"] for r in rows}


async def notify(conn: asyncpg.Connection, channel: str, payload: str = "") -> None:
    await conn.execute("SELECT pg_notify($1, $2)", channel, payload)


# --- inputs -------------------------------------------------------------------------------------------------------


async def load_books(
    conn: asyncpg.Connection, plant_ids: Iterable[int], now: datetime, *, default_period_s: int = 900
) -> dict[int, CommitmentBook]:
    ids = sorted(set(plant_ids))
    if not ids:
        return {}
    lo, hi = now - BOOK_BEHIND, now + BOOK_AHEAD
    commitments = await conn.fetch("SELECT * FROM commitments WHERE plant_id = ANY($1::int[])", ids)
    schedule = await conn.fetch(
        "SELECT plant_id, period_start, committed_mw FROM commitment_schedule"
        " WHERE plant_id = ANY($1::int[]) AND period_start >= $2 AND period_start < $3",
        ids,
        lo,
        hi,
    )
    exclusions = await conn.fetch(
        "SELECT plant_id, starts_at, ends_at, reason FROM commitment_exclusions"
        " WHERE plant_id = ANY($1::int[]) AND ends_at > $2 AND starts_at < $3",
        ids,
        lo,
        hi,
    )
    return {
        pid: CommitmentBook(
            commitments=[
                Commitment(
                    c["valid_from"],
                    c["valid_to"],
                    c["committed_mw"],
                    c["tolerance_mw"],
                    c["tolerance_pct"],
                    c["settlement_period_s"],
                    c["id"],
                )
                for c in commitments
                if c["plant_id"] == pid
            ],
            schedule={s["period_start"]: s["committed_mw"] for s in schedule if s["plant_id"] == pid},
            exclusions=[
                Exclusion(e["starts_at"], e["ends_at"], e["reason"]) for e in exclusions if e["plant_id"] == pid
            ],
            default_period_s=default_period_s,
        )
        for pid in ids
    }


LATEST_SQL = """
SELECT s.id, r.good_last_ts AS ts, r.good_last_value AS value FROM unnest($1::int[]) AS s(id)
CROSS JOIN LATERAL (
    SELECT good_last_ts, good_last_value FROM rollups_1m
    WHERE signal_id = s.id AND good_count > 0 AND bucket >= $2 ORDER BY bucket DESC LIMIT 1
) AS r
"""

# The newest reading of each signal, hot or in a compressed day's packed minutes (shared/history: a minute is in
# exactly one of rollups_1m and rollup_days); a signal with neither has never been heard from.
LAST_SEEN_SQL = """
SELECT s.id, greatest(r.last_ts, d.last_ts) AS last_ts FROM unnest($1::int[]) AS s(id)
LEFT JOIN LATERAL (SELECT last_ts FROM rollups_1m WHERE signal_id = s.id ORDER BY bucket DESC LIMIT 1) AS r ON true
LEFT JOIN LATERAL (SELECT last_ts FROM rollup_days WHERE signal_id = s.id ORDER BY day DESC LIMIT 1) AS d ON true
WHERE r.last_ts IS NOT NULL OR d.last_ts IS NOT NULL
"""

MINUTES_SQL = """
SELECT r.signal_id, r.bucket, r.good_count, r.good_sum
FROM unnest($1::int[], $2::timestamptz[]) AS n(id, since)
JOIN rollups_1m AS r ON r.signal_id = n.id AND r.bucket >= n.since AND r.good_count > 0
ORDER BY r.signal_id, r.bucket
"""


async def load_inputs(
    conn: asyncpg.Connection,
    needs: Needs,
    books: dict[int, CommitmentBook],
    now: datetime,
    *,
    max_gap_s: float = 60.0,
    min_coverage: float = 0.5,
) -> Inputs:
    """Everything a cycle's rules read: four queries, plus a few per held integral asked for (the rollups are kept
    in step with the readings by ingest, in the same transaction)."""
    inputs = Inputs(books=books, max_gap_s=max_gap_s, min_coverage=min_coverage)
    if needs.latest:
        for r in await conn.fetch(LATEST_SQL, sorted(needs.latest), now - LATEST_LOOKBACK):
            inputs.latest[r["id"]] = Sample(r["ts"], r["value"])
    if needs.last_seen:
        inputs.last_seen = {r["id"]: r["last_ts"] for r in await conn.fetch(LAST_SEEN_SQL, sorted(needs.last_seen))}
    if needs.gateways:
        rows = await conn.fetch(
            "SELECT name, max(last_seen_at) AS seen FROM api_keys WHERE role = 'gateway' AND revoked_at IS NULL"
            " AND name = ANY($1::text[]) GROUP BY name",
            sorted(needs.gateways),
        )
        inputs.gateway_seen = {r["name"]: r["seen"] for r in rows}
    if needs.minutes:
        ids = list(needs.minutes)
        for r in await conn.fetch(MINUTES_SQL, ids, [needs.minutes[i] for i in ids]):
            inputs.minutes.setdefault(r["signal_id"], []).append(Minute(r["bucket"], r["good_count"], r["good_sum"]))
    for sid, edges in needs.held:
        # Exact from the coarsest rollup rows that fit each bucket, raw readings only where none do.
        held = await held_integrals(conn, sid, edges_us(edges), max_gap_s=max_gap_s)
        inputs.held[sid, edges] = held.to_list()
    return inputs


async def active_silences(conn: asyncpg.Connection, now: datetime) -> list[tuple[Matcher, ...]]:
    rows = await conn.fetch("SELECT matchers FROM alert_silences WHERE starts_at <= $1 AND ends_at > $1", now)
    return [from_dicts(r["matchers"]) for r in rows]


# --- alerts -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AlertRow:
    id: int
    rule_id: int
    fingerprint: str
    state: AlertState
    acked_by: str | None
    evidence: Mapping[str, Any] | None = None


STATE_COLUMNS = (
    "state",
    "pending_since",
    "firing_since",
    "last_active_at",
    "resolved_at",
    "last_notified_at",
    "notified_firing",
    "incident",
    "acked_at",
)


async def lock_alerts(conn: asyncpg.Connection, rule_ids: Sequence[int]) -> dict[str, AlertRow]:
    rows = await conn.fetch(
        f"SELECT id, rule_id, fingerprint, acked_by, evidence, {', '.join(STATE_COLUMNS)} FROM alerts"
        " WHERE rule_id = ANY($1::int[]) FOR UPDATE",
        list(rule_ids),
    )
    return {
        r["fingerprint"]: AlertRow(
            r["id"],
            r["rule_id"],
            r["fingerprint"],
            AlertState(**{c: r[c] for c in STATE_COLUMNS}),
            r["acked_by"],
            r["evidence"],
        )
        for r in rows
    }


UPSERT_ALERT_SQL = f"""
INSERT INTO alerts (rule_id, fingerprint, labels, value, evidence, evaluated_at, {", ".join(STATE_COLUMNS)})
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
ON CONFLICT (fingerprint) DO UPDATE SET
    labels = excluded.labels, value = excluded.value, evidence = excluded.evidence,
    evaluated_at = excluded.evaluated_at,
    {", ".join(f"{c} = excluded.{c}" for c in STATE_COLUMNS)},
    acked_by = CASE WHEN excluded.acked_at IS NULL THEN NULL ELSE alerts.acked_by END,
    ack_comment = CASE WHEN excluded.acked_at IS NULL THEN NULL ELSE alerts.ack_comment END
RETURNING id
"""


async def save_alert(
    conn: asyncpg.Connection,
    *,
    rule_id: int,
    fingerprint: str,
    labels: Mapping[str, str],
    value: float | None,
    evidence: Mapping[str, Any],
    now: datetime,
    state: AlertState,
) -> int:
    return await conn.fetchval(
        UPSERT_ALERT_SQL,
        rule_id,
        fingerprint,
        dict(labels),
        value,
        dict(evidence),
        now,
        *(getattr(state, c) for c in STATE_COLUMNS),
    )


async def record_transition(
    conn: asyncpg.Connection, alert_id: int, at: datetime, from_state: str, to_state: str, evidence: Mapping[str, Any]
) -> None:
    await conn.execute(
        "INSERT INTO alert_transitions (alert_id, at, from_state, to_state, evidence) VALUES ($1, $2, $3, $4, $5)",
        alert_id,
        at,
        from_state,
        to_state,
        dict(evidence),
    )


# --- outbox and delivery ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Endpoint:
    id: int
    name: str
    url: str
    format: str
    severities: tuple[str, ...]
    label_filters: Mapping[str, str]
    options: Mapping[str, Any]

    def wants(self, severity: str, labels: Mapping[str, str]) -> bool:
        if self.severities and severity not in self.severities:
            return False
        return all(labels.get(k) == v for k, v in self.label_filters.items())


async def enabled_endpoints(conn: asyncpg.Connection) -> list[Endpoint]:
    # Partner endpoints (partner IS NOT NULL) receive only their plant's settlement events, never alerts.
    rows = await conn.fetch(
        "SELECT id, name, url, format, severities, label_filters, options"
        " FROM webhook_endpoints WHERE enabled AND partner IS NULL ORDER BY id"
    )
    return [
        Endpoint(r["id"], r["name"], r["url"], r["format"], tuple(r["severities"]), r["label_filters"], r["options"])
        for r in rows
    ]


async def enqueue(conn: asyncpg.Connection, rows: Sequence[tuple[int, int, str, str, str]]) -> None:
    """Outbox rows (endpoint_id, alert_id, event_type, webhook_id, body), in the state change's transaction."""
    await conn.executemany(
        "INSERT INTO webhook_outbox (endpoint_id, alert_id, event_type, webhook_id, body) VALUES ($1, $2, $3, $4, $5)",
        rows,
    )


# The oldest due delivery whose predecessors for the same alert and endpoint are done (per-alert order), and whose
# lease (if any) has expired. A predecessor in flight is still 'pending' (and leased), so its successors wait.
CLAIM_SQL = """
WITH due AS (
    SELECT o.id FROM webhook_outbox AS o JOIN webhook_endpoints AS e ON e.id = o.endpoint_id
    WHERE o.status = 'pending' AND o.next_attempt_at <= now() AND e.enabled
      AND (o.leased_until IS NULL OR o.leased_until <= now())
      AND NOT EXISTS (
          SELECT 1 FROM webhook_outbox AS p
          WHERE p.endpoint_id = o.endpoint_id AND p.alert_id IS NOT DISTINCT FROM o.alert_id
            AND p.status = 'pending' AND p.id < o.id)
    ORDER BY o.next_attempt_at, o.id
    LIMIT 1
    FOR UPDATE OF o SKIP LOCKED
)
UPDATE webhook_outbox AS o SET leased_until = now() + make_interval(secs => $1), lease_token = $2
FROM due, webhook_endpoints AS e
WHERE o.id = due.id AND e.id = o.endpoint_id
RETURNING o.id, o.webhook_id, o.body, o.attempts, o.alert_id, o.event_type, e.id AS endpoint_id, e.url, e.secret
"""


@dataclass(frozen=True, slots=True)
class Claim:
    """A delivery leased to one worker until the lease expires; `token` proves the lease when recording."""

    id: int
    webhook_id: str
    body: str
    attempts: int
    url: str
    secret: str
    token: str


async def claim_delivery(conn: asyncpg.Connection, *, lease_s: float, token: str) -> Claim | None:
    """Lease the next due delivery to `token` (commit before sending: no lock is held during the POST)."""
    row = await conn.fetchrow(CLAIM_SQL, lease_s, token)
    if row is None:
        return None
    return Claim(row["id"], row["webhook_id"], row["body"], row["attempts"], row["url"], row["secret"], token)


async def record_attempt(
    conn: asyncpg.Connection,
    claim: Claim,
    *,
    at: datetime,
    status_code: int | None,
    latency_ms: float,
    error: str | None,
    next_attempt_at: datetime | None,
    delivered: bool,
) -> bool:
    """Log one attempt and move the delivery on (delivered, retry at `next_attempt_at`, or dead when None), if the
    lease is still ours; False (nothing written) when it expired and another worker took the delivery."""
    attempt = claim.attempts + 1
    status = "delivered" if delivered else ("pending" if next_attempt_at is not None else "dead")
    updated = await conn.fetchval(
        "UPDATE webhook_outbox SET status = $3, attempts = $4, next_attempt_at = coalesce($5, next_attempt_at),"
        " delivered_at = CASE WHEN $3 = 'delivered' THEN $6::timestamptz END, last_error = $7,"
        " leased_until = NULL, lease_token = NULL"
        " WHERE id = $1 AND lease_token = $2 RETURNING id",
        claim.id,
        claim.token,
        status,
        attempt,
        next_attempt_at,
        at,
        error,
    )
    if updated is None:
        return False
    await conn.execute(
        "INSERT INTO webhook_attempts (outbox_id, attempt, at, status_code, latency_ms, error)"
        " VALUES ($1, $2, $3, $4, $5, $6)",
        claim.id,
        attempt,
        at,
        status_code,
        latency_ms,
        error,
    )
    return True


async def status_counts(conn: asyncpg.Connection) -> tuple[dict[str, int], dict[str, int], int]:
    """Alerts by state, outbox notifications by status, and enabled rules whose last load or evaluation failed."""
    alerts = await conn.fetch("SELECT state, count(*) AS n FROM alerts GROUP BY state")
    outbox = await conn.fetch("SELECT status, count(*) AS n FROM webhook_outbox GROUP BY status")
    failing = await conn.fetchval("SELECT count(*) FROM alert_rules WHERE enabled AND last_error IS NOT NULL")
    return {r["state"]: r["n"] for r in alerts}, {r["status"]: r["n"] for r in outbox}, failing


async def forget_delivered(conn: asyncpg.Connection, older_than: datetime) -> int:
    """Delete delivered notifications (and, by cascade, their attempts) delivered before `older_than`.

    Dead-lettered ones stay until redelivered or handled: they are the ones somebody must still look at.
    """
    result = await conn.execute(
        "DELETE FROM webhook_outbox WHERE status = 'delivered' AND delivered_at < $1", older_than
    )
    return int(result.split()[-1])
