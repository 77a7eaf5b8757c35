"""The counter driven from the keyboard: search, Enter, amount, method, Enter, Enter; the saved
receipt PDF says what the ledger says; doubles and retries never credit twice."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot
from sqlalchemy import select

import app.views.counter_view as counter_module
from app.billing.money import Money
from app.demo.site import DEMO_PASSWORD
from app.queries.site_facts import SiteInfo
from app.services.operators import login
from app.services.settings import RECEIPT_PRINTING, change_setting
from app.store.database import Database
from app.store.models import Account, LedgerEntry, Receipt
from app.ui.background import wait_for_background
from app.views.counter_view import CounterView
from app.vocabulary import LedgerKind, PaymentMethod


@pytest.fixture
def counter(qtbot: QtBot, demo_db: Database, site: SiteInfo, tmp_path: Path) -> CounterView:
    cashier = login(demo_db, "cashier", DEMO_PASSWORD)
    admin = login(demo_db, "admin", DEMO_PASSWORD)
    with demo_db.transaction() as session:  # no printer here: save the PDF only
        change_setting(session, admin, RECEIPT_PRINTING, "none")
    view = CounterView(demo_db, site.currency, tmp_path / "data", lambda: cashier)
    qtbot.addWidget(view)
    view.resize(1200, 700)
    view.show()
    with qtbot.waitSignal(view.rows_loaded, timeout=10_000):
        view.reload()
    wait_for_background()
    return view


def target(db: Database) -> Account:
    with db.session() as session:
        account = session.scalars(select(Account).order_by(Account.id).offset(5).limit(1)).one()
        assert account.room is not None  # loaded while the session is open
        return account


def pdf_text(path: Path) -> str:
    done = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True)
    return done.stdout


def pick_room(qtbot: QtBot, view: CounterView, label: str) -> None:
    view.focus_search()
    qtbot.keyClicks(view.list.search, label.replace("-", "").lower())
    assert view.list.current_row().room_label == label
    qtbot.waitUntil(lambda: view._detail is not None and view._detail.row.room_label == label)
    qtbot.keyClick(view.list.search, Qt.Key.Key_Return)
    assert view.amount.hasFocus()


def test_keystrokes_to_a_saved_receipt_that_matches_the_ledger(
    qtbot: QtBot, counter: CounterView, demo_db: Database
) -> None:
    account = target(demo_db)
    room = account.room.label if account.room else ""
    pick_room(qtbot, counter, room)
    qtbot.keyClicks(counter.amount, "88.50")
    qtbot.keyClick(counter, Qt.Key.Key_F2)  # card
    assert counter.method is PaymentMethod.CARD
    qtbot.keyClick(counter.amount, Qt.Key.Key_Return)
    confirm = counter.confirm_dialog
    assert confirm.isVisible()
    assert f"¥88.50 to room {room}" in confirm.text
    for meter in counter._detail.meters if counter._detail else ():
        assert meter.serial in confirm.text
    qtbot.keyClick(confirm.confirm_button, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: counter.last_receipt is not None, timeout=10_000)
    assert counter.last_receipt is not None
    number, pdf = counter.last_receipt
    with demo_db.session() as session:
        receipt = session.scalars(select(Receipt).where(Receipt.number == number)).one()
        entry = session.get_one(LedgerEntry, receipt.ledger_entry_id)
        balance = session.get_one(Account, account.id).balance_minor
    assert (entry.kind, entry.amount_minor, entry.account_id) == (
        LedgerKind.RECHARGE,
        8850,
        account.id,
    )
    assert balance == account.balance_minor + 8850 == entry.balance_after_minor
    text = pdf_text(pdf)
    assert f"No. {number:08d}" in text
    for words in (
        room,
        account.holder_name,
        account.number,
        "card",
        f"CNY {Money(8850).grouped()}",
        f"CNY {Money(account.balance_minor).grouped()}",
        f"CNY {Money(balance).grouped()}",
        "Counter cashier",
    ):
        assert words in text, words
    assert "COPY" not in text
    assert counter.focusWidget() is counter.list.search  # ready for the next student
    assert f"Receipt {number:08d}" in counter.result_label.text()


def test_a_bad_amount_is_explained_at_the_field_and_nothing_is_paid(
    qtbot: QtBot, counter: CounterView, demo_db: Database
) -> None:
    account = target(demo_db)
    pick_room(qtbot, counter, account.room.label if account.room else "")
    qtbot.keyClicks(counter.amount, "12.345")
    assert "more than 2 decimal places" in counter.amount_error.text()
    qtbot.keyClick(counter.amount, Qt.Key.Key_Return)
    assert not hasattr(counter, "confirm_dialog")
    counter.amount.setText("20000")
    qtbot.keyClick(counter.amount, Qt.Key.Key_Return)
    qtbot.keyClick(counter.confirm_dialog.confirm_button, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: "single-recharge cap" in counter.amount_error.text(), timeout=10_000)
    with demo_db.session() as session:
        assert session.scalars(select(Receipt)).first() is None


def test_a_double_press_and_a_retry_after_an_error_credit_once(
    qtbot: QtBot, counter: CounterView, demo_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    account = target(demo_db)
    pick_room(qtbot, counter, account.room.label if account.room else "")
    qtbot.keyClicks(counter.amount, "10")
    real = counter_module.recharge_with_receipt
    calls: list[str] = []

    def lost_answer(*args: object) -> object:  # committed, but the answer never arrived
        result = real(*args)  # type: ignore[arg-type]
        calls.append("lost")
        if len(calls) == 1:
            raise TimeoutError("the database answer timed out")
        return result

    monkeypatch.setattr(counter_module, "recharge_with_receipt", lost_answer)
    counter.pay()
    counter.pay()  # a second press while the first is under way does nothing
    qtbot.waitUntil(lambda: "Not recharged" in counter.result_label.text(), timeout=10_000)
    counter.pay()  # the cashier tries again: the same form, the same key
    qtbot.waitUntil(lambda: counter.last_receipt is not None, timeout=10_000)
    assert calls == ["lost", "lost"]
    with demo_db.session() as session:
        entries = session.scalars(
            select(LedgerEntry).where(
                LedgerEntry.account_id == account.id, LedgerEntry.kind == LedgerKind.RECHARGE
            )
        ).all()
        new = [e for e in entries if e.idempotency_key and e.idempotency_key.startswith("rc-")]
        assert len(new) == 1
        assert session.get_one(Account, account.id).balance_minor == account.balance_minor + 1000


def test_reprint_is_a_copy(qtbot: QtBot, counter: CounterView, demo_db: Database) -> None:
    account = target(demo_db)
    pick_room(qtbot, counter, account.room.label if account.room else "")
    qtbot.keyClicks(counter.amount, "5")
    counter.pay()
    qtbot.waitUntil(lambda: counter.last_receipt is not None, timeout=10_000)
    qtbot.keyClick(counter, Qt.Key.Key_P, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: hasattr(counter, "last_copy"), timeout=10_000)
    assert "COPY" in pdf_text(counter.last_copy)
