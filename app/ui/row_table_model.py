"""A Qt table model over a list of plain row objects (frozen dataclasses from the services).

Filtering and sorting live in the model itself rather than in a QSortFilterProxyModel: a proxy
calls back into Python ``data()`` for every comparison, which costs about a second for 20,000
rows, while a Python sort over precomputed keys and a substring scan over precomputed lowercase
search strings take a few milliseconds. Search strings are built by ``prepare_rows`` so that work
can run in a worker thread; ``install`` then swaps them in on the GUI thread.

Rows are identified by their ``id`` attribute; ``replace_row`` updates one row in place and emits
a precise ``dataChanged`` (live updates never reset the model).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
)
from PySide6.QtGui import QBrush, QColor

ModelIndex = QModelIndex | QPersistentModelIndex

ROW_ROLE = Qt.ItemDataRole.UserRole + 1  # the row object itself
BADGE_ROLE = Qt.ItemDataRole.UserRole + 2  # state key painted as a badge by BadgeDelegate
SORT_ROLE = Qt.ItemDataRole.UserRole + 3

LEFT = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
CENTER = Qt.AlignmentFlag.AlignCenter


@dataclass(frozen=True)
class Column:
    """How one column shows a row. ``title`` is already translated by the view."""

    title: str
    text: Callable[[Any], str]
    sort_key: Callable[[Any], Any] | None = None
    align: Qt.AlignmentFlag = LEFT
    foreground: Callable[[Any], QColor | None] | None = None
    badge: Callable[[Any], str] | None = None
    tooltip: Callable[[Any], str] | None = None


@dataclass(frozen=True)
class PreparedRows:
    """Rows with their lowercase search strings and id index, built off the GUI thread."""

    rows: tuple[Any, ...]
    search_keys: tuple[str, ...]
    positions: dict[int, int]  # row id -> index into rows


def prepare_rows(rows: Sequence[Any], search_text: Callable[[Any], str]) -> PreparedRows:
    frozen = tuple(rows)
    return PreparedRows(
        frozen,
        tuple(search_text(r).casefold() for r in frozen),
        {getattr(r, "id", i): i for i, r in enumerate(frozen)},
    )


# The roles data() answers; every other role returns None before any row lookup, since a view
# asks for a dozen roles per painted cell.
_ROLES = frozenset(
    {
        Qt.ItemDataRole.DisplayRole,
        Qt.ItemDataRole.TextAlignmentRole,
        Qt.ItemDataRole.ForegroundRole,
        Qt.ItemDataRole.ToolTipRole,
        BADGE_ROLE,
        ROW_ROLE,
    }
)


class RowTableModel(QAbstractTableModel):
    """Table of rows with in-model filtering (text terms AND a predicate) and sorting."""

    def __init__(self, columns: Sequence[Column], parent: Any = None) -> None:
        super().__init__(parent)
        self._columns = tuple(columns)
        self._rows: tuple[Any, ...] = ()
        self._keys: tuple[str, ...] = ()
        self._visible: list[int] = []  # indexes into _rows, in display order
        self._position: dict[int, int] = {}  # row id -> index into _rows
        self._terms: tuple[str, ...] = ()
        self._predicate: Callable[[Any], bool] | None = None
        self._sort_column = -1
        self._sort_order = Qt.SortOrder.AscendingOrder
        self._sort_keys: dict[int, list[Any]] = {}  # column -> key of every row, built on demand

    # --- loading and filtering -------------------------------------------------------------

    def install(self, prepared: PreparedRows) -> None:
        """Swap in a new set of rows (keeps the current filter and sort)."""
        self.beginResetModel()
        self._rows = prepared.rows
        self._keys = prepared.search_keys
        self._position = prepared.positions
        self._sort_keys = {}
        self._visible = self._compute_visible()
        self.endResetModel()

    def set_filter_text(self, text: str) -> None:
        terms = tuple(text.casefold().split())
        if terms == self._terms:
            return
        self._terms = terms
        self._refilter()

    def set_predicate(self, predicate: Callable[[Any], bool] | None) -> None:
        self._predicate = predicate
        self._refilter()

    def _refilter(self) -> None:
        self.beginResetModel()
        self._visible = self._compute_visible()
        self.endResetModel()

    def _compute_visible(self) -> list[int]:
        terms, keys, rows, predicate = self._terms, self._keys, self._rows, self._predicate
        if terms:
            if len(terms) == 1:
                term = terms[0]
                found = [i for i, key in enumerate(keys) if term in key]
            else:
                found = [i for i, key in enumerate(keys) if all(t in key for t in terms)]
        else:
            found = list(range(len(rows)))
        if predicate is not None:
            found = [i for i in found if predicate(rows[i])]
        if 0 <= self._sort_column < len(self._columns):
            found.sort(
                key=self._keys_of(self._sort_column).__getitem__,
                reverse=self._sort_order == Qt.SortOrder.DescendingOrder,
            )
        return found

    def _keys_of(self, column: int) -> list[Any]:
        keys = self._sort_keys.get(column)
        if keys is None:
            spec = self._columns[column]
            key = spec.sort_key or spec.text
            keys = self._sort_keys[column] = [key(row) for row in self._rows]
        return keys

    # --- access ----------------------------------------------------------------------------

    @property
    def total_count(self) -> int:
        return len(self._rows)

    def row_at(self, row: int) -> Any:
        return self._rows[self._visible[row]]

    def row_of_id(self, row_id: int) -> int | None:
        """Display row of the row with ``id``, or None when filtered out or unknown."""
        position = self._position.get(row_id)
        if position is None:
            return None
        try:
            return self._visible.index(position)
        except ValueError:
            return None

    def replace_row(self, new_row: Any, search_text: str) -> bool:
        """Replace the row with the same id in place; emits dataChanged for it only."""
        position = self._position.get(new_row.id)
        if position is None:
            return False
        rows = list(self._rows)
        keys = list(self._keys)
        rows[position] = new_row
        keys[position] = search_text.casefold()
        self._rows, self._keys = tuple(rows), tuple(keys)
        for column, column_keys in self._sort_keys.items():
            spec = self._columns[column]
            column_keys[position] = (spec.sort_key or spec.text)(new_row)
        display = self.row_of_id(new_row.id)
        if display is not None:
            self.dataChanged.emit(
                self.index(display, 0), self.index(display, len(self._columns) - 1)
            )
        return True

    # --- QAbstractTableModel ---------------------------------------------------------------

    def rowCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._visible)

    def columnCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._columns)

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role not in _ROLES or not index.isValid() or index.row() >= len(self._visible):
            return None
        row = self._rows[self._visible[index.row()]]
        column = self._columns[index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            return column.text(row)
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return int(column.align.value)
        if role == Qt.ItemDataRole.ForegroundRole and column.foreground is not None:
            color = column.foreground(row)
            return QBrush(color) if color is not None else None
        if role == Qt.ItemDataRole.ToolTipRole and column.tooltip is not None:
            return column.tooltip(row)
        if role == BADGE_ROLE and column.badge is not None:
            return column.badge(row)
        if role == ROW_ROLE:
            return row
        return None

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(self._columns):
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return self._columns[section].title
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return int(self._columns[section].align.value)
        return None

    def flags(self, index: ModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        if (column, order) == (self._sort_column, self._sort_order):
            return  # QTableView.sortByColumn asks twice
        self.layoutAboutToBeChanged.emit()
        old = self._visible
        persistent = self.persistentIndexList()
        self._sort_column, self._sort_order = column, order
        self._visible = self._compute_visible()
        for index in persistent:
            source = old[index.row()] if index.row() < len(old) else -1
            try:
                display = self._visible.index(source)
            except ValueError:
                self.changePersistentIndex(index, QModelIndex())
            else:
                self.changePersistentIndex(index, self.index(display, index.column()))
        self.layoutChanged.emit()
