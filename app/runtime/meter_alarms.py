"""The meter itself as a notice channel (issue 17): a prepaid meter that can show an alarm (its
profile has an ``[alarm]`` table, ``Profile.shows_alarm``) sounds its buzzer and lights its alarm
LED when its account's balance falls below the second low-balance threshold or the account is cut
off, so the tenant sees the warning at the meter; a recharge that clears the warning releases it.

``SupplyControl.evaluate`` (engine thread, inside the engine's transaction) calls
``MeterAlarms.account_changed`` for every account it evaluates. On a change this writes a
``relay_command`` row of action ``ALARM_ON`` or ``ALARM_OFF`` for each meter of the account whose
profile shows alarms and hands it to ``dispatch``, like a supply command: to this runtime's worker
of the meter's bus (``BusWorker.show_alarm``, ahead of polling), or ``PENDING`` for the runtime
that polls that bus (``command_queue``; an alarm command nobody takes expires like the others).
The worker's outcome comes back through ``record_result`` (engine thread): ``VERIFIED`` when the
meter acknowledged the command, ``FAILED`` with the error otherwise. A failed alarm command is
logged and counted (``failed``) but raises no alarm for the operator: the meter's alarm is a
courtesy to the tenant, and it never stops billing or supply control.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.billing.supply_policy import BalanceWarning, Decision
from app.hardware.errors import ProfileError
from app.hardware.meter_alarm import AlarmResult
from app.hardware.profiles import Profile, load_profile
from app.runtime.command_queue import new_command
from app.runtime.supply_control import Route
from app.store.models import Account, Meter, RelayCommand
from app.vocabulary import CommandState, RelayAction, SupplyState

log = logging.getLogger(__name__)

NO_BUS = "no running bus serves this meter"

# dispatch(meter_id, command_id, on): send the alarm command towards the meter's bus.
AlarmDispatch = Callable[[int, int, bool], Route]


def alarm_wanted(before: SupplyState, decision: Decision) -> bool | None:
    """Should the account's meters show their alarm (True), release it (False), or is nothing
    to be done (None)? On when the second low-balance warning is raised or the account enters
    the cut-off region; off when that warning clears. Staying in a region sends nothing again."""
    if BalanceWarning.ALARM_2 in decision.warnings_to_raise:
        return True
    if decision.new_state is SupplyState.CUT_OFF and before is not SupplyState.CUT_OFF:
        return True
    if BalanceWarning.ALARM_2 in decision.warnings_to_clear:
        return False
    return None


class MeterAlarms:
    """Alarm commands for the meters of accounts whose warnings changed. Engine thread only."""

    def __init__(
        self, dispatch: AlarmDispatch, profiles: Callable[[str], Profile] = load_profile
    ) -> None:
        self.dispatch = dispatch
        self._profiles = profiles
        self.failed = 0  # alarm commands that failed since the start (each one logged)

    def account_changed(
        self,
        session: Session,
        account: Account,
        before: SupplyState,
        decision: Decision,
        now: datetime,
    ) -> list[int]:
        """After the account's decision (``before``: its region until now): the alarm commands
        sent or queued, by id (none when its warnings did not change or no meter shows alarms)."""
        on = alarm_wanted(before, decision)
        if on is None:
            return []
        meters = session.execute(
            select(Meter.id, Meter.profile)
            .where(Meter.account_id == account.id, Meter.removed_at.is_(None))
            .order_by(Meter.id)
        ).all()
        sent = [
            self.command(session, meter_id, on, decision.reason, now)
            for meter_id, profile in meters
            if self._shows_alarm(meter_id, profile)
        ]
        return [command_id for command_id in sent if command_id is not None]

    def command(
        self, session: Session, meter_id: int, on: bool, reason: str, now: datetime
    ) -> int | None:
        """Record an alarm command and hand it to the meter's bus; its id, or None when no
        running bus serves the meter (recorded as failed, logged and counted)."""
        action = RelayAction.ALARM_ON if on else RelayAction.ALARM_OFF
        command = new_command(session, meter_id, action, reason, now)
        route = self.dispatch(meter_id, command.id, on)
        if route is Route.QUEUED:
            command.state = CommandState.PENDING
        elif route is Route.NO_BUS:
            self._failed(command, NO_BUS, now)
            return None
        return command.id

    def record_result(self, session: Session, command_id: int, result: AlarmResult) -> None:
        """Engine thread: store what the meter's bus made of the command."""
        now = datetime.now(UTC)
        command = session.get_one(RelayCommand, command_id)
        command.attempts = result.attempts
        if result.acknowledged:
            command.state = CommandState.VERIFIED
            command.completed_at = now
            session.get_one(Meter, command.meter_id).last_seen_at = now
            return
        self._failed(command, result.error or "the meter did not acknowledge it", now)

    def record_not_sent(self, session: Session, command_id: int, error: str) -> None:
        """Engine thread: the command was never carried out (nobody polls the meter's bus)."""
        self._failed(session.get_one(RelayCommand, command_id), error, datetime.now(UTC))

    def _failed(self, command: RelayCommand, error: str, now: datetime) -> None:
        command.state = CommandState.FAILED
        command.error = error
        command.completed_at = now
        self.failed += 1
        log.warning(
            "meter %s: %s command %s failed: %s",
            command.meter_id,
            command.action.value,
            command.id,
            error,
        )

    def _shows_alarm(self, meter_id: int, profile_name: str) -> bool:
        try:
            return self._profiles(profile_name).shows_alarm
        except ProfileError as exc:  # the meter's polling says so too; its alarm is a courtesy
            log.warning("meter %s: no alarm command (%s)", meter_id, exc)
            return False
