"""The console's change bridge: what is committed through the services reaches the screens as
Qt signals, with no screen asking the database on a timer: the alarm count and list, the
Overview's tiles, the Accounts detail and the Counter card, an open Meter detail. Bursts are
folded into one emission; after an interrupted feed the lists are read again. On SQLite a
recharge made by another process (a script's ``main.py account recharge``) reaches the screens
too, through the file."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from PySide6.QtCore import QObject
from sqlalchemy import select

from app.application import make_application
from app.demo.site import DEMO_PASSWORD
from app.queries.site_facts import SiteInfo
from app.runtime.line_alarms import line_down
from app.services.alarm_actions import acknowledge_alarm
from app.services.operators import SignedIn, login
from app.services.recharge import new_key, recharge
from app.store.change_feed import EVERYTHING, ChangeKind, Changes
from app.store.database import Database
from app.store.migrate import upgrade
from app.store.models import Account, Alarm, Bus, Meter
from app.ui.background import wait_for_background
from app.ui.change_bridge import ChangeBridge, Refresher
from app.ui.formatting import money_text
from app.views.main_window import MainWindow
from app.vocabulary import AlarmSeverity, MeterStatus, PaymentMethod
from tests.support import run_python

WAIT_MS = 20_000  # a bound for a stuck test, never a measurement


@pytest.fixture
def bridge(qtbot, demo_db: Database) -> Iterator[ChangeBridge]:  # type: ignore[no-untyped-def]
    make_application()
    changes = ChangeBridge(demo_db)
    assert changes.start(wait_s=10)
    yield changes
    changes.stop()


@pytest.fixture
def window(  # type: ignore[no-untyped-def]
    qtbot, demo_db: Database, site: SiteInfo, bridge: ChangeBridge, tmp_path: Path
) -> Iterator[MainWindow]:
    admin = login(demo_db, "admin", DEMO_PASSWORD)
    main = MainWindow(
        demo_db,
        site,
        operator=admin,
        data_dir=tmp_path / "data",
        demo_password=DEMO_PASSWORD,
        changes=bridge,
    )
    qtbot.addWidget(main)
    main.show()
    with qtbot.waitSignal(main.accounts.rows_loaded, timeout=WAIT_MS):
        main.reload()
    yield main
    bridge.stop()  # before the window goes: nothing is emitted into a closing window
    main.close()
    wait_for_background()


def cashier(db: Database) -> SignedIn:
    return login(db, "cashier", DEMO_PASSWORD)


def an_account_with_a_meter(db: Database) -> tuple[Account, Meter]:
    with db.session() as session:
        meter = session.scalars(
            select(Meter).where(Meter.account_id.is_not(None)).order_by(Meter.id)
        ).first()
        assert meter is not None
        return session.get_one(Account, meter.account_id), meter


def test_the_alarm_count_follows_alarms_raised_and_acknowledged(  # type: ignore[no-untyped-def]
    qtbot, window: MainWindow, demo_db: Database
) -> None:
    qtbot.waitUntil(lambda: window.alarm_badge.text() != "", timeout=WAIT_MS)
    wait_for_background()
    before = window.alarm_badge.count
    with demo_db.session() as session:
        bus = session.scalars(select(Bus).order_by(Bus.id)).first()
        assert bus is not None
    # As the runtime raises it: a port went away.
    with (
        qtbot.waitSignal(window.alarm_badge.rose, timeout=WAIT_MS),
        demo_db.transaction() as session,
    ):
        line_down(session, bus.id, bus.name, bus.url, "unplugged", datetime.now(UTC))
    assert window.alarm_badge.count == before + 1
    assert f"{before + 1} critical" in window.alarm_badge.text()

    with demo_db.session() as session:
        alarm_id = session.scalars(select(Alarm.id).where(Alarm.message.contains(bus.name))).one()
    window.show_page(window.page_number("alarms"))  # the list follows while it is shown
    qtbot.waitUntil(lambda: window.alarms.list.select_id(alarm_id), timeout=WAIT_MS)
    supervisor = login(demo_db, "supervisor", DEMO_PASSWORD)
    acknowledge_alarm(demo_db, supervisor, alarm_id, "adapter plugged back in")
    qtbot.waitUntil(lambda: window.alarm_badge.count == before, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: window.alarms.list.current_id() != alarm_id, timeout=WAIT_MS)
    assert not window.alarms.list.select_id(alarm_id)  # acknowledged: the Active filter hides it


def test_a_recharge_shows_on_the_overview_accounts_and_counter(  # type: ignore[no-untyped-def]
    qtbot, window: MainWindow, demo_db: Database, site: SiteInfo
) -> None:
    account, _meter = an_account_with_a_meter(demo_db)
    after = account.balance_minor + 5000
    window.accounts.list.select_id(account.id)
    qtbot.waitUntil(lambda: window.accounts.detail.shown is not None, timeout=WAIT_MS)
    window.counter.list.select_id(account.id)
    balance_before = money_text(account.balance_minor, site.currency)
    qtbot.waitUntil(lambda: balance_before in window.counter.balance_label.text(), timeout=WAIT_MS)
    window.show_page(window.page_number("overview"))
    overview = window.overview
    qtbot.waitUntil(lambda: overview.overview is not None, timeout=WAIT_MS)
    assert overview.overview is not None
    tile = next(t for t in overview.overview.tiles if t.account_id == account.id)

    recharge(demo_db, cashier(demo_db), account.number, "50", PaymentMethod.CASH, new_key())

    def shown_on_the_overview() -> bool:
        found = overview.tile(tile.room_id)
        return found is not None and found.balance_minor == after

    def shown_on_the_accounts_screen() -> bool:
        shown = window.accounts.detail.shown
        return shown is not None and shown.row.balance_minor == after

    qtbot.waitUntil(shown_on_the_overview, timeout=WAIT_MS)
    qtbot.waitUntil(shown_on_the_accounts_screen, timeout=WAIT_MS)
    balance_after = money_text(after, site.currency)
    qtbot.waitUntil(lambda: balance_after in window.counter.balance_label.text(), timeout=WAIT_MS)


def test_a_recharge_by_another_process_shows_on_the_accounts_and_counter_screens(  # type: ignore[no-untyped-def]
    qtbot,
    window: MainWindow,
    bridge: ChangeBridge,
    demo_db: Database,
    site: SiteInfo,
    tmp_path: Path,
) -> None:
    """SQLite: the script's commit is not in this process's feed; the bridge hears the file
    move, says everything changed, and the chosen account is read again."""
    account, _meter = an_account_with_a_meter(demo_db)
    after = account.balance_minor + 4000
    window.accounts.list.select_id(account.id)
    qtbot.waitUntil(lambda: window.accounts.detail.shown is not None, timeout=WAIT_MS)
    window.counter.list.select_id(account.id)
    balance_before = money_text(account.balance_minor, site.currency)
    qtbot.waitUntil(lambda: balance_before in window.counter.balance_label.text(), timeout=WAIT_MS)

    with qtbot.waitSignal(bridge.everything_changed, timeout=WAIT_MS):
        done = run_python(
            [
                "main.py",
                "account",
                "recharge",
                "--db",
                demo_db.url.render_as_string(hide_password=False),
                "--data-dir",
                str(tmp_path / "script-data"),
                "--account",
                account.number,
                "--amount",
                "40",
                "--method",
                "cash",
                "--user",
                "cashier",
            ],
            env={"METERDESK_PASSWORD": DEMO_PASSWORD},
            unset=["CI"],  # the program must not behave differently under CI
        )
        assert done.returncode == 0, done.stderr

    def shown_on_the_accounts_screen() -> bool:
        shown = window.accounts.detail.shown
        return shown is not None and shown.row.balance_minor == after

    qtbot.waitUntil(shown_on_the_accounts_screen, timeout=WAIT_MS)
    balance_after = money_text(after, site.currency)
    qtbot.waitUntil(lambda: balance_after in window.counter.balance_label.text(), timeout=WAIT_MS)


def test_the_bridge_s_own_commits_never_say_everything_changed(  # type: ignore[no-untyped-def]
    qtbot, bridge: ChangeBridge, demo_db: Database
) -> None:
    """A recharge in this process arrives by id; asking the file afterwards finds nothing."""
    account, _meter = an_account_with_a_meter(demo_db)
    everything: list[None] = []
    bridge.everything_changed.connect(lambda: everything.append(None))
    with qtbot.waitSignal(bridge.balances_changed, timeout=WAIT_MS) as balances:
        recharge(demo_db, cashier(demo_db), account.number, "10", PaymentMethod.CASH, new_key())
    assert balances.args == [frozenset({account.id})]
    assert not bridge.listener.check_other_processes()
    with qtbot.waitSignal(bridge.changed, timeout=WAIT_MS):  # a marker after the recharge
        bridge.feed(Changes.of({ChangeKind.METER: [1]}))
    assert everything == []


def test_an_open_meter_detail_follows_its_meter_and_its_account(  # type: ignore[no-untyped-def]
    qtbot, window: MainWindow, demo_db: Database
) -> None:
    account, meter = an_account_with_a_meter(demo_db)
    dialog = window.open_meter(meter.id)
    assert dialog is not None
    qtbot.waitUntil(lambda: dialog.detail is not None, timeout=WAIT_MS)
    assert dialog.detail is not None
    assert dialog.detail.status is not MeterStatus.OFFLINE

    with demo_db.transaction() as session:  # as the poll marks a meter that stopped answering
        session.get_one(Meter, meter.id).status = MeterStatus.OFFLINE
    qtbot.waitUntil(
        lambda: dialog.detail is not None and dialog.detail.status is MeterStatus.OFFLINE,
        timeout=WAIT_MS,
    )
    assert "Offline" in dialog.subheading.text()

    after = account.balance_minor + 2000
    recharge(demo_db, cashier(demo_db), account.number, "20", PaymentMethod.CASH, new_key())
    qtbot.waitUntil(
        lambda: dialog.detail is not None and dialog.detail.balance_minor == after,
        timeout=WAIT_MS,
    )
    dialog.close()


def test_bursts_fold_into_one_emission_from_any_thread(qtbot, bridge: ChangeBridge) -> None:  # type: ignore[no-untyped-def]
    emitted: list[Changes] = []
    meters: list[object] = []
    bridge.changed.connect(emitted.append)
    bridge.meters_changed.connect(meters.append)

    def burst() -> None:
        for n in range(3):
            bridge.feed(Changes.of({ChangeKind.METER: [n], ChangeKind.ALARM: [10 + n]}))

    writer = threading.Thread(target=burst)
    with qtbot.waitSignal(bridge.changed, timeout=WAIT_MS):
        writer.start()
        writer.join()
    assert len(emitted) == 1
    assert meters == [frozenset({0, 1, 2})]
    assert emitted[0].ids_of(ChangeKind.ALARM) == {10, 11, 12}


def test_an_interrupted_feed_says_any_of_every_kind_and_the_lists_reload(  # type: ignore[no-untyped-def]
    qtbot, window: MainWindow, bridge: ChangeBridge
) -> None:
    accounts: list[object] = []
    bridge.accounts_changed.connect(accounts.append)
    with (
        qtbot.waitSignal(bridge.everything_changed, timeout=WAIT_MS),
        qtbot.waitSignal(window.meters.rows_loaded, timeout=WAIT_MS),
        qtbot.waitSignal(window.counter.rows_loaded, timeout=WAIT_MS),
    ):
        bridge.feed(EVERYTHING)
    assert accounts == [None]  # None: any account may have changed


def test_a_refresher_reloads_at_once_then_once_after_its_gap(qtbot) -> None:  # type: ignore[no-untyped-def]
    make_application()
    owner = QObject()
    calls: list[int] = []
    refresher = Refresher(lambda: calls.append(len(calls)), 50, owner)
    refresher.poke()
    assert calls == [0]  # the first change: at once
    refresher.poke()
    refresher.poke()
    assert calls == [0]  # within the gap: folded into one later call
    qtbot.waitUntil(lambda: calls == [0, 1], timeout=WAIT_MS)


@pytest.mark.postgres
def test_the_bridge_hears_another_handle_on_postgresql(qtbot, postgres_url: str) -> None:  # type: ignore[no-untyped-def]
    """As on another PC: the bridge's database handle did not write; the server told it."""
    make_application()
    writer = Database(postgres_url)
    upgrade(writer)
    reader = Database(postgres_url)
    changes = ChangeBridge(reader)
    try:
        assert changes.start(wait_s=10)
        with (
            qtbot.waitSignal(changes.alarms_changed, timeout=WAIT_MS),
            writer.transaction() as session,
        ):
            session.add(Alarm(kind="line_down", severity=AlarmSeverity.CRITICAL, message="m"))
    finally:
        changes.stop()
        reader.dispose()
        writer.dispose()
