"""Settle and close an account (DOMAIN.md section 1): each meter's final reading, the remainder
paid back or the debt collected with a settlement receipt, the meters left in the room.

One transaction that takes the receipt counter's row lock first, like every money service; the
idempotency key is kept in the step's audit event and on the settlement entry.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.queries.site_facts import site_zone
from app.services.account_life import AccountRefused, keyed_event, meters_in_service
from app.services.audit import record_audit
from app.services.counters import RECEIPT, lock_counter
from app.services.meter_replacement import format_units
from app.services.operators import SignedIn
from app.services.permissions import Action
from app.services.recharge import pay_in
from app.services.service_checks import (
    check_key,
    check_same_request,
    confirm_approver,
    locked_account,
)
from app.store.database import Database
from app.store.models import (
    Account,
    AuditEvent,
    IntervalReading,
    Meter,
    utc_now,
)
from app.vocabulary import (
    AccountStatus,
    LedgerKind,
    PaymentMethod,
    ReadingQuality,
    ReceiptKind,
    Utility,
)


@dataclass(frozen=True)
class FinalReading:
    serial: str
    utility: Utility
    register_units: int | None  # Wh or litres; None: the meter has no good reading stored
    read_at: datetime | None


@dataclass(frozen=True)
class Settlement:
    account_id: int
    account_number: str
    balance_before_minor: int
    amount_minor: int  # the settlement entry: -remainder paid back, +debt collected, 0: none
    receipt_number: int | None  # None for a zero balance: no entry, no receipt
    final_readings: tuple[FinalReading, ...]
    replayed: bool


def settle_account(
    db: Database,
    by: SignedIn,
    account_number: str,
    method: PaymentMethod,
    key: str,
    *,
    approver: SignedIn | None = None,
) -> Settlement:
    """Close the account: record each meter's final reading, pay back the remainder or collect
    the debt (a settlement entry and receipt; none for a zero balance), detach the meters.
    ``approver`` (optional) is named on the entry when a supervisor approved the payout."""
    by.require(Action.CLOSE_ACCOUNT)
    key = check_key(key, AccountRefused)
    if approver is not None:
        approver.require(Action.APPROVE)
    with db.transaction() as session:
        lock_counter(session, RECEIPT)
        account = locked_account(session, account_number, AccountRefused)
        event = keyed_event(session, key, "account.settle", account.number)
        if event is not None:
            _same_settlement(key, event, by, method, approver)
            return _settlement(account, event.before or {}, event.after or {}, replayed=True)
        if account.status is not AccountStatus.OPEN:
            zone = site_zone(session) or UTC
            when = account.closed_at.astimezone(zone).date() if account.closed_at else "earlier"
            raise AccountRefused(
                "account", f"Account {account.number} was closed on {when}; nothing to settle."
            )
        if approver is not None:
            confirm_approver(session, approver)
        meters = meters_in_service(session, Meter.account_id == account.id)
        readings = [_final_reading(session, meter) for meter in meters]
        before, amount = account.balance_minor, -account.balance_minor
        number = None
        if amount:
            number = _settle_money(session, by, account, amount, method, key, approver, readings)
        account.status = AccountStatus.CLOSED
        account.closed_at = utc_now()
        for meter in meters:
            meter.account_id = None
        session.flush()
        after: dict[str, object] = {
            "balance": account.balance_minor,
            "status": AccountStatus.CLOSED.value,
            "amount": amount,
            "receipt": number,
            "method": method.value if amount else None,
            "approved_by": approver.operator_id if approver else None,
            "final_readings": [_reading_json(r) for r in readings],
            "key": key,
        }
        old = {"balance": before, "status": AccountStatus.OPEN.value}
        record_audit(session, by, "account.settle", "account", account.number, old, after)
        return _settlement(account, old, after, replayed=False)


def _same_settlement(
    key: str, event: AuditEvent, by: SignedIn, method: PaymentMethod, approver: SignedIn | None
) -> None:
    """The settlement ``key`` names must be asked again by the same operator, with the same
    approver and (when money moved) the same payment method; else the key is refused."""
    after = event.after or {}
    moved = bool(after.get("amount"))
    check_same_request(
        key,
        AccountRefused,
        "a settlement",
        {
            "payment method": after.get("method") if moved else None,
            "operator": event.operator_id,
            "approver": after.get("approved_by"),
        },
        {
            "payment method": method.value if moved else None,
            "operator": by.operator_id,
            "approver": None if approver is None else approver.operator_id,
        },
    )


def _settle_money(
    session: Session,
    by: SignedIn,
    account: Account,
    amount: int,
    method: PaymentMethod,
    key: str,
    approver: SignedIn | None,
    readings: Sequence[FinalReading],
) -> int:
    """The settlement entry and receipt; the receipt lists each meter's final reading."""
    reason = "settlement: remainder paid back" if amount < 0 else "settlement: debt collected"
    _posted, number = pay_in(
        session,
        by,
        account,
        amount,
        method,
        key,
        reason,
        kind=LedgerKind.SETTLEMENT,
        receipt_kind=ReceiptKind.SETTLEMENT,
        approver=approver,
        receipt_reason=reason,
        extra={  # printed with each meter: the holder keeps the final readings
            "meters": [_reading_line(r) for r in readings],
            "final_readings": [_reading_json(r) for r in readings],
        },
    )
    return number


def _final_reading(session: Session, meter: Meter) -> FinalReading:
    last = session.execute(
        select(IntervalReading.register_units, IntervalReading.read_at)
        .where(
            IntervalReading.meter_id == meter.id,
            IntervalReading.quality == ReadingQuality.GOOD,
        )
        .order_by(IntervalReading.read_at.desc())
        .limit(1)
    ).first()
    units, at = (None, None) if last is None else (last[0], last[1])
    return FinalReading(meter.serial, meter.utility, units, at)


def _reading_line(reading: FinalReading) -> str:
    head = f"{reading.utility.value} {reading.serial}"
    if reading.register_units is None:
        return f"{head}: no reading stored"
    return f"{head}: final {format_units(reading.register_units, reading.utility)}"


def _reading_json(reading: FinalReading) -> dict[str, object]:
    return {
        "serial": reading.serial,
        "utility": reading.utility.value,
        "register_units": reading.register_units,
        "read_at": reading.read_at.isoformat() if reading.read_at else None,
    }


def _settlement(
    account: Account, before: Mapping[str, object], after: Mapping[str, object], *, replayed: bool
) -> Settlement:
    readings = []
    stored = after.get("final_readings")
    for item in stored if isinstance(stored, list) else []:
        units, at = item.get("register_units"), item.get("read_at")
        readings.append(
            FinalReading(
                str(item["serial"]),
                Utility(item["utility"]),
                units if isinstance(units, int) else None,
                datetime.fromisoformat(at) if isinstance(at, str) else None,
            )
        )
    balance, amount, receipt = before.get("balance"), after.get("amount"), after.get("receipt")
    return Settlement(
        account.id,
        account.number,
        balance if isinstance(balance, int) else 0,
        amount if isinstance(amount, int) else 0,
        receipt if isinstance(receipt, int) else None,
        tuple(readings),
        replayed,
    )
