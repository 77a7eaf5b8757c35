"""Recharge at the counter: rules with their messages, one credit per key, the receipt and its
PDF, the audit trail, on SQLite and PostgreSQL."""

from __future__ import annotations

import sqlite3
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import select, update

import app.store.database as database_module
from app.services.ledger_verify import verify_ledger
from app.services.permissions import PermissionDenied
from app.services.receipts import reprint_receipt, saved_receipt_pdf
from app.services.recharge import RechargeRefused, new_key, parse_method, recharge
from app.services.settings import RECHARGE_CAP, change_setting
from app.services.shifts import current_shift
from app.store.database import Database, sqlite_url_for
from app.store.errors import DatabaseBusy
from app.store.models import (
    Account,
    AuditEvent,
    BalancePolicy,
    LedgerEntry,
    Receipt,
)
from app.vocabulary import LedgerKind, PaymentMethod, Role, SupplyState
from tests.integration.services.counter_support import account, small_site, who

CASH = PaymentMethod.CASH


@pytest.fixture
def site(db: Database) -> Database:
    return small_site(db)


def test_a_recharge_credits_once_and_issues_a_numbered_receipt(site: Database) -> None:
    cashier = who(site, Role.CASHIER)
    target = account(site)
    done = recharge(site, cashier, target.number, "50.00", CASH, "k-1")
    assert not done.replayed
    assert done.amount_minor == 5000
    assert done.balance_after_minor == target.balance_minor + 5000
    with site.session() as session:
        receipt = session.scalars(select(Receipt)).one()
        entry = session.get_one(LedgerEntry, receipt.ledger_entry_id)
        assert receipt.number == done.receipt_number == 1
        assert (entry.kind, entry.amount_minor, entry.operator_id) == (
            LedgerKind.RECHARGE,
            5000,
            cashier.operator_id,
        )
        assert entry.reference == "receipt 1"
        content = receipt.content or {}
        assert content["account"] == target.number
        assert content["operator"] == "Counter cashier"
        assert content["meters"]
        assert content["tariffs"]
        event = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "account.recharge")
        ).one()
        assert event.operator_id == cashier.operator_id
        assert event.before == {"balance": target.balance_minor}
        assert event.after
        assert event.after["amount"] == 5000
    shift = current_shift(site, cashier.operator_id)
    assert shift is not None  # the payment opened the cashier's shift
    report = verify_ledger(site)
    assert report.ok, report.problems
    assert report.audit_events >= 2


def test_the_same_key_never_credits_twice(site: Database) -> None:
    cashier = who(site, Role.CASHIER)
    target = account(site)
    first = recharge(site, cashier, target.number, "20", CASH, "press-1")
    again = recharge(site, cashier, target.number, "20.00", CASH, "press-1")
    assert again.replayed
    assert again.receipt_number == first.receipt_number
    assert account(site).balance_minor == target.balance_minor + 2000
    with pytest.raises(RechargeRefused, match="already used") as refused:
        recharge(site, cashier, target.number, "30", CASH, "press-1")
    assert refused.value.field == "key"
    with pytest.raises(RechargeRefused, match="already used"):
        recharge(site, cashier, account(site, 1).number, "20", CASH, "press-1")
    with site.session() as session:
        assert len(session.scalars(select(Receipt)).all()) == 1


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("0", "more than zero"),
        ("-5", "more than zero"),
        ("10.005", "more than 2 decimal places"),
        ("abc", "not a number"),
        ("", "empty"),
        ("10000.01", "single-recharge cap of ¥10,000.00"),
    ],
)
def test_bad_amounts_are_refused_at_the_amount_field(
    site: Database, amount: str, message: str
) -> None:
    target = account(site)
    with pytest.raises(RechargeRefused, match=message) as refused:
        recharge(site, who(site, Role.CASHIER), target.number, amount, CASH, new_key())
    assert refused.value.field == "amount"
    assert account(site).balance_minor == target.balance_minor
    assert verify_ledger(site).ok


def test_the_cap_is_a_setting_and_the_hoard_limit_comes_from_the_policy(site: Database) -> None:
    cashier, supervisor = who(site, Role.CASHIER), who(site, Role.SUPERVISOR)
    target = account(site)
    with site.transaction() as session:
        with pytest.raises(PermissionDenied):
            change_setting(session, cashier, RECHARGE_CAP, "100")
        change_setting(session, supervisor, RECHARGE_CAP, "100")
    with pytest.raises(RechargeRefused, match=r"cap of ¥100\.00"):
        recharge(site, cashier, target.number, "100.01", CASH, new_key())
    recharge(site, cashier, target.number, "100", CASH, new_key())
    with site.transaction() as session:
        session.execute(
            update(BalancePolicy)
            .where(BalancePolicy.id == target.policy_id)
            .values(hoard_limit_minor=target.balance_minor + 15000)
        )
    with pytest.raises(RechargeRefused, match=r"can take at most ¥50\.00 now"):
        recharge(site, cashier, target.number, "50.01", CASH, new_key())
    recharge(site, cashier, target.number, "50", CASH, new_key())
    assert account(site).balance_minor == target.balance_minor + 15000


