"""The "Block 7" site set up through the console from an empty data folder, with keystrokes and
clicks as an office does it: the first administrator, the site, a building and its 30 rooms
(generated with a preview), a tariff file and a balance policy, a bus on a USB-RS485 line (a
socat pseudo-terminal pair, the meters served by ``main.py simulate``), its 30 Hiking DDS238-2
meters found by a scan and given their rooms in a few keystrokes, the tenants from a roster
workbook (previewed, then imported). The running console takes the new bus up without a
restart and polls all 30 meters; room 7-101 runs down, is warned twice and cut, and a recharge
at the counter restores it.

The simulated meters run 20,000 times faster than real time, and their rating is raised in the
database so that the engine does not hold such registers as implausible."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot
from sqlalchemy import func, select, update

from app.application import make_application
from app.documents.site_workbook import write_workbook
from app.hardware.bus_worker import PollPolicy
from app.process.startup import open_site
from app.runtime.runtime import Runtime, RuntimeOptions
from app.services.settings import RECEIPT_PRINTING, change_setting
from app.services.setup_checks import field_changed
from app.store.models import Account, Alarm, Meter, Room
from app.ui.background import wait_for_background
from app.views.login_dialog import FirstAdminDialog
from app.views.main_window import MainWindow
from app.views.setup_form_dialog import SetupFormDialog
from app.views.setup_page import SetupPage
from app.vocabulary import AlarmKind, SupplyState
from tests.gui.setup_helpers import LONG, fill, press
from tests.support import REPO, socat_pair

ENTER = Qt.Key.Key_Return
TARIFF = """name = "Block 7 electricity"
utility = "electricity"
unit = "kWh"
currency = "CNY"
effective_from = 2026-01-01
price = "0.6000"
"""


@pytest.fixture
def line() -> Iterator[tuple[str, str]]:
    console, meters, close = socat_pair()
    simulator = subprocess.Popen(
        [
            *(sys.executable, "main.py", "simulate", "--port", meters),
            *("--profile", "hiking-dds238", "--addresses", "1-30", "--time-scale", "20000"),
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert simulator.stdout is not None
        assert "Serving 30" in simulator.stdout.readline()
        yield console, meters
    finally:
        simulator.send_signal(signal.SIGTERM)
        try:
            simulator.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            simulator.kill()
            simulator.communicate()
        close()


def submit(qtbot: QtBot, page: SetupPage, dialog: SetupFormDialog) -> None:
    """Enter; the form closes once saved and the page says what it did."""
    with qtbot.waitSignal(page.changed, timeout=LONG):
        qtbot.keyClick(dialog.confirm_button, ENTER)
    assert not dialog.isVisible(), dialog.error.text()


def test_block_7_set_up_through_the_console_and_run(
    qtbot: QtBot, tmp_path: Path, line: tuple[str, str]
) -> None:
    console_end, _ = line
    make_application()
    data = tmp_path / "block7"
    opened = open_site(data, None, demo=False)  # the console's own start on an empty folder
    db = opened.db

    first = FirstAdminDialog(db, opened.site.name)
    qtbot.addWidget(first)
    first.show()
    qtbot.keyClicks(first.username, "office")
    qtbot.keyClick(first.username, ENTER)
    qtbot.keyClicks(first.display_name, "Block 7 office")
    qtbot.keyClick(first.display_name, ENTER)
    for edit in (first.password, first.repeat):
        qtbot.keyClicks(edit, "block-7-office")
        qtbot.keyClick(edit, ENTER)
    qtbot.waitUntil(lambda: first.signed_in is not None, timeout=LONG)
    admin = first.signed_in
    assert admin is not None

    window = MainWindow(db, opened.site, operator=admin, data_dir=data)
    qtbot.addWidget(window)
    window.resize(1280, 720)
    window.show()
    # A reading stored and posted every second (the console's default is every 15 minutes and
    # every hour): the money moves while the test watches.
    runtime = Runtime(
        db, RuntimeOptions(poll=PollPolicy(cycle_pause_s=0.1), interval_s=1, posting_s=1.0)
    )
    window.attach_runtime(runtime)
    runtime.start()
    try:
        window.reload()
        window.open_setup_if_new()
        qtbot.waitUntil(lambda: window.stack.currentWidget() is window.setup, timeout=LONG)
        setup = window.setup
        qtbot.waitUntil(lambda: setup.guide.status is not None, timeout=LONG)
        assert "site" in setup.guide.status.missing  # type: ignore[union-attr]
        assert "No open accounts yet" in window.counter.room_label.text()

        # 1. The site.
        qtbot.mouseClick(setup.guide.findChild(object, "open_site"), Qt.MouseButton.LeftButton)
        site_page = setup.page("site")
        assert isinstance(site_page, SetupPage)
        dialog = press(qtbot, site_page, "editSite")
        fill(qtbot, dialog, name="Block 7 Dormitory", address="7 College Road")
        fill(qtbot, dialog, timezone="Asia/Shanghai", currency="CNY")
        submit(qtbot, site_page, dialog)
        qtbot.waitUntil(lambda: "Block 7 Dormitory" in window.windowTitle(), timeout=LONG)

        # 2. A building and its 30 rooms, generated with a preview.
        setup.open("rooms")
        rooms = setup.page("rooms")
        assert isinstance(rooms, SetupPage)
        dialog = press(qtbot, rooms, "addBuilding")
        fill(qtbot, dialog, name="Block 7")
        submit(qtbot, rooms, dialog)
        generate = press(qtbot, rooms, "generateRooms")
        fill(qtbot, generate, floors="1-3", rooms="01-10")
        preview = generate.findChild(object, "roomPreview")
        qtbot.waitUntil(lambda: "30 rooms will be added" in preview.text(), timeout=LONG)
        assert "7-101" in preview.text()
        assert "7-310" in preview.text()
        submit(qtbot, rooms, generate)
        qtbot.waitUntil(lambda: rooms.list.model.rowCount() == 30, timeout=LONG)

        # 3. A tariff file and a balance policy.
        setup.open("tariffs")
        tariffs = setup.page("tariffs")
        assert isinstance(tariffs, SetupPage)
        (tmp_path / "tariff.toml").write_text(TARIFF, encoding="utf-8")
        with qtbot.waitSignal(tariffs.changed, timeout=LONG):
            tariffs.import_file(str(tmp_path / "tariff.toml"))  # type: ignore[attr-defined]
        setup.open("policies")
        policies = setup.page("policies")
        assert isinstance(policies, SetupPage)
        dialog = press(qtbot, policies, "newPolicy")
        fill(qtbot, dialog, name="Block 7 students", alarm_1="20", alarm_2="5")
        fill(qtbot, dialog, overdraft_limit="0", close_permit="1")
        submit(qtbot, policies, dialog)

        # 4. The bus on the USB-RS485 line.
        setup.open("buses")
        buses = setup.page("buses")
        assert isinstance(buses, SetupPage)
        dialog = press(qtbot, buses, "addBus")
        fill(qtbot, dialog, name="Block 7 meters", port=console_end)
        fill(qtbot, dialog, profile="hiking-dds238", baud="9600", parity="N")
        submit(qtbot, buses, dialog)
        qtbot.waitUntil(lambda: buses.list.model.rowCount() == 1, timeout=LONG)
        buses.list.table.selectRow(0)

        # 5. Scan it and give the 30 meters their rooms in a few keystrokes.
        qtbot.mouseClick(buses.findChild(object, "scanBus"), Qt.MouseButton.LeftButton)
        scan = buses.scan_dialog  # type: ignore[attr-defined]
        qtbot.waitUntil(lambda: scan is not None and scan.isVisible(), timeout=LONG)
        qtbot.keyClicks(scan.addresses, "1-30")
        qtbot.mouseClick(scan.scan_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: len(scan.hits) == 30, timeout=LONG)
        qtbot.keyClicks(scan.pattern, "H7-{address:03}")
        qtbot.mouseClick(scan.findChild(object, "fillSerials"), Qt.MouseButton.LeftButton)
        qtbot.keyClicks(scan.first_room, "7-101")
        qtbot.mouseClick(scan.findChild(object, "fillRooms"), Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: scan.table.item(29, 4).text() == "7-310", timeout=LONG)
        qtbot.mouseClick(scan.check_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: scan.save_button.isEnabled(), timeout=LONG)
        assert "Save 30 meters" in scan.save_button.text()
        with qtbot.waitSignal(scan.saved, timeout=LONG):
            qtbot.mouseClick(scan.save_button, Qt.MouseButton.LeftButton)

        # 6. The tenants from a roster: previewed, then imported.
        roster = tmp_path / "roster.xlsx"
        labels = [f"7-{floor}{n:02d}" for floor in (1, 2, 3) for n in range(1, 11)]
        write_workbook(
            roster,
            {
                "tenants": [
                    {
                        "room": label,
                        "holder": f"学生 {n}",
                        "holder_ref": f"2026{n:04d}",
                        "phone": "",
                        "tariffs": "Block 7 electricity",
                        "policy": "Block 7 students",
                        "opening_balance": "25.00" if label == "7-101" else "5000.00",
                    }
                    for n, label in enumerate(labels, start=1)
                ]
            },
        )
        setup.open("import")
        workbook = setup.page("import")
        assert isinstance(workbook, SetupPage)
        workbook.choose(str(roster))  # type: ignore[attr-defined]
        qtbot.waitUntil(lambda: workbook.list.model.rowCount() == 30, timeout=LONG)
        assert "tenants: 30 to add" in workbook.message.text()
        importing = workbook.findChild(object, "importWorkbook")
        assert importing.isEnabled()
        with qtbot.waitSignal(workbook.changed, timeout=LONG):
            qtbot.mouseClick(importing, Qt.MouseButton.LeftButton)
        assert "tenants: 30 added" in workbook.message.text()
        setup.open("guide")
        qtbot.waitUntil(
            lambda: (
                setup.guide.status is not None and set(setup.guide.status.missing) <= {"load_guard"}
            ),
            timeout=LONG,
        )

        # The console took the new bus up by itself and polls all 30 meters.
        with db.transaction() as session:  # time runs fast: see the module docstring
            session.execute(update(Meter).values(rated_current_a=1_000_000))
            field_changed(session)  # the running console takes the new ratings up
            account_id = session.scalar(
                select(Account.id)
                .join(Room, Room.id == Account.room_id)
                .where(Room.label == "7-101")
            )
            change_setting(session, admin, RECEIPT_PRINTING, "none")

        def polled() -> int:
            with db.session() as session:
                return (
                    session.scalar(
                        select(func.count())
                        .select_from(Meter)
                        .where(Meter.last_seen_at.is_not(None))
                    )
                    or 0
                )

        qtbot.waitUntil(lambda: polled() == 30, timeout=120_000)
        assert [w.name for w in runtime.workers] == ["Block 7 meters"]

        def state() -> tuple[SupplyState, bool | None]:
            with db.session() as session:
                account = session.get_one(Account, account_id)
                relay = session.scalars(
                    select(Meter.relay_closed).where(Meter.account_id == account_id)
                ).one()
                return account.supply_state, relay

        qtbot.waitUntil(lambda: state() == (SupplyState.CUT_OFF, False), timeout=180_000)
        with db.session() as session:
            kinds = list(
                session.scalars(
                    select(Alarm.kind).where(Alarm.account_id == account_id).order_by(Alarm.id)
                )
            )
        assert kinds[:2] == [AlarmKind.LOW_BALANCE_1, AlarmKind.LOW_BALANCE_2]

        # A recharge at the counter restores the room.
        window.show_page(window.page_number("counter"))
        counter = window.counter
        counter.reload()
        qtbot.waitUntil(lambda: counter.list.model.rowCount() == 30, timeout=LONG)
        counter.focus_search()
        qtbot.keyClicks(counter.list.search, "7101")
        qtbot.waitUntil(
            lambda: counter._detail is not None and counter._detail.row.room_label == "7-101",
            timeout=LONG,
        )
        qtbot.keyClick(counter.list.search, ENTER)
        qtbot.keyClicks(counter.amount, "500")
        qtbot.keyClick(counter.amount, ENTER)
        qtbot.waitUntil(lambda: counter.confirm_dialog.isVisible(), timeout=LONG)
        qtbot.keyClick(counter.confirm_dialog.confirm_button, ENTER)
        qtbot.waitUntil(lambda: counter.last_receipt is not None, timeout=LONG)
        qtbot.waitUntil(
            lambda: state()[1] is True and state()[0] is not SupplyState.CUT_OFF,
            timeout=LONG,
        )
    finally:
        window.close()
        runtime.stop()
        wait_for_background()
        QApplication.processEvents()
        db.dispose()
        opened.crash_guard.stop()
    assert os.path.exists(data / "meterdesk.sqlite3")
