"""Per-meter wire counters of one bus as a Qt table model (the diagnostics dialog's Counters).

``update`` takes fresh copies from ``BusStats.counters()`` (failing meters first) on the GUI
thread. New meters are inserted with row signals, changed values are announced with
``dataChanged``, and a new order (a meter started failing) is a layout change that keeps
persistent indexes on their meters: live updates never reset the model.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import (
    QCoreApplication,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
)
from PySide6.QtGui import QBrush, QColor

from app.hardware.bus_stats import MeterCounters
from app.ui.headed_table_model import HeadedTableModel

ModelIndex = QModelIndex | QPersistentModelIndex
RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
BAD = QColor("#b91c1c")
GOOD = QColor("#047857")


def _t(text: str) -> str:
    return QCoreApplication.translate("MeterCountersModel", text)


def _ms(value: float | None) -> str:
    return "" if value is None else f"{value:.0f}"


class MeterCountersModel(HeadedTableModel):
    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._rows: list[MeterCounters] = []
        self._headers = [
            _t("Address"),
            _t("Online"),
            _t("Requests"),
            _t("Timeouts"),
            _t("CRC errors"),
            _t("Frame errors"),
            _t("Exceptions"),
            _t("p50 ms"),
            _t("p95 ms"),
            _t("Last error"),
        ]

    def row_total(self) -> int:
        return len(self._rows)

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        meter = self._rows[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._text(meter, column)
        if role == Qt.ItemDataRole.TextAlignmentRole and 2 <= column <= 8:
            return int(RIGHT)
        if role == Qt.ItemDataRole.ForegroundRole:
            if column == 1 and meter.online is not None:
                return QBrush(GOOD if meter.online else BAD)
            if 3 <= column <= 6 and self._text(meter, column) != "0":
                return QBrush(BAD)
            if column == 9 and meter.last_error:
                return QBrush(BAD)
        if role == Qt.ItemDataRole.ToolTipRole and column == 9 and meter.last_error:
            return meter.last_error
        return None

    def _text(self, meter: MeterCounters, column: int) -> str:
        if column == 0:
            return meter.address
        if column == 1:
            if meter.online is None:
                return _t("not polled")
            return _t("online") if meter.online else _t("offline")
        numbers = {
            2: meter.requests,
            3: meter.timeouts,
            4: meter.crc_errors,
            5: meter.frame_errors,
            6: meter.exceptions,
        }
        if column in numbers:
            return str(numbers[column])
        if column == 7:
            return _ms(meter.p50_ms)
        if column == 8:
            return _ms(meter.p95_ms)
        return meter.last_error

    def counters(self) -> list[MeterCounters]:
        return list(self._rows)

    def set_counters(self, counters: Sequence[MeterCounters]) -> None:
        """Show ``counters`` in their order (failing meters first)."""
        known = {m.address for m in self._rows}
        new = [m for m in counters if m.address not in known]
        if new:
            first = len(self._rows)
            self.beginInsertRows(QModelIndex(), first, first + len(new) - 1)
            self._rows.extend(new)
            self.endInsertRows()
        wanted = {m.address: m for m in counters}
        # Meters that vanished from the stats (another bus) are not expected; keep them last.
        order = [m.address for m in counters] + [
            m.address for m in self._rows if m.address not in wanted
        ]
        fresh = [wanted.get(a) or self._row_of(a) for a in order]
        if [m.address for m in self._rows] != order:
            self.layoutAboutToBeChanged.emit()
            position = {address: i for i, address in enumerate(order)}
            old = self.persistentIndexList()
            moved = [self.index(position[self._rows[i.row()].address], i.column()) for i in old]
            self._rows = fresh
            self.changePersistentIndexList(old, moved)
            self.layoutChanged.emit()
        else:
            self._rows = fresh
        if self._rows:
            self.dataChanged.emit(
                self.index(0, 0), self.index(len(self._rows) - 1, len(self._headers) - 1)
            )

    def clear(self) -> None:
        if not self._rows:
            return
        self.beginRemoveRows(QModelIndex(), 0, len(self._rows) - 1)
        self._rows = []
        self.endRemoveRows()

    def _row_of(self, address: str) -> MeterCounters:
        return next(m for m in self._rows if m.address == address)
