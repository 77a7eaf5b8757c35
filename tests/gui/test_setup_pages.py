"""The Setup screen's pages on the demo site, driven as an administrator (or a cashier) would:
each form saves through its service, a refusal is shown under the field it names and nothing
is saved, and a role that may not do something finds the button off with the reason."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QComboBox, QFileDialog, QLineEdit, QPushButton
from pytestqt.qtbot import QtBot
from sqlalchemy import func, select, update

from app.application import make_application
from app.demo.site import DEMO_PASSWORD
from app.queries.site_facts import SiteInfo, site_info
from app.services.bus_setup import BusForm, add_bus
from app.services.operators import login, set_up_first_admin
from app.services.setup_checks import in_transaction
from app.services.site_layout import add_building
from app.services.site_setup import SiteDetails, init_site
from app.store.database import Database
from app.store.models import (
    Account,
    BalancePolicy,
    Building,
    Bus,
    LoadGuardSetting,
    Meter,
    Operator,
    Room,
)
from app.ui.background import wait_for_background
from app.views.main_window import MainWindow
from app.views.setup_page import SetupPage
from app.vocabulary import Role
from tests.gui.setup_helpers import fill, press

ENTER = Qt.Key.Key_Return
NOW = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
LONG = 20_000


def open_page(window: MainWindow, qtbot: QtBot, key: str) -> SetupPage:
    window.show_page(window.page_number("setup"))
    window.setup.open(key)
    page = window.setup.page(key)
    assert isinstance(page, SetupPage)
    qtbot.waitUntil(lambda: page.list.model.rowCount() > 0 or key in ("buses",), timeout=LONG)
    return page


def count(db: Database, model: type, *where: object) -> int:
    with db.session() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where)) or 0  # type: ignore[arg-type]


def select_row(page: SetupPage, text: str, column: int = 0) -> None:
    model = page.list.model
    for row in range(model.rowCount()):
        if model.index(row, column).data() == text:
            page.list.table.selectRow(row)
            return
    raise AssertionError(f"no row {text!r}")


def test_an_administrator_adds_an_operator_and_changes_the_role(
    qtbot: QtBot, main_window: MainWindow, demo_db: Database
) -> None:
    page = open_page(main_window, qtbot, "operators")
    dialog = press(qtbot, page, "Add operator…")
    fill(qtbot, dialog, username="cashier2", display_name="Evening cashier")
    fill(qtbot, dialog, password="evening-pass", confirm="evening-typo")
    qtbot.keyClick(dialog.confirm_button, ENTER)
    error = dialog.errors["confirm"]
    qtbot.waitUntil(lambda: error.isVisible(), timeout=LONG)
    assert "differ" in error.text()
    assert count(demo_db, Operator, Operator.username == "cashier2") == 0
    fill(qtbot, dialog, confirm="evening-pass")
    with qtbot.waitSignal(page.changed, timeout=LONG):
        qtbot.keyClick(dialog.confirm_button, ENTER)
    assert "cashier2 added as Cashier" in page.message.text()
    assert login(demo_db, "cashier2", "evening-pass").role is Role.CASHIER

    qtbot.waitUntil(lambda: page.list.model.rowCount() == 6, timeout=LONG)
    select_row(page, "cashier2")
    dialog = press(qtbot, page, "Change role…")
    fill(qtbot, dialog, role="Office staff")
    with qtbot.waitSignal(page.changed, timeout=LONG):
        qtbot.keyClick(dialog.confirm_button, ENTER)
    assert login(demo_db, "cashier2", "evening-pass").role is Role.OFFICE


def test_a_bad_port_is_said_under_the_port_and_nothing_is_saved(
    qtbot: QtBot, main_window: MainWindow, demo_db: Database
) -> None:
    page = open_page(main_window, qtbot, "buses")
    qtbot.waitUntil(lambda: page.list.model.rowCount() > 0, timeout=LONG)
    before = count(demo_db, Bus)
    dialog = press(qtbot, page, "Add bus…")
    fill(qtbot, dialog, name="Gateway line", port="http://10.0.0.5")
    qtbot.keyClick(dialog.confirm_button, ENTER)
    qtbot.waitUntil(lambda: dialog.errors["port"].isVisible(), timeout=LONG)
    assert "not a port MeterDesk opens" in dialog.errors["port"].text()
    assert dialog.focusWidget() is dialog.inputs["port"]
    assert count(demo_db, Bus) == before
    fill(qtbot, dialog, port="socket://10.0.0.5:4001")
    with qtbot.waitSignal(page.changed, timeout=LONG):
        qtbot.keyClick(dialog.confirm_button, ENTER)
    assert count(demo_db, Bus) == before + 1


def test_a_policy_is_assigned_to_a_floor_and_load_guard_settings_change(
    qtbot: QtBot, main_window: MainWindow, demo_db: Database
) -> None:
    page = open_page(main_window, qtbot, "policies")
    select_row(page, "Staff apartment")
    dialog = press(qtbot, page, "Assign to accounts…")
    fill(qtbot, dialog, building="Block A", floor="1")
    with qtbot.waitSignal(page.changed, timeout=LONG):
        qtbot.keyClick(dialog.confirm_button, ENTER)
    with demo_db.session() as session:
        staff = session.scalars(
            select(BalancePolicy.id).where(BalancePolicy.name == "Staff apartment")
        ).one()
        on_floor = session.scalars(
            select(Account.policy_id)
            .join(Room, Room.id == Account.room_id)
            .join(Building, Building.id == Room.building_id)
            .where(Building.code == "A", Room.floor == 1)
        ).all()
    assert on_floor
    assert set(on_floor) == {staff}
    assert f"{len(on_floor)} accounts now on Staff apartment" in page.message.text()

    guard = open_page(main_window, qtbot, "load_guard")
    guard.list.table.selectRow(0)
    dialog = press(qtbot, guard, "Edit…")
    fill(qtbot, dialog, total_limit_w="3000", pf_threshold="1.2")
    qtbot.keyClick(dialog.confirm_button, ENTER)
    qtbot.waitUntil(lambda: dialog.errors["pf_threshold"].isVisible(), timeout=LONG)
    fill(qtbot, dialog, pf_threshold="0.950")
    with qtbot.waitSignal(guard.changed, timeout=LONG):
        qtbot.keyClick(dialog.confirm_button, ENTER)
    with demo_db.session() as session:
        params = session.scalars(
            select(LoadGuardSetting.params).where(LoadGuardSetting.building_id.is_(None))
        ).one()
    assert params["total_limit_w"] == 3000


def test_a_tariff_and_a_policy_are_exported_and_a_setting_changed(
    qtbot: QtBot,
    main_window: MainWindow,
    demo_db: Database,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    page = open_page(main_window, qtbot, "tariffs")
    page.list.table.selectRow(0)
    name = page.list.current_row().name
    target = tmp_path / "exported.toml"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), ""))
    with qtbot.waitSignal(page.changed, timeout=LONG):
        next(b for b in page.findChildren(QPushButton) if b.text() == "Export…").click()
    assert f'name = "{name}"' in target.read_text(encoding="utf-8")

    policies = open_page(main_window, qtbot, "policies")
    select_row(policies, "Staff apartment")
    offered: list[str] = []

    def save_as(*args: object, **_kwargs: object) -> tuple[str, str]:
        offered.append(str(args[2]))
        return str(tmp_path / "policy.toml"), ""

    monkeypatch.setattr(QFileDialog, "getSaveFileName", save_as)
    with qtbot.waitSignal(policies.changed, timeout=LONG):
        next(b for b in policies.findChildren(QPushButton) if b.text() == "Export…").click()
    assert offered == ["Staff apartment.toml"]
    assert 'name = "Staff apartment"' in (tmp_path / "policy.toml").read_text(encoding="utf-8")

    settings = open_page(main_window, qtbot, "settings")
    select_row(settings, "Idle lock (minutes)")
    dialog = press(qtbot, settings, "Change…")
    fill(qtbot, dialog, value="999")
    qtbot.keyClick(dialog.confirm_button, ENTER)
    qtbot.waitUntil(lambda: dialog.error.isVisible(), timeout=LONG)
    assert "0 to 240" in dialog.error.text()
    fill(qtbot, dialog, value="10")
    with qtbot.waitSignal(settings.changed, timeout=LONG):
        qtbot.keyClick(dialog.confirm_button, ENTER)
    qtbot.waitUntil(
        lambda: any(
            settings.list.model.index(r, 1).data() == "10"
            for r in range(settings.list.model.rowCount())
        ),
        timeout=LONG,
    )


def test_a_cashier_finds_the_set_up_actions_off_with_the_reason(
    qtbot: QtBot, main_window: MainWindow, demo_db: Database
) -> None:
    cashier = login(demo_db, "cashier", DEMO_PASSWORD)
    main_window._operator = cashier
    main_window.setup.refresh_actions()
    page = open_page(main_window, qtbot, "buses")
    add = next(b for b in page.findChildren(QPushButton) if b.text() == "Add bus…")
    assert not add.isEnabled()
    assert "technician" in add.toolTip().lower()
    operators = open_page(main_window, qtbot, "operators")
    add_operator = next(
        b for b in operators.findChildren(QPushButton) if b.text() == "Add operator…"
    )
    assert not add_operator.isEnabled()


def test_a_form_offers_what_another_console_added_a_moment_ago(
    qtbot: QtBot, main_window: MainWindow, demo_db: Database
) -> None:
    """The rooms and meters pages were loaded; then a second console adds a building and a
    bus. The forms opened next offer both, without the pages being reloaded first."""
    rooms = open_page(main_window, qtbot, "rooms")
    meters = open_page(main_window, qtbot, "meters")
    elsewhere = login(demo_db, "admin", DEMO_PASSWORD)
    in_transaction(demo_db, add_building, elsewhere, "Annex", "X")
    in_transaction(
        demo_db,
        add_bus,
        elsewhere,
        BusForm("Annex line", "socket://10.0.0.9:4001", "hiking-dds238"),
    )

    main_window.setup.open("rooms")
    dialog = press(qtbot, rooms, "Add room…")
    building = dialog.inputs["building"]
    assert isinstance(building, QComboBox)
    assert building.findText("Annex (X)") >= 0
    fill(qtbot, dialog, building="Annex", floor="1", room="101")
    with qtbot.waitSignal(rooms.changed, timeout=LONG):
        qtbot.keyClick(dialog.confirm_button, ENTER)
    assert "X-101 added" in rooms.message.text()

    main_window.setup.open("meters")
    dialog = press(qtbot, meters, "Add meter…")
    bus = dialog.inputs["bus"]
    room = dialog.inputs["room"]
    assert isinstance(bus, QComboBox)
    assert isinstance(room, QComboBox)
    assert bus.findText("Annex line") >= 0
    assert room.findText("X-101") >= 0  # the room this console added on the other page
    dialog.reject()


def test_the_meters_page_says_which_meters_were_polled(
    qtbot: QtBot, main_window: MainWindow, demo_db: Database
) -> None:
    with demo_db.transaction() as session:
        session.execute(update(Meter).where(Meter.serial == "EA03001").values(last_seen_at=None))
        session.execute(update(Meter).where(Meter.serial == "EA03002").values(last_seen_at=NOW))
    page = open_page(main_window, qtbot, "meters")
    status = {
        page.list.model.index(r, 0).data(): page.list.model.index(r, 7).data()
        for r in range(page.list.model.rowCount())
    }
    assert status["EA03001"] == "Not polled yet"
    assert status["EA03002"] == "Online"


def test_the_site_page_offers_to_edit_the_site_it_shows(
    qtbot: QtBot, main_window: MainWindow, site: SiteInfo
) -> None:
    page = open_page(main_window, qtbot, "site")
    button = page.findChild(QPushButton, "editSite")
    assert button.text() == "Edit…"
    page.reload()
    wait_for_background()
    QApplication.processEvents()
    assert button.text() == "Edit…"
    dialog = press(qtbot, page, "editSite")
    name = dialog.inputs["name"]
    assert isinstance(name, QLineEdit)
    assert name.text() == site.name
    dialog.reject()


def test_an_operator_stays_chosen_when_one_is_added_above_it(
    qtbot: QtBot, main_window: MainWindow
) -> None:
    page = open_page(main_window, qtbot, "operators")
    select_row(page, "office")
    dialog = press(qtbot, page, "Add operator…")
    fill(qtbot, dialog, username="aaron", display_name="Aaron", role="Cashier")
    fill(qtbot, dialog, password="aaron-pass", confirm="aaron-pass")
    with qtbot.waitSignal(page.changed, timeout=LONG):
        qtbot.keyClick(dialog.confirm_button, ENTER)
    qtbot.waitUntil(lambda: page.list.model.rowCount() == 6, timeout=LONG)
    assert page.list.current_row().username == "office"


@pytest.fixture
def shanghai_clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """This PC's clock in Shanghai (UTC+8), so that local time is not UTC."""
    monkeypatch.setenv("TZ", "Asia/Shanghai")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_the_last_sign_in_is_shown_in_local_time(
    qtbot: QtBot, main_window: MainWindow, demo_db: Database, shanghai_clock: None
) -> None:
    with demo_db.session() as session:
        signed_in_at = session.scalars(
            select(Operator.last_login_at).where(Operator.username == "admin")
        ).one()
    assert signed_in_at is not None
    local = signed_in_at.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d %H:%M")
    page = open_page(main_window, qtbot, "operators")
    shown = {
        page.list.model.index(r, 0).data(): page.list.model.index(r, 4).data()
        for r in range(page.list.model.rowCount())
    }
    assert shown["admin"] == local
    assert shown["office"] == "—"  # never signed in


