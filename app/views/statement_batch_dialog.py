"""Statements for a building… (from the Reports screen; office staff, supervisors and
administrators): a month of the last twelve, a building and floor or the whole site, and a
folder; then every account's statement and the combined file are written off the GUI thread
by ``services.statement_batch`` (the same as ``main.py account statements``), with a progress
bar, and the dialog says what was written, what was refused and why, and where the file to
print is."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path

from PySide6.QtCore import QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.queries.site_layout import BuildingRow
from app.services.operators import SignedIn
from app.services.statement_batch import StatementBatch, write_statements
from app.store.database import Database
from app.ui.background import run_in_background

MONTHS_OFFERED = 12


def recent_months(today: date, count: int = MONTHS_OFFERED) -> list[str]:
    """``YYYY-MM`` of the ``count`` months up to ``today``'s, newest first."""
    months = []
    year, month = today.year, today.month
    for _ in range(count):
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return months


class StatementBatchDialog(QDialog):
    """``finished_batch(batch)`` once the statements are written (on the GUI thread);
    ``progressed(done, total, room)`` is emitted from the worker thread and delivered queued."""

    finished_batch = Signal(object)
    failed = Signal(str)
    progressed = Signal(int, int, str)

    def __init__(
        self,
        db: Database,
        operator: Callable[[], SignedIn],
        buildings: Sequence[BuildingRow],
        today: date,
        folder: Path,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("statementBatchDialog")
        self.setWindowTitle(self.tr("Statements for a building"))
        self._db, self._operator = db, operator
        self._busy = False
        self._chosen = ""  # what the running batch covers, in words
        self.batch: StatementBatch | None = None
        self._floors = {b.code: b.floors for b in buildings}

        intro = QLabel(
            self.tr(
                "Every account open at any time in the month gets its statement as a PDF in "
                "the folder, and one combined file holds them all to print, each from a new "
                "page, in the order of building and room."
            )
        )
        intro.setWordWrap(True)
        self.month_box = QComboBox()
        self.month_box.setObjectName("batchMonth")
        self.month_box.addItems(recent_months(today))
        self.month_box.setCurrentIndex(1)  # statements are printed once a month is over
        self.building_box = QComboBox()
        self.building_box.setObjectName("batchBuilding")
        self.building_box.addItem(self.tr("Whole site"), "")
        for building in buildings:
            self.building_box.addItem(f"{building.code} — {building.name}", building.code)
        self.floor_box = QComboBox()
        self.floor_box.setObjectName("batchFloor")
        self.building_box.currentIndexChanged.connect(self._show_floors)
        self.folder_edit = QLineEdit(str(folder))
        self.folder_edit.setObjectName("batchFolder")
        browse = QPushButton(self.tr("&Browse…"))
        browse.setObjectName("batchBrowse")
        browse.clicked.connect(self._browse)
        folder_row = QHBoxLayout()
        folder_row.addWidget(self.folder_edit, 1)
        folder_row.addWidget(browse)

        form = QFormLayout()
        form.addRow(self.tr("&Month:"), self.month_box)
        form.addRow(self.tr("B&uilding:"), self.building_box)
        form.addRow(self.tr("F&loor:"), self.floor_box)
        folder_label = QLabel(self.tr("&Folder:"))
        folder_label.setBuddy(self.folder_edit)  # a row of two widgets has no buddy of its own
        form.addRow(folder_label, folder_row)

        self.progress = QProgressBar()
        self.progress.setObjectName("batchProgress")
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.status = QLabel()
        self.status.setObjectName("batchStatus")
        self.status.setWordWrap(True)
        self.refusals = QPlainTextEdit()
        self.refusals.setObjectName("batchRefused")
        self.refusals.setReadOnly(True)
        self.refusals.setMaximumHeight(120)
        self.refusals.hide()

        self.buttons = QDialogButtonBox()
        self.write_button = self.buttons.addButton(
            self.tr("&Write statements"), QDialogButtonBox.ButtonRole.AcceptRole
        )
        self.write_button.setObjectName("batchWrite")
        self.write_button.setDefault(True)
        self.open_button = self.buttons.addButton(
            self.tr("&Open folder"), QDialogButtonBox.ButtonRole.ActionRole
        )
        self.open_button.setObjectName("batchOpenFolder")
        self.open_button.setEnabled(False)
        self.close_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Close)
        self.write_button.clicked.connect(self.start)
        self.open_button.clicked.connect(self._open_folder)
        self.close_button.clicked.connect(self.reject)
        self.progressed.connect(self._show_progress)

        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(self.refusals)
        layout.addWidget(self.buttons)
        self._show_floors()
        self.resize(560, self.sizeHint().height())

    def _show_floors(self) -> None:
        self.floor_box.clear()
        self.floor_box.addItem(self.tr("All floors"), None)
        code = self.building_box.currentData()
        for floor in range(1, self._floors.get(code, 0) + 1):
            self.floor_box.addItem(self.tr("Floor {floor}").format(floor=floor), floor)
        self.floor_box.setEnabled(bool(code))

    def _browse(self) -> None:
        chosen = QFileDialog.getExistingDirectory(
            self, self.tr("Folder for the statements"), self.folder_edit.text()
        )
        if chosen:
            self.folder_edit.setText(chosen)

    def _open_folder(self) -> None:
        if self.batch is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.batch.folder)))

    def reject(self) -> None:
        if not self._busy:  # Esc and Close wait for the batch: its result has nowhere else to go
            super().reject()

    def start(self) -> None:
        """Write the chosen month's statements off the GUI thread."""
        if self._busy:
            return
        text = self.folder_edit.text().strip()
        if not text:
            self.status.setText(self.tr("Choose the folder the statements go in."))
            self.folder_edit.setFocus()
            return
        folder = Path(text).expanduser()
        month = self.month_box.currentText()
        building = self.building_box.currentData() or None
        floor = self.floor_box.currentData() if building else None
        db, who, progressed = self._db, self._operator(), self.progressed

        def work() -> StatementBatch:
            return write_statements(
                db,
                who,
                month,
                folder,
                building=building,
                floor=floor,
                progress=lambda done, total, room: progressed.emit(done, total, room),
            )

        if building is None:
            self._chosen = self.tr("the whole site, {month}").format(month=month)
        elif floor is None:
            self._chosen = self.tr("building {code}, {month}").format(code=building, month=month)
        else:
            self._chosen = self.tr("building {code}, floor {floor}, {month}").format(
                code=building, floor=floor, month=month
            )
        self._set_busy(True)
        self.batch = None
        self.open_button.setEnabled(False)
        self.refusals.hide()
        self.progress.setRange(0, 0)  # busy until the first account is done
        self.status.setText(self.tr("Finding the accounts of {month}…").format(month=month))
        run_in_background(work, self._done, self._failed, owner=self)

    def _set_busy(self, busy: bool) -> None:
        self._busy = busy
        for widget in (
            self.write_button,
            self.close_button,
            self.month_box,
            self.building_box,
            self.folder_edit,
        ):
            widget.setEnabled(not busy)
        self.floor_box.setEnabled(not busy and bool(self.building_box.currentData()))

    def _show_progress(self, done: int, total: int, room: str) -> None:
        self.progress.setRange(0, total)
        self.progress.setValue(done)
        if done < total:
            self.status.setText(
                self.tr("Written {done} of {total} ({room})…").format(
                    done=done, total=total, room=room
                )
            )
        else:
            self.status.setText(self.tr("Making the combined file to print…"))

    def _failed(self, message: str) -> None:
        self._set_busy(False)
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.status.setText(self.tr("Not written: {error}").format(error=message))
        self.failed.emit(message)

    def _done(self, batch: StatementBatch) -> None:
        self._set_busy(False)
        self.batch = batch
        self.open_button.setEnabled(True)
        self.progress.setRange(0, max(len(batch.written) + len(batch.refused), 1))
        self.progress.setValue(self.progress.maximum())
        said = self.tr("{written} statement(s) of {chosen} written to {folder}.").format(
            written=len(batch.written), chosen=self._chosen, folder=batch.folder
        )
        if batch.combined is not None:
            said += " " + self.tr("To print: {name} ({pages} pages).").format(
                name=batch.combined.name, pages=batch.combined_pages
            )
        if batch.refused:
            said += " " + self.tr(
                "{count} refused: their ledgers do not add up (below); run the ledger check."
            ).format(count=len(batch.refused))
            self.refusals.setPlainText(
                "\n".join(
                    f"{item.account_number}  {item.room or '-'}  {item.reason}"
                    for item in batch.refused
                )
            )
            self.refusals.show()
        self.status.setText(said)
        self.finished_batch.emit(batch)
