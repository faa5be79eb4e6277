"""The alert state machine: inactive → pending → firing → resolved, as pure functions of (state, verdict, now).

One alert per fingerprint. Notifications: `alert.firing` once per incident (for an announcement, once per active
verdict: each is news), `alert.reminder` every repeat interval while firing and unacknowledged, `alert.resolved`
when an incident that was notified ends. Silences suppress firing and reminders (a firing alert whose silence ends
is then notified); a resolved is always sent for an incident that was notified, so receivers such as PagerDuty can
close it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from shared.contracts import AlertState as State

# The states are the cross-service contract's (shared/contracts.py), as plain strings for storage and JSON.
INACTIVE, PENDING, FIRING, RESOLVED = (
    State.INACTIVE.value,
    State.PENDING.value,
    State.FIRING.value,
    State.RESOLVED.value,
)
FIRING_EVENT, RESOLVED_EVENT, REMINDER_EVENT = "alert.firing", "alert.resolved", "alert.reminder"


@dataclass(frozen=True, slots=True)
class Timing:
    for_: timedelta = timedelta(0)
    keep_firing_for: timedelta = timedelta(0)
    repeat_interval: timedelta = timedelta(hours=4)
    # An announcement: every active verdict is news (e.g. a second verdict revision found one evaluation after the
    # first), so it is notified even while the alert still fires from the last one (as an update of the incident).
    announce: bool = False


@dataclass(frozen=True, slots=True)
class AlertState:
    state: str = INACTIVE
    pending_since: datetime | None = None
    firing_since: datetime | None = None
    last_active_at: datetime | None = None
    resolved_at: datetime | None = None
    last_notified_at: datetime | None = None
    notified_firing: bool = False
    incident: int = 0
    acked_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Step:
    """The next state, the transition to record (if the state changed) and the notification to send (if any)."""

    state: AlertState
    transition: tuple[str, str] | None = None
    notify: str | None = None


def step(current: AlertState, active: bool | None, timing: Timing, *, silenced: bool, now: datetime) -> Step:
    """Advance one alert. `active` None means "no opinion this time" (e.g. too early in a period): hold the state."""
    if active is None:
        return _hold(current, timing, silenced=silenced, now=now)
    if current.state in (INACTIVE, RESOLVED):
        return _from_quiet(current, active, timing, silenced=silenced, now=now)
    if current.state == PENDING:
        return _from_pending(current, active, timing, silenced=silenced, now=now)
    return _from_firing(current, active, timing, silenced=silenced, now=now)


def _from_quiet(current: AlertState, active: bool, timing: Timing, *, silenced: bool, now: datetime) -> Step:
    if not active:
        return Step(current)
    pending = replace(current, state=PENDING, pending_since=now, last_active_at=now)
    if timing.for_ <= timedelta(0):
        return _fire(pending, current.state, silenced=silenced, now=now)
    return Step(pending, (current.state, PENDING))


def _from_pending(current: AlertState, active: bool, timing: Timing, *, silenced: bool, now: datetime) -> Step:
    if not active:
        return Step(replace(current, state=INACTIVE, pending_since=None), (PENDING, INACTIVE))
    current = replace(current, last_active_at=now)
    assert current.pending_since is not None
    if now - current.pending_since >= timing.for_:
        return _fire(current, PENDING, silenced=silenced, now=now)
    return Step(current)


def _fire(current: AlertState, from_state: str, *, silenced: bool, now: datetime) -> Step:
    firing = replace(
        current,
        state=FIRING,
        firing_since=now,
        resolved_at=None,
        incident=current.incident + 1,
        notified_firing=not silenced,
        acked_at=None,
        last_notified_at=None if silenced else now,
    )
    return Step(firing, (from_state, FIRING), None if silenced else FIRING_EVENT)


def _from_firing(current: AlertState, active: bool, timing: Timing, *, silenced: bool, now: datetime) -> Step:
    if active:
        current = replace(current, last_active_at=now)
        if timing.announce and not silenced:
            return Step(replace(current, notified_firing=True, last_notified_at=now), None, FIRING_EVENT)
        return _notify_while_firing(current, timing, silenced=silenced, now=now)
    last_active = current.last_active_at or now
    if now - last_active < timing.keep_firing_for:
        return _notify_while_firing(current, timing, silenced=silenced, now=now)
    resolved = replace(
        current,
        state=RESOLVED,
        resolved_at=now,
        pending_since=None,
        notified_firing=False,
        last_notified_at=now if current.notified_firing else current.last_notified_at,
    )
    return Step(resolved, (FIRING, RESOLVED), RESOLVED_EVENT if current.notified_firing else None)


def _notify_while_firing(current: AlertState, timing: Timing, *, silenced: bool, now: datetime) -> Step:
    if silenced:
        return Step(current)
    if not current.notified_firing:
        return Step(replace(current, notified_firing=True, last_notified_at=now), None, FIRING_EVENT)
    if current.acked_at is None and _due(current.last_notified_at, timing.repeat_interval, now):
        return Step(replace(current, last_notified_at=now), None, REMINDER_EVENT)
    return Step(current)


def _hold(current: AlertState, timing: Timing, *, silenced: bool, now: datetime) -> Step:
    if current.state == FIRING:
        return _notify_while_firing(current, timing, silenced=silenced, now=now)
    return Step(current)


def _due(last: datetime | None, interval: timedelta, now: datetime) -> bool:
    return last is None or now - last >= interval


def acknowledge(current: AlertState, now: datetime) -> AlertState:
    """Acknowledging stops reminders for the current incident; it ends with the incident."""
    return replace(current, acked_at=now)
