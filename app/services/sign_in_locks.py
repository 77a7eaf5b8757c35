"""Wrong passwords in a row per user name, and the lock they earn: 5 in a row lock the name
for 15 minutes, so passwords cannot be guessed at the speed of the machine.

The lock is kept per name as typed (``operator_names.username_key``), known to the site or
not, so that it says nothing about which names exist. A right password ends the run of wrong
ones; an administrator can lift a lock before its time (``operators.unlock``). The caller
owns the transaction, and must commit it even when the sign-in is refused (``operators.login``
does), or the wrong password would not count.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.queries.site_facts import site_zone
from app.store.models.operator_models import SignInLock

LOCK_AFTER = 5
LOCK_FOR = timedelta(minutes=15)


@dataclass(frozen=True)
class Failures:
    """Where a name stands after a wrong password: how many in a row, and the lock if one
    is in force."""

    in_a_row: int
    locked_until: datetime | None


def lock_in_force(session: Session, key: str, now: datetime) -> datetime | None:
    """Until when ``key`` is locked, or None when it may try a password now."""
    row = session.get(SignInLock, key)
    if row is None or row.locked_until is None or row.locked_until <= now:
        return None
    return row.locked_until


def count_failure(session: Session, key: str, now: datetime) -> Failures:
    """Count one more wrong password for ``key``; the fifth in a row locks it from ``now``.

    The row is read for update (PostgreSQL) or under the write lock (SQLite), so sign-ins
    that fail at the same moment on two consoles are both counted."""
    row = session.get(SignInLock, key, with_for_update=True, populate_existing=True)
    if row is None:
        try:
            with session.begin_nested():
                session.add(SignInLock(username=key, failures=0, last_failure_at=now))
        except IntegrityError:  # another console counted this name's first failure just now
            pass
        row = session.get_one(SignInLock, key, with_for_update=True, populate_existing=True)
    if row.locked_until is not None and row.locked_until > now:  # locked meanwhile
        return Failures(LOCK_AFTER, row.locked_until)
    row.failures += 1
    row.last_failure_at = now
    if row.failures >= LOCK_AFTER:
        row.locked_until = now + LOCK_FOR
        row.failures = 0
        session.flush()
        return Failures(LOCK_AFTER, row.locked_until)
    row.locked_until = None
    session.flush()
    return Failures(row.failures, None)


def clear(session: Session, key: str) -> SignInLock | None:
    """Forget the wrong passwords and the lock of ``key``; returns what was removed."""
    row = session.get(SignInLock, key, with_for_update=True)
    if row is not None:
        session.delete(row)
        session.flush()
    return row


def locks_by_key(session: Session, now: datetime) -> dict[str, datetime]:
    """Every lock still in force, by name key."""
    return {
        row.username: row.locked_until
        for row in session.scalars(select(SignInLock).where(SignInLock.locked_until > now))
        if row.locked_until is not None
    }


def clock_time(session: Session, at: datetime) -> str:
    """``at`` as HH:MM on the site's clock (this computer's while no site is set up)."""
    try:
        zone = site_zone(session)
    except ZoneInfoNotFoundError:
        zone = None
    local = at.astimezone(zone) if zone is not None else at.astimezone()
    return local.strftime("%H:%M")


def locked_text(session: Session, name: str, until: datetime) -> str:
    return (
        f"{name} is locked until {clock_time(session, until)} after {LOCK_AFTER} wrong "
        "passwords in a row; try again then, or ask an administrator to unlock it "
        "(the Operators page, or 'main.py operator unlock')."
    )
