"""The Qt binding keeps Python's reference counts: PySide6 6.12.0 on Python 3.11 took one
reference from None on every call of a Qt method that returns nothing, and the interpreter
aborted ("none_dealloc") after a few thousand calls; the live plot makes hundreds a frame."""

from __future__ import annotations

import sys

from PySide6.QtGui import QPen
from PySide6.QtWidgets import QWidget

from app.application import make_application


def test_qt_calls_keep_the_reference_counts_of_none_and_true(qtbot) -> None:  # type: ignore[no-untyped-def]
    make_application()
    widget = QWidget()
    qtbot.addWidget(widget)
    pen = QPen()
    none_before = sys.getrefcount(None)
    true_before = sys.getrefcount(True)
    for _ in range(2000):
        pen.setWidthF(1.0)
        widget.setEnabled(True)
    # Other code may hold a few more or fewer meanwhile; a leak shows as thousands.
    assert abs(sys.getrefcount(None) - none_before) < 100
    assert abs(sys.getrefcount(True) - true_before) < 100
