"""The site overview: tiles follow what the runtime does to rooms, the chips count and filter,
a click shows the room and goes on to its account, the headline shows the live site load."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

import pytest
from PySide6.QtCore import Qt
from sqlalchemy import select, update

from app.application import make_application
from app.demo.site import DemoSpec, seed_demo_site
from app.hardware.bus_worker import PollPolicy
from app.hardware.snapshot import Quality, Snapshot
from app.queries.site_overview import RoomState
from app.runtime.live_store import LiveStore
from app.runtime.runtime import Runtime, RuntimeOptions
from app.services.ledger import post_entry
from app.store.database import Database
from app.store.models import Account, BalancePolicy, Meter
from app.ui.room_grid import STATE_COLORS
from app.views.main_window import MainWindow
from app.views.overview_view import OverviewView, load_text
from app.vocabulary import LedgerKind, SupplyState
from tests.support import wait_for


@pytest.fixture
def small_db(migrated_db: Database) -> Database:
    db = migrated_db
    seed_demo_site(db, DemoSpec(buildings=2, floors=2, rooms_per_floor=3))
    with db.transaction() as session:  # cuts must not wait for the end of a friendly night
        session.execute(update(BalancePolicy).values(friendly_hours=[], friendly_dates=[]))
    return db


@pytest.fixture
def view(qtbot, small_db: Database) -> OverviewView:  # type: ignore[no-untyped-def]
    make_application()
    widget = OverviewView(small_db, "CNY")
    widget.resize(1300, 800)
    qtbot.addWidget(widget)
    with qtbot.waitSignal(widget.loaded, timeout=10_000):
        widget.show()
    return widget


def reread(qtbot, view: OverviewView) -> None:  # type: ignore[no-untyped-def]
    with qtbot.waitSignal(view.loaded, timeout=10_000):
        view.reload()


def click_tile(qtbot, view: OverviewView, room_id: int, double: bool = False) -> None:  # type: ignore[no-untyped-def]
    rect = view.grid.tile_rect(room_id)
    assert rect is not None
    if double:
        qtbot.mouseDClick(view.grid, Qt.MouseButton.LeftButton, pos=rect.center())
    else:
        qtbot.mouseClick(view.grid, Qt.MouseButton.LeftButton, pos=rect.center())


def test_every_room_is_a_tile_and_the_chips_count_them(view: OverviewView) -> None:
    overview = view.overview
    assert overview is not None
    assert len(view.grid.visible_tiles()) == 12
    for state, chip in view.chips.items():
        assert chip.text().endswith(f"{overview.counts[state]:,}")
    assert view.online_card.value.text() == f"0 / {overview.headline.meters_in_service}"
    assert view.load_card.value.text() == "—"  # no runtime yet


def test_tiles_follow_the_runtime_cutting_and_restoring(
    qtbot, view: OverviewView, small_db: Database
) -> None:  # type: ignore[no-untyped-def]
    runtime = Runtime(
        small_db, RuntimeOptions(poll=PollPolicy(cycle_pause_s=0.2), policy_tick_s=3600)
    )
    runtime.start()
    try:
        view.attach_live(runtime.live)
        overview = view.overview
        assert overview is not None
        tile = next(t for t in overview.tiles if t.state is RoomState.NORMAL)
        assert tile.account_id is not None
        cut_before = overview.counts[RoomState.CUT_OFF]
        with small_db.transaction() as session:
            account = session.get_one(Account, tile.account_id)
            post_entry(
                session,
                account.id,
                LedgerKind.CONSUMPTION,
                -(account.balance_minor + 2000),
                reason="test usage",
            )
        runtime.account_changed(tile.account_id)

        def relay_open() -> bool:
            with small_db.session() as session:
                meters = session.scalars(
                    select(Meter).where(Meter.account_id == tile.account_id)
                ).all()
                return any(m.relay_closed is False for m in meters)

        wait_for(relay_open, "the runtime cut the room")
        reread(qtbot, view)
        cut = view.tile(tile.room_id)
        assert cut is not None
        assert cut.state is RoomState.CUT_OFF
        assert view.overview is not None
        assert view.overview.counts[RoomState.CUT_OFF] == cut_before + 1
        assert view.chips[RoomState.CUT_OFF].text().endswith(f"{cut_before + 1:,}")
        assert view.arrears_card.value.text() != "0"

        # A recharge: the runtime restores the room and the tile turns back.
        with small_db.transaction() as session:
            post_entry(session, tile.account_id, LedgerKind.RECHARGE, 50_000, reason="cash")
        runtime.account_changed(tile.account_id)

        def state_now() -> SupplyState:
            with small_db.session() as session:
                return session.get_one(Account, tile.account_id).supply_state

        wait_for(lambda: state_now() is SupplyState.NORMAL, "the account left the cut-off")
        reread(qtbot, view)
        back = view.tile(tile.room_id)
        assert back is not None
        assert back.state is RoomState.NORMAL

        # The site load comes from the runtime's live store once meters have answered.
        wait_for(lambda: runtime.live.latest("site") is not None, "a site load sample")
        view.show_load()
        assert view.load_card.value.text().endswith("kW")
    finally:
        runtime.stop()


def test_click_shows_the_room_and_double_click_opens_its_account(qtbot, view: OverviewView) -> None:  # type: ignore[no-untyped-def]
    overview = view.overview
    assert overview is not None
    tile = overview.tiles[4]
    with qtbot.waitSignal(view.grid.room_chosen) as chosen:
        click_tile(qtbot, view, tile.room_id)
    assert chosen.args == [tile.room_id]
    assert view.room_title.text() == tile.label
    assert tile.account_number in view.room_account.text()
    meter_buttons = [view.meter_box.itemAt(i).widget() for i in range(view.meter_box.count())]
    assert len(meter_buttons) == len(tile.meters)
    with qtbot.waitSignal(view.meter_requested) as meter:
        qtbot.mouseClick(meter_buttons[0], Qt.MouseButton.LeftButton)
    assert meter.args == [tile.meters[0].id]
    with qtbot.waitSignal(view.account_requested) as opened:
        click_tile(qtbot, view, tile.room_id, double=True)
    assert opened.args == [tile.label]
    # The keyboard: Right moves to the next room, Enter opens it.
    view.grid.setFocus()
    qtbot.keyClick(view.grid, Qt.Key.Key_Right)
    assert view.grid.current_room == overview.tiles[5].room_id
    with qtbot.waitSignal(view.account_requested) as opened:
        qtbot.keyClick(view.grid, Qt.Key.Key_Return)
    assert opened.args == [overview.tiles[5].label]


def test_filters_building_and_search(qtbot, view: OverviewView, small_db: Database) -> None:  # type: ignore[no-untyped-def]
    with small_db.transaction() as session:
        first = session.scalars(select(Account).order_by(Account.id)).first()
        assert first is not None
        first.supply_state = SupplyState.ALARM_1
    reread(qtbot, view)
    overview = view.overview
    assert overview is not None
    alarm = next(t for t in overview.tiles if t.state is RoomState.ALARM_1)
    normal = next(t for t in overview.tiles if t.state is RoomState.NORMAL)
    # Hide normal rooms: they cannot be chosen; alarm rooms still can.
    view.chips[RoomState.NORMAL].click()
    assert RoomState.NORMAL not in view.shown_states()
    click_tile(qtbot, view, normal.room_id)
    assert view.grid.current_room is None
    click_tile(qtbot, view, alarm.room_id)
    assert view.grid.current_room == alarm.room_id
    # One building only.
    view.building_box.setCurrentIndex(view.building_box.findData("B"))
    assert {t.building for t in view.grid.visible_tiles()} == {"B"}
    assert len(view.grid.visible_tiles()) == 6
    view.building_box.setCurrentIndex(0)
    # The search rings matching rooms; Enter chooses the first.
    view.chips[RoomState.NORMAL].click()
    wanted = overview.tiles[7]
    qtbot.keyClicks(view.search, wanted.label)
    assert [t.room_id for t in view.grid.matching()] == [wanted.room_id]
    qtbot.keyClick(view.search, Qt.Key.Key_Return)
    assert view.grid.current_room == wanted.room_id


def test_site_load_headline_from_the_live_store(view: OverviewView) -> None:
    live = LiveStore()
    now = datetime.now().astimezone()
    live.define_groups({"site": [1, 2]})
    live.feed(
        [
            Snapshot(1, "1", 0.0, now, Quality.GOOD, power_w=1500.0),
            Snapshot(2, "2", 0.0, now, Quality.GOOD, power_w=2250.0),
        ]
    )
    view.attach_live(live)
    assert view.load_card.value.text() == "3.8 kW"
    assert load_text(12_345_000.0) == "12.35 MW"
    assert load_text(float("nan")) == "—"


def test_main_window_overview_page_and_click_through(qtbot, main_window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    with qtbot.waitSignal(main_window.overview.loaded, timeout=10_000):
        main_window.show_page(main_window.page_number("overview"))
    overview = main_window.overview.overview
    assert overview is not None
    tile = overview.tiles[0]
    main_window.overview.account_requested.emit(tile.label)
    assert main_window.stack.currentWidget() is main_window.accounts
    assert main_window.accounts.list.search.text() == tile.label


def test_a_refresh_repaints_a_changed_room_in_place(view: OverviewView) -> None:
    """The usual refresh (same rooms, new states) keeps every tile where it is and paints the
    changed one in its new colour; a filter change only fades tiles."""
    grid = view.grid
    overview = view.overview
    assert overview is not None
    tiles = list(overview.tiles)
    first = tiles[0]
    rects = {t.room_id: grid.tile_rect(t.room_id) for t in tiles}
    new_state = RoomState.CUT_OFF if first.state is not RoomState.CUT_OFF else RoomState.NORMAL
    tiles[0] = replace(first, state=new_state)
    grid.set_tiles(tiles, {b.code: b.name for b in overview.buildings})
    assert {t.room_id: grid.tile_rect(t.room_id) for t in tiles} == rects
    rect = rects[first.room_id]
    assert rect is not None

    def fill_at_tile() -> str:
        image = grid.grab(rect).toImage()
        return image.pixelColor(rect.width() // 2, 3).name()

    assert fill_at_tile() == STATE_COLORS[new_state][0]
    grid.set_filter([s for s in RoomState if s is not new_state], None)  # fade it
    assert {t.room_id: grid.tile_rect(t.room_id) for t in tiles} == rects
    assert fill_at_tile() != STATE_COLORS[new_state][0]
    grid.set_filter(list(RoomState), None)
    assert fill_at_tile() == STATE_COLORS[new_state][0]
