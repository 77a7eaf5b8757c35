"""Scan a bus and assign what answered to rooms, in a few keystrokes.

Scan (with progress and Cancel) lists every meter that answered: address, model, the meter
number where the protocol has one, the register. Serials the meter cannot tell are typed from
the nameplate, or filled from a pattern (``H7-{address:03}``); rooms are typed or filled in
order from a first room (7-101, 7-102...). Check shows every conflict on its row before
anything is saved; Save adds them all in one transaction, or none.

The scan runs on the bus's worker thread, not in the GUI's background pool: the pool only
opens the port (``start_scan``), so other screens' loads go on during a scan of minutes.
Progress and the result come back through ``GuiCalls``; closing the dialog cancels the scan
and lets go of a port it opened.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from PySide6.QtCore import QCoreApplication, Qt, Signal
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
from app.services.field_setup import BusJob
from app.services.scan_assign import (
    Assignment,
    AssignmentCheck,
    assign_meters,
    check_assignments,
    plan_scan,
    rooms_in_order,
    start_scan,
)
from app.ui.background import run_in_background
from app.ui.gui_calls import GuiCalls
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


class _Scans:
    """The scans this dialog started, so that closing it stops them (any thread)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._jobs: list[BusJob[list[ScanHit]]] = []
        self._closed = False

    def keep(self, job: BusJob[list[ScanHit]]) -> bool:
        """Hold ``job`` until ``drop``; False (not held) once the dialog has closed."""
        with self._lock:
            if not self._closed:
                self._jobs.append(job)
            return not self._closed

    def drop(self, job: BusJob[list[ScanHit]]) -> None:
        with self._lock:
            self._jobs = [held for held in self._jobs if held is not job]

    def close(self) -> list[BusJob[list[ScanHit]]]:
        """The jobs still held; none is held from now on."""
        with self._lock:
            self._closed = True
            jobs, self._jobs = self._jobs, []
            return jobs


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
        # No Qt parent: a progress report or result still queued never meets a deleted dialog.
        self._calls = GuiCalls()
        self.destroyed.connect(self._calls.close)  # deleted with its parent, never closed
        self._scans = _Scans()
        self.scan_job: BusJob[list[ScanHit]] | None = None  # the scan under way (tests look)

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
        calls, scans = self._calls, self._scans

        def progress(done: int, total: int, hits: list[ScanHit]) -> None:  # the worker's thread
            found = len(hits)
            calls.post(lambda: self._moved(done, total, found))

        def open_scan() -> BusJob[list[ScanHit]]:  # the background pool: opens the port
            job = start_scan(plan_scan(db, bus, addresses), workers, progress, cancel, db)
            if not scans.keep(job):  # the dialog closed meanwhile: nobody waits for it
                cancel.set()
                job.release()
            return job

        run_in_background(lambda: attempt(open_scan), self._started, self._failed, owner=self)

    def _started(self, outcome: Any) -> None:
        if outcome.failed:
            self._scanned(outcome.failed, outcome.message, [])
            return
        job: BusJob[list[ScanHit]] = outcome.value
        self.scan_job = job

        def finished(hits: list[ScanHit]) -> None:
            self._ended(job)
            self._scanned(False, "", hits)

        def failed(message: str) -> None:
            self._ended(job)
            self._failed(message)

        self._calls.when_done(job.future, finished, failed)

    def _ended(self, job: BusJob[list[ScanHit]]) -> None:
        self._scans.drop(job)
        job.release()
        if self.scan_job is job:
            self.scan_job = None

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

    def _scanned(self, failed: bool, message: str, found: list[ScanHit]) -> None:
        self.scan_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        self.progress.setRange(0, 1)
        self.progress.setValue(1)
        if failed:
            self.progress.setFormat(_t("not scanned"))
            self.message.setText(message)
            return
        self.hits = [hit for hit in found if hit.ok]
        problems = [hit for hit in found if not hit.ok]
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

    def done(self, result: int) -> None:
        """Closing (Close, Esc, the window's close, or after Save) cancels a scan under way
        and lets go of a port it opened; nothing more is delivered to the dialog."""
        if self._cancel is not None:
            self._cancel.set()
        for job in self._scans.close():
            job.release()  # the worker stops after its current request, off this thread
        self._calls.close()
        super().done(result)
