"""A list screen's body: search field, optional filter combos, a count, and a table.

Keyboard: typing filters at once; Down or Enter in the search field moves into the table on the
first match; Esc clears the search. The current row is reported by id, and kept across reloads.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QEvent, QItemSelectionModel, QObject, Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from app.ui.badge_delegate import BadgeDelegate
from app.ui.heap import settle_loaded_data
from app.ui.row_table_model import Column, PreparedRows, RowTableModel


class SearchableTable(QWidget):
    """``current_changed`` (GUI thread) carries the current row object, or None."""

    current_changed = Signal(object)

    def __init__(
        self,
        columns: list[Column],
        placeholder: str,
        *,
        badge_columns: tuple[int, ...] = (),
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.model = RowTableModel(columns, self)
        self._filters: list[tuple[QComboBox, Callable[[Any, Any], bool]]] = []
        self._loaded = False

        self.search = QLineEdit()
        self.search.setObjectName("searchField")
        self.search.setPlaceholderText(placeholder)
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self._on_search)
        self.search.installEventFilter(self)

        self.count_label = QLabel()
        self.count_label.setObjectName("countLabel")

        self.filter_bar = QHBoxLayout()
        self.filter_bar.setSpacing(8)
        self.filter_bar.addWidget(self.search, 1)

        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(-1, Qt.SortOrder.AscendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setAlternatingRowColors(True)
        self.table.setShowGrid(False)
        self.table.setWordWrap(False)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(30)
        header = self.table.horizontalHeader()
        header.setHighlightSections(False)
        header.setStretchLastSection(True)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        # Fit columns to the first rows only: measuring every row costs a frame per 1,000 rows.
        header.setResizeContentsPrecision(40)
        delegate = BadgeDelegate(self.table)
        for column in badge_columns:
            self.table.setItemDelegateForColumn(column, delegate)
        self.table.selectionModel().currentRowChanged.connect(self._on_current)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(self.filter_bar)
        layout.addWidget(self.count_label)
        layout.addWidget(self.table, 1)

    # --- filters -----------------------------------------------------------------------------

    def add_filter(
        self, choices: list[tuple[str, Any]], accepts: Callable[[Any, Any], bool]
    ) -> QComboBox:
        """A combo of (label, value); value None means "all". ``accepts(row, value)``."""
        combo = QComboBox()
        for label, value in choices:
            combo.addItem(label, value)
        combo.currentIndexChanged.connect(self._apply_filters)
        self.filter_bar.addWidget(combo)
        self._filters.append((combo, accepts))
        return combo

    def _apply_filters(self) -> None:
        active = [
            (accepts, combo.currentData())
            for combo, accepts in self._filters
            if combo.currentData() is not None
        ]
        keep = self.current_id()
        if len(active) == 1:
            ((ok, value),) = active
            self.model.set_predicate(lambda row: ok(row, value))
        elif active:
            self.model.set_predicate(lambda row: all(ok(row, value) for ok, value in active))
        else:
            self.model.set_predicate(None)
        self._after_change(keep)

    # --- data ----------------------------------------------------------------------------------

    def install(self, prepared: PreparedRows) -> None:
        keep = self.current_id()
        self.model.install(prepared)
        if not self._loaded:
            self._loaded = True
            self.table.resizeColumnsToContents()
        self._after_change(keep)
        settle_loaded_data()

    def current_row(self) -> Any:
        index = self.table.currentIndex()
        return self.model.row_at(index.row()) if index.isValid() else None

    def current_id(self) -> int | None:
        row = self.current_row()
        return None if row is None else int(row.id)

    def select_id(self, row_id: int | None) -> bool:
        display = None if row_id is None else self.model.row_of_id(row_id)
        if display is None:
            return False
        self._select_display_row(display)
        return True

    def focus_search(self) -> None:
        self.search.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.search.selectAll()

    # --- internals -----------------------------------------------------------------------------

    def _on_search(self, text: str) -> None:
        # While searching, the top match is shown at once: two keystrokes find a room.
        keep = None if text.strip() else self.current_id()
        self.model.set_filter_text(text)
        self._after_change(keep)

    def _after_change(self, keep_id: int | None) -> None:
        shown, total = self.model.rowCount(), self.model.total_count
        if shown == total:
            self.count_label.setText(self.tr("%n row(s)", "", total))
        else:
            self.count_label.setText(
                self.tr("{shown} of {total} shown").format(shown=shown, total=total)
            )
        if not self.select_id(keep_id):
            if shown:
                self._select_display_row(0)
            else:
                self.table.setCurrentIndex(self.model.index(-1, -1))
                self.current_changed.emit(None)

    def _select_display_row(self, display: int) -> None:
        index = self.model.index(display, 0)
        self.table.selectionModel().setCurrentIndex(
            index,
            QItemSelectionModel.SelectionFlag.ClearAndSelect
            | QItemSelectionModel.SelectionFlag.Rows,
        )
        self.table.scrollTo(index, QAbstractItemView.ScrollHint.EnsureVisible)

    def _on_current(self) -> None:
        self.current_changed.emit(self.current_row())

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.search and event.type() == QEvent.Type.KeyPress:
            assert isinstance(event, QKeyEvent)
            key = event.key()
            if (
                key in (Qt.Key.Key_Down, Qt.Key.Key_Return, Qt.Key.Key_Enter)
                and self.model.rowCount()
            ):
                if not self.table.currentIndex().isValid():
                    self._select_display_row(0)
                self.table.setFocus(Qt.FocusReason.ShortcutFocusReason)
                return True
            if key == Qt.Key.Key_Escape and self.search.text():
                self.search.clear()
                return True
        return super().eventFilter(watched, event)
