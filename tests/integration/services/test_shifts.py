"""Cashier shifts: the summary of what a shift took by method and what its drawer should hold,
the close with the counted cash and its PDF report, who may close whose shift, on SQLite and
PostgreSQL."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import select, update

from app.services.corrections import adjust, refund
from app.services.ledger_verify import verify_ledger
from app.services.operators import SignedIn
from app.services.permissions import PermissionDenied
from app.services.recharge import RechargeDone, new_key, recharge
from app.services.shift_close import NO_METHOD, MethodTotal, close_shift, shift_summary
from app.services.shifts import ShiftRefused, current_shift, list_open_shifts, open_shift
from app.store.database import Database
from app.store.models import Account, AuditEvent, Receipt, Shift
from app.vocabulary import PaymentMethod, ReceiptKind, Role
from tests.integration.services.counter_support import small_site, who

CASH, CARD = PaymentMethod.CASH, PaymentMethod.CARD


@pytest.fixture
def site(db: Database) -> Database:
    return small_site(db)


def accounts(db: Database) -> list[Account]:
    with db.session() as session:
        return list(session.scalars(select(Account).order_by(Account.id)).all())


def pay(db: Database, by: SignedIn, index: int, amount: str, method: PaymentMethod) -> RechargeDone:
    return recharge(db, by, accounts(db)[index].number, amount, method, new_key())


def shift_id_of(db: Database, by: SignedIn) -> int:
    info = current_shift(db, by.operator_id)
    assert info is not None
    return info.shift_id


def pdf_text(path: Path) -> str:
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed")
    done = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, check=True)
    return done.stdout.decode("utf-8")


def test_the_summary_totals_each_method_and_expects_float_plus_cash(site: Database) -> None:
    cashier = who(site, Role.CASHIER)
    opened = open_shift(site, cashier, "200.00")
    done = [
        pay(site, cashier, 0, "50.00", CASH),
        pay(site, cashier, 1, "120.50", CARD),
        pay(site, cashier, 2, "30.25", CASH),
        pay(site, cashier, 0, "1,000", CARD),
    ]
    summary = shift_summary(site, opened.shift_id)
    assert summary.operator_name == "Counter cashier"
    assert summary.closed_at is None
    assert summary.opened_at.utcoffset() is not None, "times are site-local and aware"
    assert [line.number for line in summary.lines] == [d.receipt_number for d in done]
    assert [line.amount_minor for line in summary.lines] == [5000, 12050, 3025, 100000]
    assert [line.method for line in summary.lines] == ["cash", "card", "cash", "card"]
    assert summary.lines[1].account == accounts(site)[1].number
    assert summary.lines[1].room
    assert summary.totals == (MethodTotal("cash", 2, 8025), MethodTotal("card", 2, 112050))
    assert summary.count == 4
    assert summary.opening_float_minor == 20000
    assert (summary.cash_received_minor, summary.cash_paid_out_minor) == (8025, 0)
    assert summary.cash_expected_minor == 20000 + 8025
    assert summary.difference_minor is None


def test_closing_short_by_one_writes_the_report_and_audits_the_count(
    site: Database, tmp_path: Path
) -> None:
    cashier = who(site, Role.CASHIER)
    shift_id = open_shift(site, cashier, "100").shift_id
    done = [
        pay(site, cashier, 0, "50.00", CASH),
        pay(site, cashier, 1, "88.80", CARD),
        pay(site, cashier, 2, "12.30", CASH),
    ]
    expected = 10000 + 5000 + 1230
    closed = close_shift(site, cashier, shift_id, "161.30", tmp_path)  # 162.30 expected
    assert closed.cash_expected_minor == expected
    assert closed.counted_cash_minor == expected - 100
    assert closed.difference_minor == -100
    assert closed.report_file == tmp_path / "shifts" / f"shift-{shift_id:06d}.pdf"
    assert closed.report_file.exists()
    assert not list((tmp_path / "shifts").glob("*.part"))

    with site.session() as session:
        row = session.get_one(Shift, shift_id)
        assert row.closed_at is not None
        assert row.closed_by_id == cashier.operator_id
        assert row.counted_cash_minor == expected - 100
        assert row.report_path == f"shifts/shift-{shift_id:06d}.pdf"
        assert (tmp_path / row.report_path).exists()
        event = session.scalars(select(AuditEvent).where(AuditEvent.action == "shift.close")).one()
        assert event.operator_id == cashier.operator_id
        assert event.target_id == str(shift_id)
        assert event.after is not None
        assert (event.after["expected"], event.after["counted"], event.after["difference"]) == (
            expected,
            expected - 100,
            -100,
        )
    again = shift_summary(site, shift_id)
    assert again.closed_by_name == "Counter cashier"
    assert again.difference_minor == -100

    text = pdf_text(closed.report_file)
    for d in done:
        assert f"{d.receipt_number:08d}" in text
    assert "Counter cashier" in text
    assert re.search(r"cash, 2 receipts\s+62\.30\n", text)
    assert re.search(r"card, 1 receipt\s+88\.80\n", text)
    assert re.search(r"Opening float\s+100\.00\n", text)
    assert re.search(r"Cash expected in drawer\s+162\.30\n", text)
    assert re.search(r"Cash counted\s+161\.30\n", text)
    assert re.search(r"Difference\s+-1\.00\n", text)
    assert verify_ledger(site).ok


def test_a_cashier_may_not_close_anothers_shift_but_a_supervisor_may(
    site: Database, tmp_path: Path
) -> None:
    cashier, office = who(site, Role.CASHIER), who(site, Role.OFFICE)
    supervisor = who(site, Role.SUPERVISOR)
    pay(site, cashier, 0, "10", CASH)
    shift_id = shift_id_of(site, cashier)
    open_shift(site, office, "0")
    assert [(s.shift_id, s.operator_name, s.receipt_count) for s in list_open_shifts(site)] == [
        (shift_id, "Counter cashier", 1),
        (shift_id_of(site, office), "Office staff", 0),
    ]
    with pytest.raises(PermissionDenied, match="close another cashier's shift; ask a supervisor"):
        close_shift(site, office, shift_id, "10", tmp_path)
    with pytest.raises(PermissionDenied, match="technician may not close a shift"):
        close_shift(site, who(site, Role.TECHNICIAN), shift_id, "10", tmp_path)
    assert not (tmp_path / "shifts").exists()
    assert current_shift(site, cashier.operator_id) is not None

    closed = close_shift(site, supervisor, shift_id, "10.00", tmp_path)
    assert closed.difference_minor == 0
    assert closed.summary.closed_by_name == "Duty supervisor"
    assert closed.summary.operator_name == "Counter cashier"
    text = pdf_text(closed.report_file)
    assert "Closed by: Duty supervisor" in text
    assert [s.operator_name for s in list_open_shifts(site)] == ["Office staff"]


def test_closing_twice_is_refused_and_the_next_payment_opens_a_new_shift(
    site: Database, tmp_path: Path
) -> None:
    cashier = who(site, Role.CASHIER)
    first = pay(site, cashier, 0, "25", CASH)
    shift_id = shift_id_of(site, cashier)
    close_shift(site, cashier, shift_id, "25", tmp_path)
    report = (tmp_path / "shifts" / f"shift-{shift_id:06d}.pdf").read_bytes()
    with pytest.raises(ShiftRefused, match=rf"Shift {shift_id} was already closed by Counter"):
        close_shift(site, cashier, shift_id, "30", tmp_path)
    with site.session() as session:
        assert session.get_one(Shift, shift_id).counted_cash_minor == 2500
        assert (
            len(session.scalars(select(AuditEvent).where(AuditEvent.action == "shift.close")).all())
            == 1
        )
    assert (tmp_path / "shifts" / f"shift-{shift_id:06d}.pdf").read_bytes() == report
    assert current_shift(site, cashier.operator_id) is None

    second = pay(site, cashier, 1, "40", CASH)
    new_id = shift_id_of(site, cashier)
    assert new_id != shift_id
    assert [line.number for line in shift_summary(site, new_id).lines] == [second.receipt_number]
    assert [line.number for line in shift_summary(site, shift_id).lines] == [first.receipt_number]
    assert shift_summary(site, new_id).opening_float_minor == 0


@pytest.mark.parametrize(
    ("counted", "message"),
    [
        ("", "Count the cash in the drawer"),
        ("-1", "cannot be negative"),
        ("12.345", "more than 2 decimal places"),
        ("ten", "not a number"),
    ],
)
def test_a_bad_count_is_refused_at_the_field_and_nothing_is_closed(
    site: Database, tmp_path: Path, counted: str, message: str
) -> None:
    cashier = who(site, Role.CASHIER)
    pay(site, cashier, 0, "10", CASH)
    shift_id = shift_id_of(site, cashier)
    with pytest.raises(ShiftRefused, match=message) as refused:
        close_shift(site, cashier, shift_id, counted, tmp_path)
    assert refused.value.field == "counted"
    assert current_shift(site, cashier.operator_id) is not None
    assert not (tmp_path / "shifts").exists()
    with pytest.raises(ShiftRefused, match="There is no shift 9999"):
        close_shift(site, cashier, 9999, "1", tmp_path)


def test_a_report_that_cannot_be_written_leaves_the_shift_open(
    site: Database, tmp_path: Path
) -> None:
    cashier = who(site, Role.CASHIER)
    pay(site, cashier, 0, "10", CASH)
    shift_id = shift_id_of(site, cashier)
    blocked = tmp_path / "data"
    blocked.mkdir()
    (blocked / "shifts").write_text("a file where the folder should be")
    with pytest.raises(
        ShiftRefused, match=r"could not be saved.*the shift is still open"
    ) as refused:
        close_shift(site, cashier, shift_id, "10", blocked)
    assert refused.value.field == ""
    with site.session() as session:
        row = session.get_one(Shift, shift_id)
        assert (row.closed_at, row.counted_cash_minor, row.report_path) == (None, None, "")
        assert not session.scalars(
            select(AuditEvent).where(AuditEvent.action == "shift.close")
        ).all()
    closed = close_shift(site, cashier, shift_id, "10", tmp_path / "elsewhere")
    assert closed.report_file.exists()


def test_a_refund_paid_out_in_cash_lowers_the_cash_expected(site: Database, tmp_path: Path) -> None:
    supervisor = who(site, Role.SUPERVISOR)
    shift_id = open_shift(site, supervisor, "300").shift_id
    target = max(accounts(site), key=lambda a: a.balance_minor)
    pay(site, supervisor, 1, "20", CARD)
    recharge(site, supervisor, target.number, "80", CASH, new_key())
    done = refund(site, supervisor, target.number, "35.50", CASH, "moved out", None, new_key())
    assert done.receipt_number is not None
    summary = shift_summary(site, shift_id)
    assert summary.lines[-1].kind is ReceiptKind.REFUND
    assert summary.lines[-1].amount_minor == -3550
    assert (summary.cash_received_minor, summary.cash_paid_out_minor) == (8000, 3550)
    assert summary.totals == (MethodTotal("cash", 2, 4450), MethodTotal("card", 1, 2000))
    assert summary.cash_expected_minor == 30000 + 8000 - 3550
    closed = close_shift(site, supervisor, shift_id, "344.50", tmp_path)
    assert closed.difference_minor == 0
    text = pdf_text(closed.report_file)
    assert "-35.50" in text
    assert "refund" in text


def test_receipts_without_a_method_are_listed_as_none_and_never_count_as_cash(
    site: Database,
) -> None:
    supervisor = who(site, Role.SUPERVISOR)
    shift_id = open_shift(site, supervisor, "10").shift_id
    pay(site, supervisor, 0, "5", CASH)
    done = adjust(
        site, supervisor, accounts(site)[1].number, "+7.00", "meter misread", None, new_key()
    )
    # An adjustment moves no money across the counter, so the service leaves it out of every
    # shift; put it into this one to prove the summary would not count it as cash.
    with site.transaction() as session:
        session.execute(
            update(Receipt).where(Receipt.number == done.receipt_number).values(shift_id=shift_id)
        )
    summary = shift_summary(site, shift_id)
    assert [line.method for line in summary.lines] == ["cash", NO_METHOD]
    assert summary.totals == (MethodTotal("cash", 1, 500), MethodTotal(NO_METHOD, 1, 700))
    assert summary.cash_expected_minor == 1000 + 500
