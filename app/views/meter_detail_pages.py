"""The parts of the Meter detail that only show: the headline cards (supply, live values,
register, balance, keep power) and the tabs (details, readings, load-guard trips with their
evidence, relay commands with who asked, alarms). Each ``show`` takes a ``MeterDetail`` (and the
runtime's latest snapshot); a table is reinstalled only when its rows changed, so the periodic
refresh keeps the selection and the scroll position.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from PySide6.QtCore import QCoreApplication, Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFormLayout,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QSizePolicy,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.hardware.snapshot import Snapshot
from app.queries.meter_detail import CommandLine, MeterDetail, ReadingLine, TripLine
from app.ui.badge_delegate import BadgeDelegate
from app.ui.formatting import (
    clock_drift_text,
    local_time_text,
    meter_status_label,
    money_text,
    relay_label,
    supply_label,
    utility_label,
)
from app.ui.row_table_model import RIGHT, Column, RowTableModel, prepare_rows
from app.views.alarms_view import (
    SEVERITY_BADGE,
    STATE_BADGE,
    kind_label,
    severity_label,
    state_label,
)
from app.vocabulary import (
    AccountStatus,
    AlarmState,
    CommandState,
    OffReason,
    RelayAction,
    Utility,
)

COMMAND_BADGE = {
    CommandState.PENDING: "info",
    CommandState.SENT: "info",
    CommandState.VERIFIED: "ok",
    CommandState.UNVERIFIED: "warn2",
    CommandState.FAILED: "bad",
}


def _t(text: str) -> str:
    return QCoreApplication.translate("MeterDetail", text)


def time_s(moment: datetime | None) -> str:
    return "—" if moment is None else moment.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def moment_text(moment: datetime | None, now: datetime | None = None) -> str:
    """Compact: the time alone today, else the date and minutes (the PC's local time)."""
    if moment is None:
        return "—"
    local = moment.astimezone()
    today = (now or datetime.now(UTC)).astimezone().date()
    return local.strftime("%H:%M:%S") if local.date() == today else local.strftime("%Y-%m-%d %H:%M")


def remaining_text(until: datetime, now: datetime) -> str:
    """How long until ``until``: "2 d 3 h", "5 h 20 min", "12 min"."""
    minutes = max(0, int((until - now).total_seconds() // 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return _t("{d} d {h} h").format(d=days, h=hours)
    if hours:
        return _t("{h} h {m} min").format(h=hours, m=mins)
    return _t("{m} min").format(m=mins)


def number_text(value: float | None, digits: int = 0, unit: str = "") -> str:
    if value is None:
        return "—"
    text = f"{value:,.{digits}f}"
    return f"{text} {unit}" if unit else text


def register_unit(utility: Utility) -> str:
    return "kWh" if utility is Utility.ELECTRICITY else "m³"


def units_text(units: int | None, digits: int = 3) -> str:
    """Wh or litres as kWh or m³ (both /1000)."""
    return "—" if units is None else f"{units / 1000:,.{digits}f}"


def off_reason_text(reason: str | None) -> str:
    """Why the supply is off, as the operator reads it."""
    labels: dict[str, str] = {
        OffReason.ARREARS: _t("cut for arrears"),
        OffReason.LOAD_GUARD: _t("held off by the load guard"),
        OffReason.MANUAL: _t("switched off by an operator"),
    }
    return labels.get(reason or "", reason or "")


def _table(columns: list[Column], badges: tuple[int, ...] = ()) -> tuple[QTableView, RowTableModel]:
    view = QTableView()
    model = RowTableModel(columns, view)
    view.setModel(model)
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    view.setAlternatingRowColors(True)
    view.setShowGrid(False)
    view.setWordWrap(False)
    view.verticalHeader().setVisible(False)
    view.verticalHeader().setDefaultSectionSize(28)
    header = view.horizontalHeader()
    header.setHighlightSections(False)
    header.setStretchLastSection(True)
    header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    delegate = BadgeDelegate(view)
    for column in badges:
        view.setItemDelegateForColumn(column, delegate)
    return view, model


class Card(QFrame):
    """A headline card: caption, big value, a detail line."""

    def __init__(self, caption: str, name: str) -> None:
        super().__init__()
        self.setObjectName("headlineCard")
        self.caption = QLabel(caption)
        self.caption.setObjectName("headlineCaption")
        self.value = QLabel("—")
        self.value.setObjectName("headlineValue")
        self.value.setAccessibleName(name)
        self.value.setWordWrap(True)
        self.detail = QLabel()
        self.detail.setObjectName("headlineDetail")
        self.detail.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(14, 10, 14, 10)
        layout.setSpacing(2)
        layout.addWidget(self.caption)
        layout.addWidget(self.value)
        layout.addWidget(self.detail)
        layout.addStretch(1)
        # Equal widths from the grid's stretch, whatever the texts.
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)

    def show_value(self, value: str, detail: str, color: str = "") -> None:
        self.value.setText(value)
        self.value.setStyleSheet(f"color: {color};" if color else "")
        self.detail.setText(detail)


class SummaryCards(QWidget):
    """The headline cards of one meter."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.supply_card = Card(self.tr("Supply"), "supply")
        self.live_card = Card(self.tr("Now"), "live")
        self.register_card = Card(self.tr("Register"), "register")  # caption gets the unit
        self.balance_card = Card(self.tr("Account balance"), "balance")
        self.keep_card = Card(self.tr("Keep power"), "keepPower")
        # The newest live register seen: a poll that skips the slow values keeps it shown.
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setSpacing(10)
        for n, card in enumerate(
            (
                self.supply_card,
                self.live_card,
                self.register_card,
                self.balance_card,
                self.keep_card,
            )
        ):
            grid.addWidget(card, 0, n)
            grid.setColumnStretch(n, 1)

    def show_meter(self, d: MeterDetail, snap: Snapshot | None, polling: bool) -> None:
        verified = (
            self.tr("verified {time}").format(time=moment_text(d.relay_verified_at))
            if d.relay_verified_at is not None
            else self.tr("never verified by a read-back")
        )
        off = off_reason_text(d.off_reason) if d.relay_closed is False else ""
        color = "" if d.relay_closed is None else "#166534" if d.relay_closed else "#b91c1c"
        if d.supply_kind is None:
            self.supply_card.show_value(
                self.tr("No relay"), self.tr("Its profile has nothing to switch.")
            )
        else:
            self.supply_card.show_value(
                relay_label(d.relay_closed), "\n".join(p for p in (off, verified) if p), color
            )

        unit = register_unit(d.utility)
        self.register_card.caption.setText(self.tr("Register ({unit})").format(unit=unit))
        if snap is not None and d.utility is Utility.ELECTRICITY and snap.power_w is not None:
            self.live_card.show_value(
                number_text(snap.power_w, 0, "W"),
                " · ".join(
                    (
                        number_text(snap.voltage_v, 1, "V"),
                        number_text(snap.current_a, 2, "A"),
                        self.tr("PF {pf}").format(pf=number_text(snap.power_factor, 3)),
                    )
                )
                + "\n"
                + self.tr("polled {time}").format(time=moment_text(snap.wall_time)),
            )
        elif snap is not None:
            self.live_card.show_value(
                relay_label(snap.valve_open if snap.valve_open is not None else snap.relay_closed),
                self.tr("polled {time}").format(time=moment_text(snap.wall_time)),
            )
        else:
            self.live_card.show_value(
                "—",
                self.tr("No live values: polling is not running here.")
                if not polling
                else self.tr("Not polled since the console started."),
            )

        live = None  # the runtime's latest values keep the register between slow polls
        if snap is not None:
            live = snap.energy_import_kwh if d.utility is Utility.ELECTRICITY else snap.volume_m3
        latest = d.latest_reading
        if snap is not None and live is not None:
            self.register_card.show_value(
                f"{live:,.2f}", self.tr("live, {time}").format(time=moment_text(snap.wall_time))
            )
        elif latest is not None:
            self.register_card.show_value(
                units_text(latest.register_units, 2),
                self.tr("interval reading of {time}").format(time=local_time_text(latest.read_at)),
            )
        else:
            self.register_card.show_value("—", self.tr("No reading stored yet."))

        if d.balance_minor is None or d.supply_state is None:
            self.balance_card.show_value("—", self.tr("The meter belongs to no account."))
        else:
            status = d.account_status or AccountStatus.OPEN
            self.balance_card.show_value(
                money_text(d.balance_minor, d.currency),
                f"{supply_label(d.supply_state, status)} · {d.policy_name}",
                "#b91c1c" if d.balance_minor < 0 else "",
            )

        if d.keep_power_active and d.keep_power_until is not None:
            self.keep_card.show_value(
                self.tr("{left} left").format(left=remaining_text(d.keep_power_until, d.read_at)),
                self.tr("until {time}: {reason}").format(
                    time=local_time_text(d.keep_power_until), reason=d.keep_power_reason
                ),
                "#1e40af",
            )
        elif d.keep_power_until is not None:
            self.keep_card.show_value(
                self.tr("Ended"),
                self.tr("ended {time}: {reason}").format(
                    time=local_time_text(d.keep_power_until), reason=d.keep_power_reason
                ),
            )
        else:
            self.keep_card.show_value(
                self.tr("Not ordered"), self.tr("The balance policy decides.")
            )


class MeterTabs(QTabWidget):
    """Details, readings, load guard, commands and alarms of one meter."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._shown: dict[str, tuple[Any, ...]] = {}
        self.addTab(self._details_page(), self.tr("Details"))
        self.readings_view, self.readings = _table(self._reading_columns())
        self.trips_view, self.trips = _table(self._trip_columns(), badges=(7,))
        self.commands_view, self.commands = _table(self._command_columns(), badges=(3,))
        self.alarms_view, self.alarms = _table(self._alarm_columns(), badges=(2, 3))
        for view, title in (
            (self.readings_view, self.tr("Readings")),
            (self.trips_view, self.tr("Load guard")),
            (self.commands_view, self.tr("Commands")),
            (self.alarms_view, self.tr("Alarms")),
        ):
            self.addTab(view, title)

    def show_detail(self, d: MeterDetail) -> None:
        self._show_fields(d)
        self._install("readings", self.readings, d.readings)
        self._install("trips", self.trips, d.trips)
        self._install("commands", self.commands, d.commands)
        self._install("alarms", self.alarms, d.alarms)
        self.setTabText(
            2,
            self.tr("Load guard ({count})").format(count=len(d.trips))
            + (" ⚠" if d.open_trip is not None else ""),
        )
        active = sum(1 for a in d.alarms if a.state is AlarmState.ACTIVE)
        self.setTabText(
            4,
            self.tr("Alarms ({count} active)").format(count=active)
            if active
            else self.tr("Alarms"),
        )

    def _install(self, key: str, model: RowTableModel, rows: tuple[Any, ...]) -> None:
        if self._shown.get(key) == rows:  # unchanged: keep the selection and scroll position
            return
        self._shown[key] = rows
        model.install(prepare_rows(rows, lambda _row: ""))

    def _details_page(self) -> QWidget:
        page = QWidget()
        grid = QHBoxLayout(page)
        grid.setContentsMargins(12, 12, 12, 12)
        grid.setSpacing(32)
        self.fields: dict[str, QLabel] = {}
        groups = (
            (
                ("serial", self.tr("Meter number")),
                ("utility", self.tr("Utility")),
                ("profile", self.tr("Profile")),
                ("bus", self.tr("Bus")),
                ("address", self.tr("Address")),
                ("multiplier", self.tr("Multiplier")),
                ("rated", self.tr("Rated current")),
                ("installed", self.tr("Installed")),
            ),
            (
                ("status", self.tr("Status")),
                ("last_seen", self.tr("Last seen")),
                ("room", self.tr("Room")),
                ("account", self.tr("Account")),
                ("holder", self.tr("Holder")),
                ("policy", self.tr("Balance policy")),
                ("supply_state", self.tr("Credit state")),
                ("keep_reason", self.tr("Keep-power reason")),
            ),
        )
        for group in groups:
            form = QFormLayout()
            form.setHorizontalSpacing(14)
            form.setVerticalSpacing(6)
            for key, text in group:
                name = QLabel(text)
                name.setObjectName("fieldLabel")
                value = QLabel("—")
                value.setObjectName(f"field_{key}")
                value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
                value.setWordWrap(True)
                form.addRow(name, value)
                self.fields[key] = value
            grid.addLayout(form, 1)
        return page

    def _reading_columns(self) -> list[Column]:
        return [
            Column(self.tr("Read at"), lambda r: local_time_text(r.read_at)),
            Column(
                self.tr("Register (kWh or m³)"), lambda r: units_text(r.register_units), align=RIGHT
            ),
            Column(
                self.tr("Used since the one before (kWh or m³)"),
                lambda r: units_text(r.used_units),
                align=RIGHT,
            ),
            Column(self.tr("Quality"), lambda r: self._quality_label(r)),
        ]

    def _trip_columns(self) -> list[Column]:
        return [
            Column(self.tr("Tripped at"), lambda t: time_s(t.tripped_at)),
            Column(self.tr("Mode"), lambda t: self._trip_mode(t.mode)),
            Column(self.tr("Power"), lambda t: number_text(t.power_w, 0, "W"), align=RIGHT),
            Column(self.tr("Step ΔP"), lambda t: number_text(t.delta_power_w, 0, "W"), align=RIGHT),
            Column(self.tr("PF"), lambda t: number_text(t.power_factor, 3), align=RIGHT),
            Column(self.tr("Band"), lambda t: "—" if t.band is None else str(t.band)),
            Column(self.tr("Window"), lambda t: number_text(t.window_s, 1, "s"), align=RIGHT),
            Column(
                self.tr("State"),
                lambda t: self._trip_state(t),
                badge=lambda t: "bad" if t.open and t.locked_out else "warn" if t.open else "ok",
            ),
            Column(self.tr("Restored"), lambda t: self._restored(t)),
            Column(
                self.tr("Evidence and notes"),
                lambda t: t.note.replace("\n", " · "),
                tooltip=lambda t: t.note,
            ),
        ]

    def _command_columns(self) -> list[Column]:
        return [
            Column(self.tr("Requested at"), lambda c: time_s(c.requested_at)),
            Column(self.tr("Command"), lambda c: self._command_name(c.action)),
            Column(
                self.tr("Requested by"), lambda c: c.requested_by or self.tr("Console (automatic)")
            ),
            Column(
                self.tr("Outcome"),
                lambda c: self._command_state(c.state),
                badge=lambda c: COMMAND_BADGE[c.state],
                tooltip=lambda c: c.error,
            ),
            Column(self.tr("Read back"), lambda c: self._read_back(c)),
            Column(self.tr("Attempts"), lambda c: str(c.attempts), align=RIGHT),
            Column(self.tr("Reason"), lambda c: c.reason, tooltip=lambda c: c.reason),
        ]

    def _alarm_columns(self) -> list[Column]:
        return [
            Column(self.tr("Raised"), lambda a: local_time_text(a.raised_at)),
            Column(self.tr("Alarm"), lambda a: kind_label(a.kind)),
            Column(
                self.tr("Severity"),
                lambda a: severity_label(a.severity),
                badge=lambda a: SEVERITY_BADGE[a.severity],
            ),
            Column(
                self.tr("State"),
                lambda a: state_label(a.state),
                badge=lambda a: STATE_BADGE[a.state],
            ),
            Column(self.tr("Message"), lambda a: a.message, tooltip=lambda a: a.message),
        ]

    # --- labels -----------------------------------------------------------------------------

    def _quality_label(self, reading: ReadingLine) -> str:
        return {
            "good": self.tr("Good"),
            "held": self.tr("Held (implausible)"),
        }.get(reading.quality.value, reading.quality.value)

    def _trip_mode(self, mode: str) -> str:
        return {
            "total": self.tr("Total power"),
            "increment": self.tr("New load (step)"),
            "meter_total": self.tr("Meter's own limit"),
        }.get(mode, mode)

    def _trip_state(self, trip: TripLine) -> str:
        if trip.open:
            return self.tr("Locked out") if trip.locked_out else self.tr("Waiting for restore")
        return self.tr("Restored")

    def _restored(self, trip: TripLine) -> str:
        if trip.restored_at is None:
            return "—"
        who = trip.restored_by or self.tr("automatically")
        same_day = trip.restored_at.astimezone().date() == trip.tripped_at.astimezone().date()
        when = (
            trip.restored_at.astimezone().strftime("%H:%M:%S")
            if same_day
            else time_s(trip.restored_at)
        )
        return f"{when} ({who})"

    def _command_name(self, action: RelayAction) -> str:
        return {
            RelayAction.OPEN_SUPPLY: self.tr("Switch on"),
            RelayAction.CUT_SUPPLY: self.tr("Cut"),
            RelayAction.SYNC_CLOCK: self.tr("Clock sync"),
            RelayAction.ALARM_ON: self.tr("Alarm on"),
            RelayAction.ALARM_OFF: self.tr("Alarm off"),
        }[action]

    def _command_state(self, state: CommandState) -> str:
        return {
            CommandState.PENDING: self.tr("Queued for the polling PC"),
            CommandState.SENT: self.tr("Waiting for read-back"),
            CommandState.VERIFIED: self.tr("Verified"),
            CommandState.UNVERIFIED: self.tr("Not verified"),
            CommandState.FAILED: self.tr("Failed"),
        }[state]

    def _read_back(self, command: CommandLine) -> str:
        if command.action is RelayAction.SYNC_CLOCK:
            if command.drift_before_s is None and command.drift_after_s is None:
                return "—"
            return self.tr("{before} → {after}").format(
                before=clock_drift_text(command.drift_before_s),
                after=clock_drift_text(command.drift_after_s),
            )
        if command.action in (RelayAction.ALARM_ON, RelayAction.ALARM_OFF):
            # Nothing reads a meter's alarm back: its acknowledgement is what there is.
            verified = command.state is CommandState.VERIFIED
            return self.tr("Acknowledged by the meter") if verified else "—"
        if command.verified_closed is None:
            return "—"
        return relay_label(command.verified_closed)

    def _show_fields(self, d: MeterDetail) -> None:
        kind = {"relay": self.tr("relay"), "valve": self.tr("valve")}.get(
            d.supply_kind or "", self.tr("nothing to switch")
        )
        values = {
            "serial": d.serial,
            "utility": utility_label(d.utility),
            "profile": f"{d.profile} ({kind})",
            "bus": f"{d.bus_name} — {d.bus_url}",
            "address": d.address,
            "multiplier": str(d.multiplier),
            "rated": "—" if d.rated_current_a is None else f"{d.rated_current_a} A",
            "installed": local_time_text(d.installed_at),
            "status": meter_status_label(d.status, d.last_seen_at),
            "last_seen": time_s(d.last_seen_at),
            "room": " / ".join(p for p in (d.room_label, d.building) if p) or "—",
            "account": d.account_number or "—",
            "holder": d.holder_name or "—",
            "policy": d.policy_name or "—",
            "supply_state": "—"
            if d.supply_state is None
            else supply_label(d.supply_state, d.account_status or AccountStatus.OPEN),
            "keep_reason": d.keep_power_reason or "—",
        }
        for key, value in values.items():
            self.fields[key].setText(value)
