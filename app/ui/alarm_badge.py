"""The status bar's count of active critical alarms: always visible, red while any is active,
and a visible and audible cue (a beep and a few flashes) when the count rises.

The badge only shows a count; the main window reads it (off the GUI thread) at start, on F5 and
whenever the change bridge says alarms changed, never on a timer."""

from __future__ import annotations

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import QApplication, QLabel, QWidget

FLASHES = 6  # half-second steps: three flashes
QUIET = "padding: 1px 8px; border-radius: 8px; color: #475569;"
ALERT = "padding: 1px 8px; border-radius: 8px; color: white; background: #b91c1c;"
FLASH = "padding: 1px 8px; border-radius: 8px; color: #b91c1c; background: #fee2e2;"


class AlarmBadge(QLabel):
    """``rose(count)`` when the count went up (a new critical alarm)."""

    rose = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("alarmBadge")
        self.count = 0
        self._steps = 0
        self._flash = QTimer(self)
        self._flash.setInterval(500)
        self._flash.timeout.connect(self._step)
        self.set_count(0)

    def set_count(self, count: int) -> None:
        rose = count > self.count
        self.count = count
        self.setText(
            self.tr("%n critical alarm(s)", "", count) if count else self.tr("No critical alarms")
        )
        self.setStyleSheet(ALERT if count else QUIET)
        if rose:
            QApplication.beep()
            self._steps = FLASHES
            self._flash.start()
            self.rose.emit(count)

    @property
    def flashing(self) -> bool:
        return self._flash.isActive()

    def _step(self) -> None:
        self._steps -= 1
        self.setStyleSheet((FLASH if self._steps % 2 else ALERT) if self.count else QUIET)
        if self._steps <= 0:
            self._flash.stop()
            self.setStyleSheet(ALERT if self.count else QUIET)
