"""An operator's clock sync of one meter, carried out by the runtime that polls the meter's bus.

Asked on any console (the Meter detail's *Sync clock…*, ``Runtime.sync_clock``): the service
(``services.clock_sync.record_clock_sync``) checks and audits it, and ``record_command`` stores a
``relay_command`` of action ``SYNC_CLOCK`` and hands it to ``dispatch``: this runtime's worker of
the meter's bus, where ``sync_meter_clock`` reads the meter's clock, sets it to the site's time
and reads it again; or, when another runtime polls that bus, the row waits ``PENDING`` for it
(``command_queue``). ``record_sync`` (engine thread) stores the drift before and after on the
row, judges the sync and lets ``clock_watch.record_clock`` clear the meter's clock-drift alarm.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from app.hardware.bus_diagnostics import ClockDrift, sync_clocks
from app.hardware.bus_worker import BusWorker
from app.runtime.clock_watch import record_clock
from app.runtime.command_queue import new_command
from app.runtime.supply_control import Route, local_zone
from app.services.clock_sync import ClockSyncRecord
from app.store.models import Meter, RelayCommand
from app.vocabulary import CommandState, RelayAction

SYNCED_S = 5.0  # a clock read back within this of the site's time was set
NO_BUS = "no running bus serves this meter"

# dispatch(meter_id, command_id, zone): send the sync towards the meter's bus.
ClockDispatch = Callable[[int, int, ZoneInfo], Route]


@dataclass(frozen=True)
class ClockSyncOutcome:
    """What became of an operator's clock sync: the meter's clock minus the site's time before
    and after (None: not read)."""

    meter_id: int
    serial: str
    command_id: int
    state: CommandState  # VERIFIED, UNVERIFIED (the clock still reads off) or FAILED
    drift_before_s: float | None
    drift_after_s: float | None
    error: str
    audit_number: int

    @property
    def verified(self) -> bool:
        return self.state is CommandState.VERIFIED


def clock_sync_outcome(session: Session, record: ClockSyncRecord) -> ClockSyncOutcome:
    """The outcome of the sync ``record`` asked for, as its command row says."""
    command = session.get_one(RelayCommand, record.command_id)
    return ClockSyncOutcome(
        meter_id=record.meter_id,
        serial=record.serial,
        command_id=record.command_id,
        state=command.state,
        drift_before_s=command.drift_before_s,
        drift_after_s=command.drift_after_s,
        error=command.error or "",
        audit_number=record.audit_number,
    )


def record_command(
    session: Session, meter_id: int, reason: str, now: datetime, dispatch: ClockDispatch
) -> int | None:
    """Record a clock sync of the meter and hand it to its bus; its id, or None when no running
    bus serves the meter (the command is recorded as failed)."""
    command = new_command(session, meter_id, RelayAction.SYNC_CLOCK, reason, now)
    route = dispatch(meter_id, command.id, local_zone(session))
    if route is Route.QUEUED:
        command.state = CommandState.PENDING
    elif route is Route.NO_BUS:
        command.state = CommandState.FAILED
        command.error = NO_BUS
        command.completed_at = now
        return None
    return command.id


def sync_meter_clock(worker: BusWorker, address: str, zone: ZoneInfo) -> Future[ClockDrift]:
    """On the meter's bus (ahead of polling): its clock's drift from the site's time, the clock
    set, the drift read again. Resolves with the drift (its ``error`` says what failed)."""
    meter = next((m for m in worker.meters if m.address == address), None)
    done: Future[ClockDrift] = Future()
    if meter is None:  # the bus was reloaded without it meanwhile
        done.set_result(ClockDrift(address, None, None, f"meter {address} is not on {worker.name}"))
        return done

    def site_now() -> datetime:
        return datetime.now(zone).replace(tzinfo=None)

    def finished(future: Future[list[ClockDrift]]) -> None:  # on the bus worker's thread
        try:
            drifts = future.result()
            done.set_result(drifts[0])
        except Exception as exc:
            done.set_result(ClockDrift(address, None, None, str(exc) or type(exc).__name__))

    sync_clocks(worker, [meter], broadcast=False, now=site_now).add_done_callback(finished)
    return done


def record_sync(session: Session, command_id: int, drift: ClockDrift) -> None:
    """Engine thread: store what the sync did. Verified when the clock reads back within
    ``SYNCED_S`` of the site's time; the meter's clock-drift alarm follows the read-back."""
    now = datetime.now(UTC)
    command = session.get_one(RelayCommand, command_id)
    command.attempts = 1
    command.completed_at = now
    command.drift_before_s = drift.before_s
    command.drift_after_s = drift.after_s
    after = drift.after_s
    if after is not None and abs(after) <= SYNCED_S:
        command.state = CommandState.VERIFIED
        command.error = ""
    elif after is not None:
        command.state = CommandState.UNVERIFIED
        command.error = drift.error or f"its clock still reads {after:+.0f} s off after the sync"
    else:
        command.state = CommandState.FAILED
        command.error = drift.error or "the meter did not answer the clock read-back"
    if after is not None:
        session.get_one(Meter, command.meter_id).last_seen_at = now
        site_time = now.astimezone(local_zone(session)).replace(tzinfo=None)
        record_clock(session, command.meter_id, site_time + timedelta(seconds=after), now)


def record_not_sent(session: Session, command_id: int, error: str) -> None:
    """Engine thread: the sync was never carried out (nobody polls the meter's bus)."""
    command = session.get_one(RelayCommand, command_id)
    command.state = CommandState.FAILED
    command.completed_at = datetime.now(UTC)
    command.error = error
