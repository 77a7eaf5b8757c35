"""The diagnostics dialog's "Meter tests" page: raw register / DI read and write, relay or valve
test with read-back, and clock drift before and after a time sync (one meter or broadcast).

Each test runs on the bus worker's thread (``app.hardware.bus_diagnostics``); ``GuiCalls``
brings the result back to the GUI thread through a queued signal. Relay tests, writes and time
syncs need the operator's permission (checked again by ``app.services.diagnostics`` when it
writes the audit record after the test, in the background).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, TypeVar

from PySide6.QtCore import QCoreApplication, Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.hardware import bus_diagnostics as diag
from app.hardware.bus_worker import BusMeter, BusWorker, SupplyResult
from app.hardware.modbus.pymodbus_adapter import MAX_READ_COUNT
from app.hardware.profiles import Profile
from app.services.diagnostics import DiagnosticTest, missing_action, record_diagnostic
from app.services.operators import SignedIn
from app.store.database import Database
from app.ui.background import run_in_background
from app.ui.gui_calls import GuiCalls
from app.views.account_dialogs import not_allowed_note

T = TypeVar("T")
MODBUS = "modbus-rtu"
DLT645 = "dlt645-2007"


def _t(text: str) -> str:
    return QCoreApplication.translate("DiagnosticsDialog", text)


@dataclass(frozen=True)
class Target:
    """What a test acts on, as the dialog holds it at the moment."""

    worker: BusWorker
    url: str
    profile: Profile
    address: str  # "" when none chosen
    meters: tuple[BusMeter, ...]  # the bus's known meters (broadcast sync reads them)


def drift_text(drift: diag.ClockDrift) -> str:
    def seconds(value: float | None) -> str:
        return _t("not read") if value is None else _t("{s:+.1f} s").format(s=value)

    text = _t("{address}: before {before}, after {after}").format(
        address=drift.address, before=seconds(drift.before_s), after=seconds(drift.after_s)
    )
    return text + (f" ({drift.error})" if drift.error else "")


def supply_text(result: SupplyResult, kind: str) -> str:
    wanted = _t("on") if result.requested_on else _t("off")
    reads = {True: _t("on"), False: _t("off"), None: _t("unknown")}[result.supply_on]
    if result.verified:
        return _t("{kind} of {address} switched {wanted}: verified, it reads back {reads}.").format(
            kind=kind, address=result.address, wanted=wanted, reads=reads
        )
    return _t("{kind} of {address} NOT verified {wanted}: reads back {reads}. {error}").format(
        kind=kind, address=result.address, wanted=wanted, reads=reads, error=result.error
    )


def _int(text: str) -> int:
    """A register address or value as typed: decimal, or hex with 0x."""
    return int(text.strip(), 0)


class MeterTestsPage(QWidget):
    """Signals are emitted on the GUI thread with the test's result once it is shown."""

    raw_done = Signal(object)  # RawResult
    relay_done = Signal(object)  # SupplyResult
    clock_done = Signal(object)  # list[ClockDrift]
    audited = Signal(int)  # audit event number

    def __init__(
        self,
        db: Database,
        operator: Callable[[], SignedIn],
        target: Callable[[], Target | None],
        calls: GuiCalls,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._db, self._operator, self._target, self._calls = db, operator, target, calls
        self._busy = False

        raw = QGroupBox(self.tr("Raw read and write"))
        self.function = QComboBox()
        self.function.setObjectName("rawFunction")
        for text, code in (
            (self.tr("FC03 holding registers"), 3),
            (self.tr("FC04 input registers"), 4),
        ):
            self.function.addItem(text, code)
        self.register = QLineEdit()
        self.register.setObjectName("rawRegister")
        self.register.setPlaceholderText(self.tr("0x000B, or a DI like 02010100"))
        self.count = QSpinBox()
        self.count.setObjectName("rawCount")
        self.count.setRange(1, MAX_READ_COUNT)
        self.value = QLineEdit()
        self.value.setObjectName("rawValue")
        self.value.setPlaceholderText(self.tr("to write: 1, 0  ·  a number  ·  hex bytes 00 12"))
        self.read_button = QPushButton(self.tr("&Read"))
        self.read_button.setObjectName("rawRead")
        self.read_button.clicked.connect(self.raw_read)
        self.write_button = QPushButton(self.tr("&Write"))
        self.write_button.setObjectName("rawWrite")
        self.write_button.clicked.connect(self.raw_write)
        self.raw_result = self._result_label("rawResult")
        form = QFormLayout()
        form.addRow(self.tr("Function"), self.function)
        form.addRow(self.tr("Register / DI"), self.register)
        form.addRow(self.tr("Count"), self.count)
        form.addRow(self.tr("Value(s)"), self.value)
        buttons = QHBoxLayout()
        buttons.addWidget(self.read_button)
        buttons.addWidget(self.write_button)
        buttons.addStretch(1)
        box = QVBoxLayout(raw)
        box.addLayout(form)
        box.addLayout(buttons)
        box.addWidget(self.raw_result)

        relay = QGroupBox(self.tr("Relay or valve test (switch, then read back)"))
        self.off_button = QPushButton(self.tr("Switch o&ff"))
        self.off_button.setObjectName("relayOff")
        self.off_button.clicked.connect(lambda: self.relay_test(False))
        self.on_button = QPushButton(self.tr("Switch o&n"))
        self.on_button.setObjectName("relayOn")
        self.on_button.clicked.connect(lambda: self.relay_test(True))
        self.relay_result = self._result_label("relayResult")
        row = QHBoxLayout()
        row.addWidget(self.off_button)
        row.addWidget(self.on_button)
        row.addStretch(1)
        box = QVBoxLayout(relay)
        box.addLayout(row)
        box.addWidget(self.relay_result)

        clock = QGroupBox(self.tr("Time sync (drift against this PC's clock)"))
        self.one_meter = QRadioButton(self.tr("This meter"))
        self.one_meter.setChecked(True)
        self.broadcast = QRadioButton(self.tr("Broadcast to the bus's meters"))
        self.broadcast.setObjectName("broadcastSync")
        self.broadcast.toggled.connect(lambda _on: self.refresh())
        self.sync_button = QPushButton(self.tr("&Sync clock"))
        self.sync_button.setObjectName("syncClock")
        self.sync_button.clicked.connect(self.time_sync)
        self.clock_result = self._result_label("clockResult")
        row = QHBoxLayout()
        row.addWidget(self.one_meter)
        row.addWidget(self.broadcast)
        row.addStretch(1)
        row.addWidget(self.sync_button)
        box = QVBoxLayout(clock)
        box.addLayout(row)
        box.addWidget(self.clock_result)

        layout = QVBoxLayout(self)
        layout.addWidget(raw)
        layout.addWidget(relay)
        layout.addWidget(clock)
        layout.addStretch(1)
        self.refresh()

    @staticmethod
    def _result_label(name: str) -> QLabel:
        label = QLabel("")
        label.setObjectName(name)
        label.setWordWrap(True)
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        return label

    # --- state ------------------------------------------------------------------------------

    def refresh(self) -> None:
        """Enable what the operator may do on the chosen meter; tooltips say why not."""
        target = self._target()
        role = self._operator().role
        protocol = target.profile.protocol if target is not None else ""
        raw_ok = protocol in (MODBUS, DLT645)
        self.function.setEnabled(protocol == MODBUS)
        self.count.setEnabled(protocol == MODBUS)

        def gate(
            buttons: tuple[QPushButton, ...], test: DiagnosticTest, extra: str, tip: str
        ) -> None:
            missing = missing_action(role, test)
            why = not_allowed_note(role, missing) if missing is not None else extra
            for button in buttons:
                button.setEnabled(not why and not self._busy)
                button.setToolTip(tip + ("\n" + why if why else ""))

        no_meter = ""
        if target is None:
            no_meter = self.tr("Open a port or choose a bus first.")
        elif not target.address:
            no_meter = self.tr("Choose a meter address first.")
        raw_why = no_meter or (
            "" if raw_ok else self.tr("Raw access is for Modbus and DL/T 645 meters.")
        )
        gate(
            (self.read_button,),
            DiagnosticTest.READ,
            raw_why,
            self.tr("Read registers (Modbus) or a data identifier (DL/T 645)"),
        )
        gate(
            (self.write_button,),
            DiagnosticTest.RAW_WRITE,
            raw_why,
            self.tr("Write registers or a data identifier, then read it back (audited)"),
        )
        no_supply = ""
        if target is not None and target.profile.supply is None:
            no_supply = self.tr("Profile {name} has no relay or valve.").format(
                name=target.profile.name
            )
        gate(
            (self.off_button, self.on_button),
            DiagnosticTest.RELAY_TEST,
            no_meter or no_supply,
            self.tr("Switch the relay or valve, then read its state back (audited)"),
        )
        needs_address = target is None or not (self.broadcast.isChecked() or target.address)
        sync_why = no_meter if needs_address else ""
        gate(
            (self.sync_button,),
            DiagnosticTest.TIME_SYNC,
            sync_why,
            self.tr(
                "Read the clock drift, set the clock to this PC's time, read it again (audited)"
            ),
        )

    def _set_busy(self, busy: bool) -> None:
        self._busy = busy
        self.refresh()

    def _failed(self, label: QLabel) -> Callable[[str], None]:
        def show(message: str) -> None:
            self._set_busy(False)
            label.setText(self.tr("Not done: {error}").format(error=message))

        return show

    # --- raw --------------------------------------------------------------------------------

    def raw_read(self) -> None:
        target = self._target()
        if target is None or not self.read_button.isEnabled():
            return
        try:
            future = self._raw_future(target, write=False)
        except ValueError as exc:
            self.raw_result.setText(str(exc))
            return
        self._start_raw(future, target, write=False)

    def raw_write(self) -> None:
        target = self._target()
        if target is None or not self.write_button.isEnabled():
            return
        try:
            future = self._raw_future(target, write=True)
        except ValueError as exc:
            self.raw_result.setText(str(exc))
            return
        self._start_raw(future, target, write=True)

    def _raw_future(self, target: Target, write: bool) -> Future[diag.RawResult]:
        """The request the fields describe; ValueError (shown as it is) for bad input."""
        worker, profile, address = target.worker, target.profile, target.address
        if profile.protocol == DLT645:
            di = diag.parse_di_code(self.register.text())
            if write:
                data = diag.parse_di_value(di, self.value.text())
                return diag.write_di(worker, profile, address, di, data)
            return diag.read_di(worker, profile, address, di)
        try:
            start = _int(self.register.text())
        except ValueError:
            raise ValueError(self.tr("Give the register address, e.g. 0x000B or 11.")) from None
        if not 0 <= start <= 0xFFFF:
            raise ValueError(self.tr("A register address is 0 to 65535."))
        if not write:
            return diag.read_registers(
                worker,
                profile,
                address,
                int(self.function.currentData()),
                start,
                self.count.value(),
            )
        try:
            values = tuple(_int(v) for v in self.value.text().replace(",", " ").split())
        except ValueError:
            raise ValueError(self.tr("Give the values to write, e.g. 1, 0.")) from None
        if not values or any(not 0 <= v <= 0xFFFF for v in values):
            raise ValueError(self.tr("Give one or more register values, each 0 to 65535."))
        function = 6 if len(values) == 1 else 16
        return diag.write_registers(worker, profile, address, function, start, values)

    def _start_raw(self, future: Future[diag.RawResult], target: Target, write: bool) -> None:
        self._set_busy(True)
        self.raw_result.setText(self.tr("Waiting for the meter…"))

        def shown(result: diag.RawResult) -> None:
            self._set_busy(False)
            if result.ok:
                text = self.tr("{request}\nReply: {data}\n{decoded}").format(
                    request=result.request, data=result.data or "—", decoded=result.decoded
                )
            else:
                text = self.tr("{request}\nNo result: {error}").format(
                    request=result.request, error=result.error
                )
            self.raw_result.setText(text)
            if write:
                self._audit(
                    DiagnosticTest.RAW_WRITE,
                    target,
                    {
                        "request": result.request,
                        "ok": result.ok,
                        "reply": result.data,
                        "result": result.decoded or result.error,
                    },
                    self.raw_result,
                )
            self.raw_done.emit(result)

        self._calls.when_done(future, shown, self._failed(self.raw_result))

    # --- relay ------------------------------------------------------------------------------

    def relay_test(self, on: bool) -> None:
        target = self._target()
        if target is None or not self.on_button.isEnabled():
            return
        self._set_busy(True)
        self.relay_result.setText(self.tr("Switching and reading back…"))
        future = target.worker.switch_supply(target.address, on, target.profile)
        kind = self.tr("Valve") if target.profile.supply_kind == "valve" else self.tr("Relay")

        def shown(result: SupplyResult) -> None:
            self._set_busy(False)
            self.relay_result.setText(supply_text(result, kind))
            self._audit(
                DiagnosticTest.RELAY_TEST,
                target,
                {
                    "wanted_on": on,
                    "verified": result.verified,
                    "reads_on": result.supply_on,
                    "attempts": result.attempts,
                    "error": result.error,
                },
                self.relay_result,
            )
            self.relay_done.emit(result)

        self._calls.when_done(future, shown, self._failed(self.relay_result))

    # --- clock ------------------------------------------------------------------------------

    def time_sync(self) -> None:
        target = self._target()
        if target is None or not self.sync_button.isEnabled():
            return
        broadcast = self.broadcast.isChecked()
        if broadcast:
            meters = [m for m in target.meters if m.profile.protocol == target.profile.protocol]
            if not meters:
                meters = [BusMeter(0, target.address, target.profile)] if target.address else []
        else:
            meters = [BusMeter(0, target.address, target.profile)]
        self._set_busy(True)
        self.clock_result.setText(self.tr("Reading clocks, syncing, reading again…"))
        future = diag.sync_clocks(target.worker, meters, broadcast)

        def shown(drifts: list[diag.ClockDrift]) -> None:
            self._set_busy(False)
            lines = [drift_text(d) for d in drifts] or [self.tr("No meter to read.")]
            self.clock_result.setText("\n".join(lines))
            self._audit(
                DiagnosticTest.TIME_SYNC,
                target,
                {
                    "broadcast": broadcast,
                    "drift_s": {d.address: [d.before_s, d.after_s, d.error] for d in drifts},
                },
                self.clock_result,
                bus_wide=broadcast,
            )
            self.clock_done.emit(drifts)

        self._calls.when_done(future, shown, self._failed(self.clock_result))

    # --- audit ------------------------------------------------------------------------------

    def _audit(
        self,
        test: DiagnosticTest,
        target: Target,
        details: dict[str, Any],
        shown_in: QLabel,
        bus_wide: bool = False,
    ) -> None:
        db, who = self._db, self._operator()
        if bus_wide:
            kind, name = "bus", target.url
        else:
            kind, name = "meter", f"{target.url} #{target.address}"
        details = {"profile": target.profile.name, **details}

        def failed(message: str) -> None:
            shown_in.setText(
                shown_in.text()
                + "\n"
                + self.tr("Done, but not written to the audit trail: {error}").format(error=message)
            )

        run_in_background(
            lambda: record_diagnostic(db, who, test, kind, name, details),
            self.audited.emit,
            failed,
            owner=self,
        )
