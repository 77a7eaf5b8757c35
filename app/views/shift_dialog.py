"""Opening and closing a cashier's shift at the counter.

``OpenShiftDialog`` asks for the cash already in the drawer. ``CloseShiftDialog`` shows what the
shift took by payment method and the cash expected in the drawer, takes the counted cash (the
difference shows as the cashier types), closes the shift and offers the saved PDF report.

Every database call runs on the background pool (``app.ui.background``); results come back on
the GUI thread. A refusal the operator can fix (``ShiftRefused``, ``PermissionDenied``) is
returned from the background function instead of raised, so its ``field`` survives the trip and
the message is shown at that field; anything else is shown as an unexpected error.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import shiboken6
from PySide6.QtCore import QCoreApplication, Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QShowEvent
from PySide6.QtWidgets import (
    QDialogButtonBox,
    QFormLayout,
    QFrame,
    QGridLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.billing.money import Money, MoneyError
from app.services.operators import SignedIn
from app.services.permissions import PermissionDenied
from app.services.shift_close import (
    NO_METHOD,
    ClosedShift,
    ShiftSummary,
    close_shift,
    shift_summary,
)
from app.services.shifts import ShiftRefused, current_shift, open_shift
from app.store.database import Database
from app.ui.background import run_in_background
from app.ui.formatting import money_text
from app.views.form_dialog import FormDialog, label, with_notes

DIALOG_WIDTH = 500

# The form look is the theme's (``app.views.form_dialog``); the summary's rules are only here.
_SHEET = """
QLabel#columnHead { color: #64748b; font-weight: 600; }
QFrame#shiftSummary { background: #f8fafc; border: 1px solid #e2e8f0; border-radius: 8px; }
QFrame#rule { background: #e2e8f0; max-height: 1px; min-height: 1px; border: none; }
QLabel#expectedLabel, QLabel#expectedValue { font-weight: 700; color: #0f172a; }
QLabel#expectedValue { font-size: 13pt; }
QLabel#difference { font-size: 11pt; font-weight: 600; color: #64748b; }
QLabel#difference[state="short"] { color: #b91c1c; }
QLabel#difference[state="over"] { color: #b45309; }
QLabel#difference[state="even"] { color: #15803d; }
"""

_Refusal = (ShiftRefused, PermissionDenied)


def method_label(method: str) -> str:
    """A payment method as the cashier reads it ("Campus card")."""
    labels = {
        "cash": QCoreApplication.translate("ShiftDialog", "Cash"),
        "card": QCoreApplication.translate("ShiftDialog", "Card"),
        "transfer": QCoreApplication.translate("ShiftDialog", "Transfer"),
        "campus": QCoreApplication.translate("ShiftDialog", "Campus card"),
        NO_METHOD: QCoreApplication.translate("ShiftDialog", "No method (adjustments)"),
    }
    return labels.get(method, method)


def _amount_edit(name: str) -> QLineEdit:
    edit = QLineEdit()
    edit.setObjectName(name)
    edit.setPlaceholderText("0.00")
    edit.setAlignment(Qt.AlignmentFlag.AlignRight)
    edit.setMaxLength(20)
    edit.setMinimumWidth(200)
    return edit


class _ShiftForm(FormDialog):
    """Title, subtitle, body, an error line and the buttons, at a fixed width whose height
    follows what is shown."""

    def __init__(self, parent: QWidget | None) -> None:
        super().__init__(DIALOG_WIDTH, parent)
        self.setStyleSheet(_SHEET)
        self.content = QVBoxLayout()
        self.content.setSpacing(10)
        self.add_middle(self.content)

    def _in_background(
        self,
        work: Callable[[], Any],
        on_done: Callable[[Any], None],
        on_error: Callable[[str], None],
    ) -> None:
        """``run_in_background`` whose result is dropped if this dialog was deleted meanwhile.

        Not with ``owner=self``: a relay parented to a dialog that Python deletes while the
        relay's deleteLater is still pending (the caller drops the dialog right after its
        result signal) crashes PySide 6.12 in ~QObject. The pending callbacks keep the Python
        wrapper alive; ``shiboken6.isValid`` says whether the widget itself still exists.
        """

        def done(result: object) -> None:
            if shiboken6.isValid(self):
                on_done(result)

        def failed(message: str) -> None:
            if shiboken6.isValid(self):
                on_error(message)

        run_in_background(work, done, failed)


class OpenShiftDialog(_ShiftForm):
    """Open the operator's shift with an opening float; ``shift_opened`` carries the
    ``ShiftInfo`` (GUI thread) just before the dialog is accepted."""

    shift_opened = Signal(object)

    def __init__(self, db: Database, operator: SignedIn, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._db = db
        self._operator = operator
        self.setWindowTitle(self.tr("Open shift"))
        self.title.setText(self.tr("Open shift"))
        self.subtitle.setText(
            self.tr(
                "{name}: count the cash already in the drawer and type it as the opening float "
                "(0 for an empty drawer)."
            ).format(name=operator.display_name)
        )
        self.float_edit = _amount_edit("openingFloat")
        self.float_error = label("", "fieldError")
        self.float_error.hide()
        form = QFormLayout()
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        form.addRow(self.tr("Opening &float"), with_notes(self.float_edit, self.float_error))
        self.content.addLayout(form)
        self.float_edit.textEdited.connect(self._clear_errors)

        self.open_button = QPushButton(self.tr("Open shift"))
        self.open_button.setDefault(True)
        self.buttons.addButton(self.open_button, QDialogButtonBox.ButtonRole.AcceptRole)
        self.open_button.clicked.connect(self._confirm)
        cancel = self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        cancel.setAutoDefault(False)
        cancel.clicked.connect(self.reject)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.float_edit.setFocus(Qt.FocusReason.OtherFocusReason)

    def _clear_errors(self) -> None:
        self.float_error.hide()
        self.show_error("")

    def _confirm(self) -> None:
        if self._busy:
            return
        self._set_busy(True)
        db, operator, text = self._db, self._operator, self.float_edit.text()

        def work() -> object:
            try:
                return open_shift(db, operator, text)
            except _Refusal as exc:
                return exc

        self._in_background(work, self._done, self._failed)

    def _set_busy(self, busy: bool) -> None:
        self._busy = busy
        self.open_button.setEnabled(not busy)
        self.float_edit.setReadOnly(busy)

    def _done(self, result: object) -> None:
        self._set_busy(False)
        if isinstance(result, ShiftRefused) and result.field == "float":
            self.show_at(self.float_error, str(result), self.float_edit)
            return
        if isinstance(result, Exception):
            self.show_error(str(result))
            return
        self.shift_opened.emit(result)
        self.accept()

    def _failed(self, message: str) -> None:
        self._set_busy(False)
        self.show_error(self.tr("The shift was not opened: {error}").format(error=message))


class CloseShiftDialog(_ShiftForm):
    """Close a shift: the operator's own open shift, or with ``shift_id`` a given one (a
    supervisor closing a shift someone left open). Signals arrive on the GUI thread:
    ``summary_loaded`` carries the ``ShiftSummary`` shown (or None: nothing to close),
    ``shift_closed`` the ``ClosedShift`` once the report is saved."""

    summary_loaded = Signal(object)
    shift_closed = Signal(object)

    def __init__(
        self,
        db: Database,
        operator: SignedIn,
        data_dir: Path,
        parent: QWidget | None = None,
        *,
        shift_id: int | None = None,
    ) -> None:
        super().__init__(parent)
        self._db = db
        self._operator = operator
        self._data_dir = data_dir
        self._summary: ShiftSummary | None = None
        self._closed: ClosedShift | None = None
        self.setWindowTitle(self.tr("Close shift"))
        self.title.setText(self.tr("Close shift"))
        self.subtitle.setText(self.tr("Loading the shift…"))

        self.summary_frame = QFrame()
        self.summary_frame.setObjectName("shiftSummary")
        self.grid = QGridLayout(self.summary_frame)
        self.grid.setContentsMargins(14, 10, 14, 10)
        self.grid.setHorizontalSpacing(16)
        self.grid.setVerticalSpacing(5)
        self.grid.setColumnStretch(0, 1)
        self.summary_frame.hide()
        self.expected_value = QLabel()  # the cash expected, once the summary is shown

        self.counted_edit = _amount_edit("countedCash")
        self.counted_edit.setEnabled(False)
        self.difference = label("", "difference")
        self.counted_error = label("", "fieldError")
        self.counted_error.hide()
        self.form = QFormLayout()
        self.form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.form.addRow(
            self.tr("&Counted cash"),
            with_notes(self.counted_edit, self.difference, self.counted_error),
        )
        self.done_note = label("", "doneNote")
        self.done_note.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.done_note.hide()
        self.content.addWidget(self.summary_frame)
        self.content.addLayout(self.form)
        self.content.addWidget(self.done_note)
        self.counted_edit.textChanged.connect(self._update_difference)
        self.counted_edit.textEdited.connect(self._clear_errors)

        self.close_button = QPushButton(self.tr("Close shift"))
        self.close_button.setEnabled(False)
        self.finish_button = self.add_buttons(self.close_button, self._confirm, self.open_pdf)
        self._update_difference()
        self._load(shift_id)

    @property
    def summary(self) -> ShiftSummary | None:
        return self._summary

    @property
    def closed(self) -> ClosedShift | None:
        return self._closed

    # -- loading -----------------------------------------------------------------------------

    def _load(self, shift_id: int | None) -> None:
        # Not busy: Esc may leave while the shift loads (a slow server must not trap anyone).
        db, operator_id = self._db, self._operator.operator_id

        def work() -> ShiftSummary | None:
            target = shift_id
            if target is None:
                info = current_shift(db, operator_id)
                if info is None:
                    return None
                target = info.shift_id
            return shift_summary(db, target)

        self._in_background(work, self._loaded, self._load_failed)

    def _loaded(self, result: object) -> None:
        summary = result if isinstance(result, ShiftSummary) else None
        self._summary = summary
        if summary is None:
            self.subtitle.setText(
                self.tr("{name} has no open shift: there is nothing to close.").format(
                    name=self._operator.display_name
                )
            )
        elif summary.is_closed:
            self._show_summary(summary)
            self.subtitle.setText(
                self.tr("Shift {id} of {name} is already closed; its report is {path}.").format(
                    id=summary.shift_id, name=summary.operator_name, path=summary.report_path
                )
            )
        else:
            self._show_summary(summary)
            self.counted_edit.setEnabled(True)
            self.close_button.setEnabled(True)
            self._update_difference()
            self.counted_edit.setFocus(Qt.FocusReason.OtherFocusReason)
        self.fit()
        self.summary_loaded.emit(summary)

    def _load_failed(self, message: str) -> None:
        self.subtitle.setText(self.tr("The shift could not be loaded."))
        self.show_error(message)
        self.summary_loaded.emit(None)

    def _money(self, minor: int) -> str:
        assert self._summary is not None
        return money_text(minor, self._summary.currency)

    def _show_summary(self, summary: ShiftSummary) -> None:
        self._summary = summary
        opened = summary.opened_at.strftime("%Y-%m-%d %H:%M")
        self.subtitle.setText(
            (
                self.tr("{name} · shift {id} · opened {opened} · 1 transaction")
                if summary.count == 1
                else self.tr("{name} · shift {id} · opened {opened} · {count} transactions")
            ).format(
                name=summary.operator_name, id=summary.shift_id, opened=opened, count=summary.count
            )
        )
        while self.grid.count():
            item = self.grid.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.deleteLater()
        left = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
        right = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
        row = 0

        def add(cells: list[str], name: str = "", last_name: str = "") -> QLabel:
            nonlocal row
            label = QLabel()
            for column, text in enumerate(cells):
                label = QLabel(text)
                label.setObjectName(last_name if last_name and column == len(cells) - 1 else name)
                self.grid.addWidget(label, row, column, right if column else left)
                label.show()  # the frame may be on screen already (a summary shown again)
            row += 1
            return label

        def rule() -> None:
            nonlocal row
            line = QFrame()
            line.setObjectName("rule")
            self.grid.addWidget(line, row, 0, 1, 3)
            line.show()
            row += 1

        add([self.tr("Method"), self.tr("Receipts"), self.tr("Total")], "columnHead")
        for total in summary.totals:
            add([method_label(total.method), str(total.count), self._money(total.total_minor)])
        if not summary.totals:
            add([self.tr("No payments in this shift"), "0", self._money(0)])
        rule()
        add([self.tr("Opening float"), "", self._money(summary.opening_float_minor)])
        add([self.tr("Cash received"), "", self._money(summary.cash_received_minor)])
        add([self.tr("Cash paid out"), "", self._money(-summary.cash_paid_out_minor)])
        rule()
        self.expected_value = add(
            [self.tr("Cash expected in drawer"), "", self._money(summary.cash_expected_minor)],
            "expectedLabel",
            "expectedValue",
        )
        self.summary_frame.show()

    # -- the count ---------------------------------------------------------------------------

    def counted_minor(self) -> int | None:
        """The amount typed, or None while it is not a usable amount."""
        if self._summary is None or not self.counted_edit.text().strip():
            return None
        try:
            counted = Money.parse(self.counted_edit.text(), self._summary.currency)
        except MoneyError:
            return None
        return counted.minor if counted.minor >= 0 else None

    def _update_difference(self) -> None:
        counted = self.counted_minor()
        if self._summary is None or counted is None:
            state = "none"
            if self._summary is not None and self.counted_edit.text().strip():
                text = self.tr("Difference: — (type an amount such as 1250.50)")
            else:
                text = self.tr("Difference: — (count the drawer and type the total)")
        else:
            difference = counted - self._summary.cash_expected_minor
            amount = self._money(difference)
            if difference < 0:
                state, text = "short", self.tr("Difference: {amount} short").format(amount=amount)
            elif difference > 0:
                state, text = "over", self.tr("Difference: +{amount} over").format(amount=amount)
            else:
                state, text = (
                    "even",
                    self.tr("Difference: {amount} — the drawer matches").format(amount=amount),
                )
        self.difference.setText(text)
        if self.difference.property("state") != state:
            self.difference.setProperty("state", state)
            self.difference.style().unpolish(self.difference)
            self.difference.style().polish(self.difference)

    def difference_state(self) -> str:
        """ "short", "over", "even" or "none" (nothing usable typed yet)."""
        return str(self.difference.property("state"))

    def _clear_errors(self) -> None:
        if not self.counted_error.isHidden():
            self.counted_error.hide()
            self.fit()
        self.show_error("")

    # -- closing -----------------------------------------------------------------------------

    def _confirm(self) -> None:
        if self._busy or self._summary is None or self._closed is not None:
            return
        self._set_busy(True)
        db, operator, data_dir = self._db, self._operator, self._data_dir
        shift_id, text = self._summary.shift_id, self.counted_edit.text()

        def work() -> object:
            try:
                return close_shift(db, operator, shift_id, text, data_dir)
            except _Refusal as exc:
                return exc

        self._in_background(work, self._close_done, self._close_failed)

    def _set_busy(self, busy: bool) -> None:
        self._busy = busy
        self.close_button.setEnabled(not busy)
        self.cancel_button.setEnabled(not busy)
        self.counted_edit.setReadOnly(busy)
        self.close_button.setText(self.tr("Closing…") if busy else self.tr("Close shift"))

    def _close_done(self, result: object) -> None:
        self._set_busy(False)
        if isinstance(result, ShiftRefused) and result.field == "counted":
            self.show_at(self.counted_error, str(result), self.counted_edit)
            return
        if isinstance(result, Exception):
            self.show_error(str(result))
            return
        assert isinstance(result, ClosedShift)
        self._closed = result
        self._show_summary(result.summary)  # what was counted against, as saved
        self.counted_edit.setText(str(Money(result.counted_cash_minor, result.summary.currency)))
        self.counted_edit.setReadOnly(True)
        self._update_difference()
        self.title.setText(self.tr("Shift closed"))
        self.done_note.setText(
            self.tr("The shift is closed. Its report is saved as\n{path}").format(
                path=result.report_file
            )
        )
        self.done_note.show()
        self.close_button.hide()
        self.cancel_button.hide()
        self.open_pdf_button.show()
        self.finish_button.show()
        self.finish_button.setDefault(True)
        self.finish_button.setFocus(Qt.FocusReason.OtherFocusReason)
        self.fit()
        self.shift_closed.emit(result)

    def _close_failed(self, message: str) -> None:
        self._set_busy(False)
        self.show_error(self.tr("The shift was not closed: {error}").format(error=message))

    def open_pdf(self) -> None:
        """Show the saved report in the computer's PDF viewer."""
        if self._closed is None:
            return
        path = self._closed.report_file
        if not QDesktopServices.openUrl(QUrl.fromLocalFile(str(path))):
            self.show_error(
                self.tr("No program opened the PDF; open {path} yourself.").format(path=path)
            )