def test_the_overview_shows_money_in_the_currency_the_site_is_set_to(
    qtbot: QtBot, migrated_db: Database, tmp_path: Path
) -> None:
    """A new site (no money moved yet) changes its currency on the Setup screen: the overview
    shows its figures in the new one."""
    db = migrated_db
    admin = set_up_first_admin(db, "office", "Site office", "office-pass")
    in_transaction(db, init_site, admin, SiteDetails("New block", "Asia/Shanghai", "CNY"))
    info = site_info(db)
    assert info is not None
    make_application()
    window = MainWindow(db, info, operator=admin, data_dir=tmp_path / "data")
    qtbot.addWidget(window)
    window.show()
    try:
        taken = window.overview.taken_card.value
        with qtbot.waitSignal(window.overview.loaded, timeout=LONG):
            window.show_page(window.page_number("overview"))
        assert taken.text() == "¥0.00"

        page = open_page(window, qtbot, "site")
        dialog = press(qtbot, page, "editSite")
        fill(qtbot, dialog, currency="USD")
        with qtbot.waitSignal(page.changed, timeout=LONG):
            qtbot.keyClick(dialog.confirm_button, ENTER)
        qtbot.waitUntil(lambda: taken.text() == "$0.00", timeout=LONG)
    finally:
        window.close()
        wait_for_background()
