"""The account dialogs and the Accounts screen's action bar, driven with real keystrokes: refund,
adjustment and reversal with a reason and a supervisor, open, move, settle and reopen; what a
cashier and office staff may not do."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from PySide6.QtCore import QDate, Qt
from PySide6.QtWidgets import QWidget
from sqlalchemy import select

from app.application import make_application
from app.demo.site import DEMO_PASSWORD
from app.queries.accounts import AccountRow, list_accounts
from app.services.account_life import open_form_choices
from app.services.account_settlement import settle_account
from app.services.corrections import refund
from app.services.operators import SignedIn, login
from app.services.permissions import PERMISSIONS, Action, PermissionDenied
from app.services.recharge import new_key, recharge
from app.services.settings import RECEIPT_PRINTING, change_setting
from app.store.database import Database
from app.store.models import Account, LedgerEntry, Meter, Receipt
from app.ui.formatting import money_text
from app.views.account_dialogs import AccountDialog, chosen_method
from app.views.account_life_dialogs import (
    MoveDialog,
    OpenAccountDialog,
    ReopenDialog,
    SettleDialog,
)
from app.views.accounts_view import AccountsView
from app.views.correction_dialogs import (
    AdjustDialog,
    EntryChoice,
    RefundDialog,
    ReverseDialog,
    entry_choices,
)
from app.vocabulary import AccountStatus, LedgerKind, PaymentMethod, ReceiptKind, Role

# The room combo's completer opens a popup as one types; the offscreen platform says it cannot
# raise it nor grab the keyboard for it, which is harmless there (the popup still filters).
pytestmark = pytest.mark.qt_log_ignore(
    "This plugin does not support raise", "This plugin does not support grabbing the keyboard"
)

ENTER = Qt.Key.Key_Return
TAB = Qt.Key.Key_Tab
CURRENCY = "CNY"


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def admin(demo_db: Database) -> SignedIn:
    """Receipts are saved as PDF but not printed (no print dialog in a test)."""
    make_application()
    who = login(demo_db, "admin", DEMO_PASSWORD)  # before the transaction: login writes too
    with demo_db.transaction() as session:
        change_setting(session, who, RECEIPT_PRINTING, "none")
    return who


def sign_in(db: Database, role: Role) -> SignedIn:
    return login(db, role.value, DEMO_PASSWORD)


def rich_account(db: Database) -> AccountRow:
    """The open account with the biggest balance."""
    rows = [r for r in list_accounts(db) if r.status is AccountStatus.OPEN]
    return max(rows, key=lambda r: r.balance_minor)


def row_of(db: Database, number: str) -> AccountRow:
    return next(r for r in list_accounts(db) if r.number == number)


def entries(db: Database, account_id: int, kind: LedgerKind) -> list[LedgerEntry]:
    with db.session() as session:
        return list(
            session.scalars(
                select(LedgerEntry)
                .where(LedgerEntry.account_id == account_id, LedgerEntry.kind == kind)
                .order_by(LedgerEntry.id)
            )
        )


def free_a_room(db: Database, who: SignedIn, skip: str = "") -> tuple[str, AccountRow]:
    """Settle an account with a small positive balance; its room is empty now."""
    row = next(
        r
        for r in list_accounts(db)
        if r.status is AccountStatus.OPEN and r.balance_minor > 0 and r.number != skip
    )
    settle_account(db, who, row.number, PaymentMethod.CASH, new_key())
    assert row.room_label in open_form_choices(db).empty_rooms
    return row.room_label, row


def shown(qtbot, dialog: AccountDialog, *, loaded: bool = False) -> AccountDialog:  # type: ignore[no-untyped-def]
    qtbot.addWidget(dialog)
    if loaded:
        with qtbot.waitSignal(dialog.loaded, timeout=10_000):  # type: ignore[attr-defined]
            dialog.open()
    else:
        dialog.open()
    qtbot.waitExposed(dialog)
    return dialog


def confirm_and_wait(qtbot, dialog: AccountDialog, widget: QWidget) -> list[object]:  # type: ignore[no-untyped-def]
    """Enter in ``widget``; the args of ``done``."""
    with qtbot.waitSignal(dialog.done, timeout=15_000) as done:
        qtbot.keyClick(widget, ENTER)
    return list(done.args)


# -- refund, adjust, reverse ---------------------------------------------------------------------


def test_a_supervisor_refunds_with_a_reason_and_gets_a_receipt(  # type: ignore[no-untyped-def]
    qtbot, demo_db: Database, admin: SignedIn, data_dir: Path
) -> None:
    supervisor = sign_in(demo_db, Role.SUPERVISOR)
    account = rich_account(demo_db)
    dialog = shown(qtbot, RefundDialog(demo_db, supervisor, data_dir, CURRENCY, account))
    assert isinstance(dialog, RefundDialog)
    assert dialog.approver_user is None, "a supervisor approves himself"
    assert dialog.focusWidget() is dialog.amount
    assert account.room_label in dialog.subtitle.text()

    qtbot.keyClicks(dialog.amount, "25.50")
    qtbot.keyClick(dialog.amount, TAB)
    assert dialog.focusWidget() is dialog.method
    qtbot.keyClicks(dialog.method, "Tr")  # keyboard search in the combo: Transfer
    assert chosen_method(dialog.method) is PaymentMethod.TRANSFER
    qtbot.keyClick(dialog.method, TAB)
    assert dialog.focusWidget() is dialog.reason
    qtbot.keyClicks(dialog.reason, "Moved out  early ")
    args = confirm_and_wait(qtbot, dialog, dialog.reason)
    qtbot.keyClick(dialog.close_button, ENTER)  # a second Enter closes; it posts nothing more

    assert args == [account.id, account.number]
    (entry,) = entries(demo_db, account.id, LedgerKind.REFUND)
    assert entry.amount_minor == -2550
    assert entry.operator_id == supervisor.operator_id
    assert entry.approved_by_id == supervisor.operator_id
    assert entry.reason == "Moved out early"
    assert entry.balance_after_minor == account.balance_minor - 2550
    with demo_db.session() as session:
        receipt = session.scalars(select(Receipt).where(Receipt.ledger_entry_id == entry.id)).one()
    assert receipt.kind is ReceiptKind.REFUND
    assert receipt.method is PaymentMethod.TRANSFER
    assert dialog.receipt_pdf == data_dir / "receipts" / f"receipt-{receipt.number:08d}.pdf"
    assert dialog.receipt_pdf.read_bytes().startswith(b"%PDF")
    assert f"{receipt.number:08d}" in dialog.result_note.text()
    assert "Refunded ¥25.50 by transfer" in dialog.result_note.text()
    assert not dialog.isVisible()


def test_a_cashier_cannot_refund(  # type: ignore[no-untyped-def]
    qtbot, demo_db: Database, admin: SignedIn, data_dir: Path
) -> None:
    assert Action.REFUND not in PERMISSIONS[Role.CASHIER]
    cashier = sign_in(demo_db, Role.CASHIER)
    account = rich_account(demo_db)
    dialog = shown(qtbot, RefundDialog(demo_db, cashier, data_dir, CURRENCY, account))
    assert not dialog.confirm_button.isEnabled()
    assert dialog.error.isVisible()
    assert "Cashier" in dialog.error.text()
    assert isinstance(dialog, RefundDialog)
    assert not dialog.amount.isEnabled()
    assert dialog.approver_user is None, "no approval can make up for a missing permission"
    qtbot.keyClick(dialog, ENTER)
    qtbot.wait(100)
    assert dialog.isVisible()
    assert not dialog.busy
    assert dialog.result is None
    assert entries(demo_db, account.id, LedgerKind.REFUND) == []
    with pytest.raises(PermissionDenied, match="may not refund"):  # the service refuses too
        refund(demo_db, cashier, account.number, "10", PaymentMethod.CASH, "x", None, new_key())


def test_approval_on_the_spot_signs_a_supervisor_in(  # type: ignore[no-untyped-def]
    qtbot, demo_db: Database, admin: SignedIn, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Office staff may refund but not approve: a supervisor signs in inside the dialog."""
    office = sign_in(demo_db, Role.OFFICE)
    supervisor = sign_in(demo_db, Role.SUPERVISOR)
    account = rich_account(demo_db)
    dialog = shown(qtbot, RefundDialog(demo_db, office, data_dir, CURRENCY, account))
    assert isinstance(dialog, RefundDialog)
    assert dialog.approver_user is not None
    assert dialog.approver_password is not None
    assert dialog.confirm_button.isEnabled()
    qtbot.keyClicks(dialog.amount, "10")
    dialog.reason.setFocus()
    qtbot.keyClicks(dialog.reason, "deposit returned")
    qtbot.keyClick(dialog.reason, ENTER)
    assert "must approve" in dialog.field_error("approver")
    assert dialog.focusWidget() is dialog.approver_user

    qtbot.keyClicks(dialog.approver_user, "supervisor")
    qtbot.keyClick(dialog.approver_user, TAB)
    qtbot.keyClicks(dialog.approver_password, "wrong password")
    key = dialog.key
    qtbot.keyClick(dialog.approver_password, ENTER)
    qtbot.waitUntil(lambda: bool(dialog.field_error("approver")), timeout=10_000)
    assert "wrong" in dialog.field_error("approver")
    assert dialog.approver_password.text() == ""
    assert dialog.focusWidget() is dialog.approver_password
    assert entries(demo_db, account.id, LedgerKind.REFUND) == []

    qtbot.keyClicks(dialog.approver_password, DEMO_PASSWORD)
    confirm_and_wait(qtbot, dialog, dialog.approver_password)
    assert dialog.key == key, "the retry kept the form's key"
    (entry,) = entries(demo_db, account.id, LedgerKind.REFUND)
    assert entry.operator_id == office.operator_id
    assert entry.approved_by_id == supervisor.operator_id


