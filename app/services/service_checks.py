"""Checks the money and account services share: idempotency keys, reasons, amounts, the locked
account row, and a named approver who is still allowed to approve."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.billing.money import Money, MoneyError
from app.services.operators import SignedIn
from app.services.permissions import Action, PermissionDenied, allowed
from app.store.models import Account, LedgerEntry, Operator, column_length

KEY_MAX = column_length(LedgerEntry.idempotency_key)
REASON_MAX = 300


class Refused(ValueError):
    """Something not done; ``field`` names the input to fix and the message says what to do."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def check_key(key: str, error: type[Refused]) -> str:
    key = key.strip()
    if not key or len(key) > KEY_MAX:
        raise error("key", f"The idempotency key must have 1 to {KEY_MAX} characters.")
    return key


def check_reason(reason: str, error: type[Refused]) -> str:
    text = " ".join(reason.split())
    if not text:
        raise error("reason", "Give a reason: say why the balance is corrected, for the record.")
    if len(text) > REASON_MAX:
        raise error(
            "reason", f"The reason has {len(text)} characters; say it in at most {REASON_MAX}."
        )
    return text


def locked_account(session: Session, number: str, error: type[Refused]) -> Account:
    account = session.scalars(
        select(Account).where(Account.number == number.strip()).with_for_update()
    ).first()
    if account is None:
        raise error("account", f"There is no account {number.strip()!r}; search again.")
    return account


def parse_money(text: str, currency: str, error: type[Refused]) -> Money:
    try:
        return Money.parse(text, currency)
    except MoneyError as exc:
        raise error("amount", str(exc)) from None


def confirm_approver(session: Session, approver: SignedIn) -> None:
    """The approver's operator row still allows it (not switched off, role not changed)."""
    row = session.get(Operator, approver.operator_id)
    if row is None or not row.active or not allowed(row.role, Action.APPROVE):
        raise PermissionDenied(
            f"{approver.display_name} may no longer approve (switched off or role changed); "
            "ask another supervisor to sign in on the spot."
        )
