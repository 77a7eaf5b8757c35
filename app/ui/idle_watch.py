"""Notices when nobody has touched the keyboard or mouse for a while (to lock the console)."""

from __future__ import annotations

import time

from PySide6.QtCore import QCoreApplication, QEvent, QObject, QTimer, Signal

# Input by a person. Paint, timer and focus events are not: a live chart or a background load
# must not keep an unattended console unlocked.
ACTIVITY = frozenset(
    {
        QEvent.Type.KeyPress,
        QEvent.Type.MouseButtonPress,
        QEvent.Type.MouseMove,
        QEvent.Type.Wheel,
    }
)


class IdleWatch(QObject):
    """Emits ``idle`` (on the GUI thread) once the interval has passed with no input.

    Installed as an event filter on the application, so input to any window counts. The filter
    only notes the time of the input: the single-shot timer checks it when it fires and re-arms
    itself for the rest of the interval, so a mouse move costs no timer restart. After ``idle``
    the watch waits for the next input (or ``reset``/``resume``) before it counts again. An
    interval of 0 never fires.
    """

    idle = Signal()

    def __init__(self, minutes: int = 0, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._check)
        self._interval_ms = 0
        self._paused = False
        self._last_input = time.monotonic()
        self.set_minutes(minutes)

    @property
    def interval_ms(self) -> int:
        return self._interval_ms

    @property
    def paused(self) -> bool:
        return self._paused

    @property
    def counting(self) -> bool:
        """True while the timer runs towards ``idle``."""
        return self._timer.isActive()

    def install(self, app: QCoreApplication) -> None:
        app.installEventFilter(self)

    def uninstall(self, app: QCoreApplication) -> None:
        app.removeEventFilter(self)

    def set_minutes(self, minutes: int) -> None:
        """Idle time in minutes; 0 switches the watch off."""
        if minutes < 0:
            raise ValueError(f"idle minutes must be 0 or more, not {minutes}")
        self.set_interval_ms(minutes * 60_000)

    def set_interval_ms(self, interval_ms: int) -> None:
        """Idle time in milliseconds (tests use short ones); 0 switches the watch off."""
        if interval_ms < 0:
            raise ValueError(f"idle interval must be 0 ms or more, not {interval_ms}")
        self._interval_ms = interval_ms
        self.reset()

    def reset(self) -> None:
        """Count the idle time from now."""
        self._last_input = time.monotonic()
        self._arm(self._interval_ms)

    def pause(self) -> None:
        """Stop counting (while the lock screen is up) until ``resume``."""
        self._paused = True
        self._timer.stop()

    def resume(self) -> None:
        self._paused = False
        self.reset()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() in ACTIVITY:
            self._last_input = time.monotonic()
            if not self._timer.isActive():
                self._arm(self._interval_ms)
        return False

    def _arm(self, wait_ms: int) -> None:
        if self._interval_ms <= 0 or self._paused:
            self._timer.stop()
            return
        self._timer.start(max(1, wait_ms))

    def _check(self) -> None:
        quiet_ms = (time.monotonic() - self._last_input) * 1000
        if quiet_ms + 1 < self._interval_ms:
            self._arm(round(self._interval_ms - quiet_ms))
            return
        self.idle.emit()