def test_an_adjustment_without_a_reason_is_refused_at_the_reason(  # type: ignore[no-untyped-def]
    qtbot, demo_db: Database, admin: SignedIn, data_dir: Path
) -> None:
    supervisor = sign_in(demo_db, Role.SUPERVISOR)
    account = rich_account(demo_db)
    dialog = shown(qtbot, AdjustDialog(demo_db, supervisor, data_dir, CURRENCY, account))
    assert isinstance(dialog, AdjustDialog)
    qtbot.keyClicks(dialog.amount, "-5")
    assert dialog.effect.text() == "Takes ¥5.00 off the balance."
    qtbot.keyClick(dialog.amount, ENTER)
    qtbot.waitUntil(lambda: bool(dialog.field_error("reason")), timeout=10_000)
    assert "Give a reason" in dialog.field_error("reason")
    assert dialog.field_error("amount") == ""
    assert not dialog.error.isVisible()
    assert dialog.focusWidget() is dialog.reason
    assert dialog.isVisible()
    assert entries(demo_db, account.id, LedgerKind.ADJUSTMENT) == []

    qtbot.keyClicks(dialog.reason, "meter misread in March")
    assert dialog.field_error("reason") == "", "typing takes the message away"
    confirm_and_wait(qtbot, dialog, dialog.reason)
    (entry,) = entries(demo_db, account.id, LedgerKind.ADJUSTMENT)
    assert entry.amount_minor == -500
    assert entry.approved_by_id == supervisor.operator_id
    assert dialog.receipt_pdf is not None
    assert dialog.receipt_pdf.exists()
    qtbot.keyClick(dialog, Qt.Key.Key_Escape)
    assert not dialog.isVisible()


