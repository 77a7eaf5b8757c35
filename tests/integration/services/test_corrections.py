"""Refunds, adjustments and reversals: who may, who approves, what the ledger, the receipts and
the audit trail say, every refusal, one posting per key; on SQLite and PostgreSQL."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select, update

from app.billing.money import Money
from app.services.corrections import (
    CorrectionRefused,
    adjust,
    approval,
    refund,
    reverse,
)
from app.services.ledger_verify import verify_ledger
from app.services.operators import SignedIn
from app.services.permissions import PermissionDenied
from app.services.recharge import new_key, recharge
from app.services.shifts import current_shift
from app.store.database import Database
from app.store.models import Account, AuditEvent, LedgerEntry, Operator, Receipt
from app.vocabulary import AccountStatus, LedgerKind, PaymentMethod, ReceiptKind, Role
from tests.integration.services.counter_support import account, small_site, who

CASH = PaymentMethod.CASH
ASK = "A refund needs a supervisor's approval: ask a supervisor to sign in on the spot."


@pytest.fixture
def site(db: Database) -> Database:
    return small_site(db)


def funded(db: Database, amount: str = "100.00", index: int = 0) -> Account:
    """The account after a cashier paid ``amount`` in (so it has money to refund)."""
    target = account(db, index)
    recharge(db, who(db, Role.CASHIER), target.number, amount, CASH, new_key())
    return account(db, index)


def entry(db: Database, entry_id: int) -> LedgerEntry:
    with db.session() as session:
        return session.get_one(LedgerEntry, entry_id)


def receipts(db: Database) -> list[Receipt]:
    with db.session() as session:
        return list(session.scalars(select(Receipt).order_by(Receipt.number)))


def events(db: Database, action: str) -> list[AuditEvent]:
    with db.session() as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def ok(db: Database) -> None:
    report = verify_ledger(db)
    assert report.ok, report.problems


def test_a_supervisor_refunds_alone_with_a_receipt_in_his_shift(site: Database) -> None:
    supervisor = who(site, Role.SUPERVISOR)
    target = funded(site)
    done = refund(
        site, supervisor, target.number, "30.50", CASH, "  moving out early ", None, "rf-1"
    )
    assert (done.kind, done.amount_minor, done.replayed) == (LedgerKind.REFUND, -3050, False)
    assert done.balance_before_minor == target.balance_minor
    assert done.balance_after_minor == target.balance_minor - 3050
    assert account(site).balance_minor == done.balance_after_minor
    posted = entry(site, done.entry_id)
    assert (posted.kind, posted.amount_minor, posted.reason) == (
        LedgerKind.REFUND,
        -3050,
        "moving out early",
    )
    assert posted.operator_id == posted.approved_by_id == supervisor.operator_id
    assert posted.idempotency_key == "rf-1"
    assert posted.reference == f"receipt {done.receipt_number}"
    receipt = receipts(site)[-1]
    assert receipt.number == done.receipt_number == 2  # after the recharge's receipt 1
    assert (receipt.kind, receipt.method, receipt.amount_minor) == (ReceiptKind.REFUND, CASH, -3050)
    assert receipt.balance_after_minor == done.balance_after_minor
    shift = current_shift(site, supervisor.operator_id)
    assert shift is not None
    assert receipt.shift_id == shift.shift_id
    assert receipt.content is not None
    assert receipt.content["reason"] == "moving out early"
    assert receipt.content["approved_by"] == "Duty supervisor"
    assert receipt.content["operator"] == "Duty supervisor"
    (event,) = events(site, "account.refund")
    assert event.operator_id == supervisor.operator_id
    assert event.target_id == target.number
    assert event.before == {"balance": target.balance_minor}
    assert event.after is not None
    assert event.after["balance"] == done.balance_after_minor
    assert event.after["amount"] == -3050
    assert event.after["approved_by"] == supervisor.operator_id
    assert event.after["receipt"] == done.receipt_number
    ok(site)


def test_a_supervisor_may_name_another_supervisor_as_approver(site: Database) -> None:
    supervisor, admin = who(site, Role.SUPERVISOR), who(site, Role.ADMIN)
    target = funded(site)
    done = refund(site, supervisor, target.number, "10", CASH, "overpaid", admin, new_key())
    assert done.approved_by_id == admin.operator_id
    posted = entry(site, done.entry_id)
    assert (posted.operator_id, posted.approved_by_id) == (
        supervisor.operator_id,
        admin.operator_id,
    )
    assert (receipts(site)[-1].content or {})["approved_by"] == "Site administrator"
    ok(site)


def test_cashiers_never_refund_and_office_staff_only_with_a_supervisor_on_the_spot(
    site: Database,
) -> None:
    supervisor, office = who(site, Role.SUPERVISOR), who(site, Role.OFFICE)
    target = funded(site)
    with pytest.raises(PermissionDenied, match="A cashier may not refund; ask office staff"):
        refund(site, who(site, Role.CASHIER), target.number, "10", CASH, "x", supervisor, "k1")
    with pytest.raises(PermissionDenied, match="needs a supervisor's approval"):
        refund(site, office, target.number, "10", CASH, "x", None, "k2")
    with pytest.raises(PermissionDenied, match="needs a supervisor's approval"):
        adjust(site, office, target.number, "+5", "x", None, "k3")
    with pytest.raises(PermissionDenied, match="technician may not adjust balances"):
        reverse(site, who(site, Role.TECHNICIAN), 1, "x", supervisor, "k4")
    assert account(site).balance_minor == target.balance_minor
    assert len(receipts(site)) == 1
    assert not events(site, "account.refund") + events(site, "account.adjust")
    done = refund(site, office, target.number, "10", CASH, "deposit back", supervisor, "k5")
    assert done.approved_by_id == supervisor.operator_id
    assert account(site).balance_minor == target.balance_minor - 1000
    ok(site)


def test_the_approval_rule() -> None:
    cashier = SignedIn(1, "cashier", "Counter cashier", Role.CASHIER)
    office = SignedIn(2, "office", "Office staff", Role.OFFICE)
    supervisor = SignedIn(3, "supervisor", "Duty supervisor", Role.SUPERVISOR)
    admin = SignedIn(4, "admin", "Site administrator", Role.ADMIN)
    assert approval(supervisor, None, "a refund") is supervisor
    assert approval(supervisor, supervisor, "a refund") is supervisor
    assert approval(admin, None, "a refund") is admin
    assert approval(supervisor, admin, "a refund") is admin
    assert approval(office, supervisor, "an adjustment") is supervisor
    for alone in (None, cashier):
        with pytest.raises(PermissionDenied) as refused:
            approval(cashier, alone, "a refund")
        assert str(refused.value) == ASK
    with pytest.raises(PermissionDenied, match=r"^An adjustment needs a supervisor's approval"):
        approval(office, None, "an adjustment")
    with pytest.raises(PermissionDenied, match=r"Office staff \(office\) may not approve a refund"):
        approval(cashier, office, "a refund")


def test_an_approver_switched_off_since_signing_in_cannot_approve(site: Database) -> None:
    supervisor, admin = who(site, Role.SUPERVISOR), who(site, Role.ADMIN)
    target = funded(site)
    with site.transaction() as session:
        session.execute(
            update(Operator).where(Operator.id == admin.operator_id).values(active=False)
        )
    with pytest.raises(PermissionDenied, match="may no longer approve"):
        refund(site, supervisor, target.number, "10", CASH, "overpaid", admin, new_key())
    assert account(site).balance_minor == target.balance_minor
    ok(site)


def test_a_refund_takes_at_most_the_balance(site: Database) -> None:
    supervisor = who(site, Role.SUPERVISOR)
    target = funded(site)
    most = str(Money(target.balance_minor))
    over = str(Money(target.balance_minor + 1))
    shown = re.escape(Money(target.balance_minor).display())
    with pytest.raises(CorrectionRefused, match=f"; refund at most {shown}.$") as refused:
        refund(site, supervisor, target.number, over, CASH, "leaving", None, new_key())
    assert refused.value.field == "amount"
    for amount, message in [
        ("0", "more than zero"),
        ("-5", "more than zero"),
        ("1.234", "more than 2 decimal places"),
        ("ten", "not a number"),
    ]:
        with pytest.raises(CorrectionRefused, match=message):
            refund(site, supervisor, target.number, amount, CASH, "leaving", None, new_key())
    done = refund(site, supervisor, target.number, most, CASH, "leaving", None, new_key())
    assert done.balance_after_minor == 0
    with pytest.raises(CorrectionRefused, match=r"has no money to refund: its balance is ¥0\.00"):
        refund(site, supervisor, target.number, "0.01", CASH, "leaving", None, new_key())
    with pytest.raises(CorrectionRefused, match="no account 'X-1'") as refused:
        refund(site, supervisor, "X-1", "1", CASH, "leaving", None, new_key())
    assert refused.value.field == "account"
    assert len(receipts(site)) == 2
    ok(site)


def test_a_reason_is_required_and_short(site: Database) -> None:
    supervisor = who(site, Role.SUPERVISOR)
    target = funded(site)
    for blank in ("", "   \n "):
        with pytest.raises(CorrectionRefused, match="Give a reason") as refused:
            refund(site, supervisor, target.number, "1", CASH, blank, None, new_key())
        assert refused.value.field == "reason"
        with pytest.raises(CorrectionRefused, match="Give a reason"):
            adjust(site, supervisor, target.number, "1", blank, None, new_key())
        with pytest.raises(CorrectionRefused, match="Give a reason"):
            reverse(site, supervisor, 1, blank, None, new_key())
    with pytest.raises(CorrectionRefused, match="The reason has 301 characters; say it in at most"):
        adjust(site, supervisor, target.number, "1", "x" * 301, None, new_key())
    adjust(site, supervisor, target.number, "1", "x" * 300, None, new_key())
    with pytest.raises(CorrectionRefused, match="idempotency key must have 1 to 80"):
        adjust(site, supervisor, target.number, "1", "why", None, " ")
    ok(site)


def test_adjustments_take_either_sign_with_a_receipt_and_no_payment_method(
    site: Database,
) -> None:
    supervisor = who(site, Role.SUPERVISOR)
    target = account(site)
    down = adjust(site, supervisor, target.number, "-12.30", "meter misread", None, new_key())
    up = adjust(site, supervisor, target.number, "+5", "goodwill", None, new_key())
    assert (down.kind, down.amount_minor, up.amount_minor) == (LedgerKind.ADJUSTMENT, -1230, 500)
    assert up.balance_after_minor == target.balance_minor - 730 == account(site).balance_minor
    shift = current_shift(site, supervisor.operator_id)
    assert shift is not None
    assert [(r.number, r.kind, r.method, r.amount_minor, r.shift_id) for r in receipts(site)] == [
        (1, ReceiptKind.ADJUSTMENT, None, -1230, shift.shift_id),
        (2, ReceiptKind.ADJUSTMENT, None, 500, shift.shift_id),
    ]
    assert (receipts(site)[0].content or {})["reason"] == "meter misread"
    assert entry(site, up.entry_id).approved_by_id == supervisor.operator_id
    assert entry(site, up.entry_id).reason == "goodwill"
    assert [e.after["amount"] for e in events(site, "account.adjust") if e.after] == [-1230, 500]
    with pytest.raises(CorrectionRefused, match="An adjustment of zero changes nothing"):
        adjust(site, supervisor, target.number, "-0.00", "nothing", None, new_key())
    ok(site)


def test_a_reversal_undoes_one_entry_exactly_and_only_once(site: Database) -> None:
    supervisor = who(site, Role.SUPERVISOR)
    target = account(site)
    paid = recharge(site, who(site, Role.CASHIER), target.number, "40", CASH, new_key())
    with site.session() as session:
        recharge_id = session.scalars(
            select(LedgerEntry.id).where(LedgerEntry.kind == LedgerKind.RECHARGE)
        ).one()
    done = reverse(site, supervisor, recharge_id, "credited the wrong room", None, "rv-1")
    assert (done.kind, done.amount_minor, done.reverses_id) == (
        LedgerKind.REVERSAL,
        -4000,
        recharge_id,
    )
    assert done.receipt_number is None
    assert done.balance_after_minor == paid.balance_before_minor == account(site).balance_minor
    posted = entry(site, done.entry_id)
    assert (posted.reverses_id, posted.approved_by_id, posted.reason) == (
        recharge_id,
        supervisor.operator_id,
        "credited the wrong room",
    )
    assert len(receipts(site)) == 1  # a reversal issues no receipt
    (event,) = events(site, "account.reverse")
    assert event.after is not None
    assert event.after["reverses"] == recharge_id
    ok(site)
    with pytest.raises(CorrectionRefused, match=f"already reversed by entry {done.entry_id}"):
        reverse(site, supervisor, recharge_id, "again", None, new_key())
    with pytest.raises(
        CorrectionRefused, match=rf"Entry {done.entry_id} \(reversal\) cannot be reversed"
    ):
        reverse(site, supervisor, done.entry_id, "undo the undo", None, new_key())
    with pytest.raises(CorrectionRefused, match="no ledger entry 999999") as refused:
        reverse(site, supervisor, 999_999, "typo", None, new_key())
    assert refused.value.field == "entry"
    ok(site)


def test_consumption_and_opening_entries_are_not_reversed(site: Database) -> None:
    supervisor = who(site, Role.SUPERVISOR)
    with site.session() as session:
        usage = session.scalars(
            select(LedgerEntry.id).where(LedgerEntry.kind == LedgerKind.CONSUMPTION)
        ).first()
        opening = session.scalars(
            select(LedgerEntry.id).where(LedgerEntry.kind == LedgerKind.OPENING)
        ).first()
    assert usage is not None
    assert opening is not None
    with pytest.raises(CorrectionRefused, match=r"usage billed from the meters.*adjustment"):
        reverse(site, supervisor, usage, "disputed", None, new_key())
    with pytest.raises(
        CorrectionRefused, match=rf"Entry {opening} \(opening\) cannot be reversed: only recharge"
    ):
        reverse(site, supervisor, opening, "disputed", None, new_key())
    ok(site)


def test_a_refund_and_an_adjustment_can_be_reversed(site: Database) -> None:
    supervisor = who(site, Role.SUPERVISOR)
    target = funded(site)
    paid_out = refund(site, supervisor, target.number, "25", CASH, "leaving", None, new_key())
    undone = reverse(site, supervisor, paid_out.entry_id, "stays after all", None, new_key())
    assert undone.amount_minor == 2500
    fixed = adjust(site, supervisor, target.number, "-3", "fee", None, new_key())
    reverse(site, supervisor, fixed.entry_id, "fee waived", None, new_key())
    assert account(site).balance_minor == target.balance_minor
    ok(site)


def test_the_same_key_never_moves_money_twice(site: Database) -> None:
    supervisor = who(site, Role.SUPERVISOR)
    target = funded(site)
    first = refund(site, supervisor, target.number, "10", CASH, "leaving", None, "rf-k")
    again = refund(site, supervisor, target.number, "10.00", CASH, "leaving", None, "rf-k")
    assert again.replayed
    assert (again.entry_id, again.receipt_number, again.balance_after_minor) == (
        first.entry_id,
        first.receipt_number,
        first.balance_after_minor,
    )
    with pytest.raises(CorrectionRefused, match="already used") as refused:
        refund(site, supervisor, target.number, "11", CASH, "leaving", None, "rf-k")
    assert refused.value.field == "key"
    with pytest.raises(CorrectionRefused, match="already used"):
        adjust(site, supervisor, target.number, "-10", "leaving", None, "rf-k")
    a1 = adjust(site, supervisor, target.number, "+2", "goodwill", None, "ad-k")
    a2 = adjust(site, supervisor, target.number, "2", "goodwill", None, "ad-k")
    assert a2.replayed
    assert a2.entry_id == a1.entry_id
    r1 = reverse(site, supervisor, a1.entry_id, "no", None, "rv-k")
    r2 = reverse(site, supervisor, a1.entry_id, "no", None, "rv-k")
    assert r2.replayed
    assert r2.entry_id == r1.entry_id
    assert account(site).balance_minor == target.balance_minor - 1000
    assert [r.number for r in receipts(site)] == [1, 2, 3]
    ok(site)


def test_a_closed_account_takes_no_correction(site: Database) -> None:
    supervisor = who(site, Role.SUPERVISOR)
    target = funded(site)
    with site.transaction() as session:
        session.get_one(Account, target.id).status = AccountStatus.CLOSED
    with pytest.raises(CorrectionRefused, match=f"Account {target.number} is closed"):
        refund(site, supervisor, target.number, "1", CASH, "leaving", None, new_key())
    with pytest.raises(CorrectionRefused, match="is closed"):
        adjust(site, supervisor, target.number, "1", "x", None, new_key())
    with site.session() as session:
        paid = session.scalars(
            select(LedgerEntry.id).where(LedgerEntry.kind == LedgerKind.RECHARGE)
        ).one()
    with pytest.raises(CorrectionRefused, match="is closed"):
        reverse(site, supervisor, paid, "x", None, new_key())
    ok(site)
