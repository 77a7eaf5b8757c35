"""A ``ReportTable`` as a Qt table model: each cell as a person reads it (``format_cell``),
numbers right-aligned, the totals row last and bold. Sorting is the report's own order."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QFont

from app.documents.report_cells import format_cell, heading
from app.queries.report_table import ColumnKind, ReportTable

Index = QModelIndex | QPersistentModelIndex
_TEXT_KINDS = (ColumnKind.TEXT, ColumnKind.DATE, ColumnKind.DATETIME)


class ReportModel(QAbstractTableModel):
    def __init__(self) -> None:
        super().__init__()
        self.table: ReportTable | None = None
        self._bold = QFont()
        self._bold.setBold(True)

    def show(self, table: ReportTable | None) -> None:
        self.beginResetModel()
        self.table = table
        self.endResetModel()

    def _rows(self) -> list[tuple[Any, ...]]:
        table = self.table
        if table is None:
            return []
        return [*table.rows, *([table.totals] if table.totals is not None else [])]

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows())

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() or self.table is None else len(self.table.columns)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        table = self.table
        if table is None or not index.isValid():
            return None
        column = table.columns[index.column()]
        totals = table.totals is not None and index.row() == len(table.rows)
        if role == Qt.ItemDataRole.DisplayRole:
            value = self._rows()[index.row()][index.column()]
            return format_cell(column, value, table.zone)
        if role == Qt.ItemDataRole.TextAlignmentRole:
            right = column.kind not in _TEXT_KINDS
            side = Qt.AlignmentFlag.AlignRight if right else Qt.AlignmentFlag.AlignLeft
            return int(side | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.FontRole and totals:
            return self._bold
        return None

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if (
            self.table is None
            or orientation != Qt.Orientation.Horizontal
            or role != Qt.ItemDataRole.DisplayRole
        ):
            return None
        return heading(self.table.columns[section])