def test_a_recharge_is_reversed_with_a_reason(  # type: ignore[no-untyped-def]
    qtbot, demo_db: Database, admin: SignedIn, data_dir: Path
) -> None:
    cashier = sign_in(demo_db, Role.CASHIER)
    supervisor = sign_in(demo_db, Role.SUPERVISOR)
    account = rich_account(demo_db)
    recharge(demo_db, cashier, account.number, "30", PaymentMethod.CASH, new_key())
    (wrong,) = entries(demo_db, account.id, LedgerKind.RECHARGE)[-1:]
    choices = [
        EntryChoice(wrong.id, wrong.created_at, wrong.kind, wrong.amount_minor, "", wrong.reference)
    ]
    dialog = ReverseDialog(demo_db, supervisor, data_dir, CURRENCY, account, entries=choices)
    shown(qtbot, dialog)
    assert dialog.entry.currentData() == wrong.id
    assert "¥30.00" in dialog.entry.currentText()
    dialog.reason.setFocus()
    qtbot.keyClicks(dialog.reason, "credited to the wrong room")
    confirm_and_wait(qtbot, dialog, dialog.reason)
    (reversal,) = entries(demo_db, account.id, LedgerKind.REVERSAL)
    assert reversal.reverses_id == wrong.id
    assert reversal.amount_minor == -3000
    assert reversal.approved_by_id == supervisor.operator_id
    assert dialog.receipt_pdf is None, "a reversal issues no receipt"
    assert f"Entry {wrong.id} reversed" in dialog.result_note.text()


