"""The diagnostics dialog's Scan, Frame log and Counters pages.

``ScanPage`` runs ``BusWorker.scan`` (on the worker's thread) with a progress bar and Cancel;
progress and the result come back through ``GuiCalls``. It lists each meter found with its
model, meter number and register (energy or volume), and the addresses where replies stayed
garbled with the problem. An address range shows addresses asked of the range; the wildcard
search (DL/T 645, CJ/T 188 with no addresses) shows address-space branches settled of those
known so far, a total that grows while colliding replies split branches.

``FrameLogPage`` shows the bounded ``FrameLogModel``; the dialog's timer calls ``pull`` with the
bus's stats. The counters page is a plain view of ``MeterCountersModel``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QCoreApplication, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QTableView,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.hardware.addresses import parse_addresses
from app.hardware.bus_stats import BusStats
from app.hardware.bus_worker import BusWorker
from app.hardware.discovery import ScanHit
from app.hardware.profiles import Profile
from app.ui.frame_log_model import FrameLogModel
from app.ui.gui_calls import GuiCalls
from app.ui.meter_counters_model import MeterCountersModel
from app.ui.save_file import save_in_background

LOG_COLUMN_WIDTHS = (95, 45, 110, 300)
SCAN_COLUMN_WIDTHS = (130, 110, 130, 120, 260)  # address, profile, serial, register, model


class ScanPage(QWidget):
    """``finished(hits)`` (a list of ``ScanHit``) is emitted on the GUI thread when a scan ends
    (done or cancelled); ``found_meter(address, profile, worker)`` once per meter found, before
    it (not for addresses with a problem)."""

    finished = Signal(list)
    found_meter = Signal(str, object, object)
    running_changed = Signal(bool)

    def __init__(
        self,
        calls: GuiCalls,
        context: Callable[[], tuple[BusWorker | None, Profile | None]],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._calls, self._context = calls, context
        self._cancel: threading.Event | None = None
        self.addresses = QLineEdit()
        self.addresses.setObjectName("scanAddresses")
        self.start_button = QPushButton(self.tr("&Scan"))
        self.start_button.setObjectName("scanStart")
        self.start_button.clicked.connect(self.start)
        self.cancel_button = QPushButton(self.tr("&Cancel"))
        self.cancel_button.setObjectName("scanCancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        self.progress = QProgressBar()
        self.progress.setObjectName("scanProgress")
        self.progress.setValue(0)
        self.status = QLabel("")
        self.status.setObjectName("scanStatus")
        self.status.setWordWrap(True)
        self.hits: list[ScanHit] = []  # what the last scan found, as listed
        self.found = QTableWidget(0, 6)
        self.found.setObjectName("scanResults")
        self.found.setHorizontalHeaderLabels(
            [
                self.tr("Address"),
                self.tr("Profile"),
                self.tr("Meter number"),
                self.tr("Register"),
                self.tr("Model"),
                self.tr("Problem"),
            ]
        )
        for column, width in enumerate(SCAN_COLUMN_WIDTHS):
            self.found.horizontalHeader().resizeSection(column, width)
        self.found.horizontalHeader().setStretchLastSection(True)
        self.found.verticalHeader().hide()
        self.found.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.found.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        row = QHBoxLayout()
        caption = QLabel(self.tr("A&ddresses"))
        caption.setBuddy(self.addresses)
        row.addWidget(caption)
        row.addWidget(self.addresses, 1)
        row.addWidget(self.start_button)
        row.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(self.found, 1)

    @property
    def running(self) -> bool:
        return self._cancel is not None

    def set_allowed(self, why_not: str) -> None:
        """Enable Scan unless ``why_not`` says why (shown as its tooltip)."""
        self.start_button.setEnabled(not why_not and not self.running)
        self.start_button.setToolTip(why_not)

    def start(self) -> None:
        worker, profile = self._context()
        if worker is None or profile is None or not self.start_button.isEnabled():
            return
        text = self.addresses.text().strip()
        addresses: list[str] | None = None
        if text:
            try:
                addresses = parse_addresses(text)
            except ValueError as exc:
                self.status.setText(str(exc))
                return
        cancel = threading.Event()
        self._cancel = cancel
        self.cancel_button.setEnabled(True)
        self.found.setRowCount(0)
        self.hits = []
        total = len(addresses) if addresses is not None else 1
        self.progress.setRange(0, total)
        self.progress.setValue(0)
        self.status.setText(
            self.tr("Searching the line for every meter (wildcard address digits)…")
            if addresses is None
            else self.tr("Scanning {n} addresses…").format(n=total)
        )
        self.running_changed.emit(True)
        progress_at = [0, total]

        def progress(done: int, of: int, hits: list[ScanHit]) -> None:  # the worker's thread
            progress_at[:] = [done, of]
            count = sum(hit.ok for hit in hits)
            self._calls.post(lambda: self._progress(done, of, count))

        def finished(hits: list[ScanHit]) -> None:
            self._stopped(cancel)
            done, known = progress_at
            self.progress.setRange(0, known)
            self.progress.setValue(done if cancel.is_set() else known)
            self.hits = list(hits)
            for hit in hits:
                self._add_row(hit)
                if hit.ok:
                    self.found_meter.emit(hit.address, profile, worker)
            found = sum(hit.ok for hit in hits)
            if cancel.is_set():
                text = self.tr("Cancelled after {done} of {total}: {n} meter(s) found.")
            else:
                text = self.tr("Done: {n} meter(s) found.")
            text = text.format(done=done, total=known, n=found)
            if found < len(hits):
                text += " " + self.tr("{n} address(es) with a problem.").format(n=len(hits) - found)
            self.status.setText(text)
            self.finished.emit(list(hits))

        def failed(message: str) -> None:
            self._stopped(cancel)
            self.status.setText(self.tr("Scan stopped: {error}").format(error=message))

        self._calls.when_done(worker.scan(profile, addresses, progress, cancel), finished, failed)

    def _add_row(self, hit: ScanHit) -> None:
        row = self.found.rowCount()
        self.found.insertRow(row)
        register = f"{hit.register} {hit.unit}".strip() if hit.register is not None else ""
        cells = (hit.address, hit.profile, hit.serial or "", register, hit.model, hit.problem)
        for column, text in enumerate(cells):
            self.found.setItem(row, column, QTableWidgetItem(text))

    def _stopped(self, cancel: threading.Event) -> None:
        if self._cancel is cancel:
            self._cancel = None
        self.cancel_button.setEnabled(False)
        self.running_changed.emit(False)

    def _progress(self, done: int, total: int, found: int) -> None:
        if self.progress.maximum() != total:
            self.progress.setMaximum(total)  # the wildcard search learns its total as it goes
        self.progress.setValue(done)
        self.status.setText(
            self.tr("Scanned {done} of {total}: {n} found.").format(done=done, total=total, n=found)
        )

    def cancel(self) -> None:
        """Stop the scan after the address (or search branch) being asked now."""
        if self._cancel is not None:
            self._cancel.set()
            self.status.setText(self.tr("Cancelling…"))

    def results(self) -> list[tuple[str, str]]:
        """(address, profile) of each row listed by the last scan (``hits`` has the rest)."""
        return [(self.cell(r, 0), self.cell(r, 1)) for r in range(self.found.rowCount())]

    def cell(self, row: int, column: int) -> str:
        item = self.found.item(row, column)
        return item.text() if item is not None else ""


class FrameLogPage(QWidget):
    """The live frame log: filter by meter address, pause, clear, export to CSV."""

    def __init__(self, model: FrameLogModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.seen = 0  # frames_total of the bus stats already pulled
        self.note = ""  # what the last export said, shown beside the count
        self.filter = QLineEdit()
        self.filter.setObjectName("logFilter")
        self.filter.setPlaceholderText(self.tr("Meter address (empty: all)"))
        self.filter.textChanged.connect(model.set_address_filter)
        self.pause_button = QPushButton(self.tr("&Pause"))
        self.pause_button.setObjectName("logPause")
        self.pause_button.setCheckable(True)
        self.pause_button.setToolTip(
            self.tr("Stop adding frames; on resume the frames still held by the bus are added")
        )
        clear = QPushButton(self.tr("C&lear"))
        clear.clicked.connect(model.clear)
        self.export_button = QPushButton(self.tr("&Export CSV…"))
        self.export_button.setObjectName("logExport")
        self.export_button.clicked.connect(self._ask_export)
        self.status = QLabel("")
        self.view = QTableView()
        self.view.setObjectName("frameLog")
        self.view.setModel(model)
        self.view.setWordWrap(False)
        self.view.verticalHeader().hide()
        self.view.verticalHeader().setDefaultSectionSize(22)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        header = self.view.horizontalHeader()
        header.setStretchLastSection(True)
        for column, width in enumerate(LOG_COLUMN_WIDTHS):
            header.resizeSection(column, width)
        caption = QLabel(self.tr("&Filter"))
        caption.setBuddy(self.filter)
        row = QHBoxLayout()
        row.addWidget(caption)
        row.addWidget(self.filter)
        row.addWidget(self.pause_button)
        row.addWidget(clear)
        row.addWidget(self.export_button)
        row.addStretch(1)
        row.addWidget(self.status)
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(self.view, 1)

    @property
    def paused(self) -> bool:
        return self.pause_button.isChecked()

    def restart(self, seen: int) -> None:
        """Another bus: empty the log, then show frames recorded after the first ``seen``."""
        self.model.clear()
        self.seen = seen

    def pull(self, stats: BusStats) -> None:
        """Add the frames recorded since the last pull (unless paused)."""
        if not self.paused:
            frames, self.seen = stats.frames_since(self.seen)
            if frames:
                at_end = self.view.verticalScrollBar().value() >= (
                    self.view.verticalScrollBar().maximum() - 2
                )
                self.model.append(frames)
                if at_end:
                    self.view.scrollToBottom()
        self._show_status()

    def _show_status(self) -> None:
        state = self.tr("paused") if self.paused else self.tr("live")
        text = self.tr("{n} frames shown ({state})").format(n=self.model.rowCount(), state=state)
        self.status.setText(f"{text} · {self.note}" if self.note else text)

    def export(self, path: Path) -> int:
        """Write the frames shown to ``path`` as CSV; returns how many."""
        return self.model.export_csv(path)

    def _ask_export(self) -> None:
        rows = self.model.rows()  # the frames shown now; written off the GUI thread
        save_in_background(
            self,
            self.tr("Export frame log"),
            "frames.csv",
            lambda path: self.model.export_csv(path, lambda: rows),
            self._say,
            self.tr("{n} frames saved to {path}"),
        )

    def _say(self, note: str) -> None:
        self.note = note
        self._show_status()


def counters_page(model: MeterCountersModel) -> tuple[QWidget, QTableView]:
    """The Counters page and its table."""
    page = QWidget()
    view = QTableView()
    view.setObjectName("meterCounters")
    view.setModel(model)
    view.verticalHeader().hide()
    header = view.horizontalHeader()
    header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    header.setStretchLastSection(True)
    note = QLabel(
        QCoreApplication.translate(
            "DiagnosticsDialog",
            "Failing meters first. Counted since the port was opened (or by the console).",
        )
    )
    note.setWordWrap(True)
    layout = QVBoxLayout(page)
    layout.addWidget(note)
    layout.addWidget(view, 1)
    return page, view
