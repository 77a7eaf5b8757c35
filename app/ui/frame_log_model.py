"""The technician's live frame log: a bounded Qt table model over the frames of one bus.

The bus worker records every frame in its ``BusStats`` ring buffer; the diagnostics dialog pulls
what is new on a timer (``BusStats.frames_since``) and calls ``append`` on the GUI thread. The
model keeps at most ``max_rows`` rows: appending inserts rows at the end and removes the oldest
with precise row signals (live updates never reset the model). Each frame is decoded once, when
it arrives (``app.hardware.frame_text``). Filtering by meter address is a user action and resets
the view once.
"""

from __future__ import annotations

import csv
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from PySide6.QtCore import (
    QCoreApplication,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
)
from PySide6.QtGui import QBrush, QColor, QFont

from app.hardware.frame_text import describe_frame, hex_bytes
from app.hardware.link import FrameRecord
from app.ui.headed_table_model import HeadedTableModel

ModelIndex = QModelIndex | QPersistentModelIndex
MAX_ROWS = 5000
TIME, DIRECTION, ADDRESS, RAW, MEANING = range(5)
TX_COLOR = QColor("#1d4ed8")
RX_COLOR = QColor("#047857")
FAULT_COLOR = QColor("#b91c1c")
FAULT_WORDS = ("error", "not valid", "exception", "too short")


def _t(text: str) -> str:
    return QCoreApplication.translate("FrameLogModel", text)


@dataclass(frozen=True, slots=True)
class FrameRow:
    """One frame as the log shows it (decoded once)."""

    wall_time: float
    direction: str  # "tx" | "rx"
    address: str
    raw_hex: str
    meaning: str
    note: str

    @property
    def fault(self) -> bool:
        text = self.meaning.lower()
        return any(word in text for word in FAULT_WORDS)

    def time_text(self) -> str:
        """Local wall time with milliseconds."""
        moment = datetime.fromtimestamp(self.wall_time).astimezone()
        return moment.strftime("%H:%M:%S.") + f"{moment.microsecond // 1000:03d}"


def frame_row(frame: FrameRecord, protocol: str | None = None) -> FrameRow:
    meaning = describe_frame(frame.data, frame.direction, frame.note, protocol)
    # The address column already says whom the frame is for; the meaning keeps an address
    # only when the frame names another one (a wildcard, a broadcast, a wrong reply).
    meaning = meaning.removeprefix(f"{frame.address} · ") if frame.address else meaning
    return FrameRow(
        frame.wall_time,
        frame.direction,
        frame.address,
        hex_bytes(frame.data),
        meaning,
        frame.note,
    )


def same_address(a: str, b: str) -> bool:
    """``1`` matches ``001``; ``000000000001`` matches ``1`` (people type addresses short)."""
    return a == b or (a.lstrip("0") or "0") == (b.lstrip("0") or "0")


class FrameLogModel(HeadedTableModel):
    """Frames, oldest first. ``protocol`` (a profile's protocol name, or None to recognise
    each frame) is used to decode frames appended from then on."""

    def __init__(self, max_rows: int = MAX_ROWS, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.max_rows = max_rows
        self.protocol: str | None = None
        self._all: deque[FrameRow] = deque(maxlen=max_rows)
        self._shown: list[FrameRow] = []
        self._address = ""
        self._headers = [_t("Time"), _t("Dir"), _t("Address"), _t("Raw frame (hex)"), _t("Meaning")]
        self._mono = QFont("monospace")
        self._mono.setStyleHint(QFont.StyleHint.TypeWriter)

    # --- Qt ---------------------------------------------------------------------------------

    def row_total(self) -> int:
        return len(self._shown)

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._shown):
            return None
        row = self._shown[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._text(row, column)
        if role == Qt.ItemDataRole.ToolTipRole:
            if column == MEANING:
                return row.meaning + (f"\n{_t('Sent for')}: {row.note}" if row.note else "")
            if column == RAW:
                return row.raw_hex
            return None
        if role == Qt.ItemDataRole.ForegroundRole:
            if column == MEANING and row.fault:
                return QBrush(FAULT_COLOR)
            if column == DIRECTION:
                return QBrush(TX_COLOR if row.direction == "tx" else RX_COLOR)
            return None
        if role == Qt.ItemDataRole.FontRole and column == RAW:
            return self._mono
        return None

    def _text(self, row: FrameRow, column: int) -> str:
        if column == TIME:
            return row.time_text()
        if column == DIRECTION:
            return _t("TX →") if row.direction == "tx" else _t("RX ←")
        if column == ADDRESS:
            return row.address
        if column == RAW:
            return row.raw_hex
        return row.meaning

    # --- feeding ----------------------------------------------------------------------------

    def append(self, frames: Sequence[FrameRecord]) -> int:
        """Decode and add frames (oldest first); drop the oldest rows beyond ``max_rows``.
        Returns how many rows were added to the view (after the address filter)."""
        if not frames:
            return 0
        rows = [frame_row(f, self.protocol) for f in frames[-self.max_rows :]]
        self._all.extend(rows)
        shown = [r for r in rows if self._matches(r)]
        if not shown:
            return 0
        overflow = len(self._shown) + len(shown) - self.max_rows
        if overflow > 0:
            self.beginRemoveRows(QModelIndex(), 0, overflow - 1)
            del self._shown[:overflow]
            self.endRemoveRows()
        first = len(self._shown)
        self.beginInsertRows(QModelIndex(), first, first + len(shown) - 1)
        self._shown.extend(shown)
        self.endInsertRows()
        return len(shown)

    def clear(self) -> None:
        if not self._shown and not self._all:
            return
        self.beginResetModel()
        self._all.clear()
        self._shown.clear()
        self.endResetModel()

    def set_address_filter(self, address: str) -> None:
        """Show only frames to or from ``address`` ("" shows all)."""
        wanted = address.strip()
        if wanted == self._address:
            return
        self.beginResetModel()
        self._address = wanted
        self._shown = [r for r in self._all if self._matches(r)]
        self.endResetModel()

    @property
    def address_filter(self) -> str:
        return self._address

    def _matches(self, row: FrameRow) -> bool:
        return not self._address or same_address(row.address, self._address)

    def rows(self) -> list[FrameRow]:
        """The rows shown, oldest first."""
        return list(self._shown)

    def row_at(self, row: int) -> FrameRow:
        return self._shown[row]

    # --- export -----------------------------------------------------------------------------

    def export_csv(self, path: Path, rows: Callable[[], list[FrameRow]] | None = None) -> int:
        """Write the rows shown to ``path`` as UTF-8 CSV (ISO local time with milliseconds,
        direction, address, raw hex, meaning, the driver's note); returns the row count."""
        chosen = rows() if rows is not None else self.rows()
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["time", "direction", "address", "raw_hex", "meaning", "note"])
            for row in chosen:
                moment = datetime.fromtimestamp(row.wall_time).astimezone()
                writer.writerow(
                    [
                        moment.isoformat(timespec="milliseconds"),
                        row.direction,
                        row.address,
                        row.raw_hex,
                        row.meaning,
                        row.note,
                    ]
                )
        return len(chosen)