def test_entry_choices_offer_only_what_can_be_reversed() -> None:
    class Line:
        def __init__(self, entry_id: int, kind: LedgerKind, reference: str = "") -> None:
            self.entry_id, self.kind, self.reference = entry_id, kind, reference
            self.created_at, self.amount_minor, self.reason = None, 100, ""

    lines = [
        Line(9, LedgerKind.REVERSAL, "reverses entry 7"),
        Line(8, LedgerKind.CONSUMPTION),
        Line(7, LedgerKind.RECHARGE),
        Line(6, LedgerKind.ADJUSTMENT),
        Line(5, LedgerKind.SETTLEMENT),
        Line(4, LedgerKind.REFUND),
    ]
    assert [c.entry_id for c in entry_choices(lines)] == [6, 4]  # type: ignore[arg-type]


# -- the Accounts screen's action bar -------------------------------------------------------------


def accounts_view(qtbot, db: Database, who: SignedIn, data_dir: Path) -> AccountsView:  # type: ignore[no-untyped-def]
    view = AccountsView(db, CURRENCY, operator=lambda: who, data_dir=data_dir)
    qtbot.addWidget(view)
    view.resize(1300, 800)
    view.show()
    with qtbot.waitSignal(view.rows_loaded, timeout=10_000):
        view.reload()
    return view


