"""The Meter detail: what it shows, keep power ordered through it, buttons off for a cashier
and without a runtime, a relay switch through a real Runtime on simulated lines, a clock sync
asked on an attached console and carried out by the PC that polls the meter, and opening it
from the Meters screen with Enter."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QPushButton
from sqlalchemy import select

from app.application import make_application
from app.demo.site import DEMO_PASSWORD, DemoSpec, seed_demo_site
from app.hardware.bus_worker import PollPolicy
from app.queries.meter_detail import MeterDetail
from app.runtime.clock_sync import ClockSyncOutcome
from app.runtime.operator_commands import SwitchOutcome
from app.runtime.runtime import Runtime, RuntimeOptions
from app.runtime.supply_control import local_zone
from app.services.meter_actions import KeepPowerDone
from app.services.operators import SignedIn, login
from app.store.database import Database
from app.store.models import Account, AuditEvent, Bus, Meter
from app.ui.background import wait_for_background
from app.views.meter_action_dialog import MeterActionDialog
from app.views.meter_detail_dialog import MeterDetailDialog
from app.views.meters_view import MetersView
from app.vocabulary import CommandState, Role

WAIT_MS = 60_000  # a bound for a stuck test, never a measurement


def who(db: Database, role: Role) -> SignedIn:
    return login(db, role.value, DEMO_PASSWORD)


def a_meter(db: Database) -> tuple[Meter, Account]:
    """An electricity meter of an account, with that account."""
    with db.session() as session:
        meter = session.scalars(
            select(Meter)
            .where(Meter.serial.startswith("E"), Meter.account_id.is_not(None))
            .order_by(Meter.id)
        ).first()
        assert meter is not None
        return meter, session.get_one(Account, meter.account_id)


def open_detail(
    qtbot,  # type: ignore[no-untyped-def]
    db: Database,
    meter_id: int,
    operator: SignedIn,
    commands: Runtime | None = None,
) -> MeterDetailDialog:
    make_application()
    dialog = MeterDetailDialog(db, meter_id, lambda: operator, commands)
    qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: dialog.detail is not None, timeout=WAIT_MS)
    dialog.show()
    return dialog


def run_action(
    qtbot,  # type: ignore[no-untyped-def]
    dialog: MeterDetailDialog,
    button: QPushButton,
    reason: str,
) -> tuple[MeterActionDialog, object]:
    """Click an action's button, give the reason, confirm; its form and its outcome."""
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    form = dialog.action_dialog
    assert form is not None
    form.reason.setText(reason)
    with qtbot.waitSignal(dialog.action_done, timeout=WAIT_MS) as done:
        form.confirm()
    return form, done.args[0]


def off_with(button: QPushButton, text: str) -> bool:
    return not button.isEnabled() and text in button.toolTip()


def test_the_detail_shows_the_meter_and_its_account(qtbot, demo_db: Database) -> None:  # type: ignore[no-untyped-def]
    meter, account = a_meter(demo_db)
    admin = who(demo_db, Role.ADMIN)
    dialog = open_detail(qtbot, demo_db, meter.id, admin)
    detail = dialog.detail
    assert isinstance(detail, MeterDetail)
    assert meter.serial in dialog.heading.text()
    assert meter.serial in dialog.windowTitle()
    assert account.number in dialog.subheading.text()
    assert dialog.tabs.fields["account"].text() == account.number
    assert dialog.tabs.fields["holder"].text() == account.holder_name
    assert dialog.tabs.fields["address"].text() == meter.address
    assert "relay" in dialog.tabs.fields["profile"].text()
    assert dialog.cards.balance_card.value.text().replace(",", "").lstrip("-¥")
    assert dialog.cards.keep_card.value.text() == "Not ordered"
    assert dialog.cards.supply_card.value.text() == "Not read yet"
    # No runtime: the relay buttons are off and say why; keep power works from the database.
    assert off_with(dialog.switch_off_button, "Polling is not running")
    assert off_with(dialog.switch_on_button, "Polling is not running")
    assert off_with(dialog.restore_button, "nothing to restore")
    assert dialog.keep_button.isEnabled()
    assert off_with(dialog.clear_keep_button, "No keep-power order")
    assert off_with(dialog.sync_button, "Polling is not running")
    assert "polling is not running" in dialog.cards.live_card.detail.text()
    for index in range(dialog.tabs.count()):
        assert dialog.tabs.tabText(index)
    dialog.close()
    wait_for_background()


