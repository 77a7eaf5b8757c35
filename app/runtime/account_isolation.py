"""Postings of the engine isolated per account: one bad row never stops the others.

The engine writes every account's usage and fees in one transaction. A single row that cannot
be written (a key taken by a person's recharge before keys were kept apart, a balance past what
the database holds, a constraint broken by hand) would otherwise roll back the whole tick: no
account billed, no supply command sent. ``each_account`` writes every account's part together
in a savepoint, the fast way; if that fails, it writes each account in a savepoint of its own,
so every other account is written and only the failing ones are left out, to be tried again at
the next posting. ``account_skipped`` raises the alarm that names such an account.

Runs on the engine thread, inside the engine's transaction (the caller's session).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.store.models import Account, Alarm
from app.vocabulary import AlarmKind, AlarmSeverity, AlarmState

log = logging.getLogger(__name__)

ERROR_TEXT_MAX = 300  # of a database error kept in an alarm (driver errors carry the SQL)


def each_account(
    session: Session, accounts: Sequence[int], write: Callable[[Sequence[int]], None]
) -> dict[int, Exception]:
    """``write(accounts)`` in one savepoint; if it fails, ``write([account])`` for each account
    in a savepoint of its own. ``write`` changes nothing but the database (the caller updates
    what it keeps in memory for the accounts written). Returns the accounts that could not be
    written, with their error; everything written for the others stays in the transaction."""
    if not accounts:
        return {}
    session.flush()  # what is pending from before is not this write's to fail
    try:
        with session.begin_nested():
            write(accounts)
        return {}
    except Exception as exc:
        if len(accounts) == 1:
            return {accounts[0]: exc}
        log.warning("a posting of %d accounts failed (%s); posting each alone", len(accounts), exc)
    failed: dict[int, Exception] = {}
    for account_id in accounts:
        try:
            with session.begin_nested():
                write([account_id])
        except Exception as exc:
            failed[account_id] = exc
    return failed


def error_text(exc: Exception) -> str:
    """The error's first line, shortened: what an alarm and the log say about it."""
    first = (str(exc) or type(exc).__name__).strip().splitlines()[0]
    return first if len(first) <= ERROR_TEXT_MAX else first[: ERROR_TEXT_MAX - 1] + "…"


POSTED_LATER = (
    "Every other account was billed; MeterDesk tries this one again at each posting, and the "
    "engine's log names the cause."
)


def account_skipped(
    session: Session,
    account_id: int,
    what: str,
    why: str,
    now: datetime,
    *,
    then: str = POSTED_LATER,
    evidence: dict[str, object] | None = None,
) -> None:
    """Raise a critical alarm naming the account the engine left out: "Account N: ``what``
    (``why``). ``then``" (``what``: "its usage could not be posted"). While such an alarm about
    the same ``what`` is active, it is counted again (``occurrences``, with the latest cause)
    instead of raising another at every tick."""
    number = session.scalar(select(Account.number).where(Account.id == account_id))
    message = f"Account {number or account_id}: {what} ({why}). {then}"
    log.error("account %s: %s: %s", number or account_id, what, why)
    details = {"what": what, "error": why, **(evidence or {})}
    for active in session.scalars(
        select(Alarm).where(
            Alarm.account_id == account_id,
            Alarm.kind == AlarmKind.ACCOUNT_SKIPPED,
            Alarm.state != AlarmState.CLEARED,
        )
    ):
        if (active.evidence or {}).get("what") == what:
            active.occurrences += 1
            active.message, active.evidence = message, details
            return
    session.add(
        Alarm(
            kind=AlarmKind.ACCOUNT_SKIPPED,
            severity=AlarmSeverity.CRITICAL,
            account_id=account_id,
            message=message,
            evidence=details,
            raised_at=now,
        )
    )
