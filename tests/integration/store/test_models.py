"""Column types and constraints of the models, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, OperationalError, StatementError
from sqlalchemy.orm.exc import StaleDataError

from app.store.database import Database
from app.store.models import Account, BalancePolicy, LedgerEntry, Operator
from app.vocabulary import LedgerKind, Role

SHANGHAI = timezone(timedelta(hours=8))
NEW_YORK_WINTER = timezone(timedelta(hours=-5))


def _operator(username: str, created_at: datetime) -> Operator:
    return Operator(
        username=username,
        display_name=username,
        role=Role.CASHIER,
        password_hash="x",
        created_at=created_at,
    )


def _account_id(db: Database) -> int:
    with db.transaction() as session:
        policy = BalancePolicy(name="Student", alarm_1_minor=2000, alarm_2_minor=1000)
        account = Account(number="100001", holder_name="Wang Wei 王伟", policy=policy)
        session.add(account)
        session.flush()
        return account.id


def _entry(account_id: int, key: str | None) -> LedgerEntry:
    return LedgerEntry(
        account_id=account_id,
        kind=LedgerKind.RECHARGE,
        amount_minor=5000,
        balance_after_minor=5000,
        idempotency_key=key,
    )


@pytest.mark.parametrize(
    "moment",
    [
        datetime(2026, 9, 1, 0, 0, tzinfo=UTC),
        datetime(2026, 9, 1, 8, 30, 15, 123456, tzinfo=SHANGHAI),
        datetime(2026, 12, 31, 23, 59, 59, 999999, tzinfo=NEW_YORK_WINTER),
    ],
    ids=["utc", "shanghai-micro", "new-york-new-year"],
)
def test_utc_datetime_round_trips_as_aware_utc(db: Database, moment: datetime) -> None:
    with db.transaction() as session:
        session.add(_operator("cashier", moment))
    with db.session() as session:
        stored = session.scalars(select(Operator.created_at)).one()
    assert stored == moment
    assert stored.tzinfo is not None
    assert stored.utcoffset() == timedelta(0)
    assert stored.replace(tzinfo=None) == moment.astimezone(UTC).replace(tzinfo=None)


def test_utc_datetime_compares_instants_in_sql(db: Database) -> None:
    base = datetime(2026, 9, 1, 12, 0, tzinfo=UTC)
    with db.transaction() as session:
        session.add(_operator("early", base - timedelta(minutes=1)))
        session.add(_operator("late", base + timedelta(minutes=1)))
    same_instant_in_shanghai = base.astimezone(SHANGHAI)  # 20:00 +08:00
    with db.session() as session:
        later = session.scalars(
            select(Operator.username).where(Operator.created_at > same_instant_in_shanghai)
        ).all()
    assert later == ["late"]


def test_utc_datetime_refuses_a_naive_datetime(db: Database) -> None:
    with pytest.raises(StatementError, match="timezone-aware"), db.transaction() as session:
        session.add(_operator("naive", datetime(2026, 9, 1, 8, 0)))
    with db.session() as session:
        assert session.scalars(select(Operator)).all() == []


def test_ledger_idempotency_keys_are_unique(db: Database) -> None:
    account_id = _account_id(db)
    with db.transaction() as session:
        session.add(_entry(account_id, "recharge-7f3a"))
    with pytest.raises(IntegrityError), db.transaction() as session:
        session.add(_entry(account_id, "recharge-7f3a"))
    with db.session() as session:
        keys = session.scalars(select(LedgerEntry.idempotency_key)).all()
    assert keys == ["recharge-7f3a"]


def test_entries_without_an_idempotency_key_may_be_many(db: Database) -> None:
    account_id = _account_id(db)
    with db.transaction() as session:
        session.add_all([_entry(account_id, None), _entry(account_id, None)])
    with db.session() as session:
        assert len(session.scalars(select(LedgerEntry)).all()) == 2


def test_concurrent_writers_of_one_account_fail_instead_of_overwriting(db: Database) -> None:
    account_id = _account_id(db)
    with db.session() as first, db.session() as second:
        mine = first.get_one(Account, account_id)
        theirs = second.get_one(Account, account_id)
        mine.balance_minor = 5000
        first.commit()
        theirs.balance_minor = 9999
        # PostgreSQL: the row's version moved (StaleDataError). SQLite: the second session
        # still reads the snapshot of before the first commit and may not write from it.
        with pytest.raises((StaleDataError, OperationalError)):
            second.commit()
    with db.session() as session:
        account = session.get_one(Account, account_id)
        assert (account.balance_minor, account.version) == (5000, 2)
