"""A painted grid of rooms: one section per building, one row per floor (top floor first, as the
building stands), a tile per room coloured by its state. Thousands of rooms cost one paint of
the visible part, not a widget each.

Updates are cheap: new tiles for the same rooms are swapped in place and only the tiles whose
face changed are repainted; each tile face (state, number, faded) is drawn once into a cached
pixmap, so a repaint of the visible part is a few hundred pixmap copies.

Mouse: a click chooses a room (``room_chosen``), a double click opens it (``room_opened``).
Keyboard: the arrow keys move the choice along and between floors, Enter opens it. Tiles whose
state is hidden by the filter are drawn faded and cannot be chosen.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from PySide6.QtCore import QCoreApplication, QEvent, QPoint, QRect, QSize, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QFont,
    QHelpEvent,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPen,
    QPixmap,
    QResizeEvent,
)
from PySide6.QtWidgets import QSizePolicy, QToolTip, QWidget

from app.queries.site_overview import RoomState, RoomTile

TILE_W = 58
TILE_H = 38
GAP = 4
FLOOR_LABEL_W = 40
HEADER_H = 30
MARGIN = 12
FACE_CACHE_LIMIT = 4096  # tile faces kept (about 9 KB each)

# state -> (fill, border, text)
STATE_COLORS: dict[RoomState, tuple[str, str, str]] = {
    RoomState.NORMAL: ("#dcfce7", "#86efac", "#14532d"),
    RoomState.ALARM_1: ("#fef9c3", "#facc15", "#713f12"),
    RoomState.ALARM_2: ("#ffedd5", "#fb923c", "#7c2d12"),
    RoomState.CUT_OFF: ("#fecaca", "#dc2626", "#7f1d1d"),
    RoomState.OFFLINE: ("#d1d5db", "#6b7280", "#111827"),
    RoomState.LOAD_TRIP: ("#e9d5ff", "#9333ea", "#3b0764"),
    RoomState.KEEP_POWER: ("#dbeafe", "#3b82f6", "#1e3a8a"),
    RoomState.VACANT: ("#ffffff", "#cbd5e1", "#94a3b8"),
}


@dataclass(frozen=True, slots=True)
class _Placed:
    tile: RoomTile
    rect: QRect
    row: int  # floor row number across the whole grid
    column: int


class RoomGrid(QWidget):
    """Put it in a QScrollArea (widgetResizable): its height follows the rooms and the width."""

    room_chosen = Signal(int)  # room id
    room_opened = Signal(int)  # room id (double click, Enter)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("roomGrid")
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMouseTracking(True)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self._tiles: list[RoomTile] = []
        self._names: dict[str, str] = {}  # building code -> name
        self._shown: set[RoomState] = set(RoomState)
        self._building: str | None = None
        self._highlight = ""
        self._placed: list[_Placed] = []
        self._headers: list[tuple[QRect, str]] = []
        self._floor_labels: list[tuple[QRect, str]] = []
        self._current: int | None = None  # room id
        self._height = MARGIN * 2
        self._laid_width = -1
        self._layout_key: tuple[tuple[int, str, int], ...] = ()
        self._faces: dict[tuple[RoomState, str, bool, float], QPixmap] = {}
        self._tooltip_text = _tooltip_text

    # -- data -------------------------------------------------------------------------------

    def set_tiles(self, tiles: Sequence[RoomTile], building_names: dict[str, str]) -> None:
        """Show these tiles. The same rooms in the same places (the usual refresh) are updated
        in place: only the tiles whose face changed are repainted."""
        key = tuple((t.room_id, t.building, t.floor) for t in tiles)
        names = dict(building_names)
        if key == self._layout_key and names == self._names:
            self._swap_in_place(tiles)
            return
        self._tiles = list(tiles)
        self._names = names
        self._layout_key = key
        if self._current is not None and not any(t.room_id == self._current for t in tiles):
            self._current = None
        self._relayout()

    def set_filter(self, shown: Iterable[RoomState], building: str | None) -> None:
        """Show tiles of these states (the others fade) in one building (None: every one)."""
        shown = set(shown)
        if shown == self._shown and building == self._building:
            return
        if building == self._building:  # only the fading changes: no new layout
            self._shown = shown
            self.update()
            return
        self._shown = shown
        self._building = building
        self._relayout()

    def _swap_in_place(self, tiles: Sequence[RoomTile]) -> None:
        self._tiles = list(tiles)
        by_id = {t.room_id: t for t in tiles}
        changed: list[QRect] = []
        placed: list[_Placed] = []
        for old in self._placed:
            tile = by_id[old.tile.room_id]
            if _looks(tile) != _looks(old.tile):
                changed.append(old.rect)
            placed.append(_Placed(tile, old.rect, old.row, old.column))
        self._placed = placed
        if len(changed) > 200:
            self.update()
        else:
            for rect in changed:
                self.update(rect)

    def set_highlight(self, text: str) -> None:
        """Ring the tiles whose label, account number or holder contains ``text``."""
        self._highlight = text.strip().casefold()
        self.update()

    def matching(self) -> list[RoomTile]:
        """The visible tiles the highlight text matches (empty text: none)."""
        if not self._highlight:
            return []
        return [p.tile for p in self._placed if self._matches(p.tile)]

    @property
    def current_room(self) -> int | None:
        return self._current

    def choose(self, room_id: int | None) -> None:
        if room_id == self._current:
            return
        self._current = room_id
        self.update()
        if room_id is not None:
            self.room_chosen.emit(room_id)

    def tile_rect(self, room_id: int) -> QRect | None:
        for placed in self._placed:
            if placed.tile.room_id == room_id:
                return QRect(placed.rect)
        return None

    def tile_at(self, point: QPoint) -> RoomTile | None:
        for placed in self._placed:
            if placed.rect.contains(point):
                return placed.tile
        return None

    def visible_tiles(self) -> list[RoomTile]:
        return [p.tile for p in self._placed]

    # -- layout -----------------------------------------------------------------------------

    def _relayout(self) -> None:
        width = max(self.width(), FLOOR_LABEL_W + MARGIN * 2 + TILE_W)
        self._laid_width = self.width()
        per_row = max(1, (width - MARGIN * 2 - FLOOR_LABEL_W + GAP) // (TILE_W + GAP))
        placed: list[_Placed] = []
        headers: list[tuple[QRect, str]] = []
        floor_labels: list[tuple[QRect, str]] = []
        y = MARGIN
        row = 0
        by_building: dict[str, dict[int, list[RoomTile]]] = {}
        for tile in self._tiles:
            if self._building is not None and tile.building != self._building:
                continue
            by_building.setdefault(tile.building, {}).setdefault(tile.floor, []).append(tile)
        for code, floors in by_building.items():
            name = self._names.get(code, "")
            rooms = sum(len(f) for f in floors.values())
            title = self.tr("Building {code}").format(code=code)
            if name and name != code:
                title += f" — {name}"
            title += self.tr("  ·  {n} rooms").format(n=rooms)
            headers.append((QRect(MARGIN, y, width - 2 * MARGIN, HEADER_H - 6), title))
            y += HEADER_H
            for floor in sorted(floors, reverse=True):
                floor_labels.append(
                    (QRect(MARGIN, y, FLOOR_LABEL_W - 6, TILE_H), self.tr("{n}F").format(n=floor))
                )
                for index, tile in enumerate(floors[floor]):
                    line, column = divmod(index, per_row)
                    x = MARGIN + FLOOR_LABEL_W + column * (TILE_W + GAP)
                    rect = QRect(x, y + line * (TILE_H + GAP), TILE_W, TILE_H)
                    placed.append(_Placed(tile, rect, row + line, column))
                lines = max(1, -(-len(floors[floor]) // per_row))
                y += lines * (TILE_H + GAP)
                row += lines
            y += GAP * 3
        self._placed = placed
        self._headers = headers
        self._floor_labels = floor_labels
        self._height = y + MARGIN
        self.updateGeometry()
        self.setMinimumHeight(self._height)
        self.update()

    def sizeHint(self) -> QSize:
        return QSize(720, self._height)

    def resizeEvent(self, event: QResizeEvent) -> None:
        if self.width() != self._laid_width:
            self._relayout()
        super().resizeEvent(event)

    # -- painting ---------------------------------------------------------------------------

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        visible = event.rect()
        header_font = QFont(self.font())
        header_font.setBold(True)
        header_font.setPointSizeF(self.font().pointSizeF() * 1.1)
        painter.setFont(header_font)
        painter.setPen(QColor("#0f172a"))
        for rect, text in self._headers:
            if rect.intersects(visible):
                painter.drawText(
                    rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, text
                )
        painter.setFont(self.font())
        painter.setPen(QColor("#64748b"))
        for rect, text in self._floor_labels:
            if rect.intersects(visible):
                painter.drawText(
                    rect, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, text
                )
        number_font = QFont(self.font())
        number_font.setBold(True)
        small_font = QFont(self.font())
        small_font.setPointSizeF(max(6.0, self.font().pointSizeF() * 0.8))
        ratio = self.devicePixelRatioF()
        # tiles are placed top to bottom: skip those above the exposed part
        start = bisect_left(self._placed, visible.top() - TILE_H, key=lambda p: p.rect.top())
        for placed in self._placed[start:]:
            if placed.rect.top() > visible.bottom():
                break
            if placed.rect.intersects(visible):
                self._paint_tile(painter, placed, number_font, small_font, ratio)
        painter.end()

    def _paint_tile(
        self,
        painter: QPainter,
        placed: _Placed,
        number_font: QFont,
        small_font: QFont,
        ratio: float,
    ) -> None:
        tile, rect = placed.tile, placed.rect
        faded = tile.state not in self._shown
        key = (tile.state, tile.number, faded, ratio)
        face = self._faces.get(key)
        if face is None:
            if len(self._faces) >= FACE_CACHE_LIMIT:
                self._faces.clear()
            face = _draw_face(tile, faded, number_font, small_font, ratio)
            self._faces[key] = face
        painter.drawPixmap(rect.topLeft(), face)
        ring: QColor | None = None
        if tile.room_id == self._current:
            ring = QColor("#1d4ed8")
        elif self._highlight and self._matches(tile):
            ring = QColor("#0f172a")
        if ring is not None:
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.setPen(QPen(ring, 3 if tile.room_id == self._current else 2))
            painter.drawRoundedRect(rect.adjusted(1, 1, -2, -2), 5, 5)

    def changeEvent(self, event: QEvent) -> None:
        if event.type() in (QEvent.Type.FontChange, QEvent.Type.StyleChange):
            self._faces.clear()
        super().changeEvent(event)

    def _matches(self, tile: RoomTile) -> bool:
        needle = self._highlight
        return bool(needle) and (
            needle in tile.label.casefold()
            or needle in tile.account_number.casefold()
            or needle in tile.holder_name.casefold()
        )

    # -- input ------------------------------------------------------------------------------

    def _choosable(self, tile: RoomTile | None) -> bool:
        return tile is not None and tile.state in self._shown

    def mousePressEvent(self, event: QMouseEvent) -> None:
        tile = self.tile_at(event.position().toPoint())
        if event.button() == Qt.MouseButton.LeftButton and self._choosable(tile):
            assert tile is not None
            self.setFocus(Qt.FocusReason.MouseFocusReason)
            self.choose(tile.room_id)
        super().mousePressEvent(event)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        tile = self.tile_at(event.position().toPoint())
        if self._choosable(tile):
            assert tile is not None
            self.choose(tile.room_id)
            self.room_opened.emit(tile.room_id)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = Qt.Key(event.key())
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and self._current is not None:
            self.room_opened.emit(self._current)
            return
        moves = {
            Qt.Key.Key_Left: (0, -1),
            Qt.Key.Key_Right: (0, 1),
            Qt.Key.Key_Up: (-1, 0),
            Qt.Key.Key_Down: (1, 0),
        }
        if key not in moves:
            super().keyPressEvent(event)
            return
        choosable = [p for p in self._placed if p.tile.state in self._shown]
        if not choosable:
            return
        here = next((p for p in choosable if p.tile.room_id == self._current), None)
        if here is None:
            self.choose(choosable[0].tile.room_id)
            return
        d_row, d_col = moves[key]
        if d_row == 0:
            at = choosable.index(here) + d_col
            if 0 <= at < len(choosable):
                self.choose(choosable[at].tile.room_id)
        else:
            rows = [p for p in choosable if p.row == here.row + d_row]
            if rows:
                nearest = min(rows, key=lambda p: abs(p.column - here.column))
                self.choose(nearest.tile.room_id)
        rect = self.tile_rect(self._current) if self._current is not None else None
        if rect is not None:
            self._ensure_visible(rect)

    def _ensure_visible(self, rect: QRect) -> None:
        parent = self.parentWidget()
        scroll = parent.parentWidget() if parent is not None else None
        ensure = getattr(scroll, "ensureVisible", None)
        if ensure is not None:
            ensure(rect.center().x(), rect.center().y(), TILE_W, TILE_H)

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ToolTip and isinstance(event, QHelpEvent):
            tile = self.tile_at(event.pos())
            if tile is None:
                QToolTip.hideText()
            else:
                QToolTip.showText(event.globalPos(), self._tooltip_text(tile), self)
            return True
        return super().event(event)


def _looks(tile: RoomTile) -> tuple[object, ...]:
    """What a tile's painting depends on (its meters' last-seen times do not show)."""
    return (tile.state, tile.number, tile.label, tile.account_number, tile.holder_name)


def _draw_face(
    tile: RoomTile, faded: bool, number_font: QFont, small_font: QFont, ratio: float
) -> QPixmap:
    """A tile's face (fill, border, number, short state) on a transparent pixmap."""
    face = QPixmap(round(TILE_W * ratio), round(TILE_H * ratio))
    face.setDevicePixelRatio(ratio)
    face.fill(Qt.GlobalColor.transparent)
    fill, border, text = STATE_COLORS[tile.state]
    painter = QPainter(face)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setOpacity(0.25 if faded else 1.0)
    pen = QPen(QColor(border), 1)
    if tile.state is RoomState.VACANT:
        pen.setStyle(Qt.PenStyle.DashLine)
    painter.setPen(pen)
    painter.setBrush(QColor(fill))
    rect = QRect(0, 0, TILE_W, TILE_H)
    painter.drawRoundedRect(rect.adjusted(0, 0, -1, -1), 5, 5)
    painter.setPen(QColor(text))
    painter.setFont(number_font)
    top = QRect(0, 2, TILE_W, TILE_H // 2)
    painter.drawText(top, Qt.AlignmentFlag.AlignCenter, tile.number)
    painter.setFont(small_font)
    bottom = QRect(0, rect.center().y(), TILE_W, TILE_H // 2 - 2)
    painter.drawText(bottom, Qt.AlignmentFlag.AlignCenter, _short_state(tile))
    painter.end()
    return face


def state_label(state: RoomState) -> str:
    labels = {
        RoomState.NORMAL: "Normal",
        RoomState.ALARM_1: "Alarm 1",
        RoomState.ALARM_2: "Alarm 2",
        RoomState.CUT_OFF: "Cut off",
        RoomState.OFFLINE: "Offline",
        RoomState.LOAD_TRIP: "Load-guard trip",
        RoomState.KEEP_POWER: "Keep power",
        RoomState.VACANT: "Vacant",
    }
    return QCoreApplication.translate("RoomGrid", labels[state])


def _short_state(tile: RoomTile) -> str:
    short = {
        RoomState.NORMAL: "",
        RoomState.ALARM_1: "A1",
        RoomState.ALARM_2: "A2",
        RoomState.CUT_OFF: "CUT",
        RoomState.OFFLINE: "OFF",
        RoomState.LOAD_TRIP: "TRIP",
        RoomState.KEEP_POWER: "KEEP",
        RoomState.VACANT: "—",
    }
    return QCoreApplication.translate("RoomGrid", short[tile.state])


def _tooltip_text(tile: RoomTile) -> str:
    lines = [f"<b>{tile.label}</b> · {state_label(tile.state)}"]
    if tile.account_number:
        lines.append(f"{tile.account_number} · {tile.holder_name}")
    if tile.offline_meters:
        lines.append(
            QCoreApplication.translate("RoomGrid", "{n} meter(s) offline").format(
                n=tile.offline_meters
            )
        )
    return "<br>".join(lines)