def test_keep_power_through_the_dialog(qtbot, demo_db: Database) -> None:  # type: ignore[no-untyped-def]
    meter, account = a_meter(demo_db)
    boss = who(demo_db, Role.SUPERVISOR)
    dialog = open_detail(qtbot, demo_db, meter.id, boss)
    qtbot.mouseClick(dialog.keep_button, Qt.MouseButton.LeftButton)
    form = dialog.action_dialog
    assert form is not None
    assert form.until is not None
    # A blank reason is refused at the field, nothing written.
    form.confirm()
    qtbot.waitUntil(lambda: not form.reason_error.isHidden(), timeout=WAIT_MS)
    assert "Give a reason" in form.reason_error.text()
    form.reason.setText("Dialysis machine at night")
    with qtbot.waitSignal(dialog.action_done, timeout=WAIT_MS) as done:
        qtbot.keyClick(form.reason, Qt.Key.Key_Return)
    assert isinstance(done.args[0], KeepPowerDone)
    assert form.done_ok
    assert "Keep power ordered" in form.result_note.text()
    with demo_db.session() as session:
        stored = session.get_one(Account, account.id)
        assert stored.keep_power_until is not None
        assert stored.keep_power_reason == "Dialysis machine at night"
        assert session.scalars(
            select(AuditEvent).where(AuditEvent.action == "account.keep_power")
        ).one()
    assert "Keep power ordered" in dialog.status.text()
    form.accept()
    qtbot.waitUntil(lambda: dialog.cards.keep_card.value.text().endswith("left"), timeout=WAIT_MS)
    assert "Dialysis machine" in dialog.cards.keep_card.detail.text()
    assert dialog.clear_keep_button.isEnabled()
    dialog.close()
    wait_for_background()


def test_a_cashier_may_not_act(qtbot, demo_db: Database) -> None:  # type: ignore[no-untyped-def]
    meter, _account = a_meter(demo_db)
    dialog = open_detail(qtbot, demo_db, meter.id, who(demo_db, Role.CASHIER))
    for button in (
        dialog.switch_off_button,
        dialog.switch_on_button,
        dialog.keep_button,
        dialog.clear_keep_button,
        dialog.restore_button,
        dialog.sync_button,
    ):
        assert off_with(button, "you are signed in as Cashier"), button.objectName()
    assert dialog.ask_keep_power() is None
    dialog.close()
    wait_for_background()


@pytest.fixture
def small_running(migrated_db: Database) -> Iterator[tuple[Database, Runtime]]:
    db = migrated_db
    seed_demo_site(db, DemoSpec(buildings=1, floors=1, rooms_per_floor=2))
    runtime = Runtime(db, RuntimeOptions(poll=PollPolicy(cycle_pause_s=0.2), policy_tick_s=3600))
    runtime.start()
    yield db, runtime
    runtime.stop()


def test_a_relay_switch_through_a_real_runtime(qtbot, small_running) -> None:  # type: ignore[no-untyped-def]
    db, runtime = small_running
    meter, _account = a_meter(db)
    with db.session() as session:
        url = session.scalar(select(Bus.url).where(Bus.id == meter.bus_id))
    assert runtime.sim is not None
    assert url is not None
    simulated = runtime.sim.meter(url, meter.address)
    qtbot.waitUntil(lambda: runtime.latest_snapshot(meter.id) is not None, timeout=WAIT_MS)
    tech = who(db, Role.TECHNICIAN)
    dialog = open_detail(qtbot, db, meter.id, tech, runtime)
    assert dialog.switch_off_button.isEnabled()
    assert not dialog.keep_button.isEnabled()  # a technician orders no keep power
    form, outcome = run_action(qtbot, dialog, dialog.switch_off_button, "Socket replaced")
    assert isinstance(outcome, SwitchOutcome)
    assert outcome.verified
    assert not simulated.supply_on
    assert "verified by read-back" in form.result_note.text()
    assert "verified by read-back" in dialog.status.text()
    form.accept()
    qtbot.waitUntil(
        lambda: dialog.detail is not None and dialog.detail.relay_closed is False,
        timeout=WAIT_MS,
    )
    assert dialog.cards.supply_card.value.text() == "Supply off"
    assert "switched off by an operator" in dialog.cards.supply_card.detail.text()
    assert dialog.detail is not None
    latest = dialog.detail.commands[0]
    assert latest.requested_by == "Bus technician"
    assert latest.state is CommandState.VERIFIED
    assert dialog.cards.live_card.value.text().endswith("W")
    dialog.close()
    wait_for_background()


