"""Turns the balance policy's decisions into relay and valve commands, and records them.

Runs on the engine thread inside the engine's transaction. For each account it evaluates
``billing.supply_policy.decide_supply``, keeps the account's credit region, raises and clears the
low-balance alarms, and for every meter to cut or restore writes a ``RelayCommand`` and hands the
command to the meter's bus worker (where it jumps ahead of polling). When the worker reports the
read-back, ``record_result`` (again on the engine thread) stores the verified state, or raises a
"command failed" alarm. An account whose decision cannot be made (its data edited by hand) is
left out with an "account skipped" alarm; every other account is evaluated.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.billing.supply_policy import BalanceWarning, Decision, MeterSupply, decide_supply
from app.hardware.bus_worker import SupplyResult
from app.queries.site_facts import site_currency, site_zone
from app.runtime.account_isolation import account_skipped, error_text
from app.runtime.command_queue import new_command
from app.services.notices import tell_alarm, tell_restored
from app.services.policy_setup import thresholds_of
from app.store.models import (
    Account,
    Alarm,
    BalancePolicy,
    Meter,
    RelayCommand,
)
from app.vocabulary import (
    DEFAULT_TIMEZONE,
    AccountStatus,
    AlarmKind,
    AlarmSeverity,
    AlarmState,
    CommandState,
    OffReason,
    RelayAction,
    SupplyState,
)

log = logging.getLogger(__name__)

_WARNING_KIND = {
    BalanceWarning.ALARM_1: AlarmKind.LOW_BALANCE_1,
    BalanceWarning.ALARM_2: AlarmKind.LOW_BALANCE_2,
}

# A supply that comes back after these is news to the tenant (after a manual cut it is not).
_TOLD_WHEN_BACK = (OffReason.ARREARS.value, OffReason.LOAD_GUARD.value)


class Route(Enum):
    """Where ``dispatch`` put a command."""

    SENT = "sent"  # handed to this runtime's worker of the meter's bus
    QUEUED = "queued"  # stored for the runtime that owns the meter's bus (command_queue)
    NO_BUS = "no_bus"  # no bus in use serves the meter


# dispatch(meter_id, on, command_id): send the command towards the meter's bus.
Dispatch = Callable[[int, bool, int], Route]


@dataclass(frozen=True)
class Evaluated:
    account_id: int
    decision: Decision
    commands: tuple[int, ...]  # RelayCommand ids sent


class SupplyControl:
    def __init__(
        self,
        dispatch: Dispatch,
        meter_alarms: Callable[[Session, Account, SupplyState, Decision, datetime], object]
        | None = None,
    ) -> None:
        self.dispatch = dispatch
        # Told every account's decision after its alarms (``MeterAlarms.account_changed``):
        # the meters that can show an alarm to the tenant are told to, or to release it.
        self.meter_alarms = meter_alarms

    def evaluate(
        self, session: Session, account_ids: Iterable[int] | None, now: datetime | None = None
    ) -> list[Evaluated]:
        """Evaluate these accounts (None: every open account) at ``now`` (aware)."""
        now = now or datetime.now(UTC)
        currency = site_currency(session)
        zone = local_zone(session)
        query = (
            select(Account, BalancePolicy)
            .join(BalancePolicy, Account.policy_id == BalancePolicy.id)
            .where(Account.status == AccountStatus.OPEN)
        )
        if account_ids is not None:
            query = query.where(Account.id.in_(list(account_ids)))
        results: list[Evaluated] = []
        rows = session.execute(query).all()
        supplies = _meter_supplies(session, [account.id for account, _ in rows])
        for account, policy in rows:
            try:
                decision = decide_supply(
                    balance_minor=account.balance_minor,
                    thresholds=thresholds_of(policy),
                    previous=account.supply_state,
                    now=now.astimezone(zone),  # friendly hours are the site's local time
                    meters=supplies.get(account.id, []),
                    keep_power_until=account.keep_power_until,
                    keep_power_reason=account.keep_power_reason,
                    friendly_hours=policy.friendly_hours,
                    friendly_dates=policy.friendly_dates,
                    currency=currency,
                )
            except Exception as exc:  # one account's data edited by hand never stops the others
                account_skipped(
                    session,
                    account.id,
                    "its supply could not be evaluated",
                    error_text(exc),
                    now,
                    then="Every other account was evaluated; MeterDesk tries this one again at "
                    "each tick, and the engine's log names the cause.",
                )
                continue
            before = account.supply_state
            if before != decision.new_state:
                account.supply_state = decision.new_state
            self._alarms(session, account, decision, now)
            self._cut_off_alarm(session, account, before, decision, now)
            if self.meter_alarms is not None:
                self.meter_alarms(session, account, before, decision, now)
            sent = [
                self.command(session, meter_id, False, decision.reason, now)
                for meter_id in decision.cut_meters
            ]
            sent += [
                self.command(session, meter_id, True, decision.reason, now)
                for meter_id in decision.restore_meters
            ]
            results.append(Evaluated(account.id, decision, tuple(c for c in sent if c)))
        return results

    def _alarms(
        self, session: Session, account: Account, decision: Decision, now: datetime
    ) -> None:
        for warning in decision.warnings_to_raise:
            alarm = Alarm(
                kind=_WARNING_KIND[warning],
                severity=AlarmSeverity.WARNING,
                account_id=account.id,
                message=decision.reason,
                raised_at=now,
            )
            session.add(alarm)
            session.flush()
            tell_alarm(session, alarm, now)  # the tenant's text message, if the site sends them
        for warning in decision.warnings_to_clear:
            for alarm in session.scalars(
                select(Alarm).where(
                    Alarm.account_id == account.id,
                    Alarm.kind == _WARNING_KIND[warning],
                    Alarm.state != AlarmState.CLEARED,
                )
            ):
                alarm.state = AlarmState.CLEARED
                alarm.cleared_at = now

    def _cut_off_alarm(
        self,
        session: Session,
        account: Account,
        before: SupplyState,
        decision: Decision,
        now: datetime,
    ) -> None:
        """A warning while an account is cut off for arrears: raised when it enters the region,
        cleared when a recharge (or a correction) takes it out again."""
        entered = decision.new_state is SupplyState.CUT_OFF
        if entered == (before is SupplyState.CUT_OFF):
            return
        if entered:
            alarm = Alarm(
                kind=AlarmKind.CUT_OFF,
                severity=AlarmSeverity.WARNING,
                account_id=account.id,
                message=f"Account {account.number} cut off: {decision.reason}",
                evidence={"balance_minor": account.balance_minor},
                raised_at=now,
            )
            session.add(alarm)
            session.flush()
            tell_alarm(session, alarm, now)
            return
        for alarm in session.scalars(
            select(Alarm).where(
                Alarm.account_id == account.id,
                Alarm.kind == AlarmKind.CUT_OFF,
                Alarm.state != AlarmState.CLEARED,
            )
        ):
            alarm.state = AlarmState.CLEARED
            alarm.cleared_at = now

    def command(
        self,
        session: Session,
        meter_id: int,
        on: bool,
        reason: str,
        now: datetime,
        *,
        off_reason: OffReason = OffReason.ARREARS,
    ) -> int | None:
        """Record a supply command and hand it to the meter's bus; its id, or None if no
        running bus serves the meter (then a critical alarm says so)."""
        action = RelayAction.OPEN_SUPPLY if on else RelayAction.CUT_SUPPLY
        command = new_command(session, meter_id, action, reason, now)
        meter = session.get_one(Meter, meter_id)
        if not on:
            meter.off_reason = off_reason.value
        route = self.dispatch(meter_id, on, command.id)
        if route is Route.QUEUED:
            command.state = CommandState.PENDING
        elif route is Route.NO_BUS:
            command.state = CommandState.FAILED
            command.error = "no running bus serves this meter"
            session.add(
                Alarm(
                    kind=AlarmKind.COMMAND_FAILED,
                    severity=AlarmSeverity.CRITICAL,
                    meter_id=meter_id,
                    message=f"Cannot send the supply command: {command.error}.",
                    raised_at=now,
                )
            )
            return None
        return command.id

    def record_result(self, session: Session, command_id: int, result: SupplyResult) -> None:
        """Store a command's outcome (engine thread)."""
        now = datetime.now(UTC)
        command = session.get_one(RelayCommand, command_id)
        meter = session.get_one(Meter, command.meter_id)
        command.attempts = result.attempts
        command.completed_at = now
        command.verified_closed = result.supply_on
        if result.supply_on is not None:  # the meter answered the read-back
            meter.relay_closed = result.supply_on
            meter.relay_verified_at = now
            meter.last_seen_at = now
        if result.verified:
            command.state = CommandState.VERIFIED
            if result.requested_on:
                if meter.account_id is not None and meter.off_reason in _TOLD_WHEN_BACK:
                    tell_restored(session, meter.account_id, command.id, now)
                meter.off_reason = None
            elif meter.account_id is not None and meter.off_reason == OffReason.ARREARS.value:
                # A recharge may have come while the cut was on its way (evaluated with the
                # relay still on): evaluate again now that it is off, so it comes back at once.
                session.flush()
                self.evaluate(session, [meter.account_id], now)
            return
        command.state = (
            CommandState.UNVERIFIED if result.supply_on is not None else CommandState.FAILED
        )
        command.error = result.error
        what = "switch on" if result.requested_on else "cut"
        meter_alarm(
            session,
            meter,
            AlarmKind.COMMAND_FAILED,
            f"the {what} command was not verified ({result.error}).",
            {"command_id": command_id},
            now,
        )
        log.warning("meter %s: %s not verified: %s", meter.serial, what, result.error)


