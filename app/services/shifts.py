"""Cashier shifts: each operator who takes money works in an open shift; at most one is open
per operator (a partial unique index holds it even across processes).

Closing a shift counts the drawer against what the receipts of the shift say should be in it
and writes the close report (PDF) into the data folder. The close takes the receipt counter's
row lock first, like every money service (recharge.py), so no payment can land in the shift
while it is being counted: a payment that waited for the lock finds the shift closed and opens
the next one (``ensure_shift``).

The report is written inside the closing transaction, before the commit: the row never names a
report that was not written (a full disk rolls the close back, and the shift stays open), and
the report says exactly what the row says (closing time, who closed, the count). If the commit
itself fails after the write, the file is removed again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.billing.money import Money, MoneyError
from app.queries.site_facts import site_currency
from app.services.audit import record_audit
from app.services.operators import SignedIn
from app.services.permissions import Action
from app.store.database import Database
from app.store.models import Operator, Receipt, Shift, utc_now


class ShiftRefused(ValueError):
    """A shift that cannot be opened or closed; the message says why and what to do.

    ``field`` names the input to fix ("float", "counted") or is empty when no input is wrong.
    """

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class ShiftInfo:
    shift_id: int
    operator_id: int
    opened_at: datetime
    opening_float_minor: int


@dataclass(frozen=True)
class OpenShift:
    """An open shift as a supervisor sees it in the list of shifts still running."""

    shift_id: int
    operator_id: int
    operator_name: str
    opened_at: datetime  # UTC
    opening_float_minor: int
    receipt_count: int


def open_shift_of(session: Session, operator_id: int) -> Shift | None:
    return session.scalars(
        select(Shift).where(Shift.operator_id == operator_id, Shift.closed_at.is_(None))
    ).first()


def _open(session: Session, by: SignedIn, float_minor: int) -> Shift:
    shift = Shift(operator_id=by.operator_id, opened_at=utc_now(), opening_float_minor=float_minor)
    session.add(shift)
    session.flush()
    record_audit(session, by, "shift.open", "shift", shift.id, None, {"opening_float": float_minor})
    return shift


def ensure_shift(session: Session, by: SignedIn) -> Shift:
    """The operator's open shift, opened with no float if there is none (a payment taken
    before anyone opened the shift still lands in one)."""
    return open_shift_of(session, by.operator_id) or _open(session, by, 0)


def open_shift(db: Database, by: SignedIn, opening_float: str) -> ShiftInfo:
    """Open the operator's shift with the cash already in the drawer."""
    by.require(Action.OPEN_SHIFT)
    with db.transaction() as session:
        currency = site_currency(session)
        try:
            float_minor = Money.parse(opening_float or "0", currency).minor
        except MoneyError as exc:
            raise ShiftRefused(f"Opening float: {exc}", "float") from None
        if float_minor < 0:
            raise ShiftRefused(
                "The opening float cannot be negative; count the drawer again.", "float"
            )
        if open_shift_of(session, by.operator_id) is not None:
            raise ShiftRefused(
                f"{by.display_name} already has an open shift; close it before opening another."
            )
        shift = _open(session, by, float_minor)
        return ShiftInfo(shift.id, shift.operator_id, shift.opened_at, float_minor)


def current_shift(db: Database, operator_id: int) -> ShiftInfo | None:
    with db.session() as session:
        shift = open_shift_of(session, operator_id)
        if shift is None:
            return None
        return ShiftInfo(shift.id, shift.operator_id, shift.opened_at, shift.opening_float_minor)


def list_open_shifts(db: Database) -> list[OpenShift]:
    """Every shift still open, oldest first, with its cashier's name and receipt count (for a
    supervisor who closes a shift someone left open)."""
    receipts = (
        select(Receipt.shift_id, func.count().label("n"))
        .where(Receipt.shift_id.is_not(None))
        .group_by(Receipt.shift_id)
        .subquery()
    )
    with db.session() as session:
        rows = session.execute(
            select(Shift, Operator.display_name, func.coalesce(receipts.c.n, 0))
            .join(Operator, Operator.id == Shift.operator_id)
            .outerjoin(receipts, receipts.c.shift_id == Shift.id)
            .where(Shift.closed_at.is_(None))
            .order_by(Shift.opened_at, Shift.id)
        ).all()
        return [
            OpenShift(
                shift.id,
                shift.operator_id,
                name,
                shift.opened_at,
                shift.opening_float_minor,
                int(count),
            )
            for shift, name, count in rows
        ]


# -- helpers ---------------------------------------------------------------------------------
