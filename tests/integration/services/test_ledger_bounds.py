"""The ledger refuses an amount or a balance past ``MAX_MONEY_MINOR``: the database's BIGINT
would refuse it later (PostgreSQL) or keep a rounded float (SQLite), and sums in reports would
overflow. Refused means nothing posted: the balance and the entries are as they were."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.demo.site import DemoSpec, seed_demo_site
from app.input_limits import BIGINT_MAX, MAX_MONEY_MINOR
from app.services.ledger import LedgerError, NewEntry, post_entries, post_entry
from app.store.database import Database
from app.store.models import Account, LedgerEntry
from app.vocabulary import LedgerKind


@pytest.fixture
def account(db: Database) -> tuple[Database, int, int]:
    """The site's first account: (database, its id, its balance)."""
    seed_demo_site(db, DemoSpec(buildings=1, floors=1, rooms_per_floor=2))
    with db.session() as session:
        first = session.scalars(select(Account).order_by(Account.id)).first()
        assert first is not None
        return db, first.id, first.balance_minor


def state(db: Database, account_id: int) -> tuple[int, int]:
    with db.session() as session:
        balance = session.get_one(Account, account_id).balance_minor
        entries = session.scalar(select(func.count()).select_from(LedgerEntry))
        return balance, entries or 0


def test_the_largest_balance_is_held_exactly(account: tuple[Database, int, int]) -> None:
    db, account_id, balance = account
    with db.transaction() as session:
        posted = post_entry(
            session, account_id, LedgerKind.RECHARGE, MAX_MONEY_MINOR - balance, reason="top"
        )
    assert posted.balance_after_minor == MAX_MONEY_MINOR
    assert state(db, account_id)[0] == MAX_MONEY_MINOR


@pytest.mark.parametrize("amount", [MAX_MONEY_MINOR + 1, BIGINT_MAX, -(MAX_MONEY_MINOR + 1)])
def test_an_amount_past_the_limit_is_refused_and_nothing_posted(
    account: tuple[Database, int, int], amount: int
) -> None:
    db, account_id, _ = account
    before = state(db, account_id)
    with (
        pytest.raises(LedgerError, match="past the 1000000000000000 MeterDesk can hold"),
        db.transaction() as session,
    ):
        post_entry(session, account_id, LedgerKind.ADJUSTMENT, amount, reason="x")
    assert state(db, account_id) == before


def test_a_balance_carried_past_the_limit_by_many_entries_is_refused(
    account: tuple[Database, int, int],
) -> None:
    db, account_id, balance = account
    before = state(db, account_id)
    half = (MAX_MONEY_MINOR - balance) // 2 + 1
    entries = [NewEntry(account_id, LedgerKind.RECHARGE, half, "x") for _ in range(2)]
    with pytest.raises(LedgerError, match="the balance of account id"), db.transaction() as s:
        post_entries(s, entries)
    assert state(db, account_id) == before
