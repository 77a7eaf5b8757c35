"""Migration 0009 fills the ledger's daily rollup from the entries already written, on the
site's local days, so a site upgraded with years of history reports it at once and ``ledger
verify`` finds the rollup whole."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest
from alembic import command
from sqlalchemy import insert, select

from app.store.database import Database
from app.store.migrate import alembic_config, upgrade
from app.store.models import Account, BalancePolicy, LedgerDay, LedgerEntry, Site
from app.vocabulary import LedgerKind


@pytest.fixture
def at_0008(db_url: str) -> Iterator[Database]:
    db = Database(db_url)
    config = alembic_config()
    with db.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0008")
    yield db
    db.dispose()


def test_the_rollup_is_filled_from_the_entries_on_local_days(at_0008: Database) -> None:
    db = at_0008
    with db.engine.begin() as conn:  # a site in Shanghai (UTC+8) with a few entries
        conn.execute(
            insert(Site.__table__).values(name="S", timezone="Asia/Shanghai", currency="CNY")
        )
        policy = conn.execute(
            insert(BalancePolicy.__table__)
            .values(name="p", alarm_1_minor=1000, alarm_2_minor=500)
            .returning(BalancePolicy.__table__.c.id)
        ).scalar_one()
        account = conn.execute(
            insert(Account.__table__)
            .values(number="1", holder_name="h", policy_id=policy)
            .returning(Account.__table__.c.id)
        ).scalar_one()
        moments = [
            (LedgerKind.RECHARGE, 5000, datetime(2026, 11, 30, 15, 59, tzinfo=UTC)),  # 23:59
            (LedgerKind.RECHARGE, 700, datetime(2026, 11, 30, 16, 1, tzinfo=UTC)),  # 00:01
            (LedgerKind.CONSUMPTION, -120, datetime(2026, 11, 30, 17, 0, tzinfo=UTC)),
        ]
        balance = 0
        for kind, amount, at in moments:
            balance += amount
            conn.execute(
                insert(LedgerEntry.__table__).values(
                    account_id=account,
                    kind=kind,
                    amount_minor=amount,
                    balance_after_minor=balance,
                    created_at=at,
                    reason="",
                    reference="",
                )
            )
    upgrade(db)
    with db.session() as session:
        rows = {
            (row.day, row.kind): (row.entries, row.amount_minor)
            for row in session.scalars(select(LedgerDay))
        }
    assert rows == {
        (date(2026, 11, 30), LedgerKind.RECHARGE): (1, 5000),
        (date(2026, 12, 1), LedgerKind.RECHARGE): (1, 700),
        (date(2026, 12, 1), LedgerKind.CONSUMPTION): (1, -120),
    }
