"""Accounts screen: every account with instant search, state filter, sort and a detail pane."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSplitter, QVBoxLayout, QWidget

from app.services.account_queries import AccountRow, list_accounts
from app.store.database import Database
from app.ui.background import run_in_background
from app.ui.formatting import money_color, money_text, supply_badge, supply_label
from app.ui.row_table_model import RIGHT, Column, PreparedRows, prepare_rows
from app.ui.searchable_table import SearchableTable
from app.views.account_detail_pane import AccountDetailPane
from app.vocabulary import AccountStatus, SupplyState

LOW_STATES = {SupplyState.ALARM_1, SupplyState.ALARM_2, SupplyState.ZERO, SupplyState.OVERDRAFT}


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

    def __init__(self, db: Database, currency: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("page")
        self._db = db
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
                lambda r: money_text(r.balance_minor, currency),
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

        title = QLabel(self.tr("Accounts"))
        title.setObjectName("pageTitle")
        heading = QHBoxLayout()
        heading.addWidget(title)
        heading.addStretch(1)

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

    def reload(self) -> None:
        db = self._db
        run_in_background(lambda: load_accounts(db), self._on_loaded, owner=self)

    def _on_loaded(self, prepared: PreparedRows) -> None:
        self.list.install(prepared)
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
