"""A flat table model with fixed horizontal headers: row and column counts and the header text,
so a subclass only says how many rows it has and what a cell shows."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QPersistentModelIndex, Qt

ModelIndex = QModelIndex | QPersistentModelIndex


class HeadedTableModel(QAbstractTableModel):
    def __init__(self, parent: QObject | None = None, headers: list[str] | None = None) -> None:
        super().__init__(parent)
        self._headers: list[str] = list(headers or [])

    def row_total(self) -> int:
        """How many rows the table has now (subclasses)."""
        raise NotImplementedError

    def rowCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else self.row_total()

    def columnCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._headers)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if (
            orientation == Qt.Orientation.Horizontal
            and role == Qt.ItemDataRole.DisplayRole
            and 0 <= section < len(self._headers)
        ):
            return self._headers[section]
        return None
