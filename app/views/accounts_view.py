"""Accounts screen: every account with instant search, state filter, sort and a detail pane,
and (given the signed-in operator) an action bar: new account (Ctrl+N), move, settle and close,
reopen, refund, adjust, reverse an entry. A button the operator's role may not use is off, its
tooltip naming who may; the services refuse as well. With the change bridge
(``follow_changes``) the detail pane reads its account again when its balance or state changes
(in this console or any other); the list is read again on F5.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QDate, Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QMessageBox,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from app.documents.atomic_files import put_in_place
from app.documents.statement_pdf import render_statement
from app.queries.accounts import AccountRow, list_accounts
from app.services.operators import SignedIn
from app.services.permissions import Action, allowed
from app.services.statements import statement_for
from app.store.database import Database
from app.ui.background import run_in_background
from app.ui.change_bridge import ChangeBridge, ChangedIds, concerns
from app.ui.formatting import money_color, money_text, supply_badge, supply_label
from app.ui.row_table_model import RIGHT, Column, PreparedRows, prepare_rows
from app.ui.searchable_table import SearchableTable
from app.views.account_detail_pane import AccountDetailPane
from app.views.account_dialogs import AccountDialog, not_allowed_note
from app.views.account_life_dialogs import (
    MoveDialog,
    OpenAccountDialog,
    ReopenDialog,
    SettleDialog,
)
from app.views.correction_dialogs import AdjustDialog, RefundDialog, ReverseDialog
from app.vocabulary import AccountStatus, SupplyState

LOW_STATES = {SupplyState.ALARM_1, SupplyState.ALARM_2, SupplyState.ZERO, SupplyState.OVERDRAFT}

# The action bar: key -> the permission it needs; which accounts it is for.
ACTION_NEEDS = {
    "new": Action.OPEN_ACCOUNT,
    "move": Action.MOVE_ACCOUNT,
    "settle": Action.CLOSE_ACCOUNT,
    "reopen": Action.OPEN_ACCOUNT,
    "refund": Action.REFUND,
    "adjust": Action.ADJUST,
    "reverse": Action.ADJUST,
    "statement": Action.VIEW_REPORTS,
}
FOR_OPEN = ("move", "settle", "refund", "adjust", "reverse")


def account_search_text(row: AccountRow) -> str:
    """What a search matches: account number, room (also without its dash: "a305" finds
    A-305), holder (pinyin and characters), meters."""
    compact = row.room_label.replace("-", "")
    return " ".join(
        (row.number, row.room_label, compact, row.holder_name, row.holder_ref, *row.meter_serials)
    )


def load_accounts(db: Database) -> PreparedRows:
    """Runs in a worker thread: query and index the rows."""
    return prepare_rows(list_accounts(db), account_search_text)


class AccountsView(QWidget):
    """``rows_loaded(count)`` is emitted on the GUI thread after each (re)load."""

    rows_loaded = Signal(int)
    # A statement PDF was written (its path), or could not be (the reason); on the GUI thread.
    statement_saved = Signal(object)
    statement_failed = Signal(str)

    def __init__(
        self,
        db: Database,
        currency: str,
        parent: QWidget | None = None,
        *,
        operator: Callable[[], SignedIn] | None = None,
        data_dir: Path | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("page")
        self._db = db
        self._currency = currency
        self._operator = operator
        self._data_dir = data_dir
        # Posts an account's waiting usage before it is settled (the GUI's runtime sets it).
        self.before_settle: Callable[[int], object] | None = None
        self._select_after: int | None = None
        self.dialog: AccountDialog | None = None  # the last dialog opened from the action bar
        columns = [
            Column(self.tr("Account"), lambda r: r.number),
            Column(self.tr("Room"), lambda r: r.room_label),
            Column(self.tr("Holder"), lambda r: r.holder_name),
            Column(
                self.tr("State"),
                lambda r: supply_label(r.supply_state, r.status),
                sort_key=lambda r: (r.status.value, list(SupplyState).index(r.supply_state)),
                badge=lambda r: supply_badge(r.supply_state, r.status),
            ),
            Column(
                self.tr("Balance"),
                lambda r: money_text(r.balance_minor, self._currency),
                sort_key=lambda r: r.balance_minor,
                align=RIGHT,
                foreground=lambda r: money_color(r.balance_minor),
            ),
            Column(self.tr("Meters"), lambda r: ", ".join(r.meter_serials)),
        ]
        self.list = SearchableTable(
            columns,
            self.tr("Search room, holder, account or meter number   (Ctrl+F)"),
            badge_columns=(3,),
        )
        self.state_filter = self.list.add_filter(
            [
                (self.tr("All states"), None),
                (self.tr("Normal"), "normal"),
                (self.tr("Low balance"), "low"),
                (self.tr("Cut off"), "cut_off"),
                (self.tr("Closed"), "closed"),
            ],
            _state_matches,
        )
        self.detail = AccountDetailPane(db)
        self.list.current_changed.connect(
            lambda row: self.detail.show_account(None if row is None else row.id)
        )
        self.list.current_changed.connect(lambda _row: self.refresh_actions())

        title = QLabel(self.tr("Accounts"))
        title.setObjectName("pageTitle")
        heading = QHBoxLayout()
        heading.addWidget(title)
        heading.addStretch(1)
        self.action_bar = self._build_action_bar()
        heading.addWidget(self.action_bar)

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.list)
        splitter.addWidget(self.detail)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        splitter.setSizes([780, 520])
        splitter.setChildrenCollapsible(False)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(18, 14, 18, 12)
        layout.addLayout(heading)
        layout.addWidget(splitter, 1)

    # --- action bar ------------------------------------------------------------------------

    def _build_action_bar(self) -> QWidget:
        bar = QWidget()
        bar.setObjectName("actionBar")
        row = QHBoxLayout(bar)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(6)
        texts = {  # (button, tooltip)
            "new": (self.tr("New account…  Ctrl+N"), self.tr("Open an account in an empty room")),
            "move": (self.tr("&Move…"), self.tr("Move the account to an empty room (Alt+M)")),
            "settle": (
                self.tr("&Settle && close…"),
                self.tr("Final readings, final bill, refund or debt, close (Alt+S)"),
            ),
            "reopen": (
                self.tr("Re&open…"),
                self.tr("A new account for the holder of this closed one (Alt+O)"),
            ),
            "refund": (self.tr("&Refund…"), self.tr("Pay money back from the balance (Alt+R)")),
            "adjust": (self.tr("A&djust…"), self.tr("Correct the balance, with a reason (Alt+D)")),
            "reverse": (
                self.tr("Re&verse entry…"),
                self.tr("Undo a recharge, adjustment or refund exactly (Alt+V)"),
            ),
            "statement": (
                self.tr("S&tatement…"),
                self.tr("The account's statement of a month as an A4 PDF (Alt+T)"),
            ),
        }
        self.action_buttons: dict[str, QPushButton] = {}
        self._action_tips = {key: tip for key, (_text, tip) in texts.items()}
        for key, (text, _tip) in texts.items():
            button = QPushButton(text)
            button.setObjectName(f"{key}Action")
            button.setFocusPolicy(Qt.FocusPolicy.TabFocus)
            button.clicked.connect(lambda _checked=False, k=key: self.open_action(k))
            if key == "move":
                row.addSpacing(14)  # the new account apart from the chosen account's actions
            row.addWidget(button)
            self.action_buttons[key] = button
        new = QShortcut(QKeySequence.StandardKey.New, self)
        new.activated.connect(lambda: self.open_action("new"))
        bar.setVisible(self._operator is not None and self._data_dir is not None)
        return bar

    def refresh_actions(self) -> None:
        """Switch each action on or off for the signed-in operator and the chosen account
        (call it again when another operator signs in)."""
        if self._operator is None:
            return
        role = self._operator().role
        row: AccountRow | None = self.list.current_row()
        for key, button in self.action_buttons.items():
            action = ACTION_NEEDS[key]
            why = ""
            if not allowed(role, action):
                why = not_allowed_note(role, action)
            elif key != "new" and row is None:
                why = self.tr("Choose an account in the list first.")
            elif key == "reopen" and row is not None and row.status is AccountStatus.OPEN:
                why = self.tr("Account {number} is open; only a closed account is reopened.")
            elif key in FOR_OPEN and row is not None and row.status is AccountStatus.CLOSED:
                why = self.tr("Account {number} is closed; reopen it as a new account.")
            button.setEnabled(not why)
            number = row.number if row is not None else ""
            tip = self._action_tips[key]
            button.setToolTip(tip + ("\n" + why.format(number=number) if why else ""))

    def open_action(self, key: str) -> None:
        """Open the dialog of action ``key`` ("new", "move", ... as in ``ACTION_NEEDS``)."""
        if self._operator is None or self._data_dir is None:
            return
        self.refresh_actions()
        if not self.action_buttons[key].isEnabled():
            return
        who, data_dir, currency = self._operator(), self._data_dir, self._currency
        row: AccountRow | None = self.list.current_row()
        if key == "statement":
            assert row is not None
            self.ask_statement(row)
            return
        dialog: AccountDialog
        if key == "new":
            dialog = OpenAccountDialog(self._db, who, data_dir, currency, self)
        else:
            assert row is not None
            kinds: dict[str, Callable[..., AccountDialog]] = {
                "move": MoveDialog,
                "settle": SettleDialog,
                "reopen": ReopenDialog,
                "refund": RefundDialog,
                "adjust": AdjustDialog,
                "reverse": ReverseDialog,
            }
            dialog = kinds[key](self._db, who, data_dir, currency, row, self)
            if isinstance(dialog, SettleDialog):
                dialog.before_settle = self.before_settle
        dialog.done.connect(self._after_dialog)
        if self.dialog is not None:
            self.dialog.deleteLater()
        self.dialog = dialog
        dialog.open()

    def ask_statement(self, row: AccountRow) -> None:
        """Which month (the last twelve, newest first) and where: then the PDF is written."""
        today = QDate.currentDate()
        months = [today.addMonths(-n).toString("yyyy-MM") for n in range(12)]
        month, chosen = QInputDialog.getItem(
            self,
            self.tr("Statement of account {number}").format(number=row.number),
            self.tr("&Month:"),
            months,
            0,
            True,
        )
        if not chosen:
            return
        assert self._data_dir is not None
        suggested = self._data_dir / "statements" / f"statement-{row.number}-{month}.pdf"
        path, _filter = QFileDialog.getSaveFileName(
            self, self.tr("Save the statement"), str(suggested), "PDF (*.pdf)"
        )
        if path:
            self.save_statement(row.number, month, Path(path))

    def save_statement(self, number: str, month: str, path: Path) -> None:
        """Write account ``number``'s statement of ``month`` (``YYYY-MM``) to ``path``, off
        the GUI thread; ``statement_saved`` or ``statement_failed`` says how it went."""
        if self._operator is None:
            return
        db, who = self._db, self._operator()

        def work() -> Path:
            data = render_statement(statement_for(db, who, number, month))
            path.parent.mkdir(parents=True, exist_ok=True)

            def write(temporary: Path) -> None:
                temporary.write_bytes(data)

            put_in_place(path, write)
            return path

        run_in_background(work, self.statement_saved.emit, self._statement_failed, owner=self)

    def _statement_failed(self, message: str) -> None:
        self.statement_failed.emit(message)
        QMessageBox.warning(
            self, self.tr("Statement"), self.tr("No statement: {error}").format(error=message)
        )

    def _after_dialog(self, account_id: int, _number: str) -> None:
        self._select_after = account_id
        self.reload()

    # --- data ------------------------------------------------------------------------------

    def follow_changes(self, bridge: ChangeBridge) -> None:
        """Show the chosen account again when its balance or state changes."""
        bridge.balances_changed.connect(self._accounts_changed)
        bridge.accounts_changed.connect(self._accounts_changed)

    def _accounts_changed(self, ids: ChangedIds) -> None:
        if concerns(ids, self.list.current_id()):
            self.detail.refresh()

    def set_currency(self, currency: str) -> None:
        """The site's currency was set (a new site)."""
        self._currency = currency
        self.reload()

    def reload(self) -> None:
        db = self._db
        run_in_background(lambda: load_accounts(db), self._on_loaded, owner=self)
        self.refresh_actions()

    def _on_loaded(self, prepared: PreparedRows) -> None:
        self.list.install(prepared)
        wanted, self._select_after = self._select_after, None
        if wanted is not None:
            if not self.list.select_id(wanted):  # hidden by the search or the state filter
                self.list.search.clear()
                self.state_filter.setCurrentIndex(0)
                self.list.select_id(wanted)
            self.detail.refresh()
        self.refresh_actions()
        self.rows_loaded.emit(len(prepared.rows))

    def focus_search(self) -> None:
        self.list.focus_search()


def _state_matches(row: AccountRow, wanted: str) -> bool:
    closed = row.status is AccountStatus.CLOSED
    if wanted == "closed" or closed:
        return closed and wanted == "closed"
    if wanted == "low":
        return row.supply_state in LOW_STATES
    return row.supply_state == wanted  # StrEnum equals its value
