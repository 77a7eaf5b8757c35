"""Scan a bus and assign what answered to rooms, in a few keystrokes.

Scan (with progress and Cancel) lists every meter that answered: address, model, the meter
number where the protocol has one, the register. Serials the meter cannot tell are typed from
the nameplate, or filled from a pattern (``H7-{address:03}``); rooms are typed or filled in
order from a first room (7-101, 7-102...). Check shows every conflict on its row before
anything is saved; Save adds them all in one transaction, or none.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from PySide6.QtCore import QCoreApplication, QObject, Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.hardware.bus_worker import BusWorker
from app.hardware.discovery import ScanHit
from app.services.scan_assign import (
    Assignment,
    AssignmentCheck,
    assign_meters,
    check_assignments,
    rooms_in_order,
    scan_bus,
)
from app.ui.background import run_in_background
from app.views.form_dialog import label
from app.views.setup_form_dialog import attempt
from app.views.setup_page import Operator

COLUMNS = ("address", "model", "serial", "register", "room", "check")
SERIAL, ROOM, CHECK = 2, 4, 5


def _t(text: str) -> str:
    return QCoreApplication.translate("ScanAssign", text)


def register_text(hit: ScanHit) -> str:
    """The register as its display shows it: kWh to 2 decimals, m³ to 3."""
    if hit.register is None:
        return ""
    digits = 3 if hit.unit == "m3" else 2
    return f"{hit.register:.{digits}f} {'m³' if hit.unit == 'm3' else hit.unit}"


class _Progress(QObject):
    """Carries the scan's progress from the bus worker's thread to the GUI thread."""

    moved = Signal(int, int, int)


def fill_pattern(pattern: str, address: str) -> str:
    """``H7-{address:03}`` with address 7 -> ``H7-007`` (digits taken as a number)."""
    value: int | str = int(address) if address.isdigit() else address
    try:
        return pattern.format(address=value)
    except (ValueError, KeyError, IndexError):
        return pattern.replace("{address}", address)


class ScanAssignDialog(QDialog):
    saved = Signal(list)  # the MeterSaved of the meters added (GUI thread)

    def __init__(
        self,
        db: Any,
        operator: Operator,
        bus: str,
        workers: Mapping[str, BusWorker],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(_t("Scan and assign — {bus}").format(bus=bus))
        self.resize(900, 600)
        self.db, self.operator, self.bus, self.workers = db, operator, bus, workers
        self.hits: list[ScanHit] = []
        self._cancel: threading.Event | None = None
        self._progress = _Progress(self)
        self._progress.moved.connect(self._moved)

        title = QLabel(_t("Scan {bus} and give each meter its room").format(bus=bus))
        title.setObjectName("pageTitle")
        self.addresses = QLineEdit()
        self.addresses.setObjectName("scanAddresses")
        self.addresses.setPlaceholderText(_t("Modbus: 1-247 (empty: all); DL/T 645, CJ/T 188: all"))
        self.scan_button = QPushButton(_t("&Scan"))
        self.scan_button.setObjectName("scanButton")
        self.scan_button.clicked.connect(self.scan)
        self.cancel_button = QPushButton(_t("Cancel scan"))
        self.cancel_button.clicked.connect(self.cancel_scan)
        self.cancel_button.setEnabled(False)
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.progress.setFormat(_t("not scanned yet"))
        top = QHBoxLayout()
        top.addWidget(QLabel(_t("Addresses")))
        top.addWidget(self.addresses, 1)
        top.addWidget(self.scan_button)
        top.addWidget(self.cancel_button)

        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("scanTable")
        self.table.setHorizontalHeaderLabels(
            [_t("Address"), _t("Model"), _t("Serial"), _t("Register"), _t("Room"), _t("Check")]
        )
        self.table.verticalHeader().setVisible(False)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectItems)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.table.itemChanged.connect(self._edited)

        self.pattern = QLineEdit()
        self.pattern.setObjectName("serialPattern")
        self.pattern.setPlaceholderText("H7-{address:03}")
        fill_serials = QPushButton(_t("Fill serials"))
        fill_serials.setObjectName("fillSerials")
        fill_serials.clicked.connect(self.fill_serials)
        self.first_room = QLineEdit()
        self.first_room.setObjectName("firstRoom")
        self.first_room.setPlaceholderText("7-101")
        fill_rooms = QPushButton(_t("Fill rooms in order"))
        fill_rooms.setObjectName("fillRooms")
        fill_rooms.clicked.connect(self.fill_rooms)
        fills = QHBoxLayout()
        fills.addWidget(QLabel(_t("Serials from")))
        fills.addWidget(self.pattern)
        fills.addWidget(fill_serials)
        fills.addSpacing(16)
        fills.addWidget(QLabel(_t("Rooms from")))
        fills.addWidget(self.first_room)
        fills.addWidget(fill_rooms)
        fills.addStretch(1)

        self.message = label("", "pageMessage")
        self.check_button = QPushButton(_t("&Check"))
        self.check_button.setObjectName("checkAssignments")
        self.check_button.clicked.connect(self.check)
        self.save_button = QPushButton(_t("Save meters"))
        self.save_button.setObjectName("saveAssignments")
        self.save_button.setEnabled(False)
        self.save_button.clicked.connect(self.save)
        close = QPushButton(_t("Close"))
        close.clicked.connect(self.reject)
        bottom = QHBoxLayout()
        bottom.addWidget(self.message, 1)
        bottom.addWidget(self.check_button)
        bottom.addWidget(self.save_button)
        bottom.addWidget(close)

        layout = QVBoxLayout(self)
        layout.addWidget(title)
        layout.addLayout(top)
        layout.addWidget(self.progress)
        layout.addWidget(self.table, 1)
        layout.addLayout(fills)
        layout.addLayout(bottom)

    # -- scanning --------------------------------------------------------------------------

    def scan(self) -> None:
        self._cancel = threading.Event()
        cancel = self._cancel
        self.scan_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.progress.setRange(0, 0)
        self.progress.setFormat(_t("scanning…"))
        self.message.setText("")
        db, bus, workers, addresses = self.db, self.bus, self.workers, self.addresses.text()
        progress = self._progress

        def work() -> list[ScanHit]:
            return scan_bus(
                db,
                bus,
                addresses,
                workers,
                lambda done, total, hits: progress.moved.emit(done, total, len(hits)),
                cancel,
            )

        run_in_background(lambda: attempt(work), self._scanned, self._failed, owner=self)

    def cancel_scan(self) -> None:
        if self._cancel is not None:
            self._cancel.set()
            self.progress.setFormat(_t("stopping…"))

    def _moved(self, done: int, total: int, found: int) -> None:
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(min(done, max(total, 1)))
        self.progress.setFormat(
            _t("{done} of {total}: {found} found").format(done=done, total=total, found=found)
        )

    def _failed(self, text: str) -> None:
        self.scan_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        self.progress.setRange(0, 1)
        self.message.setText(text)

    def _scanned(self, outcome: Any) -> None:
        self.scan_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        self.progress.setRange(0, 1)
        self.progress.setValue(1)
        if outcome.failed:
            self.progress.setFormat(_t("not scanned"))
            self.message.setText(outcome.message)
            return
        self.hits = [hit for hit in outcome.value if hit.ok]
        problems = [hit for hit in outcome.value if not hit.ok]
        stopped = self._cancel is not None and self._cancel.is_set()
        self.progress.setFormat(
            (_t("stopped: {n} found") if stopped else _t("done: {n} found")).format(
                n=len(self.hits)
            )
        )
        self.table.blockSignals(True)
        self.table.setRowCount(len(self.hits))
        for row, hit in enumerate(self.hits):
            register = register_text(hit)
            for column, text in enumerate(
                (hit.address, hit.model, hit.serial or "", register, "", "")
            ):
                item = QTableWidgetItem(text)
                if column not in (SERIAL, ROOM):
                    item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable)
                self.table.setItem(row, column, item)
        self.table.blockSignals(False)
        said = [
            _t("{n} meters answered. Give each a serial and a room, then Check.").format(
                n=len(self.hits)
            )
        ]
        said += [f"{hit.address}: {hit.problem}" for hit in problems]
        self.message.setText(" ".join(said))
        self.save_button.setEnabled(False)

    # -- filling -----------------------------------------------------------------------------

    def _set(self, row: int, column: int, text: str) -> None:
        item = self.table.item(row, column)
        if item is not None:
            item.setText(text)

    def fill_serials(self) -> None:
        pattern = self.pattern.text().strip()
        if not pattern:
            self.message.setText(_t("Type a pattern such as H7-{address:03} first."))
            return
        for row, hit in enumerate(self.hits):
            if not self.table.item(row, SERIAL).text().strip():  # type: ignore[union-attr]
                self._set(row, SERIAL, fill_pattern(pattern, hit.address))

    def fill_rooms(self) -> None:
        first = self.first_room.text()
        db, count = self.db, len(self.hits)
        run_in_background(
            lambda: attempt(lambda: rooms_in_order(db, first, count)),
            self._rooms_filled,
            owner=self,
        )

    def _rooms_filled(self, outcome: Any) -> None:
        if outcome.failed:
            self.message.setText(outcome.message)
            return
        labels: list[str] = outcome.value
        for row, room in enumerate(labels):
            self._set(row, ROOM, room)
        if len(labels) < len(self.hits):
            self.message.setText(
                _t("The building has {n} rooms from there; give the others by hand.").format(
                    n=len(labels)
                )
            )

    def _edited(self, item: QTableWidgetItem) -> None:
        if item.column() in (SERIAL, ROOM):
            self.save_button.setEnabled(False)  # check again first

    # -- checking and saving ------------------------------------------------------------------

    def assignments(self) -> list[Assignment]:
        rows = []
        for row, hit in enumerate(self.hits):
            serial = self.table.item(row, SERIAL).text()  # type: ignore[union-attr]
            room = self.table.item(row, ROOM).text()  # type: ignore[union-attr]
            reading = hit.register if isinstance(hit.register, Decimal) else None
            rows.append(Assignment(hit.address, serial, room, reading))
        return rows

    def check(self) -> None:
        db, bus, rows = self.db, self.bus, self.assignments()
        run_in_background(
            lambda: attempt(lambda: check_assignments(db, bus, rows)), self._checked, owner=self
        )

    def _checked(self, outcome: Any) -> None:
        if outcome.failed:
            self.message.setText(outcome.message)
            return
        checks: list[AssignmentCheck] = outcome.value
        bad = 0
        self.table.blockSignals(True)
        for row, check in enumerate(checks):
            text = " ".join(check.conflicts) or (
                _t("already on the bus") if check.already else _t("ready")
            )
            item = QTableWidgetItem(text)
            item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable)
            item.setForeground(QColor("#b91c1c" if check.conflicts else "#166534"))
            self.table.setItem(row, CHECK, item)
            bad += bool(check.conflicts)
        self.table.blockSignals(False)
        ready = sum(1 for c in checks if not c.conflicts and not c.already)
        self.save_button.setEnabled(bad == 0 and ready > 0)
        self.save_button.setText(_t("Save {n} meters").format(n=ready))
        self.message.setText(
            _t("{bad} rows to fix before saving.").format(bad=bad)
            if bad
            else _t("{n} meters ready to save.").format(n=ready)
        )

    def save(self) -> None:
        db, bus, rows, who = self.db, self.bus, self.assignments(), self.operator()
        self.save_button.setEnabled(False)
        run_in_background(
            lambda: attempt(lambda: assign_meters(db, who, bus, rows)), self._saved, owner=self
        )

    def _saved(self, outcome: Any) -> None:
        if outcome.failed:
            self.message.setText(outcome.message)
            return
        self.saved.emit(outcome.value)
        self.accept()

    def reject(self) -> None:
        if self._cancel is not None:
            self._cancel.set()
        super().reject()
