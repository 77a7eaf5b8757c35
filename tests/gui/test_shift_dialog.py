"""Opening and closing a cashier's shift with the dialogs, driven with real keystrokes: the float,
the summary with the cash expected, the difference as the cashier types, the saved report."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QLineEdit

from app.application import make_application
from app.demo.site import DEMO_PASSWORD
from app.queries.accounts import list_accounts
from app.services.operators import SignedIn, login
from app.services.recharge import new_key, recharge
from app.services.shift_close import shift_summary
from app.services.shifts import current_shift, open_shift
from app.store.database import Database
from app.views import shift_dialog
from app.views.shift_dialog import CloseShiftDialog, OpenShiftDialog
from app.vocabulary import PaymentMethod

ENTER = Qt.Key.Key_Return
RED = "#b91c1c"


def type_into(qtbot, edit: QLineEdit, text: str, *, replace: bool = False) -> None:  # type: ignore[no-untyped-def]
    if replace:
        qtbot.keyClick(edit, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClicks(edit, text)


@pytest.fixture
def cashier(demo_db: Database) -> SignedIn:
    make_application()
    return login(demo_db, "cashier", DEMO_PASSWORD)


def shift_with_payments(db: Database, who: SignedIn) -> int:
    """A shift opened with 100.00 that took 50.00 cash and 20.00 by card: 150.00 expected."""
    shift_id = open_shift(db, who, "100").shift_id
    number = list_accounts(db)[0].number
    recharge(db, who, number, "50", PaymentMethod.CASH, new_key())
    recharge(db, who, number, "20", PaymentMethod.CARD, new_key())
    return shift_id


def shown_close_dialog(  # type: ignore[no-untyped-def]
    qtbot, db: Database, who: SignedIn, data_dir: Path, shift_id: int | None = None
) -> CloseShiftDialog:
    dialog = CloseShiftDialog(db, who, data_dir, shift_id=shift_id)
    qtbot.addWidget(dialog)
    with qtbot.waitSignal(dialog.summary_loaded, timeout=10_000):
        dialog.open()
    qtbot.waitExposed(dialog)
    return dialog


def test_a_shift_is_opened_with_the_float_typed(
    qtbot, demo_db: Database, cashier: SignedIn
) -> None:  # type: ignore[no-untyped-def]
    dialog = OpenShiftDialog(demo_db, cashier)
    qtbot.addWidget(dialog)
    dialog.open()
    qtbot.waitExposed(dialog)
    assert dialog.focusWidget() is dialog.float_edit
    assert "Counter cashier" in dialog.subtitle.text()

    type_into(qtbot, dialog.float_edit, "12,50")
    qtbot.keyClick(dialog.float_edit, ENTER)
    qtbot.waitUntil(lambda: dialog.float_error.isVisible(), timeout=10_000)
    assert "misplaced thousands separator" in dialog.float_error.text()
    assert dialog.isVisible()
    assert current_shift(demo_db, cashier.operator_id) is None
    assert dialog.focusWidget() is dialog.float_edit

    type_into(qtbot, dialog.float_edit, "250.50", replace=True)
    assert not dialog.float_error.isVisible(), "typing again takes the message away"
    with qtbot.waitSignal(dialog.shift_opened, timeout=10_000) as opened:
        qtbot.keyClick(dialog.float_edit, ENTER)
    assert not dialog.isVisible()
    info = current_shift(demo_db, cashier.operator_id)
    assert info is not None
    assert opened.args == [info]
    assert info.opening_float_minor == 25050


def test_opening_a_second_shift_says_why_not(qtbot, demo_db: Database, cashier: SignedIn) -> None:  # type: ignore[no-untyped-def]
    open_shift(demo_db, cashier, "0")
    dialog = OpenShiftDialog(demo_db, cashier)
    qtbot.addWidget(dialog)
    dialog.open()
    qtbot.waitExposed(dialog)
    type_into(qtbot, dialog.float_edit, "10")
    qtbot.keyClick(dialog.float_edit, ENTER)
    qtbot.waitUntil(lambda: dialog.error.isVisible(), timeout=10_000)
    assert "already has an open shift" in dialog.error.text()
    assert dialog.isVisible()


def test_the_close_dialog_counts_the_drawer_and_saves_the_report(  # type: ignore[no-untyped-def]
    qtbot, demo_db: Database, cashier: SignedIn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shift_id = shift_with_payments(demo_db, cashier)
    data_dir = tmp_path / "data"
    dialog = shown_close_dialog(qtbot, demo_db, cashier, data_dir)
    assert dialog.summary is not None
    assert dialog.summary.shift_id == shift_id
    assert dialog.expected_value.text() == "¥150.00"
    grid_texts = [
        dialog.grid.itemAt(i).widget().text()  # type: ignore[union-attr]
        for i in range(dialog.grid.count())
        if hasattr(dialog.grid.itemAt(i).widget(), "text")  # type: ignore[union-attr]
    ]
    assert grid_texts[:9] == [
        "Method",
        "Receipts",
        "Total",
        "Cash",
        "1",
        "¥50.00",
        "Card",
        "1",
        "¥20.00",
    ]
    assert "Opening float" in grid_texts
    assert "¥100.00" in grid_texts
    assert "2 transactions" in dialog.subtitle.text()
    assert dialog.focusWidget() is dialog.counted_edit
    assert dialog.difference_state() == "none"

    type_into(qtbot, dialog.counted_edit, "1")
    assert dialog.difference.text() == "Difference: -¥149.00 short"
    type_into(qtbot, dialog.counted_edit, "51")
    assert dialog.difference.text() == "Difference: +¥1.00 over"
    assert dialog.difference_state() == "over"
    qtbot.keyClick(dialog.counted_edit, Qt.Key.Key_Backspace)
    assert dialog.difference.text() == "Difference: -¥135.00 short"
    type_into(qtbot, dialog.counted_edit, "0")
    assert dialog.difference.text() == "Difference: ¥0.00 — the drawer matches"
    assert dialog.difference_state() == "even"
    type_into(qtbot, dialog.counted_edit, "149.00", replace=True)
    assert dialog.difference.text() == "Difference: -¥1.00 short"
    assert dialog.difference_state() == "short"
    color = dialog.difference.palette().color(QPalette.ColorRole.WindowText)
    assert color.name() == RED, "short is shown in red"
    dialog.grab().save(str(tmp_path / "before-close.png"))

    with qtbot.waitSignal(dialog.shift_closed, timeout=20_000) as closed:
        qtbot.keyClick(dialog.counted_edit, ENTER)
    result = closed.args[0]
    assert result.difference_minor == -100
    pdf = data_dir / "shifts" / f"shift-{shift_id:06d}.pdf"
    assert result.report_file == pdf
    assert pdf.read_bytes().startswith(b"%PDF")
    assert str(pdf) in dialog.done_note.text()
    assert dialog.done_note.isVisible()
    assert dialog.open_pdf_button.isVisible()
    assert not dialog.close_button.isVisible()
    assert dialog.counted_edit.isReadOnly()
    assert dialog.isVisible(), "the dialog stays to offer the report"
    assert shift_summary(demo_db, shift_id).counted_cash_minor == 14900
    assert current_shift(demo_db, cashier.operator_id) is None

    opened: list[QUrl] = []

    class FakeDesktop:
        @staticmethod
        def openUrl(url: QUrl) -> bool:
            opened.append(url)
            return True

    monkeypatch.setattr(shift_dialog, "QDesktopServices", FakeDesktop)
    qtbot.mouseClick(dialog.open_pdf_button, Qt.MouseButton.LeftButton)
    assert opened == [QUrl.fromLocalFile(str(pdf))]
    with qtbot.waitSignal(dialog.accepted, timeout=5_000):
        qtbot.keyClick(dialog.finish_button, ENTER)


def test_a_bad_count_is_shown_at_the_field_and_nothing_closes(  # type: ignore[no-untyped-def]
    qtbot, demo_db: Database, cashier: SignedIn, tmp_path: Path
) -> None:
    shift_id = shift_with_payments(demo_db, cashier)
    dialog = shown_close_dialog(qtbot, demo_db, cashier, tmp_path)
    qtbot.keyClick(dialog.counted_edit, ENTER)  # nothing typed
    qtbot.waitUntil(lambda: dialog.counted_error.isVisible(), timeout=10_000)
    assert "Count the cash in the drawer" in dialog.counted_error.text()
    type_into(qtbot, dialog.counted_edit, "-5")
    assert not dialog.counted_error.isVisible()
    assert dialog.difference_state() == "none"
    qtbot.keyClick(dialog.counted_edit, ENTER)
    qtbot.waitUntil(lambda: dialog.counted_error.isVisible(), timeout=10_000)
    assert "cannot be negative" in dialog.counted_error.text()
    assert dialog.isVisible()
    assert dialog.close_button.isEnabled()
    assert shift_summary(demo_db, shift_id).closed_at is None


def test_without_an_open_shift_there_is_nothing_to_close(  # type: ignore[no-untyped-def]
    qtbot, demo_db: Database, cashier: SignedIn, tmp_path: Path
) -> None:
    dialog = shown_close_dialog(qtbot, demo_db, cashier, tmp_path)
    assert dialog.summary is None
    assert "has no open shift" in dialog.subtitle.text()
    assert not dialog.close_button.isEnabled()
    assert not dialog.counted_edit.isEnabled()
    with qtbot.waitSignal(dialog.rejected, timeout=5_000):
        qtbot.keyClick(dialog, Qt.Key.Key_Escape)


def test_a_supervisor_closes_a_cashiers_shift_another_cashier_may_not(  # type: ignore[no-untyped-def]
    qtbot, demo_db: Database, cashier: SignedIn, tmp_path: Path
) -> None:
    shift_id = shift_with_payments(demo_db, cashier)
    office = login(demo_db, "office", DEMO_PASSWORD)
    refused = shown_close_dialog(qtbot, demo_db, office, tmp_path, shift_id)
    type_into(qtbot, refused.counted_edit, "150")
    qtbot.keyClick(refused.counted_edit, ENTER)
    qtbot.waitUntil(lambda: refused.error.isVisible(), timeout=10_000)
    assert "may not close another cashier's shift" in refused.error.text()
    assert shift_summary(demo_db, shift_id).closed_at is None

    supervisor = login(demo_db, "supervisor", DEMO_PASSWORD)
    dialog = shown_close_dialog(qtbot, demo_db, supervisor, tmp_path, shift_id)
    assert "Counter cashier" in dialog.subtitle.text()
    type_into(qtbot, dialog.counted_edit, "150")
    with qtbot.waitSignal(dialog.shift_closed, timeout=20_000):
        qtbot.keyClick(dialog.counted_edit, ENTER)
    summary = shift_summary(demo_db, shift_id)
    assert summary.closed_by_name == "Duty supervisor"
    assert summary.difference_minor == 0
