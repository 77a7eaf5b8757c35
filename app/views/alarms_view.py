"""Alarm centre: every alarm, newest first, with search and filters for state (active by
default), severity, kind and building; the chosen alarm's evidence under the table; and
Acknowledge… (Ctrl+K), which asks for a note and records who acknowledged it (audited by the
service, which also checks the permission). With the change bridge (``follow_changes``) the list
is read again when alarms change: at once while it is shown, else when it comes into view.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from PySide6.QtCore import QCoreApplication, Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut, QShowEvent
from PySide6.QtWidgets import (
    QComboBox,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.queries.alarms import AlarmRow, list_alarms
from app.services.alarm_actions import NOTE_MAX, acknowledge_alarm
from app.services.operators import SignedIn
from app.services.permissions import Action, PermissionDenied, allowed
from app.services.service_checks import Refused
from app.store.database import Database
from app.ui.background import run_in_background
from app.ui.change_bridge import ChangeBridge, Refresher
from app.ui.formatting import local_time_text
from app.ui.row_table_model import Column, PreparedRows, prepare_rows
from app.ui.searchable_table import SearchableTable
from app.views.account_dialogs import Refusal, not_allowed_note
from app.views.form_dialog import FormDialog, label, with_notes
from app.vocabulary import AlarmKind, AlarmSeverity, AlarmState

DIALOG_WIDTH = 480
RELOAD_GAP_MS = 1000  # the least time between two reads of the list after alarms changed
SEVERITY_ORDER = {AlarmSeverity.CRITICAL: 0, AlarmSeverity.WARNING: 1, AlarmSeverity.INFO: 2}
SEVERITY_BADGE = {
    AlarmSeverity.CRITICAL: "bad",
    AlarmSeverity.WARNING: "warn",
    AlarmSeverity.INFO: "info",
}
STATE_BADGE = {
    AlarmState.ACTIVE: "bad",
    AlarmState.ACKNOWLEDGED: "warn",
    AlarmState.CLEARED: "muted",
}


def _t(text: str) -> str:
    return QCoreApplication.translate("AlarmsView", text)


def kind_labels() -> dict[AlarmKind, str]:
    """Every alarm kind the runtime raises, as the operator reads it, in the order the kind
    filter lists them (``AlarmKind``'s order)."""
    return {
        AlarmKind.LOW_BALANCE_1: _t("Low balance 1"),
        AlarmKind.LOW_BALANCE_2: _t("Low balance 2"),
        AlarmKind.CUT_OFF: _t("Cut off"),
        AlarmKind.LOAD_GUARD_TRIP: _t("Load-guard trip"),
        AlarmKind.LOAD_GUARD_ALARM: _t("Heavy load"),
        AlarmKind.LOAD_GUARD_LOCKOUT: _t("Load-guard lockout"),
        AlarmKind.METER_OFFLINE: _t("Meter offline"),
        AlarmKind.COMMAND_FAILED: _t("Command failed"),
        AlarmKind.IMPLAUSIBLE_READING: _t("Implausible reading"),
        AlarmKind.CLOCK_DRIFT: _t("Clock drift"),
        AlarmKind.UNPRICED_USAGE: _t("Unpriced usage"),
        AlarmKind.ACCOUNT_SKIPPED: _t("Account skipped"),
        AlarmKind.LINE_DOWN: _t("Line down"),
        AlarmKind.MODEM_FAILED: _t("Text modem failed"),
    }


def kind_label(kind: str) -> str:
    """An alarm kind as the operator reads it; a kind of a newer version is shown from its
    code."""
    labels: dict[str, str] = {kind.value: label for kind, label in kind_labels().items()}
    return labels.get(kind) or kind.replace("_", " ").capitalize()


def severity_label(severity: AlarmSeverity) -> str:
    return {
        AlarmSeverity.CRITICAL: _t("Critical"),
        AlarmSeverity.WARNING: _t("Warning"),
        AlarmSeverity.INFO: _t("Info"),
    }[severity]


def state_label(state: AlarmState) -> str:
    return {
        AlarmState.ACTIVE: _t("Active"),
        AlarmState.ACKNOWLEDGED: _t("Acknowledged"),
        AlarmState.CLEARED: _t("Cleared"),
    }[state]


def alarm_search_text(row: AlarmRow) -> str:
    """What a search matches: room (also without its dash), meter, account, kind, message."""
    return " ".join(
        (
            row.room_label,
            row.room_label.replace("-", ""),
            row.meter_serial,
            row.account_number,
            kind_label(row.kind),
            row.message,
        )
    )


def load_alarms(db: Database) -> PreparedRows:
    """Runs in a worker thread: query and index the rows."""
    return prepare_rows(list_alarms(db), alarm_search_text)


def evidence_text(evidence: dict[str, object] | None) -> str:
    if not evidence:
        return ""
    return ", ".join(
        f"{key}: {value if isinstance(value, str | int | float) else json.dumps(value)}"
        for key, value in sorted(evidence.items())
    )


def describe_alarm(row: AlarmRow | None) -> str:
    """The detail line under the table for the chosen alarm."""
    if row is None:
        return _t("Choose an alarm to see its evidence.")
    where = " · ".join(
        part
        for part in (
            row.room_label,
            row.meter_serial and _t("meter {serial}").format(serial=row.meter_serial),
            row.account_number and _t("account {number}").format(number=row.account_number),
        )
        if part
    )
    lines = [
        f"{kind_label(row.kind)} — {row.message}",
        _t("{where}  Raised {at}, {n} time(s).").format(
            where=f"{where}." if where else "",
            at=local_time_text(row.raised_at),
            n=row.occurrences,
        ),
    ]
    evidence = evidence_text(row.evidence)
    if evidence:
        lines.append(_t("Evidence: {evidence}").format(evidence=evidence))
    if row.acknowledged_at is not None:
        lines.append(
            _t("Acknowledged by {who} at {at}: {note}").format(
                who=row.acknowledged_by or "?",
                at=local_time_text(row.acknowledged_at),
                note=row.ack_note,
            )
        )
    if row.cleared_at is not None:
        lines.append(_t("Cleared at {at}.").format(at=local_time_text(row.cleared_at)))
    return "\n".join(lines)


class AcknowledgeDialog(FormDialog):
    """Asks for the note and acknowledges ``row`` in the background. ``acknowledged(alarm_id)``
    is emitted on the GUI thread once it is recorded; then the dialog closes."""

    acknowledged = Signal(int)

    def __init__(
        self, db: Database, operator: SignedIn, row: AlarmRow, parent: QWidget | None = None
    ) -> None:
        super().__init__(DIALOG_WIDTH, parent)
        self.setModal(True)
        self.setWindowTitle(self.tr("Acknowledge alarm"))
        self._db, self._operator, self._row = db, operator, row
        self.title.setText(self.tr("Acknowledge: {kind}").format(kind=kind_label(row.kind)))
        place = row.room_label or row.meter_serial or row.account_number
        self.subtitle.setText(f"{place} — {row.message}" if place else row.message)
        self.note = QLineEdit()
        self.note.setObjectName("ackNote")
        self.note.setMaxLength(NOTE_MAX)
        self.note.setPlaceholderText(self.tr("What you saw or did, for the record"))
        self.note_error = label("", "fieldError")
        self.note_error.hide()
        caption = QLabel(self.tr("&Note"))
        caption.setBuddy(self.note)
        self.add_middle(caption)
        self.add_middle(with_notes(self.note, self.note_error))
        self.confirm_button = QPushButton(self.tr("Acknowledge"))
        self.confirm_button.setDefault(True)
        self.confirm_button.clicked.connect(self.confirm)
        self.buttons.addButton(self.confirm_button, QDialogButtonBox.ButtonRole.AcceptRole)
        self.cancel_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.cancel_button.setAutoDefault(False)
        self.cancel_button.clicked.connect(self.reject)
        self.note.setFocus()

    def confirm(self) -> None:
        if self._busy:
            return
        self.note_error.hide()
        self.show_error("")
        db, who, alarm_id, note = self._db, self._operator, self._row.id, self.note.text()

        def work() -> object:
            try:
                return acknowledge_alarm(db, who, alarm_id, note)
            except Refused as exc:
                return Refusal(exc.field, str(exc))
            except PermissionDenied as exc:
                return Refusal("", str(exc))

        self._set_busy(True)
        run_in_background(work, self._answered, self._crashed, owner=self)

    def _set_busy(self, busy: bool) -> None:
        self._busy = busy
        self.confirm_button.setEnabled(not busy)
        self.cancel_button.setEnabled(not busy)

    def _answered(self, answer: object) -> None:
        self._set_busy(False)
        if isinstance(answer, Refusal):
            if answer.field == "note":
                self.show_at(self.note_error, answer.message, self.note)
            else:
                self.show_error(answer.message)
            return
        assert isinstance(answer, AlarmRow)
        self.acknowledged.emit(answer.id)
        self.accept()

    def _crashed(self, message: str) -> None:
        self._set_busy(False)
        self.show_error(
            self.tr("Not done: {error}. Press Enter to try again.").format(error=message)
        )


class AlarmsView(QWidget):
    """``rows_loaded(count)`` is emitted on the GUI thread after each (re)load."""

    rows_loaded = Signal(int)

    def __init__(
        self, db: Database, operator: Callable[[], SignedIn], parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("page")
        self._db = db
        self._operator = operator
        self._select_after: int | None = None
        self._stale = False  # alarms changed while the screen was hidden
        self._refresher = Refresher(self._alarms_changed, RELOAD_GAP_MS, self)
        self.dialog: AcknowledgeDialog | None = None  # the last dialog opened
        columns = [
            Column(
                self.tr("Raised"),
                lambda r: local_time_text(r.raised_at),
                sort_key=lambda r: r.raised_at,
            ),
            Column(
                self.tr("Severity"),
                lambda r: severity_label(r.severity),
                sort_key=lambda r: SEVERITY_ORDER[r.severity],
                badge=lambda r: SEVERITY_BADGE[r.severity],
            ),
            Column(self.tr("Kind"), lambda r: kind_label(r.kind)),
            Column(self.tr("Room"), lambda r: r.room_label),
            Column(self.tr("Meter"), lambda r: r.meter_serial),
            Column(self.tr("Account"), lambda r: r.account_number),
            Column(self.tr("Message"), lambda r: r.message, tooltip=lambda r: r.message),
            Column(
                self.tr("State"),
                lambda r: state_label(r.state),
                sort_key=lambda r: list(AlarmState).index(r.state),
                badge=lambda r: STATE_BADGE[r.state],
            ),
        ]
        self.list = SearchableTable(
            columns,
            self.tr("Search room, meter, account or message   (Ctrl+F)"),
            badge_columns=(1, 7),
        )
        self.state_filter = self.list.add_filter(
            [
                (self.tr("Active"), AlarmState.ACTIVE.value),
                (self.tr("Acknowledged"), AlarmState.ACKNOWLEDGED.value),
                (self.tr("Cleared"), AlarmState.CLEARED.value),
                (self.tr("All states"), None),
            ],
            lambda row, wanted: row.state == wanted,
        )
        self.state_filter.setObjectName("stateFilter")
        self.state_filter.currentIndexChanged.emit(0)  # apply the default: active only
        self.severity_filter = self.list.add_filter(
            [(self.tr("All severities"), None)]
            + [(severity_label(s), s.value) for s in SEVERITY_ORDER],
            lambda row, wanted: row.severity == wanted,
        )
        self.severity_filter.setObjectName("severityFilter")
        self.kind_filter = self.list.add_filter(
            [(self.tr("All kinds"), None)]
            + [(label, kind.value) for kind, label in kind_labels().items()],
            lambda row, wanted: row.kind == wanted,
        )
        self.kind_filter.setObjectName("kindFilter")
        self.building_filter = self.list.add_filter(
            [(self.tr("All buildings"), None)],
            lambda row, wanted: row.building == wanted,
        )
        self.building_filter.setObjectName("buildingFilter")

        self.detail = QLabel(describe_alarm(None))
        self.detail.setObjectName("alarmDetail")
        self.detail.setWordWrap(True)
        self.detail.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.detail.setStyleSheet(
            "QLabel#alarmDetail { background: #f8fafc; border: 1px solid #e2e8f0;"
            " border-radius: 6px; padding: 8px 10px; color: #1e293b; }"
        )
        self.list.current_changed.connect(lambda row: self.detail.setText(describe_alarm(row)))
        self.list.current_changed.connect(lambda _row: self.refresh_actions())

        title = QLabel(self.tr("Alarms"))
        title.setObjectName("pageTitle")
        self.ack_button = QPushButton(self.tr("Acknowledge…  Ctrl+K"))
        self.ack_button.setObjectName("acknowledgeAction")
        self.ack_button.setFocusPolicy(Qt.FocusPolicy.TabFocus)
        self.ack_button.clicked.connect(self.open_acknowledge)
        shortcut = QShortcut(QKeySequence(Qt.Modifier.CTRL | Qt.Key.Key_K), self)
        shortcut.activated.connect(self.open_acknowledge)
        heading = QHBoxLayout()
        heading.addWidget(title)
        heading.addStretch(1)
        heading.addWidget(self.ack_button)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(18, 14, 18, 12)
        layout.addLayout(heading)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.detail)
        self.refresh_actions()

    # --- acknowledge -----------------------------------------------------------------------

    def refresh_actions(self) -> None:
        """Acknowledge is on for an active alarm and an operator who may (call it again when
        another operator signs in)."""
        role = self._operator().role
        row: AlarmRow | None = self.list.current_row()
        why = ""
        if not allowed(role, Action.ACKNOWLEDGE_ALARM):
            why = not_allowed_note(role, Action.ACKNOWLEDGE_ALARM)
        elif row is None:
            why = self.tr("Choose an alarm in the list first.")
        elif row.state != AlarmState.ACTIVE:
            why = self.tr("This alarm is {state}; only an active alarm is acknowledged.").format(
                state=state_label(row.state).lower()
            )
        self.ack_button.setEnabled(not why)
        tip = self.tr("Say you have seen the alarm, with a note for the record (Ctrl+K)")
        self.ack_button.setToolTip(tip + ("\n" + why if why else ""))

    def open_acknowledge(self) -> None:
        self.refresh_actions()
        row: AlarmRow | None = self.list.current_row()
        if not self.ack_button.isEnabled() or row is None:
            return
        dialog = AcknowledgeDialog(self._db, self._operator(), row, self)
        dialog.acknowledged.connect(self._after_acknowledge)
        if self.dialog is not None:
            self.dialog.deleteLater()
        self.dialog = dialog
        dialog.open()

    def _after_acknowledge(self, alarm_id: int) -> None:
        self._select_after = alarm_id
        self.reload()

    # --- data ------------------------------------------------------------------------------

    def follow_changes(self, bridge: ChangeBridge) -> None:
        """Read the list again when alarms are raised, acknowledged or cleared."""
        bridge.alarms_changed.connect(self._refresher.poke)

    def _alarms_changed(self) -> None:
        if self.isVisible():
            self.reload()
        else:
            self._stale = True

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._stale:
            self.reload()

    def reload(self) -> None:
        self._stale = False
        db = self._db
        run_in_background(lambda: load_alarms(db), self._on_loaded, owner=self)

    def _on_loaded(self, prepared: PreparedRows) -> None:
        self._fill_buildings(sorted({r.building for r in prepared.rows if r.building}))
        self.list.install(prepared)
        wanted, self._select_after = self._select_after, None
        if wanted is not None:
            self.list.select_id(wanted)  # an acknowledged alarm may be filtered out: fine
        self.detail.setText(describe_alarm(self.list.current_row()))
        self.refresh_actions()
        self.rows_loaded.emit(len(prepared.rows))

    def _fill_buildings(self, codes: list[str]) -> None:
        combo: QComboBox = self.building_filter
        chosen = combo.currentData()
        if [combo.itemData(i) for i in range(1, combo.count())] == codes:
            return
        combo.blockSignals(True)
        while combo.count() > 1:
            combo.removeItem(1)
        for code in codes:
            combo.addItem(self.tr("Building {code}").format(code=code), code)
        at = combo.findData(chosen) if chosen is not None else 0
        combo.setCurrentIndex(max(at, 0))
        combo.blockSignals(False)
        if chosen is not None and at < 0:
            combo.currentIndexChanged.emit(0)  # the chosen building is gone: show all

    def focus_search(self) -> None:
        self.list.focus_search()
