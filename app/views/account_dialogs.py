"""What every account dialog shares (open, move, settle, reopen, refund, adjust, reverse).

A title naming the account, a form whose refusals show at the field the service names, an
error line for the rest, and after success a result line with the receipt (saved as PDF and
printed per the site's setting) and Open PDF. Enter confirms, Esc cancels; once done, Enter
or Esc closes.

Every database call (the step itself, a supervisor's sign-in, the receipt PDF) runs on the
background pool; the answer comes back on the GUI thread. A refusal the operator can fix (a
service's ``Refused`` with its ``field``, ``PermissionDenied``, a wrong approver password) is
returned from the background function as a ``Refusal`` value so its field survives the trip.
One idempotency key per dialog, kept across retries: a double Enter or a retry after an
error never posts twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QCoreApplication, Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QShowEvent
from PySide6.QtWidgets import (
    QComboBox,
    QCompleter,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QWidget,
)

from app.queries.accounts import AccountRow
from app.services.operators import OperatorRefused, SignedIn, login
from app.services.permissions import Action, PermissionDenied, allowed
from app.services.receipts import saved_receipt_pdf
from app.services.recharge import new_key
from app.services.service_checks import Refused
from app.services.settings import load_counter_settings
from app.store.database import Database
from app.ui.background import run_in_background
from app.ui.formatting import money_text
from app.ui.pdf_printing import print_document
from app.views.form_dialog import FormDialog, label, with_notes
from app.views.login_dialog import role_label
from app.vocabulary import PaymentMethod, Role

log = logging.getLogger(__name__)

DIALOG_WIDTH = 560

# The form look is the theme's (``app.views.form_dialog``); these rules are the account forms'.
_SHEET = """
QLabel#sectionLabel { color: #334155; font-weight: 600; padding-top: 4px; }
QLabel#bigAmount { font-size: 20pt; font-weight: 700; color: #0f172a; }
QComboBox { font-size: 11pt; }
QComboBox QLineEdit, QComboBox QLineEdit:focus { border: none; padding: 0; }
"""

METHODS = (PaymentMethod.CASH, PaymentMethod.CARD, PaymentMethod.TRANSFER, PaymentMethod.CAMPUS)


def _t(text: str) -> str:
    return QCoreApplication.translate("AccountDialogs", text)


def method_label(method: PaymentMethod) -> str:
    return {
        PaymentMethod.CASH: _t("Cash"),
        PaymentMethod.CARD: _t("Card"),
        PaymentMethod.TRANSFER: _t("Transfer"),
        PaymentMethod.CAMPUS: _t("Campus card"),
    }[method]


def who_may(action: Action) -> str:
    """The roles that may do ``action``, as the operator reads them ("Supervisor or
    Administrator")."""
    names = [role_label(role) for role in Role if allowed(role, action)]
    if len(names) < 2:
        return names[0] if names else role_label(Role.ADMIN)
    return _t("{some} or {last}").format(some=", ".join(names[:-1]), last=names[-1])


def not_allowed_note(role: Role, action: Action) -> str:
    """Why an action is off for ``role``, naming who may (tooltips, dialog banners)."""
    return _t("Only {roles} may do this; you are signed in as {role}.").format(
        roles=who_may(action), role=role_label(role)
    )


@dataclass(frozen=True)
class Refusal:
    """A step not done: ``field`` names the input to fix ("" for the form as a whole)."""

    field: str
    message: str


@dataclass(frozen=True)
class _Answer:
    result: Any
    pdf: Path | None
    printing: str
    problem: str


def sign_in_approver(db: Database, username: str, password: str) -> SignedIn | None:
    """The supervisor who approves on the spot (runs in the worker); None when both fields are
    blank. A wrong name or password is refused at the approver field."""
    if not username.strip() and not password:
        return None
    if not username.strip():
        raise Refused("approver", _t("Type the supervisor's user name."))
    if not password:
        raise Refused("approver", _t("Type the supervisor's password."))
    try:
        return login(db, username, password)
    except OperatorRefused as exc:
        raise Refused("approver", str(exc)) from None


def method_combo() -> QComboBox:
    combo = QComboBox()
    combo.setObjectName("methodCombo")
    for method in METHODS:
        combo.addItem(method_label(method), method.value)
    return combo


def chosen_method(combo: QComboBox) -> PaymentMethod:
    """The method of a ``method_combo`` (Qt hands the item data back as a plain str)."""
    return PaymentMethod(combo.currentData())


def searchable_combo(name: str, placeholder: str) -> QComboBox:
    """An editable combo whose typed text filters its items (contains, any case)."""
    combo = QComboBox()
    combo.setObjectName(name)
    combo.setEditable(True)
    combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
    combo.setMaxVisibleItems(14)
    line = combo.lineEdit()
    if line is not None:
        line.setPlaceholderText(placeholder)
    completer = combo.completer()
    if completer is not None:
        completer.setFilterMode(Qt.MatchFlag.MatchContains)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        completer.setCompletionMode(QCompleter.CompletionMode.PopupCompletion)
    return combo


def line_edit(name: str, placeholder: str = "", max_length: int = 0) -> QLineEdit:
    edit = QLineEdit()
    edit.setObjectName(name)
    edit.setPlaceholderText(placeholder)
    if max_length:
        edit.setMaxLength(max_length)
    return edit


class AccountDialog(FormDialog):
    """The frame of an account dialog. A subclass fills ``form`` (``add_field``), checks the
    operator's permission (``require``) and implements ``make_work`` (the step, run in the
    worker) and ``describe`` (the result line). ``done(account_id, account_number)`` is emitted
    on the GUI thread once the step is done (also when the key had been used: the earlier
    step)."""

    # Shadows QDialog.done(int) for Python callers only: accept() and reject() still reach
    # Qt's own done() in C++ (checked by the tests), and "done" is what the screens connect to.
    done = Signal(int, str)  # type: ignore[assignment]

    def __init__(
        self,
        db: Database,
        operator: SignedIn,
        data_dir: Path,
        currency: str,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(DIALOG_WIDTH, parent)
        self.setStyleSheet(_SHEET)
        self.setModal(True)
        self._db, self._operator, self._data_dir, self._currency = db, operator, data_dir, currency
        self.key = new_key()  # one per form: a retry of the same form reuses it
        self._finished = False
        self._fields: dict[str, tuple[QWidget, QLabel]] = {}
        self._rows: dict[str, QWidget] = {}
        self.approver_user: QLineEdit | None = None
        self.approver_password: QLineEdit | None = None
        self.result: Any = None
        self.receipt_pdf: Path | None = None

        self.form = QFormLayout()
        self.form.setHorizontalSpacing(12)
        self.form.setVerticalSpacing(8)
        self.form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.add_middle(self.form)
        self.result_note = label("", "doneNote")
        self.result_note.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.result_note.hide()
        self.body.insertWidget(self.body.indexOf(self.error) + 1, self.result_note)

        self.confirm_button = QPushButton()
        self.close_button = self.add_buttons(self.confirm_button, self.confirm, self.open_pdf)

    # -- building ----------------------------------------------------------------------------

    def add_field(self, name: str, text: str, widget: QWidget, note: str = "") -> QLabel:
        """A form row with an error line (and an optional note) under the widget; refusals
        naming ``name`` show there. Returns the note label."""
        note_label = label(note, "fieldNote")
        note_label.setVisible(bool(note))
        error = label("", "fieldError")
        error.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        error.hide()
        box = with_notes(widget, note_label, error)
        self.form.addRow(text, box)
        self._fields[name] = (widget, error)
        self._rows[name] = box
        if isinstance(widget, QLineEdit):
            widget.textEdited.connect(lambda _text: self.clear_errors())
        elif isinstance(widget, QComboBox):
            widget.currentIndexChanged.connect(lambda _index: self.clear_errors())
        return note_label

    def row_label(self, name: str) -> QLabel:
        """The label of field ``name``'s row."""
        found = self.form.labelForField(self._rows[name])
        assert isinstance(found, QLabel)
        return found

    def set_row_visible(self, name: str, visible: bool) -> None:
        self.form.setRowVisible(self._rows[name], visible)

    def add_section(self, text: str) -> None:
        self.form.addRow(label(text, "sectionLabel"))

    def add_approver_fields(self, heading: str, note: str) -> None:
        """A supervisor's user name and password (signed in in the worker on confirm)."""
        self.add_section(heading)
        self.approver_user = line_edit("approverUser", self.tr("supervisor's user name"))
        self.approver_password = line_edit("approverPassword")
        self.approver_password.setEchoMode(QLineEdit.EchoMode.Password)
        self.add_field("approver", self.tr("Supervisor"), self.approver_user, note)
        self.add_field("approver_password", self.tr("Password"), self.approver_password)

    def approver_inputs(self) -> tuple[str, str]:
        if self.approver_user is None or self.approver_password is None:
            return "", ""
        return self.approver_user.text(), self.approver_password.text()

    def require(self, action: Action) -> bool:
        """Whether the operator may do ``action``; if not, say who may and switch confirm off
        (the service refuses too)."""
        if allowed(self._operator.role, action):
            return True
        self.show_error(not_allowed_note(self._operator.role, action))
        self.confirm_button.setEnabled(False)
        return False

    # -- showing -----------------------------------------------------------------------------

    def show_refusal(self, refusal: Refusal) -> None:
        field = "approver" if refusal.field == "approver_password" else refusal.field
        if field in self._fields:
            widget, error = self._fields[field]
            if field == "approver" and self.approver_password is not None:
                self.approver_password.clear()
                widget = self.approver_password if self.approver_user_text() else widget
            self.show_at(error, refusal.message, widget)
            return
        self.show_error(refusal.message)

    def approver_user_text(self) -> str:
        return self.approver_user.text().strip() if self.approver_user is not None else ""

    def field_error(self, name: str) -> str:
        """The message shown at field ``name`` ("" when none)."""
        error = self._fields[name][1]
        return "" if error.isHidden() else error.text()

    def clear_errors(self) -> None:
        changed = not self.error.isHidden()
        self.error.hide()
        for _widget, error in self._fields.values():
            changed = changed or not error.isHidden()
            error.hide()
        if changed:
            self.fit()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        first = self.first_field()
        if first is not None and not self._finished:
            first.setFocus(Qt.FocusReason.OtherFocusReason)

    def first_field(self) -> QWidget | None:
        for widget, _error in self._fields.values():
            if widget.isEnabled():
                return widget
        return None

    # -- running -----------------------------------------------------------------------------

    def in_background(
        self,
        work: Callable[[], Any],
        on_done: Callable[[Any], None],
        on_error: Callable[[str], None],
    ) -> None:
        """``run_in_background`` whose answer is dropped if this dialog is gone meanwhile."""
        run_in_background(work, on_done, on_error, owner=self)

    def make_work(self) -> Callable[[], Any] | None:
        """The step to run in the worker, from the form's values; None after a check on the
        GUI thread said what to fix."""
        raise NotImplementedError

    def describe(self, result: Any) -> tuple[str, int, str]:
        """(the result line, account id, account number) of a step done."""
        raise NotImplementedError

    def confirm(self) -> None:
        if self._busy or self._finished or not self.confirm_button.isEnabled():
            return
        self.clear_errors()
        work = self.make_work()
        if work is None:
            return
        self.set_busy(True)
        db, data_dir = self._db, self._data_dir
        # Read on the GUI thread: the worker touches no widget.
        denied_at = "approver" if self.approver_user_text() else ""

        def guarded() -> object:
            try:
                result = work()
            except Refused as exc:
                return Refusal(exc.field, str(exc))
            except PermissionDenied as exc:  # the operator's role, or the named approver's
                return Refusal(denied_at, str(exc))
            number = getattr(result, "receipt_number", None)
            if not isinstance(number, int):
                return _Answer(result, None, "none", "")
            settings = load_counter_settings(db)
            try:  # the money is committed: a PDF that fails is said, not the step
                pdf = saved_receipt_pdf(db, data_dir, number, settings.receipt_layout)
            except Exception as exc:
                log.exception("receipt %s: PDF not saved", number)
                problem = _t("The receipt PDF was not saved ({error}); reprint it.").format(
                    error=exc
                )
                return _Answer(result, None, "none", problem)
            return _Answer(result, pdf, settings.receipt_printing, "")

        self.in_background(guarded, self._answered, self._crashed)

    def set_busy(self, busy: bool) -> None:
        self._busy = busy
        self.confirm_button.setEnabled(not busy)
        self.cancel_button.setEnabled(not busy)

    def _crashed(self, message: str) -> None:
        self.set_busy(False)
        self.show_error(
            self.tr("Not done: {error}. Press Enter to try again; it will not post twice.").format(
                error=message
            )
        )

    def _answered(self, answer: object) -> None:
        self.set_busy(False)
        if isinstance(answer, Refusal):
            self.show_refusal(answer)
            return
        assert isinstance(answer, _Answer)
        self.result = answer.result
        text, account_id, number = self.describe(answer.result)
        if getattr(answer.result, "replayed", False):
            text += "\n" + self.tr("This form had been sent already: nothing new was posted.")
        receipt = getattr(answer.result, "receipt_number", None)
        if answer.pdf is not None:
            self.receipt_pdf = answer.pdf
            text += "\n" + self.tr("Receipt {number:08d} saved as {path}").format(
                number=receipt, path=answer.pdf
            )
            problem = print_document(answer.pdf, answer.printing, self)
            if problem:
                text += "\n" + problem
        if answer.problem:
            text += "\n" + answer.problem
        self.finish(text)
        self.done.emit(account_id, number)

    def disable_fields(self) -> None:
        for widget, _error in self._fields.values():
            widget.setEnabled(False)
            if isinstance(widget, QLineEdit):
                widget.setPlaceholderText("")  # a hint in a field that is off reads as a value

    def finish(self, text: str) -> None:
        """Show the result; the form is read-only, Enter or Esc closes."""
        self._finished = True
        self.disable_fields()
        self.error.hide()
        self.result_note.setText(text)
        self.result_note.show()
        self.confirm_button.hide()
        self.cancel_button.hide()
        self.open_pdf_button.setVisible(self.receipt_pdf is not None)
        self.close_button.show()
        self.close_button.setDefault(True)
        self.close_button.setFocus(Qt.FocusReason.OtherFocusReason)
        self.fit()

    @property
    def finished_ok(self) -> bool:
        """True once the step was done and its result is shown."""
        return self._finished

    def open_pdf(self) -> None:
        """Show the saved receipt in the computer's PDF viewer."""
        if self.receipt_pdf is None:
            return
        if not QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.receipt_pdf))):
            self.show_error(
                self.tr("No program opened the PDF; open {path} yourself.").format(
                    path=self.receipt_pdf
                )
            )

    def money(self, minor: int) -> str:
        return money_text(minor, self._currency)


class OneAccountDialog(AccountDialog):
    """A dialog about one account, ``account`` (the row the operator chose): the same arguments
    for each; a subclass lays out its form in ``build``."""

    def __init__(
        self,
        db: Database,
        operator: SignedIn,
        data_dir: Path,
        currency: str,
        account: AccountRow,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(db, operator, data_dir, currency, parent)
        self.account = account
        self.build(account)

    def build(self, account: AccountRow) -> None:
        """Lay out the form (called once, at the end of ``__init__``)."""
