"""The look: stylesheet and icons from ``resources/``."""

from __future__ import annotations

from PySide6.QtGui import QFont, QIcon
from PySide6.QtWidgets import QApplication

from app.resources import RESOURCES


def icon(name: str) -> QIcon:
    return QIcon(str(RESOURCES / "icons" / f"{name}.svg"))


def apply_theme(app: QApplication, name: str = "light") -> None:
    app.setStyle("Fusion")
    font = QFont(app.font())
    font.setPointSize(10)
    app.setFont(font)
    sheet = (RESOURCES / "themes" / f"{name}.qss").read_text(encoding="utf-8")
    app.setStyleSheet(sheet.replace("{icons}", (RESOURCES / "icons").as_posix()))
    app.setWindowIcon(icon("app"))
