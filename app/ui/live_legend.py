"""The live plot's legend as one picture: a line sample and a name per series, in one to four
columns over the top-left corner of the plot.

pyqtgraph's own legend is a sample item and a label item per series: with 50 series, every
frame of the plot called back into Python a hundred times or more to paint them (the curves
under the legend change every frame), which cost the GUI thread more than the rest of the frame.
This legend is drawn into a pixmap only when the series, their names or what is hidden change;
a frame paints it with one call. Clicking an entry emits ``clicked(key)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyqtgraph as pg  # type: ignore[import-untyped]  # no stubs, no py.typed
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QFontMetricsF, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QApplication, QStyleOptionGraphicsItem, QWidget

from app.runtime.live_store import Key

PADDING = 6.0
SAMPLE_W = 24.0  # the line sample before each name
GAP = 6.0  # between sample and name
COLUMN_GAP = 14.0
TEXT = "#0f172a"
HIDDEN_TEXT = "#94a3b8"
BACKGROUND = QColor(255, 255, 255, 220)
BORDER = "#e2e8f0"


@dataclass(frozen=True)
class LegendEntry:
    key: Key
    label: str
    color: str  # "#rrggbb"
    dashed: bool
    visible: bool


def column_count(entries: int) -> int:
    return 1 if entries <= 8 else 2 if entries <= 20 else 4


class LegendImage(pg.GraphicsObject):  # type: ignore[misc]
    """Put it in the plot's view box (``setParentItem``) and ``set_entries`` whenever the
    series change; it keeps its place in pixels whatever the axes show."""

    clicked = Signal(object)  # the key of the entry clicked

    def __init__(self) -> None:
        super().__init__()
        self.setZValue(100)
        self.entries: tuple[LegendEntry, ...] = ()
        self._ratio = 1.0  # device pixels per pixel the picture was drawn for
        self._pixmap: QPixmap | None = None
        self._size = QRectF()
        self._hits: list[tuple[QRectF, Key]] = []

    def set_entries(self, entries: tuple[LegendEntry, ...], pixel_ratio: float = 1.0) -> None:
        """Draw the legend again for ``entries`` (nothing when there are none)."""
        if (entries, pixel_ratio) == (self.entries, self._ratio) and self._pixmap is not None:
            return
        self.prepareGeometryChange()
        self.entries, self._ratio = entries, pixel_ratio
        self._hits = []
        if not entries:
            self._pixmap, self._size = None, QRectF()
            self.update()
            return
        font = QApplication.font()
        metrics = QFontMetricsF(font)
        row_h = metrics.height() + 4
        columns = column_count(len(entries))
        rows = -(-len(entries) // columns)
        widths = [0.0] * columns
        for index, entry in enumerate(entries):
            column = index % columns
            width = SAMPLE_W + GAP + metrics.horizontalAdvance(entry.label)
            widths[column] = max(widths[column], width)
        total_w = 2 * PADDING + sum(widths) + COLUMN_GAP * (columns - 1)
        total_h = 2 * PADDING + rows * row_h
        pixmap = QPixmap(round(total_w * pixel_ratio) + 1, round(total_h * pixel_ratio) + 1)
        pixmap.setDevicePixelRatio(pixel_ratio)
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        try:
            painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
            painter.setRenderHint(QPainter.RenderHint.TextAntialiasing, True)
            painter.setFont(font)
            painter.setPen(QPen(QColor(BORDER)))
            painter.setBrush(BACKGROUND)
            painter.drawRect(QRectF(0.5, 0.5, total_w - 1, total_h - 1))
            lefts = [PADDING + sum(widths[:c]) + COLUMN_GAP * c for c in range(columns)]
            for index, entry in enumerate(entries):
                column, row = index % columns, index // columns
                x, y = lefts[column], PADDING + row * row_h
                middle = y + row_h / 2
                color = QColor(entry.color if entry.visible else HIDDEN_TEXT)
                pen = QPen(color)
                pen.setWidthF(2.0)
                if entry.dashed:
                    pen.setStyle(Qt.PenStyle.DashLine)
                painter.setPen(pen)
                painter.drawLine(QPointF(x, middle), QPointF(x + SAMPLE_W, middle))
                painter.setPen(QColor(TEXT if entry.visible else HIDDEN_TEXT))
                text_rect = QRectF(x + SAMPLE_W + GAP, y, widths[column], row_h)
                painter.drawText(
                    text_rect,
                    int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter),
                    entry.label,
                )
                self._hits.append((QRectF(x, y, widths[column], row_h), entry.key))
        finally:
            painter.end()
        self._pixmap = pixmap
        self._size = QRectF(0, 0, total_w, total_h)
        self.update()

    def key_at(self, point: QPointF) -> Key | None:
        """The key of the entry at ``point`` (the legend's own coordinates), if any."""
        return next((key for rect, key in self._hits if rect.contains(point)), None)

    def boundingRect(self) -> QRectF:
        return QRectF(self._size)

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        if self._pixmap is not None:
            painter.drawPixmap(QPointF(0, 0), self._pixmap)

    def mouseClickEvent(self, event: object) -> None:
        button = event.button()  # type: ignore[attr-defined]
        key = self.key_at(event.pos())  # type: ignore[attr-defined]
        if button == Qt.MouseButton.LeftButton and key is not None:
            event.accept()  # type: ignore[attr-defined]
            self.clicked.emit(key)
