"""Paints a cell's text as a coloured pill (state badges in tables)."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem

from app.ui.row_table_model import BADGE_ROLE

# badge key -> (background, text)
BADGE_COLORS: dict[str, tuple[str, str]] = {
    "ok": ("#dcfce7", "#166534"),
    "warn": ("#fef3c7", "#92400e"),
    "warn2": ("#ffedd5", "#9a3412"),
    "bad": ("#fee2e2", "#991b1b"),
    "muted": ("#e5e7eb", "#374151"),
    "info": ("#dbeafe", "#1e40af"),
}


class BadgeDelegate(QStyledItemDelegate):
    PADDING = 16  # inside the pill
    MARGIN = 6  # between the cell edge and the pill

    def sizeHint(
        self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> QSize:
        size = super().sizeHint(option, index)
        text = str(index.data(Qt.ItemDataRole.DisplayRole) or "")
        width = option.fontMetrics.horizontalAdvance(text) + self.PADDING + 2 * self.MARGIN
        return QSize(max(size.width(), width), size.height())

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> None:
        key = index.data(BADGE_ROLE)
        if key not in BADGE_COLORS:
            super().paint(painter, option, index)
            return
        text = str(index.data(Qt.ItemDataRole.DisplayRole) or "")
        background, foreground = BADGE_COLORS[key]
        painter.save()
        style = option.widget.style() if option.widget is not None else None
        if style is not None:  # selection and hover background as usual
            opt = QStyleOptionViewItem(option)
            self.initStyleOption(opt, index)
            opt.text = ""
            style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, option.widget)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        metrics = option.fontMetrics
        width = metrics.horizontalAdvance(text) + self.PADDING
        height = min(option.rect.height() - 6, metrics.height() + 4)
        rect = QRectF(
            option.rect.x() + self.MARGIN,
            option.rect.y() + (option.rect.height() - height) / 2,
            width,
            height,
        )
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(background))
        painter.drawRoundedRect(rect, height / 2, height / 2)
        painter.setPen(QColor(foreground))
        painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, text)
        painter.restore()
