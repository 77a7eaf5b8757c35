"""Orders on accounts given on any console or the command line (keep power set or lifted, a
policy assigned, an account opened, moved or closed) that the site's owner acts on within a
round of its money watch, instead of at the next periodic evaluation. Every such order is an
audit event on the account, so one index range scan over the events since the last round
finds them, whichever process or PC wrote them."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.store.models import Account, AuditEvent


def newest_event_id(session: Session) -> int:
    return session.scalar(select(func.max(AuditEvent.id))) or 0


def account_orders_since(session: Session, last_id: int) -> tuple[int, set[int]]:
    """The newest audit event id, and the ids of the accounts that events after ``last_id``
    changed."""
    newest = last_id
    numbers: set[str] = set()
    for event_id, target_type, target_id in session.execute(
        select(AuditEvent.id, AuditEvent.target_type, AuditEvent.target_id)
        .where(AuditEvent.id > last_id)
        .order_by(AuditEvent.id)
    ):
        newest = event_id
        if target_type == "account":
            numbers.add(target_id)
    if not numbers:
        return newest, set()
    ids = set(session.scalars(select(Account.id).where(Account.number.in_(sorted(numbers)))))
    return newest, ids
