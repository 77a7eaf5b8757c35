"""Cashier shifts: each operator who takes money works in an open shift; at most one is open
per operator (a partial unique index holds it even across processes)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.billing.money import Money, MoneyError
from app.services.audit import record_audit
from app.services.operators import SignedIn
from app.services.permissions import Action
from app.services.settings import site_currency
from app.store.database import Database
from app.store.models import Shift, utc_now


class ShiftRefused(ValueError):
    """A shift that cannot be opened or closed; the message says why and what to do."""


@dataclass(frozen=True)
class ShiftInfo:
    shift_id: int
    operator_id: int
    opened_at: datetime
    opening_float_minor: int


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
            raise ShiftRefused(f"Opening float: {exc}") from None
        if float_minor < 0:
            raise ShiftRefused("The opening float cannot be negative; count the drawer again.")
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