def test_enter_on_a_meter_opens_its_detail(qtbot, demo_db: Database) -> None:  # type: ignore[no-untyped-def]
    make_application()
    admin = who(demo_db, Role.ADMIN)
    view = MetersView(demo_db, operator=lambda: admin)
    qtbot.addWidget(view)
    view.show()
    with qtbot.waitSignal(view.rows_loaded, timeout=WAIT_MS):
        view.reload()
    row = view.list.current_row()
    assert row is not None
    view.list.table.setFocus()
    qtbot.keyClick(view.list.table, Qt.Key.Key_Return)
    dialog = view.detail_dialog
    assert dialog is not None
    assert dialog.meter_id == row.id
    qtbot.waitUntil(lambda: dialog.detail is not None, timeout=WAIT_MS)
    assert row.serial in dialog.heading.text()
    # The same meter again raises the open window instead of a second one.
    assert view.open_detail(row.id) is dialog
    dialog.close()
    wait_for_background()
    # Without an operator (the old constructor) nothing opens.
    plain = MetersView(demo_db)
    qtbot.addWidget(plain)
    assert plain.open_detail(row.id) is None


def test_a_modbus_meter_has_no_clock_to_sync(qtbot, demo_db: Database) -> None:  # type: ignore[no-untyped-def]
    with demo_db.session() as session:
        meter = session.scalars(select(Meter).where(Meter.profile == "acrel-ddsy1352")).first()
    assert meter is not None
    dialog = open_detail(qtbot, demo_db, meter.id, who(demo_db, Role.TECHNICIAN))
    assert off_with(dialog.sync_button, "keeps no clock")
    assert dialog.ask_sync_clock() is None
    dialog.close()
    wait_for_background()


@pytest.fixture
def attached_console(
    small_running: tuple[Database, Runtime],
) -> Iterator[tuple[Database, Runtime, Runtime]]:
    """The running owner, and a console attached to its database through a handle of its own
    (another PC): (that handle, the owner, the console)."""
    db, owner = small_running
    other = Database(db.url.render_as_string(hide_password=False), key_dir=db.audit_keys.folder)
    console = Runtime(other, RuntimeOptions(attached=True, policy_tick_s=3600))
    console.start()
    yield other, owner, console
    console.stop()
    other.dispose()


def test_a_clock_sync_asked_on_an_attached_console(qtbot, attached_console) -> None:  # type: ignore[no-untyped-def]
    db, owner, console = attached_console
    meter, _account = a_meter(db)
    with db.session() as session:
        url = session.scalar(select(Bus.url).where(Bus.id == meter.bus_id))
        zone = local_zone(session)
    assert owner.sim is not None
    assert url is not None
    simulated = owner.sim.meter(url, meter.address)
    simulated.set_clock(datetime.now(zone).replace(tzinfo=None) - timedelta(minutes=10))
    assert console.workers == []
    dialog = open_detail(qtbot, db, meter.id, who(db, Role.TECHNICIAN), console)
    assert dialog.sync_button.isEnabled()
    form, outcome = run_action(qtbot, dialog, dialog.sync_button, "Clock drift alarm")
    assert isinstance(outcome, ClockSyncOutcome)
    assert outcome.verified, outcome
    assert "it was 10 min behind" in dialog.status.text()
    assert "Clock set" in form.result_note.text()
    form.accept()
    drift = simulated.clock_now() - datetime.now(zone).replace(tzinfo=None)
    assert abs(drift.total_seconds()) <= 5  # the owner's line set it

    def listed() -> bool:
        d = dialog.detail
        return d is not None and bool(d.commands) and d.commands[0].state is CommandState.VERIFIED

    qtbot.waitUntil(listed, timeout=WAIT_MS)
    model = dialog.tabs.commands
    assert model.index(0, 1).data() == "Clock sync"
    assert model.index(0, 4).data().startswith("10 min behind → ")
    dialog.close()
    wait_for_background()
