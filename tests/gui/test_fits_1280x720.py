"""A counter PC at 1280x720 (or 1920x1080 at 150 %, the same in logical pixels): every part of
the Counter screen, the status bar and the dialogs' Close buttons are on it, the status texts
elide with the whole text in a tooltip, and the window opens fitted to its screen (or as saved
for that screen). Screenshots go to /tmp/meterdesk_fit_*.png for a look."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QPoint, QRect, QSettings
from PySide6.QtWidgets import QWidget
from sqlalchemy import select

from app.store.database import Database
from app.store.models import Meter
from app.ui.background import wait_for_background
from app.ui.screen_fit import ElidedLabel, fitted_geometry, screen_of, settings_key
from app.views.main_window import MainWindow

SHOTS = Path("/tmp")
LONG_SITE = "Riverside University Dormitories — North Campus Block C and the Graduate Halls"


def rect_in(widget: QWidget, top: QWidget) -> QRect:
    """The widget's rectangle in the top-level widget's coordinates."""
    return QRect(widget.mapTo(top, QPoint(0, 0)), widget.size())


def assert_inside(widget: QWidget, top: QWidget, name: str) -> None:
    assert widget.isVisible(), f"{name} is not shown"
    where = rect_in(widget, top)
    assert top.rect().contains(where), f"{name} at {where} is outside {top.rect()}"


def test_counter_and_status_bar_fit_1280x720(qtbot, main_window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    window = main_window
    window.site_label.setText(LONG_SITE)  # more than the status bar has room for
    window.resize(1280, 720)
    qtbot.waitUntil(lambda: window.size().width() == 1280 and window.size().height() == 720)
    qtbot.wait(50)  # the layouts settle
    window.grab().save(str(SHOTS / "meterdesk_fit_counter.png"))
    counter = window.counter
    for method, button in counter.method_buttons.items():
        assert_inside(button, window, f"the {method.value} button")
    for name, widget in (
        ("the search field", counter.list.search),
        ("the amount", counter.amount),
        ("the Recharge button", counter.pay_button),
        ("the status bar", window.statusBar()),
        ("the clock", window.clock_label),
        ("the Lock button", window.lock_button),
    ):
        assert_inside(widget, window, name)

    labels = [w for w in window.statusBar().findChildren(ElidedLabel) if w.isVisible()]
    assert {window.site_label, window.db_label, window.operator_label, window.counts_label} <= set(
        labels
    )
    for label in labels:
        assert_inside(label, window, f"the status text {label.text()!r}")
        room = label.contentsRect().width()
        shown = label.shown_text()
        assert label.fontMetrics().horizontalAdvance(shown) <= room, f"{shown!r} is cut off"
        if label.is_elided():
            assert shown.endswith("…")
            assert label.text() in label.toolTip()
    assert window.site_label.is_elided(), "the long site name is elided, not cut off"
    assert window.site_label.toolTip() == LONG_SITE
    assert window.site_label.text() == LONG_SITE

    window.site_label.setText("Short")  # fits again: no ellipsis, no tooltip of its own
    assert not window.site_label.is_elided()
    assert window.site_label.toolTip() == ""


def test_window_opens_fitted_to_its_screen_with_the_cursor_in_the_search(  # type: ignore[no-untyped-def]
    qtbot, main_window: MainWindow, tmp_path: Path
) -> None:
    window = main_window
    settings = QSettings(str(tmp_path / "window.ini"), QSettings.Format.IniFormat)
    screen = screen_of(window)
    assert screen is not None
    available = screen.availableGeometry()
    window.show_signed_in(settings)
    assert window.geometry() == available
    assert window.focusWidget() is window.counter.list.search

    smaller = QRect(
        available.x() + 10, available.y() + 20, available.width() // 2, available.height() // 2
    )
    window.setGeometry(smaller)
    window.close()  # saves the geometry for this screen
    settings.sync()
    saved = f"{smaller.x()},{smaller.y()},{smaller.width()},{smaller.height()}"
    assert settings.value(settings_key(screen)) == saved
    window.setGeometry(available)
    window.place_on_screen(settings)
    assert window.geometry() == smaller

    # Saved on a larger display (or before a scaling change): it would not fit, so not used.
    settings.setValue(settings_key(screen), "0,0,4000,3000")
    window.place_on_screen(settings)
    assert window.geometry() == available
    settings.setValue(settings_key(screen), "not a geometry")
    window.place_on_screen(settings)
    assert window.geometry() == available


def test_fitted_geometry_keeps_only_a_saved_geometry_that_lies_on_the_screen() -> None:
    screen = QRect(0, 0, 1280, 680)
    assert fitted_geometry(screen, None) == screen
    assert fitted_geometry(screen, QRect(100, 50, 900, 600)) == QRect(100, 50, 900, 600)
    assert fitted_geometry(screen, QRect(0, 0, 1400, 860)) == screen  # the old fixed size
    assert fitted_geometry(screen, QRect(-200, 0, 900, 600)) == screen  # partly off screen
    assert fitted_geometry(screen, QRect(0, 0, 0, 0)) == screen


def test_dialogs_fit_the_screen_and_keep_close_on_it(  # type: ignore[no-untyped-def]
    qtbot, main_window: MainWindow, demo_db: Database
) -> None:
    window = main_window
    window.resize(1280, 720)
    screen = screen_of(window)
    assert screen is not None
    room = screen.availableGeometry().size()

    window.open_diagnostics()
    diagnostics = window.diagnostics_dialog
    assert diagnostics is not None
    qtbot.waitUntil(diagnostics.isVisible)
    with demo_db.session() as session:
        meter_id = session.scalars(select(Meter.id).order_by(Meter.id)).first()
    assert meter_id is not None
    detail = window.open_meter(meter_id)
    assert detail is not None
    qtbot.waitUntil(lambda: detail.detail is not None, timeout=10_000)

    for name, dialog in (("diagnostics", diagnostics), ("meter", detail)):
        assert dialog.width() <= room.width()
        assert dialog.height() <= room.height()
        assert dialog.maximumSize().width() <= room.width()
        assert dialog.maximumSize().height() <= room.height()
        # Smaller than the content needs: the content scrolls, Close stays in the dialog.
        for width, height in ((1280, 720), (720, 480)):
            dialog.resize(width, height)
            qtbot.wait(20)
            assert dialog.width() <= room.width()
            assert dialog.height() <= room.height()
            assert_inside(dialog.close_buttons, dialog, f"the {name} dialog's Close button")
            dialog.grab().save(str(SHOTS / f"meterdesk_fit_{name}_{width}x{height}.png"))
    detail.close()
    diagnostics.close()
    wait_for_background()
