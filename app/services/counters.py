"""Gap-free numbers (receipts, audit events), taken inside the caller's transaction.

The counter row is locked and incremented in the transaction that uses the number, so a
rollback gives the number back: no gap, no repeat, whatever crashes. Holding the lock also
orders the transactions that take numbers one after the other.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.store.models import Counter

RECEIPT = "receipt"
AUDIT = "audit"


def lock_counter(session: Session, name: str) -> Counter:
    """The counter's row, locked for this transaction (created at 0 the first time)."""
    row = session.scalars(select(Counter).where(Counter.name == name).with_for_update()).first()
    if row is None:
        try:
            with session.begin_nested():  # another process may create it at the same moment
                session.add(Counter(name=name, value=0))
        except IntegrityError:
            pass
        row = session.scalars(select(Counter).where(Counter.name == name).with_for_update()).one()
    return row


def take_number(session: Session, name: str) -> int:
    """The next number of ``name`` (1, 2, 3...), given back if the transaction rolls back."""
    return take_numbers(session, name, 1)[0]


def take_numbers(session: Session, name: str, count: int) -> range:
    """The next ``count`` numbers of ``name`` in a row (an import's receipts), given back if
    the transaction rolls back."""
    row = lock_counter(session, name)
    first = row.value + 1
    row.value += count
    session.flush()
    return range(first, first + count)


def current_number(session: Session, name: str) -> int:
    """The last number handed out (0 for none); no lock."""
    return session.scalar(select(Counter.value).where(Counter.name == name)) or 0
