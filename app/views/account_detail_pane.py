"""The right-hand pane of the Accounts screen: one account's holder, balance, meters and ledger."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFormLayout,
    QFrame,
    QHeaderView,
    QLabel,
    QStackedLayout,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.queries.accounts import AccountDetail, get_account_detail
from app.store.database import Database
from app.ui.background import run_in_background
from app.ui.formatting import (
    ledger_kind_label,
    local_time_text,
    meter_status_label,
    money_text,
    relay_label,
    supply_label,
    utility_label,
)


def _table(headers: list[str]) -> QTableWidget:
    table = QTableWidget(0, len(headers))
    table.setHorizontalHeaderLabels(headers)
    table.verticalHeader().setVisible(False)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
    table.setFocusPolicy(Qt.FocusPolicy.NoFocus)
    table.setAlternatingRowColors(True)
    table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    table.horizontalHeader().setStretchLastSection(True)
    table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
    table.setWordWrap(False)
    return table


def _cell(text: str, align_right: bool = False) -> QTableWidgetItem:
    item = QTableWidgetItem(text)
    if align_right:
        item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    return item


class AccountDetailPane(QFrame):
    """Shows the account chosen in the list. Loads it off the GUI thread; late answers for an
    account that is no longer selected are dropped."""

    def __init__(self, db: Database, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("detailPane")
        self._db = db
        self._wanted: int | None = None
        self.shown: AccountDetail | None = None

        self._stack = QStackedLayout(self)
        self._hint = self.tr("Choose an account to see its balance, meters and history.")
        self._empty = QLabel(self._hint)
        self._empty.setObjectName("emptyHint")
        self._empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._empty.setWordWrap(True)
        self._stack.addWidget(self._empty)

        body = QWidget()
        layout = QVBoxLayout(body)
        layout.setContentsMargins(16, 14, 16, 14)
        self.title = QLabel()
        self.title.setObjectName("detailTitle")
        self.subtitle = QLabel()
        self.subtitle.setObjectName("pageSubtitle")
        self.balance = QLabel()
        self.balance.setObjectName("balanceValue")
        self.state = QLabel()
        layout.addWidget(self.title)
        layout.addWidget(self.subtitle)
        layout.addWidget(self.balance)
        layout.addWidget(self.state)

        form = QFormLayout()
        form.setHorizontalSpacing(14)
        self.fields: dict[str, QLabel] = {}
        for key, label in (
            ("account", self.tr("Account")),
            ("holder_ref", self.tr("Student / staff no.")),
            ("phone", self.tr("Phone")),
            ("policy", self.tr("Balance policy")),
            ("thresholds", self.tr("Warnings at")),
            ("tariffs", self.tr("Tariffs")),
            ("opened", self.tr("Opened")),
        ):
            name = QLabel(label)
            name.setObjectName("fieldLabel")
            value = QLabel()
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            value.setWordWrap(True)
            form.addRow(name, value)
            self.fields[key] = value
        layout.addLayout(form)

        meters_label = QLabel(self.tr("Meters"))
        meters_label.setObjectName("sectionLabel")
        layout.addWidget(meters_label)
        self.meters = _table(
            [
                self.tr("Meter"),
                self.tr("Utility"),
                self.tr("Address"),
                self.tr("Status"),
                self.tr("Supply"),
            ]
        )
        self.meters.setMaximumHeight(120)
        layout.addWidget(self.meters)

        ledger_label = QLabel(self.tr("Recent balance changes"))
        ledger_label.setObjectName("sectionLabel")
        layout.addWidget(ledger_label)
        self.ledger = _table(
            [
                self.tr("Time"),
                self.tr("Kind"),
                self.tr("Amount"),
                self.tr("Balance after"),
            ]
        )
        layout.addWidget(self.ledger, 1)
        self._stack.addWidget(body)

    def show_account(self, account_id: int | None) -> None:
        """Load and show ``account_id`` (None clears the pane)."""
        self._wanted = account_id
        self._empty.setText(self._hint)
        if account_id is None:
            self.shown = None
            self._stack.setCurrentIndex(0)
            return
        db = self._db
        run_in_background(
            lambda: get_account_detail(db, account_id),
            lambda detail: self._on_loaded(account_id, detail),
            lambda message: self._on_failed(account_id, message),
            owner=self,
        )

    def refresh(self) -> None:
        """Load the shown account again (its balance or room changed)."""
        self.show_account(self._wanted)

    def _on_failed(self, account_id: int, message: str) -> None:
        if account_id != self._wanted:
            return
        self.shown = None
        self._empty.setText(
            self.tr("This account could not be loaded: {error}\nPress F5 to try again.").format(
                error=message
            )
        )
        self._stack.setCurrentIndex(0)

    def _on_loaded(self, account_id: int, detail: AccountDetail | None) -> None:
        if account_id != self._wanted:
            return  # the operator moved on
        self.shown = detail
        if detail is None:
            self._stack.setCurrentIndex(0)
            return
        row, currency = detail.row, detail.currency
        self.title.setText(row.holder_name)
        self.subtitle.setText(
            self.tr("Room {room} · {building}").format(room=row.room_label, building=row.building)
            if row.room_label
            else self.tr("No room")
        )
        self.balance.setText(money_text(row.balance_minor, currency))
        self.balance.setProperty("negative", row.balance_minor < 0)
        self.balance.style().unpolish(self.balance)
        self.balance.style().polish(self.balance)
        self.state.setText(supply_label(row.supply_state, row.status))
        self.fields["account"].setText(row.number)
        self.fields["holder_ref"].setText(row.holder_ref or "—")
        self.fields["phone"].setText(detail.phone or "—")
        self.fields["policy"].setText(detail.policy_name)
        self.fields["thresholds"].setText(
            self.tr("{a1} and {a2}; overdraft down to {od}").format(
                a1=money_text(detail.alarm_1_minor, currency),
                a2=money_text(detail.alarm_2_minor, currency),
                od=money_text(-detail.overdraft_limit_minor, currency),
            )
        )
        self.fields["tariffs"].setText(
            "\n".join(f"{utility_label(u)}: {name}" for u, name in detail.tariffs) or "—"
        )
        self.fields["opened"].setText(local_time_text(detail.opened_at))

        self.meters.setRowCount(len(detail.meters))
        for i, meter in enumerate(detail.meters):
            where = self.tr("{bus} · profile {profile}").format(
                bus=meter.bus_name, profile=meter.profile
            )
            for j, text in enumerate(
                (
                    meter.serial,
                    utility_label(meter.utility),
                    meter.address,
                    meter_status_label(meter.status, meter.last_seen_at),
                    relay_label(meter.relay_closed),
                )
            ):
                item = _cell(text)
                item.setToolTip(where)
                self.meters.setItem(i, j, item)
        self.ledger.setRowCount(len(detail.recent_entries))
        for i, entry in enumerate(detail.recent_entries):
            amount = _cell(money_text(entry.amount_minor, currency), align_right=True)
            after = _cell(money_text(entry.balance_after_minor, currency), align_right=True)
            kind = _cell(ledger_kind_label(entry.kind))
            kind.setToolTip(f"{entry.reason}\n{entry.reference}".strip())
            self.ledger.setItem(i, 0, _cell(local_time_text(entry.created_at)))
            self.ledger.setItem(i, 1, kind)
            self.ledger.setItem(i, 2, amount)
            self.ledger.setItem(i, 3, after)
        self._stack.setCurrentIndex(1)
