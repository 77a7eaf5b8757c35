"""The frame the form dialogs share (sign-in, shifts, account dialogs): a title, a subtitle, the
dialog's own middle part, an error line and the buttons, at a fixed width whose height follows
what is shown.

Their look is in the application theme (``resources/themes/light.qss``), under the dynamic
property ``formDialog`` this frame sets; a dialog keeps only its own few rules.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QLayout,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

FORM_DIALOG = "formDialog"  # the property the theme's form rules are scoped to


def label(text: str = "", name: str = "") -> QLabel:
    """A word-wrapping label, named for the style sheet."""
    widget = QLabel(text)
    if name:
        widget.setObjectName(name)
    widget.setWordWrap(True)
    return widget


def with_notes(widget: QWidget, *notes: QLabel) -> QWidget:
    """A field with its notes below it (a hidden note takes no space); the row label's
    mnemonic focuses the field."""
    box = QWidget()
    box.setFocusProxy(widget)
    layout = QVBoxLayout(box)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.setSpacing(3)
    layout.addWidget(widget)
    for note in notes:
        layout.addWidget(note)
    return box


class FormDialog(QDialog):
    """Title, subtitle, the middle (``add_middle``), an error line and the buttons. While
    ``busy`` (a call in flight), Esc waits for its answer."""

    def __init__(self, width: int, parent: QWidget | None, *, gap: int = 4) -> None:
        super().__init__(parent)
        self.setProperty(FORM_DIALOG, True)
        # A fixed width makes the wrapped texts wrap the same way each time; ``fit`` gives the
        # height they need (a QDialog neither grows for a message shown later nor shrinks back).
        self.setFixedWidth(width)
        self._busy = False
        self.title = label("", "dialogTitle")
        self.subtitle = label("", "dialogSubtitle")
        self.error = label("", "formError")
        self.error.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error.hide()
        self.buttons = QDialogButtonBox()
        self.body = QVBoxLayout(self)
        self.body.setContentsMargins(24, 20, 24, 18)
        self.body.setSpacing(10)
        self.body.addWidget(self.title)
        self.body.addWidget(self.subtitle)
        self.body.addSpacing(gap)
        self.body.addWidget(self.error)
        self.body.addSpacing(4)
        self.body.addWidget(self.buttons)

    def add_buttons(
        self,
        confirm: QPushButton,
        on_confirm: Callable[[], object],
        on_open_pdf: Callable[[], object],
    ) -> QPushButton:
        """The confirm button (default), Cancel, and Open PDF + Done shown once the work is
        done; returns Done."""
        confirm.setDefault(True)
        confirm.clicked.connect(on_confirm)
        self.buttons.addButton(confirm, QDialogButtonBox.ButtonRole.AcceptRole)
        self.cancel_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.cancel_button.setAutoDefault(False)
        self.cancel_button.clicked.connect(self.reject)
        self.open_pdf_button = QPushButton(self.tr("&Open PDF"))
        self.open_pdf_button.setAutoDefault(False)
        self.open_pdf_button.clicked.connect(on_open_pdf)
        done = QPushButton(self.tr("Done"))
        done.clicked.connect(self.accept)
        for button in (self.open_pdf_button, done):  # shown once done
            self.buttons.addButton(button, QDialogButtonBox.ButtonRole.ActionRole)
            button.hide()
        return done

    def add_middle(self, item: QLayout | QWidget) -> None:
        """Lay out ``item`` above the error line."""
        at = self.body.indexOf(self.error)
        if isinstance(item, QLayout):
            self.body.insertLayout(at, item)
        else:
            self.body.insertWidget(at, item)

    @property
    def busy(self) -> bool:
        """True while a database call of this dialog runs in the background."""
        return self._busy

    def show_error(self, text: str) -> None:
        self.error.setText(text)
        self.error.setVisible(bool(text))
        self.fit()

    def show_at(self, error: QLabel, text: str, widget: QWidget) -> None:
        """``text`` in a field's error line, the field focused (a line edit's text selected)."""
        error.setText(text)
        error.show()
        self.fit()
        widget.setFocus(Qt.FocusReason.OtherFocusReason)
        if isinstance(widget, QLineEdit):
            widget.selectAll()

    def fit(self) -> None:
        """The height the shown texts need at the fixed width."""
        self.body.activate()
        self.setFixedHeight(self.body.totalHeightForWidth(self.width()))

    def showEvent(self, event: QShowEvent) -> None:
        self.fit()
        super().showEvent(event)

    def reject(self) -> None:
        if not self._busy:  # the call in flight finishes and reports here; Esc waits for it
            super().reject()
