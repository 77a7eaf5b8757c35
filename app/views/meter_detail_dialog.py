"""The Meter detail (issue #6): one meter's identity, supply, live values, account and keep
power at a glance, its readings, load-guard trips with their evidence, relay commands with who
asked, and its alarms; and what an operator does to it: switch it off or on, order or lift keep
power on its account, restore it after a load-guard lock-out, set its clock to the site's time.

Opened from the Meters screen (Enter or a double click on a meter) and from the overview. The
detail is read in the background pool when the dialog opens, after each action, and whenever
the change bridge (``follow_changes``) says something it shows changed: the meter, its account's
balance or state, its trips and readings, alarms, relay commands (at most every
``REFRESH_GAP_MS``). Live values come from the runtime's latest snapshot, in memory, shown again
every ``LIVE_MS`` while the dialog is open. Each action asks for a reason in a small form
(``MeterActionDialog``) and shows its outcome there and on the detail's status line: a switch or
restore waits for the meter's read-back (the runtime's future, delivered on the GUI thread), a
keep-power order runs as one transaction in the background and then asks the runtime to evaluate
the account at once. A switch, restore or clock sync of a meter another PC polls is carried out
by that PC (the command queue) and its outcome comes back here. Buttons the operator's role may
not use are off with a tooltip naming who may; without a runtime (``commands`` None) the relay,
restore and clock buttons are off and say polling is not running.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from datetime import datetime
from typing import Protocol

from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.hardware.snapshot import Snapshot
from app.queries.meter_detail import MeterDetail, meter_detail
from app.runtime.clock_sync import ClockSyncOutcome
from app.runtime.operator_commands import RestoreOutcome, SwitchOutcome
from app.services.meter_actions import KeepPowerDone, clear_keep_power, set_keep_power
from app.services.operators import SignedIn
from app.services.permissions import Action, allowed
from app.store.database import Database
from app.ui.background import run_in_background
from app.ui.change_bridge import ChangeBridge, ChangedIds, Refresher, concerns
from app.ui.formatting import clock_drift_text, local_time_text, meter_status_label, utility_label
from app.ui.screen_fit import fit_dialog, scrolling
from app.views.account_dialogs import not_allowed_note
from app.views.meter_action_dialog import MeterActionDialog, future_in_background
from app.views.meter_detail_pages import MeterTabs, SummaryCards
from app.vocabulary import AccountStatus, AlarmKind, AlarmState, OffReason, SupplyState

REFRESH_GAP_MS = 500  # the least time between two reads of the meter after changes
LIVE_MS = 2000  # live values shown again from the runtime's memory (never the database)


class MeterCommands(Protocol):
    """What the detail asks of the running console (``app.runtime.runtime.Runtime``). Each
    method returns at once; futures resolve on the engine thread."""

    def switch_relay(
        self, meter_id: int, on: bool, operator_id: int, reason: str
    ) -> Future[SwitchOutcome]: ...

    def restore_load_guard(
        self, meter_id: int, operator_id: int, note: str
    ) -> Future[RestoreOutcome]: ...

    def sync_clock(
        self, meter_id: int, operator_id: int, reason: str
    ) -> Future[ClockSyncOutcome]: ...

    def account_changed(self, account_id: int) -> None: ...

    def latest_snapshot(self, meter_id: int) -> Snapshot | None: ...


class MeterDetailDialog(QDialog):
    """The detail of meter ``meter_id``. ``operator()`` is whoever is signed in now;
    ``commands`` the running console, or None. ``loaded(detail)`` is emitted on the GUI thread
    after each refresh (None when the meter is gone); ``action_done(result)`` after an action."""

    loaded = Signal(object)
    action_done = Signal(object)

    def __init__(
        self,
        db: Database,
        meter_id: int,
        operator: Callable[[], SignedIn],
        commands: MeterCommands | None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("meterDetailDialog")
        self.setWindowTitle(self.tr("Meter"))
        # At most the screen's size (a 1280x720 counter PC): the content scrolls, Close stays.
        fit_dialog(self, QSize(1080, 740))
        self._db, self.meter_id, self._operator, self._commands = db, meter_id, operator, commands
        self.detail: MeterDetail | None = None
        self.snapshot: Snapshot | None = None
        self.action_dialog: MeterActionDialog | None = None
        self._loading = False
        self._again = False  # changes came during a read: read once more after it
        self._refresher = Refresher(self.refresh, REFRESH_GAP_MS, self)
        self._bridge: ChangeBridge | None = None

        self.heading = QLabel(self.tr("Loading…"))
        self.heading.setObjectName("pageTitle")
        self.subheading = QLabel()
        self.subheading.setObjectName("pageSubtitle")
        self.subheading.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.cards = SummaryCards()

        self.switch_off_button = self._button(self.tr("Switch &off…"), "switchOff")
        self.switch_on_button = self._button(self.tr("Switch o&n…"), "switchOn")
        self.keep_button = self._button(self.tr("&Keep power…"), "keepPower")
        self.clear_keep_button = self._button(self.tr("&Clear keep power…"), "clearKeepPower")
        self.restore_button = self._button(self.tr("&Restore load guard…"), "restoreLoadGuard")
        self.sync_button = self._button(self.tr("S&ync clock…"), "syncClock")
        self.switch_off_button.clicked.connect(lambda: self.ask_switch(False))
        self.switch_on_button.clicked.connect(lambda: self.ask_switch(True))
        self.keep_button.clicked.connect(self.ask_keep_power)
        self.clear_keep_button.clicked.connect(self.ask_clear_keep_power)
        self.restore_button.clicked.connect(self.ask_restore)
        self.sync_button.clicked.connect(self.ask_sync_clock)
        actions = QHBoxLayout()
        actions.setSpacing(8)
        for button in (
            self.switch_off_button,
            self.switch_on_button,
            self.keep_button,
            self.clear_keep_button,
            self.restore_button,
            self.sync_button,
        ):
            actions.addWidget(button)
        actions.addStretch(1)
        self.status = QLabel()
        self.status.setObjectName("meterDetailStatus")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.status.hide()  # shown with an action's outcome or a read failure
        self.tabs = MeterTabs()

        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.reject)
        content = QWidget()
        inner = QVBoxLayout(content)
        inner.setContentsMargins(0, 0, 0, 0)
        inner.setSpacing(10)
        inner.addWidget(self.heading)
        inner.addWidget(self.subheading)
        inner.addWidget(self.cards)
        inner.addLayout(actions)
        inner.addWidget(self.status)
        inner.addWidget(self.tabs, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(18, 14, 18, 12)
        layout.setSpacing(10)
        layout.addWidget(scrolling(content), 1)
        layout.addWidget(close)
        self.close_buttons = close

        self._live_timer = QTimer(self)
        self._live_timer.setInterval(LIVE_MS)
        self._live_timer.timeout.connect(self.show_live)
        self._update_buttons()
        self.refresh()

    def say(self, text: str) -> None:
        """The status line under the buttons (an action's outcome)."""
        self.status.setText(text)
        self.status.setVisible(bool(text))

    def _button(self, text: str, name: str) -> QPushButton:
        button = QPushButton(text)
        button.setObjectName(name)
        button.setAutoDefault(False)
        return button

    # --- loading ----------------------------------------------------------------------------

    def follow_changes(self, bridge: ChangeBridge) -> None:
        """Read the detail again when the bridge says something it shows changed (once per
        bridge: asking again changes nothing)."""
        if self._bridge is bridge:
            return
        self._bridge = bridge
        bridge.meters_changed.connect(self._meter_changed)
        bridge.trips_changed.connect(self._meter_changed)
        bridge.readings_changed.connect(self._meter_changed)
        bridge.balances_changed.connect(self._account_changed)
        bridge.accounts_changed.connect(self._account_changed)
        bridge.alarms_changed.connect(self._refresher.poke)
        bridge.commands_changed.connect(self._refresher.poke)

    def _meter_changed(self, ids: ChangedIds) -> None:
        if concerns(ids, self.meter_id):
            self._refresher.poke()

    def _account_changed(self, ids: ChangedIds) -> None:
        if concerns(ids, None if self.detail is None else self.detail.account_id):
            self._refresher.poke()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._commands is not None:
            self._live_timer.start()

    def done(self, result: int) -> None:
        self._live_timer.stop()
        super().done(result)

    def show_live(self) -> None:
        """The runtime's newest values of the meter (memory: cheap on the GUI thread)."""
        if self._commands is None or self.detail is None:
            return
        snapshot = self._commands.latest_snapshot(self.meter_id)
        if snapshot is not self.snapshot:
            self.snapshot = snapshot
            self._show(self.detail, snapshot)

    def refresh(self) -> None:
        """Read the detail again in the background (asked while a read is in flight, it reads
        once more after it)."""
        if self._loading:
            self._again = True
            return
        self._loading = True
        db, meter_id, commands = self._db, self.meter_id, self._commands

        def load() -> tuple[MeterDetail | None, Snapshot | None]:
            snapshot = None if commands is None else commands.latest_snapshot(meter_id)
            return meter_detail(db, meter_id), snapshot

        run_in_background(load, self._loaded, self._failed, owner=self)

    def _read_again(self) -> None:
        if self._again:
            self._again = False
            self.refresh()

    def _failed(self, message: str) -> None:
        self._loading = False
        self.say(self.tr("The meter could not be read: {error}").format(error=message))
        self._read_again()

    def _loaded(self, result: tuple[MeterDetail | None, Snapshot | None]) -> None:
        self._loading = False
        detail, snapshot = result
        self.detail, self.snapshot = detail, snapshot
        if detail is None:
            self.heading.setText(self.tr("Meter not found"))
            self.subheading.setText(self.tr("It may have been removed; close this window."))
        else:
            self._show(detail, snapshot)
        self._update_buttons()
        self.loaded.emit(detail)
        self._read_again()

    def _show(self, d: MeterDetail, snap: Snapshot | None) -> None:
        self.setWindowTitle(self.tr("Meter {serial}").format(serial=d.serial))
        self.heading.setText(
            self.tr("Meter {serial}").format(serial=d.serial)
            + (f" — {d.room_label}" if d.room_label else "")
        )
        parts = [utility_label(d.utility), meter_status_label(d.status, d.last_seen_at)]
        if d.account_number:
            parts.append(
                self.tr("account {number}, {holder}").format(
                    number=d.account_number, holder=d.holder_name
                )
            )
        else:
            parts.append(self.tr("no account"))
        self.subheading.setText(" · ".join(parts))
        self.cards.show_meter(d, snap, polling=self._commands is not None)
        self.tabs.show_detail(d)

    # --- what the operator may do -----------------------------------------------------------

    def _update_buttons(self) -> None:
        """Each button on or off with a tooltip saying why; checked again by the services."""
        role = self._operator().role
        d = self.detail
        no_runtime = self.tr(
            "Polling is not running in this console: relays are switched by the running console."
        )

        def decide(button: QPushButton, action: Action, why_not: str, hint: str) -> None:
            if not allowed(role, action):
                button.setEnabled(False)
                button.setToolTip(not_allowed_note(role, action))
            elif why_not:
                button.setEnabled(False)
                button.setToolTip(why_not)
            else:
                button.setEnabled(True)
                button.setToolTip(hint)

        loading = self.tr("Loading the meter…")
        if d is None:
            switch_off = switch_on = keep = clear = restore = sync = loading
        else:
            base = ""
            if not d.in_service:
                base = self.tr("The meter was removed from service.")
            elif d.supply_kind is None:
                base = self.tr("Profile {profile} has no relay or valve.").format(profile=d.profile)
            elif self._commands is None:
                base = no_runtime
            switch_off = switch_on = base
            if not switch_on and d.off_reason == OffReason.LOAD_GUARD:
                switch_on = self.tr("The load guard holds it off: use Restore load guard.")
            elif (
                not switch_on
                and d.supply_state is SupplyState.CUT_OFF
                and d.account_status is AccountStatus.OPEN
                and not d.keep_power_active
            ):
                switch_on = self.tr(
                    "Account {number} is cut off for arrears: take a recharge or order keep "
                    "power first."
                ).format(number=d.account_number)
            keep = clear = ""
            if d.account_id is None:
                keep = clear = self.tr("The meter belongs to no account.")
            elif d.account_status is not AccountStatus.OPEN:
                keep = clear = self.tr("Account {number} is closed.").format(
                    number=d.account_number
                )
            elif d.keep_power_until is None:
                clear = self.tr("No keep-power order to clear.")
            restore = self.tr("The load guard holds nothing to restore.")
            if d.open_trip is not None or d.off_reason == OffReason.LOAD_GUARD:
                restore = no_runtime if self._commands is None else ""
            sync = ""
            if not d.in_service:
                sync = self.tr("The meter was removed from service.")
            elif not d.keeps_clock:
                sync = self.tr("Profile {profile} keeps no clock.").format(profile=d.profile)
            elif self._commands is None:
                sync = no_runtime
        decide(
            self.switch_off_button,
            Action.SWITCH_RELAY,
            switch_off,
            self.tr("Cut the supply now; the balance policy will not switch it back on."),
        )
        decide(
            self.switch_on_button,
            Action.SWITCH_RELAY,
            switch_on,
            self.tr("Switch the supply on now; the read-back shows whether it worked."),
        )
        decide(
            self.keep_button,
            Action.KEEP_POWER,
            keep,
            self.tr("Keep the room's supply on until a time, whatever the balance."),
        )
        decide(self.clear_keep_button, Action.KEEP_POWER, clear, self.tr("End keep power now."))
        decide(
            self.restore_button,
            Action.RESTORE_LOAD_GUARD,
            restore,
            self.tr("Lift the trip or lock-out and switch the supply back on."),
        )
        decide(
            self.sync_button,
            Action.SYNC_CLOCK,
            sync,
            self.tr(
                "Set the meter's clock to the site's time; its drift is read before and after."
            ),
        )

    # --- actions ----------------------------------------------------------------------------

    def _where(self) -> str:
        d = self.detail
        if d is None:
            return ""
        room = f" — {d.room_label}" if d.room_label else ""
        return self.tr("Meter {serial}{room}").format(serial=d.serial, room=room)

    def _open_action(self, dialog: MeterActionDialog) -> MeterActionDialog:
        dialog.completed.connect(self._action_completed)
        dialog.finished.connect(dialog.deleteLater)
        dialog.destroyed.connect(lambda *_: setattr(self, "action_dialog", None))
        self.action_dialog = dialog
        dialog.open()
        return dialog

    def ask_switch(self, on: bool) -> MeterActionDialog | None:
        commands, meter_id, who = self._commands, self.meter_id, self._operator()
        button = self.switch_on_button if on else self.switch_off_button
        if commands is None or not button.isEnabled():
            return None

        def submit(reason: str, _until: datetime | None) -> Future[SwitchOutcome]:
            return commands.switch_relay(meter_id, on, who.operator_id, reason)

        title = self.tr("Switch the supply on") if on else self.tr("Switch the supply off")
        subtitle = (
            self._where()
            + "\n"
            + (
                self.tr("The meter's relay or valve is closed and read back.")
                if on
                else self.tr(
                    "A manual cut stays off until an operator switches it on: a recharge does not "
                    "switch it back."
                )
            )
        )
        return self._open_action(
            MeterActionDialog(
                title,
                subtitle,
                self.tr("Switch on") if on else self.tr("Switch off"),
                self.tr("&Reason"),
                self.tr("Why, for the record"),
                submit,
                self.describe_switch,
                waiting_text=self.tr("Sent; waiting for the meter's read-back…"),
                parent=self,
            )
        )

    def ask_restore(self) -> MeterActionDialog | None:
        commands, meter_id, who = self._commands, self.meter_id, self._operator()
        if commands is None or not self.restore_button.isEnabled():
            return None

        def submit(note: str, _until: datetime | None) -> Future[RestoreOutcome]:
            return commands.restore_load_guard(meter_id, who.operator_id, note)

        trip = None if self.detail is None else self.detail.open_trip
        evidence = trip.note.splitlines()[0] if trip is not None and trip.note else ""
        return self._open_action(
            MeterActionDialog(
                self.tr("Restore after a load-guard trip"),
                self._where() + ("\n" + evidence if evidence else ""),
                self.tr("Restore"),
                self.tr("&Note"),
                self.tr("What you found in the room (heater removed…)"),
                submit,
                self.describe_restore,
                waiting_text=self.tr("Sent; waiting for the meter's read-back…"),
                parent=self,
            )
        )

    def ask_sync_clock(self) -> MeterActionDialog | None:
        commands, meter_id, who = self._commands, self.meter_id, self._operator()
        if commands is None or not self.sync_button.isEnabled():
            return None

        def submit(reason: str, _until: datetime | None) -> Future[ClockSyncOutcome]:
            return commands.sync_clock(meter_id, who.operator_id, reason)

        drift = self._open_drift_alarm()
        return self._open_action(
            MeterActionDialog(
                self.tr("Sync the meter's clock"),
                self._where()
                + "\n"
                + (
                    drift
                    or self.tr(
                        "Its clock is set to the site's time by the PC that polls its bus; "
                        "time-of-use bands switch by this clock."
                    )
                ),
                self.tr("Sync clock"),
                self.tr("&Reason"),
                self.tr("Why, for the record (clock drift alarm, after a power cut…)"),
                submit,
                self.describe_sync,
                waiting_text=self.tr("Sent; reading the clock, setting it, reading it again…"),
                parent=self,
            )
        )

    def _open_drift_alarm(self) -> str:
        """The message of the meter's open clock-drift alarm, if it has one."""
        d = self.detail
        if d is None:
            return ""
        for alarm in d.alarms:
            if alarm.kind == AlarmKind.CLOCK_DRIFT and alarm.state is not AlarmState.CLEARED:
                return alarm.message
        return ""

    def ask_keep_power(self) -> MeterActionDialog | None:
        if not self.keep_button.isEnabled():
            return None
        db, meter_id, who = self._db, self.meter_id, self._operator()

        def submit(reason: str, until: datetime | None) -> Future[KeepPowerDone]:
            assert until is not None
            return future_in_background(
                lambda: set_keep_power(db, who, meter_id, until, reason), self
            )

        account = "" if self.detail is None else self.detail.account_number
        return self._open_action(
            MeterActionDialog(
                self.tr("Keep power"),
                self._where()
                + "\n"
                + self.tr(
                    "Account {number} keeps its supply until then, whatever its balance; what "
                    "was cut for arrears is switched back on."
                ).format(number=account),
                self.tr("Order keep power"),
                self.tr("&Reason"),
                self.tr("Why the room must keep power (medical need…)"),
                submit,
                self.describe_keep_power,
                with_until=True,
                parent=self,
            )
        )

    def ask_clear_keep_power(self) -> MeterActionDialog | None:
        if not self.clear_keep_button.isEnabled():
            return None
        db, meter_id, who = self._db, self.meter_id, self._operator()

        def submit(reason: str, _until: datetime | None) -> Future[KeepPowerDone]:
            return future_in_background(lambda: clear_keep_power(db, who, meter_id, reason), self)

        return self._open_action(
            MeterActionDialog(
                self.tr("Clear keep power"),
                self._where()
                + "\n"
                + self.tr("The balance policy decides again: an account in arrears is cut."),
                self.tr("Clear keep power"),
                self.tr("&Reason"),
                self.tr("Why keep power ends early"),
                submit,
                self.describe_keep_power,
                parent=self,
            )
        )

    def _action_completed(self, result: object) -> None:
        if isinstance(result, KeepPowerDone) and self._commands is not None:
            self._commands.account_changed(result.account_id)  # the supply follows at once
        if isinstance(result, SwitchOutcome):
            self.say(self.describe_switch(result))
        elif isinstance(result, RestoreOutcome):
            self.say(self.describe_restore(result))
        elif isinstance(result, KeepPowerDone):
            self.say(self.describe_keep_power(result))
        elif isinstance(result, ClockSyncOutcome):
            self.say(self.describe_sync(result))
        self.action_done.emit(result)
        self.refresh()

    # --- outcomes ---------------------------------------------------------------------------

    def describe_switch(self, outcome: SwitchOutcome) -> str:
        wanted = self.tr("on") if outcome.on else self.tr("off")
        if outcome.verified:
            return self.tr("Supply {wanted}: verified by read-back after {n} attempt(s).").format(
                wanted=wanted, n=outcome.attempts
            )
        if outcome.supply_on is not None:
            return self.tr(
                "Not verified: the meter answered but its supply still reads {state} ({error})."
            ).format(
                state=self.tr("on") if outcome.supply_on else self.tr("off"), error=outcome.error
            )
        return self.tr("Not done: {error}. A critical alarm says so.").format(error=outcome.error)

    def describe_restore(self, outcome: RestoreOutcome) -> str:
        if outcome.switch is None:
            return self.tr("Load guard restored. {why}").format(why=outcome.stays_off)
        return self.tr("Load guard restored. {switch}").format(
            switch=self.describe_switch(outcome.switch)
        )

    def describe_sync(self, outcome: ClockSyncOutcome) -> str:
        before = clock_drift_text(outcome.drift_before_s)
        after = clock_drift_text(outcome.drift_after_s)
        if outcome.verified:
            return self.tr("Clock set: it was {before}, now it reads {after}.").format(
                before=before, after=after
            )
        if outcome.drift_after_s is not None:
            return self.tr(
                "Clock not set: it was {before} and still reads {after} ({error})."
            ).format(before=before, after=after, error=outcome.error)
        return self.tr("Not done: {error}.").format(error=outcome.error)

    def describe_keep_power(self, done: KeepPowerDone) -> str:
        if done.until is None:
            return self.tr("Keep power of account {number} cleared.").format(
                number=done.account_number
            )
        return self.tr("Keep power ordered for account {number} until {time}.").format(
            number=done.account_number, time=local_time_text(done.until)
        )
