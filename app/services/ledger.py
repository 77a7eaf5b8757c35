"""The one way money moves: append a ledger entry and keep the account's cached balance with it.

Every balance change of MeterDesk (recharge, consumption, fee, refund, adjustment, reversal...)
goes through ``post_entry`` inside the caller's transaction. Entries are never updated or deleted;
a correction is a new entry (``reverses_id`` names the one it undoes).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.store.models import Account, LedgerEntry, utc_now
from app.vocabulary import LedgerKind


class LedgerError(ValueError):
    """A posting that must not happen (unknown account, zero amount...)."""


@dataclass(frozen=True)
class Posted:
    entry_id: int
    balance_before_minor: int
    balance_after_minor: int


def lock_account(session: Session, account_id: int) -> Account:
    """The account row, locked for this transaction (PostgreSQL row lock; SQLite serialises
    writers itself), so two postings never compute a balance from the same starting point."""
    account = session.scalars(
        select(Account).where(Account.id == account_id).with_for_update()
    ).first()
    if account is None:
        raise LedgerError(f"no account with id {account_id}")
    return account


def post_entry(
    session: Session,
    account_id: int,
    kind: LedgerKind,
    amount_minor: int,
    *,
    reason: str,
    reference: str = "",
    operator_id: int | None = None,
    idempotency_key: str | None = None,
    reverses_id: int | None = None,
    at: datetime | None = None,
) -> Posted:
    """Append one entry and update the account's cached balance, in the caller's transaction."""
    if amount_minor == 0 and kind not in (LedgerKind.ALLOWANCE, LedgerKind.OPENING):
        raise LedgerError("a ledger entry must move money")
    account = lock_account(session, account_id)
    before = account.balance_minor
    after = before + amount_minor
    entry = LedgerEntry(
        account_id=account_id,
        kind=kind,
        amount_minor=amount_minor,
        balance_after_minor=after,
        created_at=at or utc_now(),
        operator_id=operator_id,
        reason=reason,
        reference=reference,
        idempotency_key=idempotency_key,
        reverses_id=reverses_id,
    )
    session.add(entry)
    account.balance_minor = after
    session.flush()
    return Posted(entry.id, before, after)