def test_a_cashier_sees_money_and_account_actions_switched_off(  # type: ignore[no-untyped-def]
    qtbot, demo_db: Database, admin: SignedIn, data_dir: Path
) -> None:
    cashier = sign_in(demo_db, Role.CASHIER)
    view = accounts_view(qtbot, demo_db, cashier, data_dir)
    assert view.action_bar.isVisible()
    assert view.list.current_id() is not None
    for key in ("new", "move", "settle", "reopen", "refund", "adjust", "reverse", "statement"):
        assert not view.action_buttons[key].isEnabled(), key
    tip = view.action_buttons["refund"].toolTip()
    assert "Only Office staff, Supervisor or Administrator may do this" in tip
    assert "signed in as Cashier" in tip
    assert "Office staff" in view.action_buttons["settle"].toolTip()
    qtbot.keyClick(view, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    view.open_action("refund")
    assert view.dialog is None


def test_without_an_operator_the_action_bar_is_hidden(qtbot, demo_db: Database) -> None:  # type: ignore[no-untyped-def]
    make_application()
    view = AccountsView(demo_db, CURRENCY)
    qtbot.addWidget(view)
    view.show()
    assert not view.action_bar.isVisible()


def test_a_supervisor_refunds_from_the_screen_and_the_account_stays_chosen(  # type: ignore[no-untyped-def]
    qtbot, demo_db: Database, admin: SignedIn, data_dir: Path
) -> None:
    supervisor = sign_in(demo_db, Role.SUPERVISOR)
    view = accounts_view(qtbot, demo_db, supervisor, data_dir)
    account = rich_account(demo_db)
    view.list.search.setText(account.number)
    assert view.list.current_id() == account.id
    assert view.action_buttons["refund"].isEnabled()
    assert not view.action_buttons["reopen"].isEnabled(), "only a closed account is reopened"
    qtbot.mouseClick(view.action_buttons["refund"], Qt.MouseButton.LeftButton)
    dialog = view.dialog
    assert isinstance(dialog, RefundDialog)
    qtbot.waitExposed(dialog)
    qtbot.keyClicks(dialog.amount, "1")
    dialog.reason.setFocus()
    qtbot.keyClicks(dialog.reason, "overpaid")
    with qtbot.waitSignal(view.rows_loaded, timeout=15_000):
        qtbot.keyClick(dialog.reason, ENTER)
    assert view.list.current_id() == account.id
    expected = account.balance_minor - 100
    assert view.list.current_row().balance_minor == expected
    qtbot.waitUntil(
        lambda: view.detail.shown is not None and view.detail.shown.row.balance_minor == expected,
        timeout=10_000,
    )


def test_office_staff_open_an_account_in_a_freed_room(  # type: ignore[no-untyped-def]
    qtbot, demo_db: Database, admin: SignedIn, data_dir: Path
) -> None:
    office = sign_in(demo_db, Role.OFFICE)
    room, _gone = free_a_room(demo_db, office)
    view = accounts_view(qtbot, demo_db, office, data_dir)
    assert not view.action_buttons["refund"].isEnabled()
    assert view.action_buttons["new"].isEnabled()
    qtbot.keyClick(view, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    dialog = view.dialog
    assert isinstance(dialog, OpenAccountDialog)
    qtbot.waitSignal(dialog.loaded, timeout=10_000).wait()
    assert dialog.room.findText(room) >= 0, "the freed room is offered"
    assert dialog.focusWidget() is dialog.holder_name

    qtbot.keyClicks(dialog.holder_name, "Chen Jie ")
    dialog.holder_name.insert("陈杰")  # what an input method commits (QTest types ASCII only)
    qtbot.keyClick(dialog.holder_name, TAB)
    qtbot.keyClicks(dialog.holder_ref, "2026001234")
    qtbot.keyClick(dialog.holder_ref, TAB)
    qtbot.keyClicks(dialog.phone, "13800000000")
    qtbot.keyClick(dialog.phone, TAB)
    assert dialog.room.hasFocus()
    qtbot.keyClicks(dialog.room, room)
    dialog.policy.setFocus()
    qtbot.keyClicks(dialog.policy, "Student")
    assert dialog.policy.currentText() == "Student dormitory"
    electricity = dialog.tariff_combos[next(iter(dialog.tariff_combos))]
    qtbot.keyClicks(electricity, "Dorm")
    for combo in dialog.tariff_combos.values():
        if combo.currentIndex() < 0:
            qtbot.keyClicks(combo, combo.itemText(0)[:4])
    dialog.opening.setFocus()
    qtbot.keyClicks(dialog.opening, "100")
    with qtbot.waitSignal(view.rows_loaded, timeout=15_000):
        args = confirm_and_wait(qtbot, dialog, dialog.opening)
    assert dialog.room.currentText() == room

    new_id, number = args
    assert view.list.model.total_count == 241
    assert view.list.current_id() == new_id
    row = view.list.current_row()
    assert (row.number, row.room_label, row.holder_name) == (number, room, "Chen Jie 陈杰")
    assert row.balance_minor == 10000
    assert row.meter_serials, "the room's meters came with it"
    (opening,) = entries(demo_db, new_id, LedgerKind.RECHARGE)
    assert opening.amount_minor == 10000
    assert dialog.receipt_pdf is not None
    assert dialog.receipt_pdf.exists()
    assert f"Account {number} opened" in dialog.result_note.text()


def test_an_opening_balance_typed_wrong_is_shown_at_the_amount(  # type: ignore[no-untyped-def]
    qtbot, demo_db: Database, admin: SignedIn, data_dir: Path
) -> None:
    office = sign_in(demo_db, Role.OFFICE)
    room, _gone = free_a_room(demo_db, office)
    dialog = shown(qtbot, OpenAccountDialog(demo_db, office, data_dir, CURRENCY), loaded=True)
    assert isinstance(dialog, OpenAccountDialog)
    qtbot.keyClicks(dialog.holder_name, "Chen Jie")
    qtbot.keyClick(dialog.holder_name, ENTER)
    qtbot.waitUntil(lambda: bool(dialog.field_error("room")), timeout=10_000)
    assert "no room" in dialog.field_error("room")
    dialog.room.setFocus()
    qtbot.keyClicks(dialog.room, room)
    dialog.policy.setCurrentIndex(0)
    for combo in dialog.tariff_combos.values():
        combo.setCurrentIndex(0)
    dialog.opening.setFocus()
    qtbot.keyClicks(dialog.opening, "12,5")
    qtbot.keyClick(dialog.opening, ENTER)
    qtbot.waitUntil(lambda: bool(dialog.field_error("amount")), timeout=10_000)
    assert "thousands separator" in dialog.field_error("amount")
    assert dialog.focusWidget() is dialog.opening
    assert not dialog.finished_ok


def test_an_account_moves_to_an_empty_room_with_its_balance(  # type: ignore[no-untyped-def]
    qtbot, demo_db: Database, admin: SignedIn, data_dir: Path
) -> None:
    office = sign_in(demo_db, Role.OFFICE)
    account = rich_account(demo_db)
    room, _gone = free_a_room(demo_db, office, skip=account.number)
    dialog = shown(qtbot, MoveDialog(demo_db, office, data_dir, CURRENCY, account), loaded=True)
    assert isinstance(dialog, MoveDialog)
    assert dialog.focusWidget() is dialog.room
    qtbot.keyClicks(dialog.room, room)
    args = confirm_and_wait(qtbot, dialog, dialog.room)
    assert args == [account.id, account.number]
    moved = row_of(demo_db, account.number)
    assert moved.room_label == room
    assert moved.balance_minor == account.balance_minor
    assert set(moved.meter_serials).isdisjoint(account.meter_serials)
    assert f"from room {account.room_label} to room {room}" in dialog.result_note.text()


def test_settling_pays_the_remainder_back_with_a_settlement_receipt(  # type: ignore[no-untyped-def]
    qtbot, demo_db: Database, admin: SignedIn, data_dir: Path
) -> None:
    office = sign_in(demo_db, Role.OFFICE)
    account = rich_account(demo_db)
    dialog = shown(qtbot, SettleDialog(demo_db, office, data_dir, CURRENCY, account), loaded=True)
    assert isinstance(dialog, SettleDialog)
    posted_first: list[int] = []  # what the runtime is asked to post before the final bill
    dialog.before_settle = posted_first.append
    balance = money_text(account.balance_minor, CURRENCY)
    assert dialog.balance.text() == f"Balance {balance}"
    assert "is paid back to the holder" in dialog.meaning.text()
    assert dialog.row_label("method").text() == "Paid back &by"
    assert dialog.focusWidget() is dialog.method

    # An approver is optional; one named must be allowed to approve.
    assert dialog.approver_user is not None
    assert dialog.approver_password is not None
    qtbot.keyClicks(dialog.approver_user, "cashier")
    qtbot.keyClick(dialog.approver_user, TAB)
    qtbot.keyClicks(dialog.approver_password, DEMO_PASSWORD)
    qtbot.keyClick(dialog.approver_password, ENTER)
    qtbot.waitUntil(lambda: bool(dialog.field_error("approver")), timeout=10_000)
    assert "may not approve" in dialog.field_error("approver")
    assert entries(demo_db, account.id, LedgerKind.SETTLEMENT) == []
    qtbot.keyClick(dialog.approver_user, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(dialog.approver_user, Qt.Key.Key_Backspace)
    args = confirm_and_wait(qtbot, dialog, dialog.approver_user)
    assert posted_first == [account.id]
    assert args == [account.id, account.number]

    with demo_db.session() as session:
        closed = session.get_one(Account, account.id)
        assert closed.status is AccountStatus.CLOSED
        assert closed.balance_minor == 0
        meters = session.scalars(select(Meter).where(Meter.account_id == account.id)).all()
        assert meters == [], "the meters are freed for the next holder"
    (entry,) = entries(demo_db, account.id, LedgerKind.SETTLEMENT)
    assert entry.amount_minor == -account.balance_minor
    text = dialog.result_note.text()
    assert f"{balance} paid back by cash" in text
    assert "Final readings:" in text
    for serial in account.meter_serials:
        assert serial in text
    assert dialog.receipt_pdf is not None
    assert dialog.receipt_pdf.exists()
    assert dialog.open_pdf_button.isVisible()
    with demo_db.session() as session:
        receipt = session.scalars(select(Receipt).where(Receipt.ledger_entry_id == entry.id)).one()
    assert receipt.kind is ReceiptKind.SETTLEMENT
    assert f"Receipt {receipt.number:08d}" in text


def test_a_closed_account_is_reopened_in_an_empty_room(  # type: ignore[no-untyped-def]
    qtbot, demo_db: Database, admin: SignedIn, data_dir: Path
) -> None:
    office = sign_in(demo_db, Role.OFFICE)
    room, gone = free_a_room(demo_db, office)
    view = accounts_view(qtbot, demo_db, office, data_dir)
    view.list.search.setText(gone.number)
    assert view.list.current_id() == gone.id
    for key in ("move", "settle", "refund"):
        assert not view.action_buttons[key].isEnabled()
    assert "is closed" in view.action_buttons["move"].toolTip()
    assert view.action_buttons["reopen"].isEnabled()
    view.open_action("reopen")
    dialog = view.dialog
    assert isinstance(dialog, ReopenDialog)
    qtbot.waitSignal(dialog.loaded, timeout=10_000).wait()
    assert dialog.holder_name.text() == gone.holder_name
    assert dialog.policy.currentIndex() >= 0, "the closed account's policy is filled in"
    assert dialog.focusWidget() is dialog.room
    qtbot.keyClicks(dialog.room, room)
    with qtbot.waitSignal(view.rows_loaded, timeout=15_000):
        new_id, _number = confirm_and_wait(qtbot, dialog, dialog.room)
    with demo_db.session() as session:
        new = session.get_one(Account, new_id)
        assert new.reopened_from_id == gone.id
        assert new.holder_name == gone.holder_name
    assert view.list.current_id() == new_id
    assert view.list.current_row().room_label == room
    assert f"follows closed account {gone.number}" in dialog.result_note.text()


def test_office_staff_save_an_accounts_statement(  # type: ignore[no-untyped-def]
    qtbot, demo_db: Database, data_dir: Path
) -> None:
    clerk = sign_in(demo_db, Role.OFFICE)
    view = accounts_view(qtbot, demo_db, clerk, data_dir)
    row = view.list.current_row()
    assert row is not None
    assert view.action_buttons["statement"].isEnabled()
    month = QDate.currentDate().toString("yyyy-MM")
    target = data_dir / "statements" / f"statement-{row.number}-{month}.pdf"
    with qtbot.waitSignal(view.statement_saved, timeout=60_000) as saved:
        view.save_statement(row.number, month, target)
    assert saved.args[0] == target
    text = subprocess.run(
        ["pdftotext", str(target), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert row.number in text
    assert "Closing balance" in text or "closing balance" in text.lower()
