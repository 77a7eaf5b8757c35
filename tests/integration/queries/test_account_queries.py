"""The accounts list and the account detail agree with each other and with the meters list."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from app.demo.site import seed_demo_site
from app.queries.accounts import (
    RECENT_ENTRIES,
    AccountDetail,
    get_account_detail,
    list_accounts,
)
from app.queries.meters import list_meters
from app.store.database import Database
from app.store.models import Account, LedgerEntry, Meter
from app.vocabulary import AccountStatus, LedgerKind, MeterStatus


@pytest.fixture
def site(db: Database) -> Database:
    seed_demo_site(db)
    return db


def _detail(db: Database, account_id: int) -> AccountDetail:
    detail = get_account_detail(db, account_id)
    assert detail is not None
    return detail


def test_every_account_is_listed_in_number_order(site: Database) -> None:
    rows = list_accounts(site)
    assert len(rows) == 240
    numbers = [r.number for r in rows]
    assert numbers == sorted(numbers)
    assert len(set(numbers)) == 240
    assert all(r.status is AccountStatus.OPEN for r in rows)
    assert all(r.room_label and r.building.startswith("Block ") for r in rows)
    assert {len(r.meter_serials) for r in rows} == {1, 2}  # electricity, and water every 2nd room


def test_the_list_row_matches_the_detail(site: Database) -> None:
    for row in list_accounts(site)[::17]:
        detail = _detail(site, row.id)
        assert detail.row == row


def test_detail_meters_match_the_meters_list(site: Database) -> None:
    meters = list_meters(site)
    for row in list_accounts(site)[::13]:
        detail = _detail(site, row.id)
        listed = {
            (m.serial, m.utility, m.profile, m.bus_name, m.address, m.status)
            for m in meters
            if m.account_number == row.number
        }
        shown = {
            (m.serial, m.utility, m.profile, m.bus_name, m.address, m.status) for m in detail.meters
        }
        assert shown == listed
        assert set(detail.row.meter_serials) == {serial for serial, *_ in listed}
        assert all(m.room_label == row.room_label for m in meters if m.account_number == row.number)


def test_the_detail_shows_policy_tariffs_and_currency(site: Database) -> None:
    detail = _detail(site, list_accounts(site)[0].id)
    assert detail.currency == "CNY"
    assert detail.policy_name in {"Student dormitory", "Staff apartment"}
    assert detail.alarm_1_minor > detail.alarm_2_minor
    assert {utility for utility, _ in detail.tariffs} == {"electricity", "water"}
    assert detail.opened_at.tzinfo is not None
    assert detail.keep_power_until is None


def test_ledger_lines_are_newest_first_and_end_at_the_balance(site: Database) -> None:
    for row in list_accounts(site)[::29]:
        detail = _detail(site, row.id)
        lines = detail.recent_entries
        assert lines, "every demo account has an opening entry"
        assert lines[0].balance_after_minor == row.balance_minor
        stamps = [line.created_at for line in lines]
        assert stamps == sorted(stamps, reverse=True)
        assert lines[-1].kind is LedgerKind.OPENING
        for newer, older in itertools.pairwise(lines):
            assert older.balance_after_minor + newer.amount_minor == newer.balance_after_minor


def test_only_the_most_recent_entries_are_shown(site: Database) -> None:
    account_id = list_accounts(site)[0].id
    start = datetime(2027, 1, 1, tzinfo=UTC)
    with site.transaction() as session:
        account = session.get_one(Account, account_id)
        balance = account.balance_minor
        for n in range(RECENT_ENTRIES + 5):
            balance += 100
            session.add(
                LedgerEntry(
                    account_id=account_id,
                    kind=LedgerKind.RECHARGE,
                    amount_minor=100,
                    balance_after_minor=balance,
                    created_at=start + timedelta(hours=n),
                    reference=f"R{n}",
                )
            )
        account.balance_minor = balance
    lines = _detail(site, account_id).recent_entries
    assert len(lines) == RECENT_ENTRIES
    assert lines[0].reference == f"R{RECENT_ENTRIES + 4}"
    assert lines[0].balance_after_minor == balance


def test_a_removed_meter_leaves_the_account_views(site: Database) -> None:
    row = next(r for r in list_accounts(site) if len(r.meter_serials) == 2)
    removed = row.meter_serials[0]
    with site.transaction() as session:
        session.execute(
            update(Meter).where(Meter.serial == removed).values(status=MeterStatus.REMOVED)
        )
    assert removed not in _detail(site, row.id).row.meter_serials
    assert removed not in {m.serial for m in _detail(site, row.id).meters}
    listed = next(r for r in list_accounts(site) if r.id == row.id)
    assert listed.meter_serials == row.meter_serials[1:]


def test_an_unknown_account_has_no_detail(site: Database) -> None:
    with site.session() as session:
        highest = max(session.scalars(select(Account.id)).all())
    assert get_account_detail(site, highest + 1) is None


def test_an_empty_database_lists_nothing(db: Database) -> None:
    assert list_accounts(db) == []
    assert list_meters(db) == []
