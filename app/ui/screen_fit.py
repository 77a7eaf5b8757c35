"""Windows that fit the PC they run on: a counter PC at 1280x720, or 1920x1080 at 150 %
(1280x720 logical), must show every button, so nothing here has a fixed size. The main window
opens on its screen's available geometry (or the geometry saved for that screen when it still
fits), dialogs are never larger than the screen, and status bar texts elide with a tooltip
instead of being cut off."""

from __future__ import annotations

from PySide6.QtCore import QRect, QSettings, QSize, Qt
from PySide6.QtGui import QGuiApplication, QResizeEvent, QScreen
from PySide6.QtWidgets import QFrame, QLabel, QScrollArea, QSizePolicy, QWidget


class ElidedLabel(QLabel):
    """A one-line label that shows "…" where its text does not fit and then gives the whole
    text as its tooltip: a status bar at 1280x720 is too narrow for every text in full, and a
    text cut off mid-word (or dropped) is worse than one elided with the rest a hover away."""

    def __init__(self, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._full = ""
        self._tip = ""  # a tooltip of its own (kept when the text fits)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
        self.setText(text)

    def setText(self, text: str) -> None:
        self._full = text
        self.updateGeometry()
        self._elide()

    def text(self) -> str:
        """The whole text (what callers set), not the elided one on screen."""
        return self._full

    def shown_text(self) -> str:
        """What is on screen: the text, or its start and "…" where it does not fit."""
        return super().text()

    def is_elided(self) -> bool:
        return self.shown_text() != self._full

    def setToolTip(self, tip: str) -> None:
        self._tip = tip
        self._elide()

    def sizeHint(self) -> QSize:
        metrics = self.fontMetrics()
        margins = self.contentsMargins()
        width = metrics.horizontalAdvance(self._full) + margins.left() + margins.right() + 2
        return QSize(width, super().sizeHint().height())

    def minimumSizeHint(self) -> QSize:
        # Room for a few letters and the ellipsis: the layout may squeeze it that far.
        metrics = self.fontMetrics()
        return QSize(metrics.horizontalAdvance("Mm…"), super().minimumSizeHint().height())

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        margins = self.contentsMargins()
        room = max(0, self.width() - margins.left() - margins.right())
        shown = self.fontMetrics().elidedText(self._full, Qt.TextElideMode.ElideRight, room)
        super().setText(shown)
        if shown == self._full or self._tip == self._full:
            super().setToolTip(self._tip)
        elif self._tip:
            super().setToolTip(f"{self._full}\n{self._tip}")
        else:
            super().setToolTip(self._full)


def screen_of(widget: QWidget) -> QScreen | None:
    """The screen the widget is on (its parent's, before it is shown), else the primary one."""
    screen = widget.screen()
    if screen is None:
        parent = widget.parentWidget()
        screen = parent.screen() if parent is not None else None
    return screen if screen is not None else QGuiApplication.primaryScreen()


def available_size(widget: QWidget) -> QSize | None:
    screen = screen_of(widget)
    return None if screen is None else screen.availableGeometry().size()


def fit_dialog(dialog: QWidget, preferred: QSize) -> None:
    """The dialog at its preferred size where the screen has room, never larger than the
    screen's available area: its buttons stay on screen on a small or scaled display."""
    room = available_size(dialog)
    if room is None:
        dialog.resize(preferred)
        return
    dialog.setMaximumSize(room)
    dialog.resize(preferred.boundedTo(room))


def scrolling(content: QWidget) -> QScrollArea:
    """The content in a frameless scroll area that resizes it: where the screen is smaller
    than what it needs, it scrolls instead of pushing the dialog's buttons off the screen."""
    area = QScrollArea()
    area.setFrameShape(QFrame.Shape.NoFrame)
    area.setWidgetResizable(True)
    area.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # the keys go to the content, not the frame
    area.setWidget(content)
    return area


def settings_key(screen: QScreen) -> str:
    """Where a window's geometry on this screen is saved: a laptop docked to a monitor keeps
    one geometry for each, since one that fits the monitor would not fit the laptop."""
    size = screen.size()
    name = screen.name() or "screen"
    return f"window/geometry/{name}-{size.width()}x{size.height()}"


def fitted_geometry(available: QRect, saved: QRect | None) -> QRect:
    """The saved geometry when it lies wholly in the screen's available area, else the whole
    available area: a geometry saved on a larger display (or before a scaling change) would
    put the status bar and the lower buttons off the screen."""
    if saved is not None and saved.isValid() and available.contains(saved):
        return QRect(saved)
    return QRect(available)


def _read_rect(value: object) -> QRect | None:
    """A geometry saved as "x,y,width,height" (plain text, readable in the settings file)."""
    if not isinstance(value, str):
        return None
    parts = value.split(",")
    if len(parts) != 4 or not all(p.strip().lstrip("-").isdigit() for p in parts):
        return None
    x, y, width, height = (int(p) for p in parts)
    return QRect(x, y, width, height)


def restore_on_screen(window: QWidget, settings: QSettings) -> QRect:
    """Place the window on its screen: the geometry saved for that screen if it fits, else
    the screen's available geometry. Returns where it was put."""
    screen = screen_of(window)
    if screen is None:
        return window.geometry()
    placed = fitted_geometry(
        screen.availableGeometry(), _read_rect(settings.value(settings_key(screen)))
    )
    window.setGeometry(placed)
    return placed


def save_on_screen(window: QWidget, settings: QSettings) -> None:
    """Remember the window's geometry (without its frame) for the screen it is on now."""
    screen = screen_of(window)
    if screen is not None:
        rect = window.geometry()
        settings.setValue(
            settings_key(screen), f"{rect.x()},{rect.y()},{rect.width()},{rect.height()}"
        )