def test_closed_unknown_accounts_wrong_methods_and_roles_are_refused(site: Database) -> None:
    cashier = who(site, Role.CASHIER)
    with pytest.raises(RechargeRefused, match="no account 'X-404'"):
        recharge(site, cashier, "X-404", "10", CASH, new_key())
    with pytest.raises(RechargeRefused, match="choose cash, card, transfer, campus"):
        parse_method("cheque")
    assert parse_method(" Campus ") is PaymentMethod.CAMPUS
    with pytest.raises(PermissionDenied, match="technician may not recharge"):
        recharge(site, who(site, Role.TECHNICIAN), account(site).number, "10", CASH, new_key())
    target = account(site)
    with site.transaction() as session:
        session.get_one(Account, target.id).status = "closed"  # type: ignore[assignment]
    with pytest.raises(RechargeRefused, match="is closed"):
        recharge(site, cashier, target.number, "10", CASH, new_key())


def test_a_recharge_reports_a_cut_off_account_for_restoring(site: Database) -> None:
    target = account(site)
    with site.transaction() as session:
        session.get_one(Account, target.id).supply_state = SupplyState.CUT_OFF
    done = recharge(site, who(site, Role.CASHIER), target.number, "10", CASH, new_key())
    assert done.was_cut_off


def test_the_receipt_pdf_says_what_the_ledger_says_and_reprints_are_copies(
    site: Database, tmp_path: Path
) -> None:
    cashier = who(site, Role.CASHIER)
    target = account(site)
    done = recharge(site, cashier, target.number, "1,234.50", PaymentMethod.CARD, new_key())
    path = saved_receipt_pdf(site, tmp_path, done.receipt_number, "roll80")
    text = pdf_text(path)
    assert "No. 00000001" in text
    assert target.number in text
    assert target.holder_name in text
    assert "CNY 1,234.50" in text
    assert "card" in text
    assert "COPY" not in text
    copy = reprint_receipt(site, tmp_path, cashier, done.receipt_number, "a4")
    assert "COPY" in pdf_text(copy)
    with site.session() as session:
        assert session.scalars(select(Receipt)).one().print_count == 1
        assert session.scalars(
            select(AuditEvent).where(AuditEvent.action == "receipt.reprint")
        ).one()
    path.unlink()  # a lost file is made again from the receipt's row
    assert saved_receipt_pdf(site, tmp_path, done.receipt_number, "roll80").exists()


def test_an_edited_or_removed_audit_event_is_named_by_verify(site: Database) -> None:
    cashier = who(site, Role.CASHIER)
    for _ in range(3):
        recharge(site, cashier, account(site).number, "10", CASH, new_key())
    assert verify_ledger(site).ok
    with site.transaction() as session:
        session.execute(
            update(AuditEvent).where(AuditEvent.id == 2).values(after={"amount": 999999})
        )
    problems = [p.detail for p in verify_ledger(site).problems]
    assert problems == ["audit event 2 was changed after it was written"]
    with site.transaction() as session:
        last = session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
        assert last is not None
        session.delete(last)
    problems = [p.detail for p in verify_ledger(site).problems]
    assert any("events were removed" in p for p in problems)


def pdf_text(path: Path) -> str:
    return subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True, text=True
    ).stdout


def test_a_recharge_behind_a_lock_held_too_long_says_busy_and_credits_nothing(
    site: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if site.file_path is None:
        pytest.skip("SQLite's write lock; PostgreSQL's busy message is tested in the store")
    monkeypatch.setattr(database_module, "SQLITE_BUSY_TIMEOUT_MS", 200)  # not 45 s
    waiting = Database(sqlite_url_for(site.file_path.parent))  # made with the short wait
    cashier = who(site, Role.CASHIER)
    target = account(site)
    holder = sqlite3.connect(site.file_path, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")  # another console in the middle of a long change
        with pytest.raises(DatabaseBusy, match="is busy"):
            recharge(waiting, cashier, target.number, "5.00", CASH, "k-busy")
    finally:
        holder.close()
        waiting.dispose()
    assert account(site).balance_minor == target.balance_minor
    done = recharge(site, cashier, target.number, "5.00", CASH, "k-busy")  # tried again: once
    assert not done.replayed
    assert done.balance_after_minor == target.balance_minor + 500
