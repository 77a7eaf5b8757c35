"""What an operator does to one meter from its detail: order or lift keep power on the meter's
account, and the database side of a manual relay switch and of a load-guard restore.

Keep power (``set_keep_power``, ``clear_keep_power``) is one transaction of its own, called from
the GUI's background pool or the command line: Action.KEEP_POWER, a reason, an end in the future
and at most ``KEEP_POWER_MAX`` ahead, audited. The caller then asks the runtime to evaluate the
account (``Runtime.account_changed``) so the supply follows at once.

A manual switch (``manual_switch``) and a load-guard restore (``record_load_guard_restore``) run
inside the engine's transaction (``app.runtime.operator_commands``): the runtime knows the bus
and the load guard, this module checks the operator's row (still active, role allowed), the
reason, the meter and the account, records who asked and audits who, which meter and what. The
relay command itself is recorded and sent by ``send`` (the runtime's ``SupplyControl.command``).

Rules (the detail dialog says them to the operator):
- A manual cut is remembered as ``OffReason.MANUAL``: the balance policy never switches it back
  on (a recharge does not either); only an operator's switch on does.
- A manual switch on is refused while the account is cut off for arrears unless keep power is
  active: the balance policy would cut it again at its next evaluation. Take a recharge, or
  order keep power (a supervisor), then switch on.
- A switch on is refused while the load guard holds the meter (tripped or locked out): the
  restore is ``Restore load guard``, which also re-arms the guard.
- A load-guard restore marks the open trip restored by the operator (with the note), clears the
  lock-out alarm and switches the supply on, unless the account is cut off for arrears (and keep
  power is not active): then the meter is left to the balance policy (``OffReason.ARREARS``),
  which switches it on after a recharge.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.billing.money import Money
from app.queries.site_facts import site_currency
from app.services.audit import record_audit
from app.services.operators import SignedIn
from app.services.permissions import Action, PermissionDenied
from app.services.service_checks import Refused
from app.store.database import Database
from app.store.models import Account, Alarm, LoadTrip, Meter, Operator, RelayCommand
from app.vocabulary import AccountStatus, AlarmKind, AlarmState, MeterStatus, OffReason, SupplyState

REASON_MAX = 300
KEEP_POWER_MAX = timedelta(days=31)

# send(reason) -> RelayCommand id: record the command and hand it to the meter's bus (the
# runtime's SupplyControl.command); None when no running bus serves the meter (the command is
# recorded as failed).
Send = Callable[[str], int | None]


class MeterActionRefused(Refused):
    """A meter action not done (nothing written); ``field`` names the input to fix: "reason",
    "until", "meter", "account" or "on"."""


@dataclass(frozen=True)
class KeepPowerDone:
    account_id: int
    account_number: str
    meter_id: int
    until: datetime | None  # aware UTC; None: keep power was lifted
    reason: str
    audit_number: int


@dataclass(frozen=True)
class SwitchRecord:
    meter_id: int
    serial: str
    on: bool
    command_id: int
    sent: bool  # False: no running bus serves the meter (the command is recorded as failed)
    audit_number: int


@dataclass(frozen=True)
class RestoreRecord:
    meter_id: int
    serial: str
    trip_id: int | None  # the trip marked restored (None: only the guard's state was held)
    account_id: int | None
    command_id: int | None  # the switch-on command; None when left to the balance policy
    sent: bool
    stays_off: str  # why the supply stays off ("" when it is switched on)
    audit_number: int


# -- shared checks ------------------------------------------------------------------------------


def check_reason(reason: str, field: str = "reason", what: str = "why") -> str:
    """A reason of 1 to REASON_MAX characters, spaces collapsed."""
    text = " ".join(reason.split())
    if not text:
        raise MeterActionRefused(field, f"Give a reason: say {what}, for the record.")
    if len(text) > REASON_MAX:
        raise MeterActionRefused(
            field, f"The reason has {len(text)} characters; say it in at most {REASON_MAX}."
        )
    return text


def acting_operator(session: Session, operator_id: int, action: Action) -> SignedIn:
    """The operator as his row says now (switched off or a changed role counts), allowed to do
    ``action``; PermissionDenied otherwise."""
    row = session.get(Operator, operator_id)
    if row is None or not row.active:
        raise PermissionDenied(
            "This operator has been switched off or removed; sign in again as someone who may."
        )
    who = SignedIn(row.id, row.username, row.display_name, row.role)
    who.require(action)
    return who


def meter_in_service(session: Session, meter_id: int, done: str = "switched") -> Meter:
    """The meter, in service; MeterActionRefused saying it cannot be ``done`` otherwise."""
    meter = session.get(Meter, meter_id)
    if meter is None:
        raise MeterActionRefused("meter", f"There is no meter {meter_id}; reload the list.")
    if meter.removed_at is not None or meter.status is MeterStatus.REMOVED:
        raise MeterActionRefused(
            "meter", f"Meter {meter.serial} was removed from service; it cannot be {done}."
        )
    return meter


def _keeping(account: Account, now: datetime) -> bool:
    return account.keep_power_until is not None and now < account.keep_power_until


def _in_arrears(account: Account | None, now: datetime) -> bool:
    """Cut off for arrears with no keep-power order active: the balance policy cuts it."""
    return (
        account is not None
        and account.status is AccountStatus.OPEN
        and account.supply_state is SupplyState.CUT_OFF
        and not _keeping(account, now)
    )


def requested_by(session: Session, meter_id: int, command_id: int | None, who: int) -> int:
    """Name the operator on the command just recorded; returns its id."""
    if command_id is None:  # recorded as failed: the newest command of the meter is it
        command_id = session.scalar(
            select(func.max(RelayCommand.id)).where(RelayCommand.meter_id == meter_id)
        )
    assert command_id is not None, "send() recorded no relay command"
    session.get_one(RelayCommand, command_id).requested_by_id = who
    return command_id


# -- keep power ---------------------------------------------------------------------------------


def _account_of(session: Session, meter_id: int) -> tuple[Meter, Account]:
    meter = session.get(Meter, meter_id)
    if meter is None:
        raise MeterActionRefused("meter", f"There is no meter {meter_id}; reload the list.")
    if meter.account_id is None:
        raise MeterActionRefused(
            "account",
            f"Meter {meter.serial} belongs to no account; keep power is ordered for an account.",
        )
    account = session.scalars(
        select(Account).where(Account.id == meter.account_id).with_for_update()
    ).one()
    if account.status is not AccountStatus.OPEN:
        raise MeterActionRefused(
            "account", f"Account {account.number} is closed; it takes no keep-power order."
        )
    return meter, account


def _keep_state(account: Account) -> dict[str, object]:
    until = account.keep_power_until
    return {
        "keep_power_until": None if until is None else until.astimezone(UTC).isoformat(),
        "keep_power_reason": account.keep_power_reason,
    }


def set_keep_power(
    db: Database,
    by: SignedIn,
    meter_id: int,
    until: datetime,
    reason: str,
    *,
    now: datetime | None = None,
) -> KeepPowerDone:
    """Order keep power on the meter's account until ``until`` (aware): the balance policy does
    not cut it meanwhile and switches on what it cut for arrears. Replaces an earlier order."""
    by.require(Action.KEEP_POWER)
    why = check_reason(reason, what="why the room must keep power (e.g. a medical need)")
    now = now or datetime.now(UTC)
    if until.tzinfo is None:
        raise MeterActionRefused("until", "Give the end of keep power with its time zone.")
    until = until.astimezone(UTC).replace(microsecond=0)
    if until <= now:
        raise MeterActionRefused(
            "until",
            f"The end of keep power ({until:%Y-%m-%d %H:%M} UTC) has passed; choose a time in "
            "the future.",
        )
    if until - now > KEEP_POWER_MAX:
        raise MeterActionRefused(
            "until",
            f"Keep power is ordered for at most {KEEP_POWER_MAX.days} days; choose an end "
            "before then (it can be ordered again).",
        )
    with db.transaction() as session:
        meter, account = _account_of(session, meter_id)
        before = _keep_state(account)
        account.keep_power_until = until
        account.keep_power_reason = why
        session.flush()
        number = record_audit(
            session,
            by,
            "account.keep_power",
            "account",
            account.number,
            before,
            {**_keep_state(account), "meter": meter.serial},
        )
        return KeepPowerDone(account.id, account.number, meter.id, until, why, number)


def clear_keep_power(db: Database, by: SignedIn, meter_id: int, reason: str) -> KeepPowerDone:
    """Lift the keep-power order of the meter's account; the balance policy decides again (an
    account in arrears is cut at its next evaluation)."""
    by.require(Action.KEEP_POWER)
    why = check_reason(reason, what="why keep power ends early")
    with db.transaction() as session:
        meter, account = _account_of(session, meter_id)
        if account.keep_power_until is None:
            raise MeterActionRefused(
                "account", f"Account {account.number} has no keep-power order to lift."
            )
        before = _keep_state(account)
        account.keep_power_until = None
        account.keep_power_reason = ""
        session.flush()
        number = record_audit(
            session,
            by,
            "account.keep_power_clear",
            "account",
            account.number,
            before,
            {**_keep_state(account), "meter": meter.serial, "reason": why},
        )
        return KeepPowerDone(account.id, account.number, meter.id, None, why, number)


# -- manual switch and load-guard restore (inside the engine's transaction) ---------------------


def manual_switch(
    session: Session,
    operator_id: int,
    meter_id: int,
    on: bool,
    reason: str,
    send: Send,
    *,
    guard_holds: bool = False,
    now: datetime | None = None,
) -> SwitchRecord:
    """Check and record an operator's switch of the meter's supply; ``send`` records the
    command and hands it to the bus. ``guard_holds``: the runtime's load guard has the meter
    tripped or locked out. Raises PermissionDenied or MeterActionRefused (nothing written)."""
    now = now or datetime.now(UTC)
    who = acting_operator(session, operator_id, Action.SWITCH_RELAY)
    why = check_reason(reason, what=f"why the supply is switched {'on' if on else 'off'}")
    meter = meter_in_service(session, meter_id)
    account = session.get(Account, meter.account_id) if meter.account_id is not None else None
    if on and (guard_holds or meter.off_reason == OffReason.LOAD_GUARD.value):
        raise MeterActionRefused(
            "on",
            f"The load guard holds meter {meter.serial} off after a trip; use Restore load "
            "guard, which also re-arms it.",
        )
    if on and _in_arrears(account, now):
        assert account is not None
        balance = Money(account.balance_minor, site_currency(session)).display()
        raise MeterActionRefused(
            "on",
            f"Account {account.number} is cut off for arrears (balance {balance}); the balance "
            "policy would cut it again. Take a recharge, or have a supervisor order keep power, "
            "then switch it on.",
        )
    before = {"relay_closed": meter.relay_closed, "off_reason": meter.off_reason}
    what = "Manual switch on" if on else "Manual cut"
    command_id = send(f"{what} by {who.display_name}: {why}")
    sent = command_id is not None
    command_id = requested_by(session, meter.id, command_id, who.operator_id)
    if not on:
        meter.off_reason = OffReason.MANUAL.value  # the balance policy leaves it off
    session.flush()
    number = record_audit(
        session,
        who,
        "relay.manual_switch",
        "meter",
        meter.serial,
        before,
        {"wanted_on": on, "reason": why, "command_id": command_id, "sent": sent},
    )
    return SwitchRecord(meter.id, meter.serial, on, command_id, sent, number)


def record_load_guard_restore(
    session: Session,
    operator_id: int,
    meter_id: int,
    note: str,
    send: Send,
    *,
    guard_holds: bool = False,
    now: datetime | None = None,
) -> RestoreRecord:
    """Check and record an operator's restore after a load-guard trip or lock-out: the open
    trip is marked restored by him with ``note``, the lock-out alarm cleared, and the supply
    switched on through ``send`` unless the account is cut off for arrears. ``guard_holds``: the
    runtime's guard has the meter tripped or locked out (the caller lifts it). Raises
    PermissionDenied or MeterActionRefused (nothing written)."""
    now = now or datetime.now(UTC)
    who = acting_operator(session, operator_id, Action.RESTORE_LOAD_GUARD)
    text = check_reason(note, "note", "what was found in the room (the heater was removed...)")
    meter = meter_in_service(session, meter_id)
    trip = session.scalars(
        select(LoadTrip)
        .where(LoadTrip.meter_id == meter.id, LoadTrip.restored_at.is_(None))
        .order_by(LoadTrip.tripped_at.desc(), LoadTrip.id.desc())
        .limit(1)
    ).first()
    held = meter.off_reason == OffReason.LOAD_GUARD.value
    if trip is None and not held and not guard_holds:
        raise MeterActionRefused(
            "meter",
            f"The load guard of meter {meter.serial} holds nothing to restore: it has not "
            "tripped, or was restored already.",
        )
    before = {
        "off_reason": meter.off_reason,
        "relay_closed": meter.relay_closed,
        "trip_id": None if trip is None else trip.id,
        "locked_out": None if trip is None else trip.locked_out,
    }
    if trip is not None:
        trip.restored_at = now
        trip.restored_by_id = who.operator_id
        line = f"Restored by {who.display_name}: {text}"
        trip.note = f"{trip.note}\n{line}" if trip.note else line
    for alarm in session.scalars(
        select(Alarm).where(
            Alarm.meter_id == meter.id,
            Alarm.kind == AlarmKind.LOAD_GUARD_LOCKOUT,
            Alarm.state != AlarmState.CLEARED,
        )
    ):
        alarm.state = AlarmState.CLEARED
        alarm.cleared_at = now
    account = session.get(Account, meter.account_id) if meter.account_id is not None else None
    command_id: int | None = None
    sent = False
    stays_off = ""
    if _in_arrears(account, now):
        assert account is not None
        # The policy owns it now: a recharge (or keep power) switches it on.
        meter.off_reason = OffReason.ARREARS.value
        stays_off = (
            f"Account {account.number} is cut off for arrears: the supply comes back after a "
            "recharge."
        )
    else:
        command_id = send(f"Operator restore after a load-guard trip by {who.display_name}: {text}")
        sent = command_id is not None
        command_id = requested_by(session, meter.id, command_id, who.operator_id)
    session.flush()
    number = record_audit(
        session,
        who,
        "load_guard.restore",
        "meter",
        meter.serial,
        before,
        {
            "note": text,
            "trip_id": None if trip is None else trip.id,
            "switched_on": command_id is not None,
            "command_id": command_id,
            "stays_off": stays_off,
        },
    )
    return RestoreRecord(
        meter.id,
        meter.serial,
        None if trip is None else trip.id,
        None if account is None else account.id,
        command_id,
        sent,
        stays_off,
        number,
    )
