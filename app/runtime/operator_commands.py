"""An operator's commands to one meter at run time: a manual switch of its relay or valve, a
restore after a load-guard trip or lock-out, a clock sync. The Runtime's ``switch_relay``,
``restore_load_guard`` and ``sync_clock`` hand them here; it also keeps each meter's latest
snapshot for the Meter detail's live values.

Each command runs on the engine thread in the engine's transaction (``engine.call``), inside a
savepoint: a refusal (``PermissionDenied``, ``MeterActionRefused``) undoes only its own part and
never the engine's batch. The database side (checks, who asked, audit) is
``services.meter_actions`` (``services.clock_sync`` for a sync); the relay command goes the way
of every supply command, ``SupplyControl.command`` (recorded, then handed to the meter's bus
worker, where it jumps ahead of polling, or queued for the runtime that polls that bus), a sync
the same way through ``clock_sync.record_command``. A manual cut is recorded as
``OffReason.MANUAL`` so the balance policy leaves it off.

The caller gets a ``concurrent.futures.Future`` at once and never waits on the engine: it is
resolved on the engine thread once the outcome is committed, with the read-back of the command
(verified or not), or with the refusal as its exception. A GUI attaches a done callback that
posts to its own thread.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

from app.billing.load_guard import GuardState
from app.hardware.snapshot import VALUE_FIELDS, Quality, Snapshot
from app.runtime.clock_sync import (
    ClockDispatch,
    ClockSyncOutcome,
    clock_sync_outcome,
    record_command,
)
from app.runtime.load_control import LoadControl
from app.runtime.supply_control import SupplyControl
from app.services.clock_sync import record_clock_sync
from app.services.meter_actions import (
    SwitchRecord,
    manual_switch,
    record_load_guard_restore,
)
from app.services.permissions import PermissionDenied
from app.services.service_checks import Refused
from app.store.models import RelayCommand
from app.vocabulary import CommandState, OffReason

log = logging.getLogger(__name__)

Task = Callable[[Session], object]
NO_BUS = "no running bus serves this meter"
R = TypeVar("R")


@dataclass(frozen=True)
class SwitchOutcome:
    """What became of a supply command an operator asked for (after its read-back)."""

    meter_id: int
    serial: str
    on: bool  # what was asked: supply on (True) or off
    command_id: int
    state: CommandState  # VERIFIED, UNVERIFIED (the meter answered otherwise) or FAILED
    supply_on: bool | None  # what the read-back said; None when the meter did not answer
    attempts: int
    error: str
    audit_number: int

    @property
    def verified(self) -> bool:
        return self.state is CommandState.VERIFIED


@dataclass(frozen=True)
class RestoreOutcome:
    """A load-guard restore: the trip marked restored and the switch-on's outcome, or why the
    supply stays off (the account is cut off for arrears)."""

    meter_id: int
    serial: str
    trip_id: int | None
    switch: SwitchOutcome | None
    stays_off: str
    audit_number: int


def on_outcome(session: Session, committed: Callable[[], None], failed: Callable[[], None]) -> None:
    """Call ``committed`` once the session's outermost transaction commits, else ``failed``
    (rolled back). Savepoints that end meanwhile do not count."""
    # Listeners cannot be removed while the session dispatches; they fire once (the engine's
    # session ends with its transaction).
    done = {"commit": False, "ended": False}

    def after_commit(s: Session) -> None:
        if s.get_nested_transaction() is None:  # the outermost transaction, not a savepoint
            done["commit"] = True

    def after_end(s: Session, transaction: SessionTransaction) -> None:
        if transaction.parent is not None or done["ended"]:
            return
        done["ended"] = True
        (committed if done["commit"] else failed)()

    event.listen(session, "after_commit", after_commit)
    event.listen(session, "after_transaction_end", after_end)


def _rolled_back() -> RuntimeError:
    return RuntimeError("the engine's transaction was rolled back; nothing was done, try again")


class OperatorCommands:
    """Engine-thread side of the operator's meter commands; see the module docstring."""

    def __init__(
        self,
        call: Callable[[Task], None],
        control: SupplyControl,
        load: LoadControl,
        clock_dispatch: ClockDispatch,
    ) -> None:
        self._call = call
        self._control = control
        self._load = load
        self._clock_dispatch = clock_dispatch
        # command id -> settle(session): read its outcome and deliver it once committed
        self._waiting: dict[int, Callable[[Session], None]] = {}
        self._latest: dict[int, Snapshot] = {}  # meter id -> newest values, each as last read
        self._seen_s: dict[int, float] = {}  # meter id -> newest snapshot's monotonic time

    # -- live values -----------------------------------------------------------------------

    def seen(self, snapshots: Iterable[Snapshot]) -> None:
        """Engine thread: remember each meter's newest snapshot."""
        for snapshot in snapshots:
            self._seen_s[snapshot.meter_id] = snapshot.monotonic_s
            if snapshot.quality is not Quality.FAILED:
                self._latest[snapshot.meter_id] = carry_over(
                    self._latest.get(snapshot.meter_id), snapshot
                )

    def seen_s(self, meter_id: int) -> float:
        """Engine thread: the monotonic time of the meter's newest snapshot (0 before any)."""
        return self._seen_s.get(meter_id, 0.0)

    def latest_snapshot(self, meter_id: int) -> Snapshot | None:
        """Any thread: the meter's newest snapshot that carried values, or None. A value the
        newest poll did not read (slow values, the relay state: not every poll reads them) is
        the one last read."""
        return self._latest.get(meter_id)

    # -- commands --------------------------------------------------------------------------

    def switch_relay(
        self, meter_id: int, on: bool, operator_id: int, reason: str
    ) -> Future[SwitchOutcome]:
        """Any thread: switch the meter's supply on or off for an operator."""
        future: Future[SwitchOutcome] = Future()

        def task(session: Session) -> None:
            now = datetime.now(UTC)

            def send(text: str) -> int | None:
                return self._control.command(
                    session, meter_id, on, text, now, off_reason=OffReason.MANUAL
                )

            record = self._guarded(
                session,
                future,
                lambda: manual_switch(
                    session,
                    operator_id,
                    meter_id,
                    on,
                    reason,
                    send,
                    guard_holds=self._guard_holds(meter_id),
                    now=now,
                ),
            )
            if record is not None:
                self._await(session, record, future.set_result, future)

        self._call(task)
        return future

    def sync_clock(self, meter_id: int, operator_id: int, reason: str) -> Future[ClockSyncOutcome]:
        """Any thread: set the meter's clock to the site's time for an operator, on its bus
        here or by the runtime that polls it; resolves with the drift before and after."""
        future: Future[ClockSyncOutcome] = Future()

        def task(session: Session) -> None:
            now = datetime.now(UTC)

            def send(text: str) -> int | None:
                return record_command(session, meter_id, text, now, self._clock_dispatch)

            record = self._guarded(
                session,
                future,
                lambda: record_clock_sync(session, operator_id, meter_id, reason, send),
            )
            if record is not None:
                self._settle_later(
                    session,
                    record.command_id,
                    record.sent,
                    lambda s: clock_sync_outcome(s, record),
                    future.set_result,
                    future,
                )

        self._call(task)
        return future

    def restore_load_guard(
        self, meter_id: int, operator_id: int, note: str
    ) -> Future[RestoreOutcome]:
        """Any thread: lift a load-guard trip or lock-out of the meter for an operator and
        switch its supply on (unless its account is cut off for arrears)."""
        future: Future[RestoreOutcome] = Future()

        def task(session: Session) -> None:
            now = datetime.now(UTC)

            def send(text: str) -> int | None:
                return self._control.command(session, meter_id, True, text, now)

            holds = self._guard_holds(meter_id)
            record = self._guarded(
                session,
                future,
                lambda: record_load_guard_restore(
                    session, operator_id, meter_id, note, send, guard_holds=holds, now=now
                ),
            )
            if record is None:
                return

            def rearm() -> None:  # once committed: the guard watches the meter again
                guard = self._load.guards.get(meter_id)
                if guard is not None and guard.state is not GuardState.ARMED:
                    # The newest sample time it can have seen: the next sample is not older.
                    guard.operator_restore(self._seen_s.get(meter_id, 0.0))

            def outcome(switch: SwitchOutcome | None) -> RestoreOutcome:
                return RestoreOutcome(
                    record.meter_id,
                    record.serial,
                    record.trip_id,
                    switch,
                    record.stays_off,
                    record.audit_number,
                )

            def fail() -> None:
                future.set_exception(_rolled_back())

            if record.command_id is None:

                def committed() -> None:
                    rearm()
                    future.set_result(outcome(None))

                on_outcome(session, committed, fail)
                return
            switch = SwitchRecord(
                record.meter_id,
                record.serial,
                True,
                record.command_id,
                record.sent,
                record.audit_number,
            )
            on_outcome(session, rearm, lambda: None)
            self._await(session, switch, lambda done: future.set_result(outcome(done)), future)

        self._call(task)
        return future

    def waiting(self) -> frozenset[int]:
        """Any thread: the commands an operator waits for (their read-back is not in yet)."""
        return frozenset(self._waiting.copy())

    def settled(self, session: Session, command_id: int) -> None:
        """Engine thread, after the command's outcome is recorded (``SupplyControl.
        record_result``, ``clock_sync.record_sync``): resolve an operator's command with it
        once that is committed."""
        settle = self._waiting.pop(command_id, None)
        if settle is not None:
            settle(session)

    # -- internals -------------------------------------------------------------------------

    def _guard_holds(self, meter_id: int) -> bool:
        guard = self._load.guards.get(meter_id)
        return guard is not None and guard.state is not GuardState.ARMED

    @staticmethod
    def _guarded(session: Session, future: Future[Any], work: Callable[[], R]) -> R | None:
        """Run ``work`` in a savepoint; a refusal or a fault fails ``future`` and undoes only
        the savepoint. Returns what ``work`` returned, None after a failure."""
        try:
            with session.begin_nested():
                return work()
        except (Refused, PermissionDenied) as exc:
            future.set_exception(exc)
        except Exception as exc:
            log.exception("an operator's meter command failed")
            future.set_exception(exc)
        return None

    def _await(
        self,
        session: Session,
        record: SwitchRecord,
        deliver: Callable[[SwitchOutcome], None],
        future: Future[Any],
    ) -> None:
        """Deliver a supply command's outcome once known (``_settle_later``)."""
        self._settle_later(
            session,
            record.command_id,
            record.sent,
            lambda s: self._outcome(s, record),
            deliver,
            future,
        )

    def _settle_later(
        self,
        session: Session,
        command_id: int,
        sent: bool,
        outcome: Callable[[Session], R],
        deliver: Callable[[R], None],
        future: Future[Any],
    ) -> None:
        """Deliver the command's ``outcome`` once known: at once (after commit) when no bus
        took it, else when its read-back comes (``settled``)."""

        def failed() -> None:
            self._waiting.pop(command_id, None)
            if not future.done():
                future.set_exception(_rolled_back())

        if not sent:
            done = outcome(session)
            on_outcome(session, lambda: deliver(done), failed)
            return

        def settle(s: Session) -> None:
            done = outcome(s)
            on_outcome(s, lambda: deliver(done), lambda: None)

        self._waiting[command_id] = settle
        on_outcome(session, lambda: None, failed)

    @staticmethod
    def _outcome(session: Session, record: SwitchRecord) -> SwitchOutcome:
        command = session.get_one(RelayCommand, record.command_id)
        return SwitchOutcome(
            meter_id=record.meter_id,
            serial=record.serial,
            on=record.on,
            command_id=record.command_id,
            state=command.state,
            supply_on=command.verified_closed,
            attempts=command.attempts,
            error=command.error or ("" if record.sent else NO_BUS),
            audit_number=record.audit_number,
        )


CARRIED = (*VALUE_FIELDS, "relay_closed", "valve_open")


def carry_over(before: Snapshot | None, newest: Snapshot) -> Snapshot:
    """``newest`` with the values it did not read taken from ``before``."""
    if before is None:
        return newest
    kept = {
        name: getattr(before, name)
        for name in CARRIED
        if getattr(newest, name) is None and getattr(before, name) is not None
    }
    return replace(newest, **kept) if kept else newest
