"""The main window's monitoring tools: the diagnostics dialog behind Ctrl+Shift+D for those who
may run it, the overview page, and the runtime attached to them."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt

from app.demo.site import DEMO_PASSWORD
from app.queries.site_facts import SiteInfo
from app.services.operators import login
from app.store.database import Database
from app.ui.background import wait_for_background
from app.views.diagnostics_dialog import DiagnosticsDialog
from app.views.main_window import MainWindow


def test_diagnostics_opens_once_for_an_admin(qtbot, main_window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    assert main_window.diagnostics_button.isEnabled()
    qtbot.keyClick(
        main_window,
        Qt.Key.Key_D,
        Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier,
    )
    dialog = main_window.diagnostics_dialog
    assert isinstance(dialog, DiagnosticsDialog)
    qtbot.waitUntil(dialog.isVisible)
    main_window.open_diagnostics()  # a second press brings the same dialog forward
    assert main_window.diagnostics_dialog is dialog
    dialog.close()
    wait_for_background()


def test_diagnostics_is_off_for_a_cashier(
    qtbot, demo_db: Database, site: SiteInfo, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    cashier = login(demo_db, "cashier", DEMO_PASSWORD)
    window = MainWindow(
        demo_db, site, operator=cashier, data_dir=tmp_path, demo_password=DEMO_PASSWORD
    )
    qtbot.addWidget(window)
    assert not window.diagnostics_button.isEnabled()
    assert "Technician" in window.diagnostics_button.toolTip()
    window.open_diagnostics()
    assert window.diagnostics_dialog is None
    window.close()
    wait_for_background()


def test_overview_meter_opens_the_meter_detail(qtbot, main_window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    with qtbot.waitSignal(main_window.overview.loaded, timeout=10_000):
        main_window.show_page(main_window.page_number("overview"))
    overview = main_window.overview.overview
    assert overview is not None
    meter = overview.tiles[0].meters[0]
    main_window.overview.meter_requested.emit(meter.id)
    dialog = main_window.meters.detail_dialog
    assert dialog is not None
    assert dialog.meter_id == meter.id
    qtbot.waitUntil(lambda: dialog.detail is not None, timeout=10_000)
    dialog.close()
    wait_for_background()
