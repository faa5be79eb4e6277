"""Every lifecycle transition, with ack, repeat and silence semantics; `now` is always passed in."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from services.alerts.lifecycle import (
    FIRING,
    FIRING_EVENT,
    INACTIVE,
    PENDING,
    REMINDER_EVENT,
    RESOLVED,
    RESOLVED_EVENT,
    AlertState,
    Timing,
    acknowledge,
    step,
)

T0 = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
S = timedelta(seconds=1)
TIMING = Timing(for_=10 * S, keep_firing_for=0 * S, repeat_interval=60 * S)


def run(
    timeline: list[tuple[int, bool | None]],
    *,
    timing: Timing = TIMING,
    silenced_at: set[int] | None = None,
    state: AlertState | None = None,
) -> tuple[AlertState, list[tuple[int, str | None, tuple[str, str] | None]]]:
    """Feed (seconds after T0, active) verdicts; return the final state and (t, notify, transition) per step."""
    current = state or AlertState()
    log = []
    for t, active in timeline:
        result = step(current, active, timing, silenced=t in (silenced_at or set()), now=T0 + t * S)
        current = result.state
        log.append((t, result.notify, result.transition))
    return current, log


def test_inactive_to_pending_to_firing_after_for() -> None:
    state, log = run([(0, True), (5, True), (10, True)])
    assert log == [(0, None, (INACTIVE, PENDING)), (5, None, None), (10, FIRING_EVENT, (PENDING, FIRING))]
    assert state.state == FIRING and state.incident == 1 and state.firing_since == T0 + 10 * S


def test_pending_that_clears_goes_back_to_inactive_without_a_notification() -> None:
    state, log = run([(0, True), (5, False)])
    assert log[1] == (5, None, (PENDING, INACTIVE)) and state.state == INACTIVE


def test_zero_for_fires_at_once() -> None:
    _, log = run([(0, True)], timing=replace(TIMING, for_=0 * S))
    assert log == [(0, FIRING_EVENT, (INACTIVE, FIRING))]


def test_firing_resolves_and_a_new_incident_starts_from_resolved() -> None:
    state, log = run([(0, True), (10, True), (20, False), (30, True), (40, True)])
    assert log[2] == (20, RESOLVED_EVENT, (FIRING, RESOLVED))
    assert log[3] == (30, None, (RESOLVED, PENDING))
    assert log[4] == (40, FIRING_EVENT, (PENDING, FIRING))
    assert state.incident == 2


def test_an_announcement_still_firing_notifies_every_further_active_verdict() -> None:
    announce = Timing(for_=0 * S, keep_firing_for=0 * S, repeat_interval=60 * S, announce=True)
    state, log = run([(0, True), (1, True), (2, False), (3, True)], timing=announce)
    assert log == [
        (0, FIRING_EVENT, (INACTIVE, FIRING)),
        (1, FIRING_EVENT, None),  # news again one evaluation later: an update of the same incident
        (2, RESOLVED_EVENT, (FIRING, RESOLVED)),
        (3, FIRING_EVENT, (RESOLVED, FIRING)),
    ]
    assert state.incident == 2
    _, quiet = run([(0, True), (1, True)], timing=announce, silenced_at={1})
    assert quiet[1] == (1, None, None)
    _, plain = run([(0, True), (1, True)], timing=replace(announce, announce=False))
    assert plain[1] == (1, None, None)


def test_keep_firing_for_holds_a_flapping_alert() -> None:
    timing = replace(TIMING, for_=0 * S, keep_firing_for=30 * S)
    _, log = run([(0, True), (10, False), (20, True), (30, False), (49, False), (50, False)], timing=timing)
    notes = [(t, n) for t, n, _ in log if n]
    assert notes == [(0, FIRING_EVENT), (50, RESOLVED_EVENT)]  # 30 s after it was last active (t=20)


def test_reminders_repeat_while_firing_until_acknowledged() -> None:
    timing = replace(TIMING, for_=0 * S)
    state, log = run([(0, True), (30, True), (60, True), (90, True), (120, True)], timing=timing)
    assert [(t, n) for t, n, _ in log if n] == [(0, FIRING_EVENT), (60, REMINDER_EVENT), (120, REMINDER_EVENT)]
    acked = acknowledge(state, T0 + 121 * S)
    state, log = run([(180, True), (240, True), (300, False)], timing=timing, state=acked)
    assert [(t, n) for t, n, _ in log if n] == [(300, RESOLVED_EVENT)]
    assert state.acked_at is not None  # kept for the record; the next incident clears it


def test_a_new_incident_clears_the_acknowledgement() -> None:
    timing = replace(TIMING, for_=0 * S)
    state = acknowledge(run([(0, True)], timing=timing)[0], T0 + S)
    state, log = run([(10, False), (20, True), (80, True)], timing=timing, state=state)
    assert [(t, n) for t, n, _ in log if n] == [(10, RESOLVED_EVENT), (20, FIRING_EVENT), (80, REMINDER_EVENT)]


def test_a_silenced_incident_is_notified_when_the_silence_ends() -> None:
    timing = replace(TIMING, for_=0 * S)
    state, log = run([(0, True), (30, True), (61, True), (70, True)], timing=timing, silenced_at={0, 30, 61})
    assert log[0] == (0, None, (INACTIVE, FIRING))
    assert [(t, n) for t, n, _ in log if n] == [(70, FIRING_EVENT)]
    assert state.notified_firing


def test_a_silenced_incident_that_ends_sends_nothing() -> None:
    timing = replace(TIMING, for_=0 * S)
    _, log = run([(0, True), (10, False)], timing=timing, silenced_at={0, 10})
    assert [n for _, n, _ in log] == [None, None] and log[1][2] == (FIRING, RESOLVED)


def test_a_notified_incident_still_resolves_under_a_silence() -> None:
    timing = replace(TIMING, for_=0 * S)
    _, log = run([(0, True), (10, True), (20, False)], timing=timing, silenced_at={10, 20})
    assert [(t, n) for t, n, _ in log if n] == [(0, FIRING_EVENT), (20, RESOLVED_EVENT)]


def test_no_opinion_holds_the_state_but_reminders_continue() -> None:
    timing = replace(TIMING, for_=0 * S)
    state, log = run([(0, True), (30, None), (60, None)], timing=timing)
    assert state.state == FIRING and [(t, n) for t, n, _ in log if n] == [(0, FIRING_EVENT), (60, REMINDER_EVENT)]
    state, log = run([(0, True), (5, None)])
    assert state.state == PENDING and log[1] == (5, None, None)


def test_a_resolved_alert_that_stays_quiet_changes_nothing() -> None:
    state = AlertState(state=RESOLVED, resolved_at=T0)
    result = step(state, False, TIMING, silenced=False, now=T0 + 100 * S)
    assert result.state == state and result.transition is None and result.notify is None