def meter_alarm(
    session: Session,
    meter: Meter,
    kind: AlarmKind,
    what: str,
    evidence: dict[str, object],
    now: datetime,
    severity: AlarmSeverity = AlarmSeverity.CRITICAL,
) -> None:
    """Raise an alarm about ``meter`` (and its account): "Meter SERIAL: ``what``"."""
    session.add(
        Alarm(
            kind=kind,
            severity=severity,
            meter_id=meter.id,
            account_id=meter.account_id,
            message=f"Meter {meter.serial}: {what}",
            evidence=evidence,
            raised_at=now,
        )
    )


def local_zone(session: Session) -> ZoneInfo:
    """The zone of the site's clocks (friendly hours, days of the restore cap, tariff bands);
    the model's default (``DEFAULT_TIMEZONE``) before a site exists."""
    return site_zone(session) or ZoneInfo(DEFAULT_TIMEZONE)


def _meter_supplies(session: Session, account_ids: list[int]) -> dict[int, list[MeterSupply]]:
    """The meters in service of these accounts with their supply state, in a few queries."""
    out: dict[int, list[MeterSupply]] = {}
    ordered = sorted(account_ids)
    for start in range(0, len(ordered), 900):
        for meter_id, account_id, closed, off_reason in session.execute(
            select(Meter.id, Meter.account_id, Meter.relay_closed, Meter.off_reason)
            .where(
                Meter.account_id.in_(ordered[start : start + 900]),
                Meter.removed_at.is_(None),
            )
            .order_by(Meter.id)
        ):
            out.setdefault(account_id or 0, []).append(
                MeterSupply(meter_id, closed, _off_reason(meter_id, off_reason))
            )
    return out


def _off_reason(meter_id: int, stored: str | None) -> OffReason | None:
    """The meter's stored off-reason; one MeterDesk does not know (a row edited by hand) reads
    as an operator's manual cut, which the balance policy never switches back on, instead of
    stopping the evaluation of every account."""
    if not stored:
        return None
    try:
        return OffReason(stored)
    except ValueError:
        log.warning("meter %s: unknown off reason %r, read as a manual cut", meter_id, stored)
        return OffReason.MANUAL
