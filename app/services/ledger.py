"""The one way money moves: append a ledger entry and keep the account's cached balance with it.

Every balance change of MeterDesk (recharge, consumption, fee, refund, adjustment, reversal...)
goes through ``post_entry`` inside the caller's transaction. Entries are never updated or deleted;
a correction is a new entry (``reverses_id`` names the one it undoes).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import Table, bindparam, func, select, update
from sqlalchemy.orm import Session

from app.input_limits import MAX_MONEY_MINOR
from app.services.ledger_days import add_to_days
from app.store.bulk_rows import insert_rows_with_ids
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


def _check_bounds(account_id: int, amount_minor: int, balance_after_minor: int) -> None:
    """Refuse an amount or a balance past ``MAX_MONEY_MINOR`` (nothing is written: the caller's
    transaction rolls back). The database's BIGINT would refuse it later or, on SQLite, store
    a rounded float; this says what happened instead."""
    for what, minor in (("amount", amount_minor), ("balance", balance_after_minor)):
        if abs(minor) > MAX_MONEY_MINOR:
            raise LedgerError(
                f"the {what} of account id {account_id} would be {minor} minor units, past the "
                f"{MAX_MONEY_MINOR} MeterDesk can hold; nothing was posted. Check the amount."
            )


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
    approved_by_id: int | None = None,
    at: datetime | None = None,
) -> Posted:
    """Append one entry and update the account's cached balance, in the caller's transaction."""
    if amount_minor == 0 and kind not in (LedgerKind.ALLOWANCE, LedgerKind.OPENING):
        raise LedgerError("a ledger entry must move money")
    account = lock_account(session, account_id)
    before = account.balance_minor
    after = before + amount_minor
    _check_bounds(account_id, amount_minor, after)
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
        approved_by_id=approved_by_id,
    )
    session.add(entry)
    account.balance_minor = after
    session.flush()
    add_to_days(session, [(account_id, kind, entry.created_at, amount_minor)])
    return Posted(entry.id, before, after)


@dataclass(frozen=True)
class NewEntry:
    """One entry for ``post_entries``."""

    account_id: int
    kind: LedgerKind
    amount_minor: int
    reason: str
    reference: str = ""
    idempotency_key: str | None = None
    operator_id: int | None = None  # who moved it (None: the engine)


def post_entries(
    session: Session, entries: list[NewEntry], *, at: datetime | None = None
) -> list[Posted]:
    """Many entries at once (the engine's consumption postings, an import's opening balances),
    in the caller's transaction: the accounts are locked in one statement, the entries inserted
    in one, the cached balances updated in one. Same result as ``post_entry`` for each, in
    order."""
    if not entries:
        return []
    if any(entry.amount_minor == 0 for entry in entries):
        raise LedgerError("a ledger entry must move money")
    session.flush()
    ids = sorted({entry.account_id for entry in entries})
    balances: dict[int, int] = {}
    for start in range(0, len(ids), 900):
        chunk = ids[start : start + 900]
        for account_id, balance in session.execute(
            select(Account.id, Account.balance_minor)
            .where(Account.id.in_(chunk))
            .order_by(Account.id)
            .with_for_update()
        ):
            balances[account_id] = balance
    missing = set(ids) - balances.keys()
    if missing:
        raise LedgerError(f"no account with id {min(missing)}")
    when = at or utc_now()
    rows: list[dict[str, object]] = []
    befores: list[int] = []
    for entry in entries:
        before = balances[entry.account_id]
        _check_bounds(entry.account_id, entry.amount_minor, before + entry.amount_minor)
        balances[entry.account_id] = before + entry.amount_minor
        befores.append(before)
        rows.append(
            {
                "account_id": entry.account_id,
                "kind": entry.kind,
                "amount_minor": entry.amount_minor,
                "balance_after_minor": before + entry.amount_minor,
                "created_at": when,
                "operator_id": entry.operator_id,
                "reason": entry.reason,
                "reference": entry.reference,
                "idempotency_key": entry.idempotency_key,
            }
        )
    new_ids = insert_rows_with_ids(session, LedgerEntry, rows)
    add_to_days(session, ((e.account_id, e.kind, when, e.amount_minor) for e in entries))
    table = cast(Table, Account.__table__)
    session.execute(  # the row version moves too, so optimistic writers see the change
        update(table)
        .where(table.c.id == bindparam("account"))
        .values(balance_minor=bindparam("balance"), version=table.c.version + 1),
        [{"account": account_id, "balance": balance} for account_id, balance in balances.items()],
    )
    for loaded in list(session.identity_map.values()):  # loaded earlier: now stale
        if isinstance(loaded, Account) and loaded.id in balances:
            session.expire(loaded, ["balance_minor", "version"])
    return [
        Posted(entry_id, before, before + entry.amount_minor)
        for entry_id, before, entry in zip(new_ids, befores, entries, strict=True)
    ]


# Entries that can move an account out of a cut (or into one) outside the engine: counter work.
COUNTER_KINDS = (
    LedgerKind.RECHARGE,
    LedgerKind.REFUND,
    LedgerKind.ADJUSTMENT,
    LedgerKind.REVERSAL,
    LedgerKind.SETTLEMENT,
    LedgerKind.OPENING,
)


def counter_entries_since(
    session: Session, last_id: int, *, every_kind: bool = False
) -> tuple[int, set[int]]:
    """Entries of counter work (``every_kind``: any entry, usage and fees too) after entry
    ``last_id`` (any process): (the newest entry id, the accounts they touched). An index range
    scan: cheap to ask every second or two."""
    newest = last_id
    accounts: set[int] = set()
    for entry_id, account_id, kind in session.execute(
        select(LedgerEntry.id, LedgerEntry.account_id, LedgerEntry.kind)
        .where(LedgerEntry.id > last_id)
        .order_by(LedgerEntry.id)
    ):
        newest = entry_id
        if every_kind or kind in COUNTER_KINDS:
            accounts.add(account_id)
    return newest, accounts


def newest_entry_id(session: Session) -> int:
    return session.scalar(select(func.max(LedgerEntry.id))) or 0
