"""Posting to the ledger and proving its invariants, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select, update

from app.demo.site import DemoSpec, seed_demo_site
from app.services.counters import current_number, take_number, take_numbers
from app.services.ledger import LedgerError, NewEntry, post_entries, post_entry
from app.services.ledger_verify import verify_ledger
from app.store.database import Database
from app.store.models import (
    Account,
    ChargeDay,
    LedgerEntry,
    Meter,
    Operator,
    Receipt,
    TariffVersion,
    UsageCharge,
    utc_now,
)
from app.vocabulary import LedgerKind, ReceiptKind


@pytest.fixture
def site(db: Database) -> Database:
    seed_demo_site(db, DemoSpec(buildings=1, floors=1, rooms_per_floor=4))
    return db


def first_account(db: Database) -> Account:
    with db.session() as session:
        account = session.query(Account).order_by(Account.id).first()
        assert account is not None
        return account


def second_account(db: Database) -> Account:
    with db.session() as session:
        return session.query(Account).order_by(Account.id).all()[1]


def test_posting_moves_the_cached_balance_with_the_entry(site: Database) -> None:
    account = first_account(site)
    with site.transaction() as session:
        posted = post_entry(session, account.id, LedgerKind.RECHARGE, 5000, reason="test")
    assert posted.balance_after_minor == account.balance_minor + 5000
    assert first_account(site).balance_minor == posted.balance_after_minor
    assert verify_ledger(site).ok


def test_a_posting_that_moves_nothing_or_names_no_account_is_refused(site: Database) -> None:
    with pytest.raises(LedgerError, match="must move money"), site.transaction() as session:
        post_entry(session, first_account(site).id, LedgerKind.RECHARGE, 0, reason="x")
    with pytest.raises(LedgerError, match="no account"), site.transaction() as session:
        post_entry(session, 999_999, LedgerKind.RECHARGE, 1, reason="x")


def test_many_entries_at_once_name_who_moved_the_money(site: Database) -> None:
    first, second = first_account(site), second_account(site)
    with site.transaction() as session:
        operator = session.scalars(select(Operator.id).limit(1)).one()
        posted = post_entries(
            session,
            [
                NewEntry(first.id, LedgerKind.OPENING, 700, "carried over", operator_id=None),
                NewEntry(
                    second.id, LedgerKind.ADJUSTMENT, -300, "fix", "note", operator_id=operator
                ),
                NewEntry(first.id, LedgerKind.ADJUSTMENT, 50, "fix"),
            ],
        )
        stored = session.execute(
            select(LedgerEntry.account_id, LedgerEntry.operator_id, LedgerEntry.reference)
            .where(LedgerEntry.id.in_([p.entry_id for p in posted]))
            .order_by(LedgerEntry.id)
        ).all()
    assert [tuple(row) for row in stored] == [
        (first.id, None, ""),
        (second.id, operator, "note"),
        (first.id, None, ""),
    ]
    assert [(p.balance_before_minor, p.balance_after_minor) for p in posted] == [
        (first.balance_minor, first.balance_minor + 700),
        (second.balance_minor, second.balance_minor - 300),
        (first.balance_minor + 700, first.balance_minor + 750),
    ]
    assert first_account(site).version == first.version + 1  # one update of each account


def test_numbers_taken_together_follow_each_other_without_a_gap(site: Database) -> None:
    with site.transaction() as session:
        start = current_number(session, "test")
        one = take_number(session, "test")
        run = take_numbers(session, "test", 3)
        after = take_number(session, "test")
    assert (one, list(run), after) == (start + 1, [start + 2, start + 3, start + 4], start + 5)

    def taken_then_rolled_back() -> None:
        with site.transaction() as session:
            take_numbers(session, "test", 10)
            raise RuntimeError("rolled back")

    with pytest.raises(RuntimeError):
        taken_then_rolled_back()
    with site.session() as session:
        assert current_number(session, "test") == start + 5  # given back


def test_a_cached_balance_that_drifts_is_named(site: Database) -> None:
    account = first_account(site)
    with site.transaction() as session:
        session.execute(
            update(Account)
            .where(Account.id == account.id)
            .values(balance_minor=Account.balance_minor + 1)
        )
    report = verify_ledger(site)
    assert [p.what for p in report.problems] == ["balance"]
    assert account.number in report.problems[0].detail


def test_an_edited_entry_breaks_the_running_balance(site: Database) -> None:
    with site.transaction() as session:
        entry = session.query(LedgerEntry).order_by(LedgerEntry.id).first()
        assert entry is not None
        entry.amount_minor += 3
    kinds = {p.what for p in verify_ledger(site).problems}
    assert "running_balance" in kinds
    assert "balance" in kinds


def test_reversals_must_undo_exactly_once(site: Database) -> None:
    account = first_account(site)
    with site.transaction() as session:
        paid = post_entry(session, account.id, LedgerKind.RECHARGE, 1000, reason="pay")
        post_entry(
            session,
            account.id,
            LedgerKind.REVERSAL,
            -1000,
            reason="undo",
            reverses_id=paid.entry_id,
        )
    assert verify_ledger(site).ok
    with site.transaction() as session:
        post_entry(
            session,
            account.id,
            LedgerKind.REVERSAL,
            -1000,
            reason="undo again",
            reverses_id=paid.entry_id,
        )
        post_entry(
            session,
            account.id,
            LedgerKind.REVERSAL,
            -5,
            reason="wrong amount",
            reverses_id=paid.entry_id,
        )
    problems = [p for p in verify_ledger(site).problems if p.what == "reversal"]
    assert len(problems) == 2


def test_receipt_numbers_must_run_without_gaps(site: Database) -> None:
    account = first_account(site)
    with site.transaction() as session:
        for number in (1, 2, 4):
            posted = post_entry(
                session, account.id, LedgerKind.RECHARGE, 100 * number, reason="pay"
            )
            session.add(
                Receipt(
                    number=number,
                    kind=ReceiptKind.RECHARGE,
                    account_id=account.id,
                    ledger_entry_id=posted.entry_id,
                    amount_minor=100 * number,
                    balance_before_minor=posted.balance_before_minor,
                    balance_after_minor=posted.balance_after_minor,
                )
            )
    problems = verify_ledger(site).problems
    assert [p.what for p in problems] == ["receipt_gap"]
    assert "4 follows 2" in problems[0].detail


def charge(
    account: Account,
    meter: Meter,
    version: TariffVersion,
    exact: str,
    entry_id: int,
    minor: int,
) -> UsageCharge:
    """One unit of usage priced at ``exact``, posted at ``minor`` in entry ``entry_id``."""
    now = utc_now()
    return UsageCharge(
        account_id=account.id,
        meter_id=meter.id,
        start_at=now,
        end_at=now,
        quantity="1",
        tariff_version_id=version.id,
        kind="energy",
        unit_price=exact,
        amount_exact=exact,
        amount_minor=minor,
        cycle_start=date(2026, 11, 1),
        ledger_entry_id=entry_id,
    )


def post_usage(
    site: Database, account: Account, postings: tuple[int, ...]
) -> tuple[Meter, TariffVersion]:
    """Slices of 0.333 each, posted in ``postings`` (minor units) with one usage charge each."""
    with site.transaction() as session:
        meter = session.query(Meter).filter(Meter.account_id == account.id).first()
        version = session.query(TariffVersion).first()
        assert meter is not None
        assert version is not None
        for cents in postings:
            posted = post_entry(session, account.id, LedgerKind.CONSUMPTION, -cents, reason="usage")
            session.add(charge(account, meter, version, "0.333", posted.entry_id, cents))
        # The daily rollup of what was billed, as a posting adds to it.
        session.add(
            ChargeDay(
                day=date.today(),
                meter_id=meter.id,
                account_id=account.id,
                period="",
                tier=0,
                units=1000 * len(postings),
                amount_minor=sum(postings),
            )
        )
    return meter, version


def test_usage_postings_carry_the_rounding_residue(site: Database) -> None:
    """Three slices of 0.333 each: postings 0.33, 0.34 (residue carried), 0.33 -> 1.00 total."""
    account = first_account(site)
    meter, version = post_usage(site, account, (33, 34, 33))
    assert verify_ledger(site).ok
    with site.transaction() as session:
        last = session.query(LedgerEntry).order_by(LedgerEntry.id.desc()).first()
        assert last is not None
        post_entry(session, account.id, LedgerKind.ADJUSTMENT, 1, reason="balance the test")
        session.add(charge(account, meter, version, "0.10", last.id, 10))  # without its money
    assert "usage" in {p.what for p in verify_ledger(site).problems}


def test_a_cycle_posted_beyond_its_rounded_exact_charge_is_named(site: Database) -> None:
    post_usage(site, first_account(site), (33, 33, 33))  # the residue dropped, not carried
    problems = [p for p in verify_ledger(site).problems if p.what == "usage"]
    assert len(problems) == 1
    assert "rounds to 100" in problems[0].detail
