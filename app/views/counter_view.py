"""The counter: find the room, take the money, print the receipt. Keyboard first.

Type two or three characters of a room, holder, account or meter number; Enter picks the top
match and puts the cursor in the amount; F1-F4 choose cash, card, transfer or campus card;
Enter asks for confirmation naming the room and its meters; Enter again pays. Esc goes back a
step. The recharge runs off the GUI thread with one idempotency key per form, so a double
press, a retry or a crash never credits twice. With the change bridge (``follow_changes``) the
chosen account's balance and state are read again when they change (a posting of the engine, a
recharge at another counter).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QKeyEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QButtonGroup,
    QDialog,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from app.billing.money import Money, MoneyError
from app.queries.accounts import AccountDetail, get_account_detail, list_accounts
from app.services.operators import SignedIn
from app.services.permissions import Action, PermissionDenied, allowed
from app.services.receipts import reprint_receipt
from app.services.recharge import (
    ReceiptNotSaved,
    RechargeDone,
    RechargeRefused,
    new_key,
    recharge_with_receipt,
)
from app.services.settings import CounterSettings, load_counter_settings
from app.services.shifts import ShiftInfo, current_shift
from app.store.database import Database
from app.store.errors import StoreError
from app.ui.background import run_in_background
from app.ui.change_bridge import ChangeBridge, ChangedIds, concerns
from app.ui.formatting import (
    local_time_text,
    money_text,
    supply_badge,
    supply_label,
    utility_label,
)
from app.ui.pdf_printing import print_document
from app.ui.row_table_model import RIGHT, Column, PreparedRows, prepare_rows
from app.ui.searchable_table import SearchableTable
from app.views.accounts_view import account_search_text
from app.views.login_dialog import role_label
from app.views.recharge_confirm import RechargeConfirm
from app.views.shift_dialog import CloseShiftDialog, OpenShiftDialog
from app.vocabulary import AccountStatus, PaymentMethod

METHOD_KEYS = (
    (PaymentMethod.CASH, "F1"),
    (PaymentMethod.CARD, "F2"),
    (PaymentMethod.TRANSFER, "F3"),
    (PaymentMethod.CAMPUS, "F4"),
)


@dataclass(frozen=True)
class _Outcome:
    done: RechargeDone | None = None
    pdf: Path | None = None
    field: str = ""
    message: str = ""


def load_open_accounts(db: Database) -> PreparedRows:
    rows = [r for r in list_accounts(db) if r.status is AccountStatus.OPEN]
    return prepare_rows(rows, account_search_text)


class CounterView(QWidget):
    """``recharged(account_id, was_cut_off)`` after each committed recharge (GUI thread)."""

    recharged = Signal(int, bool)
    rows_loaded = Signal(int)

    def __init__(
        self,
        db: Database,
        currency: str,
        data_dir: Path,
        operator: Callable[[], SignedIn],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("page")
        self._db, self._currency, self._data_dir, self._operator = db, currency, data_dir, operator
        self._detail: AccountDetail | None = None
        self._key = new_key()
        self._busy = False
        self._settings: CounterSettings | None = None
        self.last_receipt: tuple[int, Path] | None = None
        self._empty = False  # no open account at all (a new site): the card says why
        self._may_take_money = allowed(operator().role, Action.RECHARGE)

        self.list = SearchableTable(
            [
                Column(self.tr("Room"), lambda r: r.room_label),
                Column(self.tr("Holder"), lambda r: r.holder_name),
                Column(self.tr("Account"), lambda r: r.number),
                Column(
                    self.tr("Balance"),
                    lambda r: money_text(r.balance_minor, self._currency),
                    sort_key=lambda r: r.balance_minor,
                    align=RIGHT,
                ),
            ],
            self.tr("Room, name, account or meter number   (Ctrl+F)"),
        )
        self.list.search.installEventFilter(self)
        self.list.table.activated.connect(lambda _index: self._pick())
        self.list.current_changed.connect(self._preview)
        self._build_card()

        title = QLabel(self.tr("Counter"))
        title.setObjectName("pageTitle")
        self.operator_label = QLabel()
        self.operator_label.setObjectName("countLabel")
        self.shift_label = QLabel()
        self.shift_label.setObjectName("countLabel")
        self.open_shift_button = QPushButton(self.tr("Open shift…"))
        self.open_shift_button.clicked.connect(self.open_shift)
        self.close_shift_button = QPushButton(self.tr("Close shift…  (Ctrl+Shift+C)"))
        self.close_shift_button.clicked.connect(self.close_shift)
        QShortcut(QKeySequence("Ctrl+Shift+C"), self).activated.connect(self.close_shift)
        heading = QHBoxLayout()
        heading.addWidget(title)
        heading.addStretch(1)
        heading.addWidget(self.operator_label)
        heading.addSpacing(12)
        heading.addWidget(self.shift_label)
        heading.addWidget(self.open_shift_button)
        heading.addWidget(self.close_shift_button)

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.list)
        splitter.addWidget(self.card)
        splitter.setSizes([560, 640])
        splitter.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(18, 14, 18, 12)
        layout.addLayout(heading)
        layout.addWidget(splitter, 1)

        for method, key in METHOD_KEYS:
            QShortcut(QKeySequence(key), self).activated.connect(lambda m=method: self._choose(m))
        QShortcut(QKeySequence("Ctrl+P"), self).activated.connect(self.reprint_last)
        self._show_account(None)

    # --- layout --------------------------------------------------------------------------------

    def _build_card(self) -> None:
        self.card = QFrame()
        self.card.setObjectName("detailPane")
        self.room_label = QLabel()
        self.room_label.setObjectName("counterRoom")
        self.room_label.setStyleSheet("font-size: 30px; font-weight: 700;")
        self.holder_label = QLabel()
        self.holder_label.setStyleSheet("font-size: 17px;")
        self.state_label = QLabel()
        self.balance_label = QLabel()
        self.balance_label.setStyleSheet("font-size: 22px; font-weight: 600;")
        self.meters_label = QLabel()
        self.meters_label.setWordWrap(True)
        self.meters_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.amount = QLineEdit()
        self.amount.setObjectName("amountField")
        self.amount.setPlaceholderText(self.tr("Amount, e.g. 50 or 12.50"))
        self.amount.setStyleSheet("font-size: 22px; padding: 6px;")
        self.amount.installEventFilter(self)
        self.amount.textChanged.connect(self._amount_changed)
        self.amount_error = QLabel()
        self.amount_error.setObjectName("fieldError")
        self.amount_error.setWordWrap(True)

        self.methods = QButtonGroup(self)
        self.methods.setExclusive(True)
        method_row = QHBoxLayout()
        names = {
            PaymentMethod.CASH: self.tr("Cash"),
            PaymentMethod.CARD: self.tr("Card"),
            PaymentMethod.TRANSFER: self.tr("Transfer"),
            PaymentMethod.CAMPUS: self.tr("Campus card"),
        }
        self.method_buttons: dict[PaymentMethod, QPushButton] = {}
        for index, (method, key) in enumerate(METHOD_KEYS):
            button = QPushButton(f"{names[method]}  {key}")
            button.setObjectName("methodButton")
            button.setCheckable(True)
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            self.methods.addButton(button, index)
            self.method_buttons[method] = button
            method_row.addWidget(button)
        self.method_buttons[PaymentMethod.CASH].setChecked(True)
        self.methods.idToggled.connect(lambda _i, _on: self._new_key())

        self.pay_button = QPushButton(self.tr("Recharge  (Enter)"))
        self.pay_button.setObjectName("primaryButton")
        self.pay_button.clicked.connect(self.ask_confirmation)
        self.result_label = QLabel()
        self.result_label.setObjectName("resultBanner")
        self.result_label.setWordWrap(True)
        self.reprint_button = QPushButton(self.tr("Reprint as COPY  (Ctrl+P)"))
        self.reprint_button.clicked.connect(self.reprint_last)
        self.open_pdf_button = QPushButton(self.tr("Open PDF"))
        self.open_pdf_button.clicked.connect(self._open_last_pdf)
        self.reprint_button.hide()  # until there is a receipt
        self.open_pdf_button.hide()
        after = QHBoxLayout()
        after.addWidget(self.reprint_button)
        after.addWidget(self.open_pdf_button)
        after.addStretch(1)

        facts = QGridLayout()
        facts.addWidget(self.room_label, 0, 0)
        facts.addWidget(self.state_label, 0, 1, Qt.AlignmentFlag.AlignRight)
        facts.addWidget(self.holder_label, 1, 0, 1, 2)
        facts.addWidget(self.balance_label, 2, 0, 1, 2)
        facts.addWidget(self.meters_label, 3, 0, 1, 2)
        box = QVBoxLayout(self.card)
        box.setContentsMargins(18, 16, 18, 16)
        box.setSpacing(10)
        box.addLayout(facts)
        box.addSpacing(8)
        box.addWidget(QLabel(self.tr("Amount")))
        box.addWidget(self.amount)
        box.addWidget(self.amount_error)
        box.addLayout(method_row)
        box.addWidget(self.pay_button)
        box.addSpacing(8)
        box.addWidget(self.result_label)
        box.addLayout(after)
        box.addStretch(1)

    # --- data ----------------------------------------------------------------------------------

    def reload(self) -> None:
        db = self._db
        run_in_background(lambda: load_open_accounts(db), self._on_loaded, owner=self)
        run_in_background(lambda: load_counter_settings(db), self._on_settings, owner=self)
        who = self._operator()
        self.operator_label.setText(self.tr("Cashier: {name}").format(name=who.display_name))
        run_in_background(lambda: current_shift(db, who.operator_id), self._show_shift, owner=self)
        self._may_take_money = allowed(who.role, Action.RECHARGE)
        self._show_account(self._detail)

    def _show_shift(self, shift: ShiftInfo | None) -> None:
        self.open_shift_button.setVisible(shift is None)
        self.close_shift_button.setVisible(shift is not None)
        if shift is None:
            self.shift_label.setText(self.tr("No open shift: the first payment opens one"))
        else:
            self.shift_label.setText(
                self.tr("Shift open since {time}").format(time=local_time_text(shift.opened_at))
            )

    def open_shift(self) -> None:
        dialog = OpenShiftDialog(self._db, self._operator(), self)
        dialog.shift_opened.connect(lambda *_: self.reload())
        self.shift_dialog: QDialog = dialog
        dialog.open()

    def close_shift(self) -> None:
        dialog = CloseShiftDialog(self._db, self._operator(), self._data_dir, self)
        dialog.shift_closed.connect(lambda *_: self.reload())
        self.shift_dialog = dialog
        dialog.open()

    def _on_loaded(self, prepared: PreparedRows) -> None:
        self.list.install(prepared)
        self.rows_loaded.emit(len(prepared.rows))
        self._empty = not prepared.rows
        if self._detail is None:
            self._show_account(None)

    def set_currency(self, currency: str) -> None:
        """The site's currency was set (a new site): amounts are read and shown in it."""
        self._currency = currency
        self.reload()

    def _on_settings(self, settings: CounterSettings) -> None:
        self._settings = settings

    def focus_search(self) -> None:
        self.list.focus_search()

    def follow_changes(self, bridge: ChangeBridge) -> None:
        """Show the chosen account again when its balance or state changes."""
        bridge.balances_changed.connect(self._accounts_changed)
        bridge.accounts_changed.connect(self._accounts_changed)

    def _accounts_changed(self, ids: ChangedIds) -> None:
        if self._detail is not None and concerns(ids, self._detail.row.id):
            self._preview(self.list.current_row())

    def _preview(self, row: object) -> None:
        account_id = getattr(row, "id", None)
        if account_id is None:
            self._show_account(None)
            return
        db = self._db
        run_in_background(
            lambda: get_account_detail(db, account_id), self._show_account, owner=self
        )

    def _show_account(self, detail: AccountDetail | None) -> None:
        current = self.list.current_id()
        if detail is not None and detail.row.id != current:
            return  # an older answer; the cashier has moved on
        self._detail = detail
        enabled = detail is not None and self._may_take_money
        for widget in (self.amount, self.pay_button):
            widget.setEnabled(enabled)
        if not self._may_take_money:
            self.amount_error.setText(
                self.tr("{role} may not take money; ask a cashier.").format(
                    role=role_label(self._operator().role)
                )
            )
        if detail is None and self._empty:
            self.room_label.setText(self.tr("No open accounts yet"))
            self.holder_label.setText(
                self.tr(
                    "Nothing to take money for: this site has no open account. Set up the site, "
                    "its rooms and meters on the Setup screen (Ctrl+7), then open accounts on "
                    "the Accounts screen (Ctrl+2) or import tenants from a workbook."
                )
            )
            self.holder_label.setWordWrap(True)
            for label in (self.state_label, self.balance_label, self.meters_label):
                label.clear()
            return
        if detail is None:
            self.room_label.setText(self.tr("No account chosen"))
            self.holder_label.setText(self.tr("Type a room, name, account or meter number."))
            for label in (self.state_label, self.balance_label, self.meters_label):
                label.clear()
            return
        row = detail.row
        self.room_label.setText(row.room_label or self.tr("(no room)"))
        self.holder_label.setText(
            self.tr("{holder} · account {number}").format(holder=row.holder_name, number=row.number)
        )
        self.state_label.setText(supply_label(row.supply_state, row.status))
        self.state_label.setProperty("badge", supply_badge(row.supply_state, row.status))
        self.balance_label.setText(
            self.tr("Balance {amount}").format(amount=money_text(row.balance_minor, self._currency))
        )
        self.meters_label.setText(
            "\n".join(f"{utility_label(m.utility)}  {m.serial}" for m in detail.meters)
            or self.tr("No meters")
        )

    # --- keyboard ------------------------------------------------------------------------------

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.KeyPress:
            assert isinstance(event, QKeyEvent)
            enter = event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter)
            if watched is self.list.search and enter and self.list.current_id() is not None:
                self._pick()
                return True
            if watched is self.amount and enter:
                self.ask_confirmation()
                return True
            if watched is self.amount and event.key() == Qt.Key.Key_Escape:
                self.amount.clear()
                self.focus_search()
                return True
        return super().eventFilter(watched, event)

    def _pick(self) -> None:
        self._new_key()
        self.amount.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.amount.selectAll()

    def _choose(self, method: PaymentMethod) -> None:
        self.method_buttons[method].setChecked(True)

    @property
    def method(self) -> PaymentMethod:
        return METHOD_KEYS[max(self.methods.checkedId(), 0)][0]

    def _new_key(self) -> None:
        """A new form: a new idempotency key. A retry of the same form keeps its key."""
        if not self._busy:
            self._key = new_key()

    def _amount_changed(self, text: str) -> None:
        self._new_key()
        self.amount_error.clear()
        if text.strip():
            try:
                Money.parse(text, self._currency)
            except MoneyError as exc:
                self.amount_error.setText(str(exc))

    # --- paying --------------------------------------------------------------------------------

    def ask_confirmation(self) -> None:
        detail = self._detail
        if detail is None or self._busy:
            return
        try:
            amount = Money.parse(self.amount.text(), self._currency)
        except MoneyError as exc:
            self.amount_error.setText(str(exc))
            return
        confirm = RechargeConfirm(detail, amount, self.method, self)
        confirm.accepted.connect(self.pay)
        confirm.rejected.connect(lambda: self.amount.setFocus())
        self.confirm_dialog = confirm
        confirm.open()

    def pay(self) -> None:
        """Commit the recharge (off the GUI thread); the form's key guards against doubles."""
        detail = self._detail
        if detail is None or self._busy:
            return
        self._busy = True
        self.pay_button.setEnabled(False)
        self.result_label.setText(self.tr("Recharging…"))
        db, who, data_dir = self._db, self._operator(), self._data_dir
        number, text, method, key = detail.row.number, self.amount.text(), self.method, self._key

        def work() -> _Outcome:
            try:
                done, pdf = recharge_with_receipt(db, who, data_dir, number, text, method, key)
            except RechargeRefused as exc:
                return _Outcome(field=exc.field, message=str(exc))
            except PermissionDenied as exc:
                return _Outcome(field="permission", message=str(exc))
            except ReceiptNotSaved as exc:  # the money is in; only the PDF is missing
                return _Outcome(exc.done, None, "receipt", str(exc))
            except StoreError as exc:  # a full disk, a busy database: nothing was credited
                return _Outcome(
                    field="database",
                    message=self.tr(
                        "Not recharged: {error} Press Enter to try again; it will not credit twice."
                    ).format(error=exc),
                )
            return _Outcome(done, pdf)

        run_in_background(work, self._paid, self._failed, owner=self)

    def _failed(self, message: str) -> None:
        self._busy = False
        self.pay_button.setEnabled(True)
        self.result_label.setText(
            self.tr(
                "Not recharged: {error}. Press Enter to try again; it will not credit twice."
            ).format(error=message)
        )

    def _paid(self, outcome: _Outcome) -> None:
        self._busy = False
        self.pay_button.setEnabled(True)
        if outcome.done is not None and outcome.pdf is None:
            self.recharged.emit(outcome.done.account_id, outcome.done.was_cut_off)
            self.result_label.setText(outcome.message)
            return
        if outcome.done is None or outcome.pdf is None:
            self.result_label.clear()
            if outcome.field == "amount":
                self.amount_error.setText(outcome.message)
                self.amount.setFocus()
            else:
                self.result_label.setText(outcome.message)
            return
        done = outcome.done
        self.last_receipt = (done.receipt_number, outcome.pdf)
        self.reprint_button.show()
        self.open_pdf_button.show()
        amount = Money(done.amount_minor, done.currency).display()
        balance = Money(done.balance_after_minor, done.currency).display()
        room = self._detail.row.room_label if self._detail else ""
        self.result_label.setText(
            self.tr("Receipt {number:08d}: {amount} to room {room} · balance now {balance}").format(
                number=done.receipt_number, amount=amount, room=room, balance=balance
            )
        )
        self.recharged.emit(done.account_id, done.was_cut_off)  # a replay too: harmless
        self.amount.clear()
        self._key = new_key()
        mode = self._settings.receipt_printing if self._settings else "none"
        problem = print_document(outcome.pdf, mode, self)
        if problem:
            self.result_label.setText(self.result_label.text() + "\n" + problem)
        self.reload()
        self.list.search.clear()
        self.focus_search()

    def reprint_last(self) -> None:
        if self.last_receipt is None:
            return
        number = self.last_receipt[0]
        db, who, data_dir = self._db, self._operator(), self._data_dir
        layout = self._settings.receipt_layout if self._settings else "roll80"

        def done(path: Path) -> None:
            self.last_copy = path
            mode = self._settings.receipt_printing if self._settings else "none"
            problem = print_document(path, mode, self)
            self.result_label.setText(
                self.tr("Copy of receipt {number:08d} saved as {path}").format(
                    number=number, path=path
                )
                + ("\n" + problem if problem else "")
            )

        run_in_background(
            lambda: reprint_receipt(db, data_dir, who, number, layout),
            done,
            lambda message: self.result_label.setText(message),
            owner=self,
        )

    def _open_last_pdf(self) -> None:
        if self.last_receipt is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.last_receipt[1])))
