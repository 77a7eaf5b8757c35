"""Scan and Test line leave the GUI's background thread free: the pool only opens the port, the
scan or the line test runs on the bus worker's thread and its progress and answer come back
through GuiCalls. So another screen's load finishes while a slow line is still being asked,
and closing the scan dialog mid-scan stops the scan and lets the port go, without a crash."""

from __future__ import annotations

import uuid

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QPushButton
from pytestqt.qtbot import QtBot

from app.application import make_application
from app.demo.site import DEMO_PASSWORD
from app.services.bus_setup import BusForm, add_bus
from app.services.meter_setup import MeterForm, add_meter
from app.services.operators import SignedIn, login
from app.services.setup_checks import in_transaction
from app.store.database import Database
from app.ui.background import run_in_background
from app.views.scan_assign_dialog import ScanAssignDialog
from app.views.setup_field_pages import BusesPage

LONG = 20_000
SDM = "eastron-sdm120"


@pytest.fixture
def admin(qtbot: QtBot, demo_db: Database) -> SignedIn:
    make_application()
    return login(demo_db, "admin", DEMO_PASSWORD)


def slow_bus(db: Database, by: SignedIn, name: str, meters: str = "1") -> None:
    """A simulated Modbus line where only ``meters`` answer and every other address costs a
    whole second's reply timeout."""
    url = f"sim://slow-{uuid.uuid4().hex[:8]}?profile={SDM}&addresses={meters}"
    in_transaction(db, add_bus, by, BusForm(name, url, SDM, timeout_ms="1000"))


def another_load_finishes(qtbot: QtBot) -> None:
    """A job of another screen, through the same background pool, is answered."""
    answered: list[str] = []
    run_in_background(lambda: "loaded", answered.append)
    qtbot.waitUntil(lambda: answered == ["loaded"], timeout=LONG)


def test_a_long_scan_leaves_the_pool_free_and_closing_stops_it(
    qtbot: QtBot, demo_db: Database, admin: SignedIn
) -> None:
    slow_bus(demo_db, admin, "Slow line")
    dialog = ScanAssignDialog(demo_db, lambda: admin, "Slow line", {})
    dialog.finished.connect(dialog.deleteLater)  # as the Buses page does (so no addWidget)
    dialog.open()
    qtbot.keyClicks(dialog.addresses, "1-247")  # four minutes of timeouts
    qtbot.mouseClick(dialog.scan_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.scan_job is not None, timeout=LONG)
    job = dialog.scan_job
    assert job is not None
    assert job.owned  # a port opened for the scan
    qtbot.waitUntil(lambda: "of 247" in dialog.progress.format(), timeout=LONG)

    another_load_finishes(qtbot)
    assert not job.future.done()  # the scan is still under way meanwhile

    gone: list[bool] = []
    dialog.destroyed.connect(lambda *_: gone.append(True))
    close = next(b for b in dialog.findChildren(QPushButton) if b.text() == "Close")
    qtbot.mouseClick(close, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: gone == [True], timeout=LONG)  # closed and deleted mid-scan
    # The scan stops after the address it is asking, and the port is let go.
    qtbot.waitUntil(job.future.done, timeout=LONG)
    assert len(job.future.result()) < 247
    qtbot.waitUntil(lambda: not job.worker.alive, timeout=LONG)
    qtbot.wait(1500)  # progress still queued meets a closed GuiCalls, not a deleted dialog


def test_test_line_leaves_the_pool_free_and_says_what_answered(
    qtbot: QtBot, demo_db: Database, admin: SignedIn
) -> None:
    slow_bus(demo_db, admin, "Quiet line")
    for address in ("1", "2", "3", "4"):
        in_transaction(demo_db, add_meter, admin, MeterForm(f"Q-{address}", "Quiet line", address))
    page = BusesPage(demo_db, lambda: admin, dict)  # no running console
    qtbot.addWidget(page)
    page.reload()
    model = page.list.model
    qtbot.waitUntil(lambda: model.rowCount() > 0, timeout=LONG)
    row = next(r for r in range(model.rowCount()) if model.index(r, 0).data() == "Quiet line")
    page.list.table.selectRow(row)

    qtbot.mouseClick(page.findChild(object, "testLine"), Qt.MouseButton.LeftButton)
    assert "Testing the line of Quiet line" in page.message.text()
    another_load_finishes(qtbot)  # queued after the port's opening, not after the test
    assert "Testing the line of Quiet line" in page.message.text()  # three timeouts to go
    qtbot.waitUntil(lambda: "1 of 4 meters answered" in page.message.text(), timeout=LONG)
    assert "3 timeouts" in page.message.text()
