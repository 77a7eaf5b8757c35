"""Driving a Setup page's forms as a person does: press the page's button, wait for the form it
opens, and type each value into its field (a choice picked by its text)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QLineEdit, QPlainTextEdit, QPushButton
from pytestqt.qtbot import QtBot

from app.views.setup_form_dialog import SetupFormDialog
from app.views.setup_page import SetupPage

LONG = 60_000  # ms: a bound for a stuck test, never a measurement


def press(qtbot: QtBot, page: SetupPage, button: str) -> SetupFormDialog:
    """Click the page's button ``button`` (its object name or its text); the form it opens."""
    found = page.findChild(QPushButton, button) or next(
        (b for b in page.findChildren(QPushButton) if b.text() == button), None
    )
    assert found is not None, f"no button {button!r}"
    assert found.isEnabled(), f"{button}: {found.toolTip()}"
    qtbot.mouseClick(found, Qt.MouseButton.LeftButton)

    def opened() -> None:
        assert page.dialog is not None, page.message.text()
        assert isinstance(page.dialog, SetupFormDialog)
        assert page.dialog.isVisible()

    qtbot.waitUntil(opened, timeout=LONG)
    assert isinstance(page.dialog, SetupFormDialog)
    return page.dialog


def fill(qtbot: QtBot, dialog: SetupFormDialog, **values: str) -> None:
    """Type each value into its field as a person does (a choice is picked by its text)."""
    for key, text in values.items():
        widget = dialog.inputs[key]
        if isinstance(widget, QLineEdit):
            widget.setFocus()
            widget.selectAll()
            qtbot.keyClicks(widget, text)
        elif isinstance(widget, QPlainTextEdit):
            widget.setFocus()
            qtbot.keyClicks(widget, text)
        elif isinstance(widget, QComboBox) and widget.isEditable():
            widget.setFocus()
            widget.lineEdit().selectAll()
            qtbot.keyClicks(widget.lineEdit(), text)
        else:
            assert isinstance(widget, QComboBox)
            at = widget.findText(text, Qt.MatchFlag.MatchContains)
            assert at >= 0, f"{key}: no choice {text!r}"
            widget.setCurrentIndex(at)
