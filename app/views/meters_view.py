"""Meters screen: every meter with its bus, address, profile, room and status. Enter or a
double click on a meter opens its detail (``MeterDetailDialog``)."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QVBoxLayout, QWidget

from app.queries.meters import MeterRow, list_meters
from app.services.operators import SignedIn
from app.store.database import Database
from app.ui.background import run_in_background
from app.ui.formatting import (
    local_time_text,
    meter_status_badge,
    meter_status_label,
    meter_status_name,
    relay_label,
    utility_label,
)
from app.ui.row_table_model import Column, PreparedRows, prepare_rows
from app.ui.searchable_table import SearchableTable
from app.views.meter_detail_dialog import MeterCommands, MeterDetailDialog
from app.vocabulary import MeterStatus, Utility


def meter_search_text(row: MeterRow) -> str:
    return " ".join(
        (
            row.serial,
            row.address,
            row.room_label,
            row.account_number,
            row.holder_name,
            row.bus_name,
            row.profile,
        )
    )


def load_meters(db: Database) -> tuple[PreparedRows, list[str]]:
    """Runs in a worker thread: the rows, indexed, and the bus names for the filter."""
    rows = list_meters(db)
    return prepare_rows(rows, meter_search_text), sorted({r.bus_name for r in rows})


class MetersView(QWidget):
    """``operator()`` is whoever is signed in (without it the detail does not open);
    ``commands()`` the running console (the Runtime) or None when polling is not running."""

    rows_loaded = Signal(int)

    def __init__(
        self,
        db: Database,
        parent: QWidget | None = None,
        *,
        operator: Callable[[], SignedIn] | None = None,
        commands: Callable[[], MeterCommands | None] | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("page")
        self._db = db
        self._operator = operator
        self._commands = commands or (lambda: None)
        self.detail_dialog: MeterDetailDialog | None = None
        columns = [
            Column(self.tr("Meter"), lambda r: r.serial),
            Column(self.tr("Utility"), lambda r: utility_label(r.utility)),
            Column(self.tr("Room"), lambda r: r.room_label),
            Column(self.tr("Account"), lambda r: r.account_number),
            Column(self.tr("Holder"), lambda r: r.holder_name),
            Column(self.tr("Bus"), lambda r: r.bus_name, tooltip=lambda r: r.bus_url),
            Column(
                self.tr("Address"),
                lambda r: r.address,
                sort_key=lambda r: (len(r.address), r.address),
            ),
            Column(self.tr("Profile"), lambda r: r.profile),
            Column(
                self.tr("Status"),
                lambda r: meter_status_label(r.status, r.last_seen_at),
                badge=lambda r: meter_status_badge(r.status, r.last_seen_at),
            ),
            Column(self.tr("Supply"), lambda r: relay_label(r.relay_closed)),
            Column(
                self.tr("Last seen"),
                lambda r: local_time_text(r.last_seen_at),
                sort_key=lambda r: r.last_seen_at.timestamp() if r.last_seen_at else 0.0,
            ),
        ]
        self.list = SearchableTable(
            columns,
            self.tr("Search meter number, address, room, account or bus   (Ctrl+F)"),
            badge_columns=(8,),
        )
        self.utility_filter = self.list.add_filter(
            [(self.tr("All utilities"), None)] + [(utility_label(u), u.value) for u in Utility],
            lambda row, value: row.utility.value == value,
        )
        self.bus_filter = self.list.add_filter(
            [(self.tr("All buses"), None)], lambda row, value: row.bus_name == value
        )
        self.status_filter = self.list.add_filter(
            [(self.tr("Any status"), None)]
            + [(meter_status_name(s), s.value) for s in MeterStatus],
            lambda row, value: row.status.value == value,
        )

        title = QLabel(self.tr("Meters"))
        title.setObjectName("pageTitle")
        heading = QHBoxLayout()
        heading.addWidget(title)
        heading.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(18, 14, 18, 12)
        layout.addLayout(heading)
        layout.addWidget(self.list, 1)
        self.list.table.activated.connect(lambda _index: self.open_detail())

    def reload(self) -> None:
        db = self._db
        run_in_background(lambda: load_meters(db), self._on_loaded, owner=self)

    def _on_loaded(self, result: tuple[PreparedRows, list[str]]) -> None:
        prepared, buses = result
        current = self.bus_filter.currentData()
        self.bus_filter.blockSignals(True)
        self.bus_filter.clear()
        self.bus_filter.addItem(self.tr("All buses"), None)
        for name in buses:
            self.bus_filter.addItem(name, name)
        index = self.bus_filter.findData(current)
        self.bus_filter.setCurrentIndex(max(0, index))
        self.bus_filter.blockSignals(False)
        self.list.install(prepared)
        self.rows_loaded.emit(len(prepared.rows))

    def focus_search(self) -> None:
        self.list.focus_search()

    def open_detail(self, meter_id: int | None = None) -> MeterDetailDialog | None:
        """The detail of ``meter_id`` (default: the current row), one window at a time: a
        second meter replaces the first."""
        meter_id = self.list.current_id() if meter_id is None else meter_id
        if meter_id is None or self._operator is None:
            return None
        shown = self.detail_dialog
        if shown is not None and shown.isVisible() and shown.meter_id == meter_id:
            shown.raise_()
            shown.activateWindow()
            return shown
        if shown is not None:
            shown.close()
        dialog = MeterDetailDialog(self._db, meter_id, self._operator, self._commands(), self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.destroyed.connect(lambda *_: self._forget(dialog))
        dialog.action_done.connect(lambda _result: self.reload())
        self.detail_dialog = dialog
        dialog.show()
        return dialog

    def _forget(self, dialog: MeterDetailDialog) -> None:
        if self.detail_dialog is dialog:
            self.detail_dialog = None
