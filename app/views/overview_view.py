"""Site overview: the headline figures (live site load, meters online, accounts in arrears,
today's energy and money), every room as a tile coloured by its state in a grid per building and
floor, chips that count and filter the states, a building choice, a search that rings matching
rooms, and the chosen room's account and meters with the way on to them.

The rooms are read off the GUI thread when the screen comes into view, and again while it is
shown whenever the change bridge says balances, accounts, meters, trips or readings changed (at
most every ``REFRESH_GAP_MS``); the site load is read from the runtime's LiveStore every second
(memory, not the database).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

from PySide6.QtCore import QCoreApplication, Qt, QTimer, Signal
from PySide6.QtGui import QHideEvent, QShowEvent
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QSplitter,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.queries.site_overview import ROOM_STATES, RoomState, RoomTile, SiteOverview, site_overview
from app.runtime.live_store import LiveStore
from app.store.database import Database
from app.ui.background import run_in_background
from app.ui.change_bridge import ChangeBridge, Refresher
from app.ui.formatting import meter_status_label, money_text, relay_label, utility_label
from app.ui.room_grid import STATE_COLORS, RoomGrid, state_label

REFRESH_GAP_MS = 2000  # the least time between two reads of the site after changes
LOAD_MS = 1000


def _t(text: str) -> str:
    return QCoreApplication.translate("OverviewView", text)


def load_text(watts: float | None) -> str:
    """Site load for the headline: kW with one decimal, MW above 10,000 kW."""
    if watts is None or not math.isfinite(watts):
        return "—"
    kw = watts / 1000
    if abs(kw) >= 10_000:
        return _t("{mw:,.2f} MW").format(mw=kw / 1000)
    return _t("{kw:,.1f} kW").format(kw=kw)


class _Card(QFrame):
    """One headline figure: a big value and what it is."""

    def __init__(self, caption: str) -> None:
        super().__init__()
        self.setObjectName("headlineCard")
        self.value = QLabel("—")
        self.value.setObjectName("headlineValue")
        self.caption = QLabel(caption)
        self.caption.setObjectName("headlineCaption")
        self.detail = QLabel("")
        self.detail.setObjectName("headlineDetail")
        box = QVBoxLayout(self)
        box.setContentsMargins(14, 10, 14, 10)
        box.setSpacing(2)
        box.addWidget(self.caption)
        box.addWidget(self.value)
        box.addWidget(self.detail)

    def show_value(self, value: str, detail: str = "") -> None:
        self.value.setText(value)
        self.detail.setText(detail)


class OverviewView(QWidget):
    # The overview has been read and shown (its tile count).
    loaded = Signal(int)
    # Open the account of this room on the Accounts screen (the room's label to look for).
    account_requested = Signal(str)
    # Show this meter's detail.
    meter_requested = Signal(int)

    def __init__(self, db: Database, currency: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("page")
        self._db = db
        self._currency = currency
        self._live: LiveStore | None = None
        self._overview: SiteOverview | None = None
        self._loading = False
        self._again = False  # changes came during a read: read once more after it
        self._pane_tile: RoomTile | None = None  # the tile the room pane shows

        title = QLabel(self.tr("Site overview"))
        title.setObjectName("pageTitle")
        self.updated_label = QLabel(self.tr("Reading the site…"))
        self.updated_label.setObjectName("pageSubtitle")
        titles = QVBoxLayout()
        titles.setSpacing(0)
        titles.addWidget(title)
        titles.addWidget(self.updated_label)
        head = QHBoxLayout()
        head.addLayout(titles)
        head.addStretch(1)

        self.load_card = _Card(self.tr("Site load now"))
        self.online_card = _Card(self.tr("Meters online"))
        self.arrears_card = _Card(self.tr("Accounts in arrears"))
        self.energy_card = _Card(self.tr("Energy today"))
        self.taken_card = _Card(self.tr("Taken at the counter today"))
        self.usage_card = _Card(self.tr("Usage billed today"))
        cards = QHBoxLayout()
        cards.setSpacing(10)
        for card in (
            self.load_card,
            self.online_card,
            self.arrears_card,
            self.energy_card,
            self.taken_card,
            self.usage_card,
        ):
            cards.addWidget(card, 1)

        self.chips: dict[RoomState, QToolButton] = {}
        chips = QHBoxLayout()
        chips.setSpacing(6)
        for state in ROOM_STATES:
            chip = QToolButton()
            chip.setObjectName("stateChip")
            chip.setCheckable(True)
            chip.setChecked(True)
            chip.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
            fill, border, text = STATE_COLORS[state]
            chip.setStyleSheet(
                f"QToolButton#stateChip {{ background: {fill}; border: 1px solid {border};"
                f" color: {text}; border-radius: 12px; padding: 4px 10px; }}"
                "QToolButton#stateChip:!checked { background: white; color: #94a3b8;"
                " border: 1px dashed #cbd5e1; }"
            )
            chip.setToolTip(self.tr("Show or hide rooms in this state"))
            chip.toggled.connect(self._apply_filter)
            self.chips[state] = chip
            chips.addWidget(chip)
        chips.addStretch(1)
        self.building_box = QComboBox()
        self.building_box.addItem(self.tr("All buildings"), None)
        self.building_box.currentIndexChanged.connect(self._apply_filter)
        self.search = QLineEdit()
        self.search.setObjectName("searchField")
        self.search.setPlaceholderText(self.tr("Find a room, account or name…"))
        self.search.setClearButtonEnabled(True)
        self.search.setMinimumWidth(280)
        self.search.textChanged.connect(self._search_changed)
        self.search.returnPressed.connect(self._choose_first_match)
        head.addWidget(self.building_box)
        head.addWidget(self.search)

        self.grid = RoomGrid()
        self.grid.room_chosen.connect(self._show_room)
        self.grid.room_opened.connect(self._open_room)
        scroll = QScrollArea()
        scroll.setObjectName("roomScroll")
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(self.grid)
        self.rooms_scroll = scroll

        self.pane = self._room_pane()
        splitter = QSplitter()
        splitter.addWidget(scroll)
        splitter.addWidget(self.pane)
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 0)
        splitter.setSizes([900, 300])

        layout = QVBoxLayout(self)
        layout.setContentsMargins(20, 16, 20, 12)
        layout.setSpacing(10)
        layout.addLayout(head)
        layout.addLayout(cards)
        layout.addLayout(chips)
        layout.addWidget(splitter, 1)

        self._refresher = Refresher(self._changed, REFRESH_GAP_MS, self)
        self._load_timer = QTimer(self)
        self._load_timer.setInterval(LOAD_MS)
        self._load_timer.timeout.connect(self.show_load)
        self._show_counts()

    # -- the chosen room's pane ---------------------------------------------------------------

    def _room_pane(self) -> QFrame:
        pane = QFrame()
        pane.setObjectName("detailPane")
        pane.setMinimumWidth(260)
        self.room_title = QLabel(self.tr("No room chosen"))
        self.room_title.setObjectName("detailTitle")
        self.room_state = QLabel(self.tr("Click a room to see its account and meters."))
        self.room_state.setWordWrap(True)
        self.room_account = QLabel("")
        self.room_account.setWordWrap(True)
        self.room_balance = QLabel("")
        self.room_balance.setObjectName("balanceValue")
        self.open_account_button = QPushButton(self.tr("Open account"))
        self.open_account_button.setToolTip(self.tr("Show this room on the Accounts screen"))
        self.open_account_button.clicked.connect(self._open_current)
        self.open_account_button.setEnabled(False)
        self.meter_box = QVBoxLayout()
        self.meter_box.setSpacing(6)
        box = QVBoxLayout(pane)
        box.setContentsMargins(16, 14, 16, 14)
        box.addWidget(self.room_title)
        box.addWidget(self.room_state)
        box.addWidget(self.room_account)
        box.addWidget(self.room_balance)
        box.addWidget(self.open_account_button)
        meters_label = QLabel(self.tr("Meters"))
        meters_label.setObjectName("sectionLabel")
        box.addWidget(meters_label)
        box.addLayout(self.meter_box)
        box.addStretch(1)
        return pane

    def _show_room(self, room_id: int) -> None:
        tile = self.tile(room_id)
        if tile is None:
            return
        self._pane_tile = tile
        self.room_title.setText(tile.label)
        fill, _border, text = STATE_COLORS[tile.state]
        self.room_state.setText(state_label(tile.state))
        self.room_state.setStyleSheet(
            f"background: {fill}; color: {text}; border-radius: 6px; padding: 4px 8px;"
        )
        if tile.account_id is None:
            self.room_account.setText(self.tr("No open account in this room."))
            self.room_balance.setText("")
        else:
            self.room_account.setText(f"{tile.account_number} · {tile.holder_name}")
            balance = tile.balance_minor or 0
            self.room_balance.setText(money_text(balance, self._currency))
            self.room_balance.setProperty("negative", balance < 0)
            self.room_balance.style().unpolish(self.room_balance)
            self.room_balance.style().polish(self.room_balance)
        self.open_account_button.setEnabled(True)
        while self.meter_box.count():
            item = self.meter_box.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.deleteLater()
        for meter in tile.meters:
            button = QPushButton(
                self.tr("{serial} · {utility}\n{status} · {supply}").format(
                    serial=meter.serial,
                    utility=utility_label(meter.utility),
                    status=meter_status_label(meter.status, meter.last_seen_at),
                    supply=relay_label(meter.supply_on),
                )
            )
            button.setObjectName("meterLink")
            button.setToolTip(self.tr("Show this meter's detail"))
            button.clicked.connect(lambda _c=False, m=meter.id: self.meter_requested.emit(m))
            self.meter_box.addWidget(button)
        if not tile.meters:
            self.meter_box.addWidget(QLabel(self.tr("No meter in service in this room.")))

    def _open_current(self) -> None:
        room = self.grid.current_room
        if room is not None:
            self._open_room(room)

    def _open_room(self, room_id: int) -> None:
        tile = self.tile(room_id)
        if tile is not None:
            self.account_requested.emit(tile.label)

    # -- data -------------------------------------------------------------------------------

    def attach_live(self, live: LiveStore) -> None:
        """The runtime's live power store (it starts after the window)."""
        self._live = live
        self.show_load()

    def set_currency(self, currency: str) -> None:
        """The site's currency was set (a new site): money is shown in it from now on."""
        self._currency = currency
        self._show_headline()
        if self._pane_tile is not None:
            self._show_room(self._pane_tile.room_id)

    def tile(self, room_id: int) -> RoomTile | None:
        if self._overview is None:
            return None
        return next((t for t in self._overview.tiles if t.room_id == room_id), None)

    @property
    def overview(self) -> SiteOverview | None:
        return self._overview

    def follow_changes(self, bridge: ChangeBridge) -> None:
        """Read the site again, while it is shown, when what its tiles and figures show changed."""
        for signal in (
            bridge.balances_changed,
            bridge.accounts_changed,
            bridge.meters_changed,
            bridge.trips_changed,
            bridge.readings_changed,
        ):
            signal.connect(self._refresher.poke)

    def _changed(self) -> None:
        if self.isVisible():
            self.reload()  # hidden: it is read when it comes into view

    def reload(self) -> None:
        """Read the site again off the GUI thread (one read at a time; asked during a read, it
        reads once more after it)."""
        if self._loading:
            self._again = True
            return
        self._loading = True
        db = self._db
        run_in_background(
            lambda: site_overview(db), self._loaded, on_error=self._failed, owner=self
        )

    def _read_again(self) -> None:
        if self._again:
            self._again = False
            self.reload()

    def _failed(self, message: str) -> None:
        self._loading = False
        self._read_again()
        self.updated_label.setText(
            self.tr("Could not read the site: {error}").format(error=message)
        )

    def _loaded(self, overview: SiteOverview) -> None:
        self._loading = False
        first = self._overview is None
        self._overview = overview
        if first or self.building_box.count() != len(overview.buildings) + 1:
            current = self.building_box.currentData()
            self.building_box.blockSignals(True)
            self.building_box.clear()
            self.building_box.addItem(self.tr("All buildings"), None)
            for building in overview.buildings:
                self.building_box.addItem(
                    self.tr("Building {code}").format(code=building.code), building.code
                )
            found = self.building_box.findData(current)
            self.building_box.setCurrentIndex(max(0, found))
            self.building_box.blockSignals(False)
        self.grid.set_tiles(overview.tiles, {b.code: b.name for b in overview.buildings})
        self._apply_filter()
        self._show_counts()
        self._show_headline()
        current = self.grid.current_room
        if current is not None and self.tile(current) != self._pane_tile:
            self._show_room(current)
        local = overview.taken_at.astimezone()
        self.updated_label.setText(
            self.tr("Updated {time}").format(time=local.strftime("%H:%M:%S"))
        )
        self.loaded.emit(len(overview.tiles))
        self._read_again()

    def _show_counts(self) -> None:
        counts = self._overview.counts if self._overview is not None else {}
        for state, chip in self.chips.items():
            chip.setText(f"{state_label(state)}  {counts.get(state, 0):,}")

    def _show_headline(self) -> None:
        if self._overview is None:
            return
        head = self._overview.headline
        self.online_card.show_value(
            f"{head.meters_online:,} / {head.meters_in_service:,}",
            self.tr("{n} offline").format(n=f"{head.meters_offline:,}")
            if head.meters_offline
            else self.tr("none offline"),
        )
        self.arrears_card.show_value(
            f"{head.accounts_in_arrears:,}",
            self.tr("owing {amount}").format(amount=money_text(head.arrears_minor, self._currency))
            if head.accounts_in_arrears
            else self.tr("of {n} open accounts").format(n=f"{head.accounts_open:,}"),
        )
        self.energy_card.show_value(
            self.tr("{kwh} kWh").format(kwh=f"{head.energy_today_kwh:,.1f}"),
            self.tr("electricity since midnight"),
        )
        self.taken_card.show_value(
            money_text(head.taken_today_minor, self._currency),
            self.tr("net of refunds and reversals"),
        )
        self.usage_card.show_value(
            money_text(head.usage_today_minor, self._currency),
            self.tr("consumption and fees posted"),
        )

    def show_load(self) -> None:
        """The site's load from the live store (cheap: one short copy under its lock)."""
        if self._live is None:
            self.load_card.show_value("—", self.tr("polling has not started"))
            return
        try:
            latest = self._live.latest("site")
        except KeyError:
            latest = None
        if latest is None:
            self.load_card.show_value("—", self.tr("no recent readings"))
            return
        at, watts = latest
        self.load_card.show_value(
            load_text(watts),
            self.tr("at {time}").format(
                time=datetime.fromtimestamp(at, UTC).astimezone().strftime("%H:%M:%S")
            ),
        )

    # -- filters ----------------------------------------------------------------------------

    def shown_states(self) -> list[RoomState]:
        return [state for state, chip in self.chips.items() if chip.isChecked()]

    def _apply_filter(self) -> None:
        self.grid.set_filter(self.shown_states(), self.building_box.currentData())

    def _search_changed(self, text: str) -> None:
        self.grid.set_highlight(text)

    def _choose_first_match(self) -> None:
        found = self.grid.matching()
        if found:
            self.grid.choose(found[0].room_id)
            rect = self.grid.tile_rect(found[0].room_id)
            if rect is not None:
                self.rooms_scroll.ensureVisible(rect.center().x(), rect.center().y(), 60, 60)

    def focus_search(self) -> None:
        self.search.setFocus()
        self.search.selectAll()

    # -- read when shown; the live load while shown -------------------------------------------

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self._load_timer.start()
        self.reload()
        self.show_load()

    def hideEvent(self, event: QHideEvent) -> None:
        self._load_timer.stop()
        super().hideEvent(event)
