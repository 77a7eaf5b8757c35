"""The technicians' Diagnostics dialog (issue #6): choose a bus or open a port, check its line
settings, scan it, watch the frames on the wire, read the per-meter error counters, and test one
meter (raw read/write, relay or valve, time sync: ``diagnostics_meter_tests``).

One thread owns a port. When the console's runtime polls the chosen bus, the dialog sends its
requests to that bus worker (``workers()`` gives them by bus name) and shows the bus's own line
settings, read-only. Otherwise the dialog has a worker of its own opened on the port
(``app.hardware.service_worker``: it serves requests and does not poll), which it stops when it
closes or another port is chosen; the view itself never touches a port. Nothing slow runs on the
GUI thread: the port opens in the background pool (after the previous own worker has let go of
its port), every wire request runs on the bus worker's thread, and results come back through
queued signals. A timer pulls the new frames and
the counters from the worker's ``BusStats``.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QSize, QTimer, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.hardware import bus_diagnostics as diag
from app.hardware.bus_worker import BusMeter, BusWorker
from app.hardware.errors import PortUnavailable, ProfileError
from app.hardware.link import LineSettings
from app.hardware.ports import BAUD_RATES
from app.hardware.profiles import Profile, available_profiles, load_profile
from app.hardware.service_worker import open_service_worker
from app.services.bus_pause import ACK_WAIT_S, borrow_line, end_pause
from app.services.diagnostics import DiagnosticTest, missing_action, site_buses
from app.services.field_setup import BusSetup
from app.services.operators import SignedIn
from app.store.database import Database
from app.ui.background import run_in_background
from app.ui.frame_log_model import FrameLogModel
from app.ui.gui_calls import GuiCalls
from app.ui.meter_counters_model import MeterCountersModel
from app.ui.screen_fit import fit_dialog, scrolling
from app.views.account_dialogs import not_allowed_note
from app.views.diagnostics_meter_tests import MeterTestsPage, Target
from app.views.diagnostics_pages import FrameLogPage, ScanPage, counters_page

log = logging.getLogger(__name__)
REFRESH_MS = 250
MODBUS = "modbus-rtu"
DEFAULT_MODBUS_RANGE = "1-247"


def _buddy(text: str, widget: QWidget) -> QLabel:
    label = QLabel(text)
    label.setBuddy(widget)
    return label


class DiagnosticsDialog(QDialog):
    """``workers()`` returns the runtime's running bus workers by bus name (maybe empty).
    Signals are emitted on the GUI thread."""

    port_ready = Signal(bool)  # a worker is (True) or could not be (False) put to use
    line_checked = Signal(object)  # LineCheck

    def __init__(
        self,
        db: Database,
        operator: Callable[[], SignedIn],
        workers: Callable[[], dict[str, BusWorker]],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Bus diagnostics"))
        self.setObjectName("diagnosticsDialog")
        # At most the screen's size (a 1280x720 counter PC): the content scrolls, Close stays.
        fit_dialog(self, QSize(1100, 720))
        self._db, self._operator, self._workers = db, operator, workers
        self._calls = GuiCalls()
        self.worker: BusWorker | None = None
        self.owned = False  # the worker is this dialog's own (stopped when done)
        self._url = ""
        self._buses: list[BusSetup] = []
        self._meters: list[BusMeter] = []  # known on this bus: configured and found by scans
        self._opening = 0  # generation of the port being opened (a late open is dropped)
        self._released = False
        # Own workers started so far, and whether the dialog let go: shared with the opening
        # thread, so a worker opened as the dialog closes is stopped all the same.
        self._own_lock = threading.Lock()
        self._own: list[BusWorker] = []
        self._let_go = threading.Event()
        # A bus whose polling another PC's runtime paused for this dialog: (bus id, asked by).
        self._pause: tuple[int, str] | None = None

        self.frames = FrameLogModel(parent=self)
        self.counters = MeterCountersModel(parent=self)
        self._build_line()
        self.tabs = QTabWidget()
        self.scan = ScanPage(self._calls, lambda: (self.worker, self.current_profile()))
        self.scan.found_meter.connect(self._add_found)
        self.scan.running_changed.connect(lambda _running: self._refresh_controls())
        self.log = FrameLogPage(self.frames)
        counters, self.counters_view = counters_page(self.counters)
        self.tabs.addTab(self.scan, self.tr("Scan"))
        self.tabs.addTab(self.log, self.tr("Frame log"))
        self.tabs.addTab(counters, self.tr("Counters"))
        self.tests = MeterTestsPage(db, operator, self.target, self._calls)
        self.tabs.addTab(self.tests, self.tr("Meter tests"))
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.reject)
        content = QWidget()
        inner = QVBoxLayout(content)
        inner.setContentsMargins(0, 0, 0, 0)
        inner.addLayout(self.line_box)
        inner.addWidget(self.status)
        inner.addWidget(self.tabs, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(scrolling(content), 1)
        layout.addWidget(close)
        self.close_buttons = close

        self.profile.currentIndexChanged.connect(self._profile_changed)
        self.address.currentTextChanged.connect(lambda _text: self._address_changed())
        self.bus.currentIndexChanged.connect(self._bus_changed)
        self._profile_changed(self.profile.currentIndex())

        self._timer = QTimer(self)
        self._timer.setInterval(REFRESH_MS)
        self._timer.timeout.connect(self.refresh)
        self._timer.start()
        self._load_buses()

    # --- building ---------------------------------------------------------------------------

    def _build_line(self) -> None:
        self.bus = QComboBox()
        self.bus.setObjectName("busChoice")
        self.bus.setMinimumWidth(320)
        self.bus.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.url = QLineEdit()
        self.url.setObjectName("portUrl")
        self.url.setPlaceholderText(self.tr("/dev/ttyUSB0, COM3, socket://host:port, sim://NAME"))
        self.baud = QComboBox()
        self.baud.setEditable(True)
        for rate in BAUD_RATES:
            self.baud.addItem(str(rate))
        self.parity = QComboBox()
        for code, text in (("N", self.tr("None")), ("E", self.tr("Even")), ("O", self.tr("Odd"))):
            self.parity.addItem(text, code)
        self.bytesize = QComboBox()
        self.bytesize.addItems(["8", "7"])
        self.stopbits = QComboBox()
        self.stopbits.addItems(["1", "2"])
        self.timeout = QSpinBox()
        self.timeout.setRange(20, 10_000)
        self.timeout.setSuffix(self.tr(" ms"))
        self.open_button = QPushButton(self.tr("&Open port"))
        self.open_button.setObjectName("openPort")
        self.open_button.clicked.connect(self.open_port)
        self.check_button = QPushButton(self.tr("&Test line settings"))
        self.check_button.setObjectName("checkLine")
        self.check_button.clicked.connect(self.check_line)
        self.profile = QComboBox()
        self.profile.setObjectName("profileChoice")
        for name in available_profiles():
            self.profile.addItem(name, name)
        self.address = QComboBox()
        self.address.setObjectName("meterAddress")
        self.address.setEditable(True)
        self.address.setMinimumWidth(150)
        self.status = QLabel("")
        self.status.setObjectName("diagnosticsStatus")
        self.status.setWordWrap(True)

        first = QHBoxLayout()
        first.addWidget(_buddy(self.tr("&Bus"), self.bus))
        first.addWidget(self.bus)
        first.addWidget(QLabel(self.tr("Port")))
        first.addWidget(self.url, 1)
        second = QHBoxLayout()
        for caption, widget in (
            (self.tr("Baud"), self.baud),
            (self.tr("Parity"), self.parity),
            (self.tr("Data bits"), self.bytesize),
            (self.tr("Stop bits"), self.stopbits),
            (self.tr("Timeout"), self.timeout),
        ):
            second.addWidget(QLabel(caption))
            second.addWidget(widget)
        for combo in (self.baud, self.parity, self.bytesize, self.stopbits):
            combo.setMaximumWidth(110)
        second.addStretch(1)
        second.addWidget(self.open_button)
        second.addWidget(self.check_button)
        third = QHBoxLayout()
        third.addWidget(_buddy(self.tr("Meter &profile"), self.profile))
        third.addWidget(self.profile)
        third.addWidget(_buddy(self.tr("Meter &address"), self.address))
        third.addWidget(self.address)
        third.addStretch(1)
        self.line_box = QVBoxLayout()
        self.line_box.addLayout(first)
        self.line_box.addLayout(second)
        self.line_box.addLayout(third)
        self._show_settings(LineSettings())

    # --- bus and port -----------------------------------------------------------------------

    def _load_buses(self) -> None:
        db = self._db
        run_in_background(lambda: site_buses(db), self._buses_loaded, self._say, owner=self)

    def _buses_loaded(self, buses: list[BusSetup]) -> None:
        self._buses = buses
        self.bus.blockSignals(True)
        self.bus.clear()
        for bus in buses:
            polled = bus.name in self._running()
            suffix = self.tr(" (polled by the console)") if polled else ""
            self.bus.addItem(f"{bus.name}{suffix}", bus.name)
        self.bus.addItem(self.tr("Other port (type its address)…"), None)
        self.bus.setCurrentIndex(self.bus.count() - 1)
        self.bus.blockSignals(False)
        self._refresh_controls()
        self.status.setText(self.tr("Choose a bus, or type a port and press Open port."))

    def _running(self) -> dict[str, BusWorker]:
        return {name: w for name, w in self._workers().items() if w.alive}

    def choose_bus(self, name: str | None) -> None:
        """Select the site bus ``name`` (None: another port) as if chosen in the list."""
        index = self.bus.findData(name)
        if index >= 0:
            self.bus.setCurrentIndex(index)

    def _bus_changed(self, _index: int) -> None:
        name = self.bus.currentData()
        setup = next((b for b in self._buses if b.name == name), None)
        if setup is None:
            self._release_worker()
            self._meters = []
            self._fill_addresses()
            self.status.setText(self.tr("Type the port and its line settings, then Open port."))
            self._refresh_controls()
            return
        running = self._running().get(setup.name)
        if running is not None:
            self._release_worker()
            self.url.setText(running.url)
            self._show_settings(running.settings)
            self._use(running, owned=False, meters=list(running.meters))
            self.status.setText(
                self.tr(
                    "The console polls {bus}: requests go through its bus worker, with the "
                    "bus's line settings. Its polling pauses while a scan runs."
                ).format(bus=setup.name)
            )
            return
        self.url.setText(setup.url)
        self._show_settings(setup.line)
        meters, problems = setup.bus_meters()
        self._open(setup.url, self.line_settings(), meters, pause=setup.bus_id)
        if problems:
            self._say("; ".join(problems))

    def open_port(self) -> None:
        """Open the typed port with the shown line settings (again, if it is open)."""
        if self._uses_runtime_worker():
            return
        url = self.url.text().strip()
        if not url:
            self._say(self.tr("Type the port first, e.g. /dev/ttyUSB0 or socket://10.0.0.5:4001."))
            return
        polled = next((w for w in self._running().values() if w.url == url), None)
        if polled is not None:  # never a second worker on a line the console polls
            self.choose_bus(polled.name)
            return
        try:
            settings = self.line_settings()
        except ValueError as exc:
            self._say(str(exc))
            return
        self._open(url, settings, list(self._meters))

    def _borrow_line(self, bus_id: int) -> str | None:
        """Background thread: ask the runtime that polls the bus on another PC to let go of its
        port and wait until it did. None when the port is free to open (nobody polls it, or the
        owner paused), else what stopped it."""
        who = self._operator()
        by = f"diagnostics on {socket.gethostname()} ({who.display_name})"
        with self._own_lock:  # given back when the dialog lets go of the port
            self._pause = (bus_id, by)
        borrowed = borrow_line(self._db, bus_id, by, stop=self._let_go)
        owner = borrowed.owner
        if owner is not None and borrowed.free:
            return None
        with self._own_lock:  # nobody polls the bus, or its owner did not let go
            self._pause = None
        if owner is None:
            return None
        return self.tr(
            "{role} on {host} polls this bus and did not let go of its port within {s} s: "
            "two masters on one line garble each other. Try again, or stop it first"
        ).format(role=owner.role, host=owner.host, s=int(ACK_WAIT_S))

    def _end_pause(self) -> None:
        """Any thread: the owner on another PC polls the bus again."""
        with self._own_lock:
            pause, self._pause = self._pause, None
        if pause is not None:
            db = self._db
            threading.Thread(
                target=lambda: end_pause(db, *pause), name="end bus pause", daemon=True
            ).start()

    def _open(
        self, url: str, settings: LineSettings, meters: list[BusMeter], pause: int | None = None
    ) -> None:
        self._release_worker()
        self._meters = meters
        self._fill_addresses()
        self._opening += 1
        generation = self._opening
        self.status.setText(self.tr("Opening {url}…").format(url=url))

        def opened(result: BusWorker | str) -> None:
            if isinstance(result, str):
                if generation == self._opening and not self._released:
                    self._say(
                        self.tr("{error}. Check the port name, the cable or the gateway.").format(
                            error=result
                        )
                    )
                    self.port_ready.emit(False)
                return
            if generation != self._opening or self._released:
                result.stop(timeout=0)  # opened too late: another port was chosen meanwhile
                return
            self._use(result, owned=True, meters=meters)
            text = self.tr("{url} opened by this dialog at {baud} {bits}{parity}{stop}.").format(
                url=url,
                baud=settings.baudrate,
                bits=settings.bytesize,
                parity=settings.parity,
                stop=settings.stopbits,
            )
            if self._pause is not None:
                text += " " + self.tr(
                    "The site's runtime on another PC paused polling this bus until the dialog "
                    "lets go of the port."
                )
            self.status.setText(text)

        own_lock, own, let_go = self._own_lock, self._own, self._let_go

        def open_it() -> BusWorker | str:
            if pause is not None:
                refused = self._borrow_line(pause)
                if refused is not None:
                    return refused
            try:
                worker = open_service_worker("diagnostics", url, settings, meters)
            except PortUnavailable as exc:
                return str(exc)
            with own_lock:
                own[:] = [w for w in own if w.alive]
                own.append(worker)
                closed = let_go.is_set()
            if closed:  # the dialog closed meanwhile: nobody will use it
                worker.stop()
            return worker

        run_in_background(open_it, opened, self._say, owner=self)

    def _use(self, worker: BusWorker, owned: bool, meters: list[BusMeter]) -> None:
        self.worker, self.owned, self._url = worker, owned, worker.url
        self._meters = meters
        self.log.restart(worker.stats.frames_total if owned else 0)
        self.counters.clear()
        self._fill_addresses()
        self._refresh_controls()
        self.refresh()
        self.port_ready.emit(True)

    def _uses_runtime_worker(self) -> bool:
        return self.worker is not None and not self.owned

    def _release_worker(self) -> None:
        """Stop a scan in progress; stop the worker if it is this dialog's own."""
        self._opening += 1
        self.scan.cancel()
        worker, owned = self.worker, self.owned
        self.worker, self.owned = None, False
        if worker is not None and owned:
            worker.stop(timeout=0)  # it ends after its current request; the next open waits
        self._end_pause()
        self._refresh_controls()

    def line_settings(self) -> LineSettings:
        """The line settings shown. ValueError for a baud rate that is not a number."""
        text = self.baud.currentText().strip()
        if not text.isdigit() or not 300 <= int(text) <= 921_600:
            raise ValueError(
                self.tr("Baud rate {text!r} is not a number from 300 up.").format(text=text)
            )
        return LineSettings(
            int(text),
            int(self.bytesize.currentText()),
            str(self.parity.currentData()),
            int(self.stopbits.currentText()),
            self.timeout.value() / 1000,
        )

    def _show_settings(self, settings: LineSettings) -> None:
        self.baud.setCurrentText(str(settings.baudrate))
        self.parity.setCurrentIndex(max(0, self.parity.findData(settings.parity)))
        self.bytesize.setCurrentText(str(settings.bytesize))
        self.stopbits.setCurrentText(str(settings.stopbits))
        self.timeout.setValue(round(settings.timeout_s * 1000))

    # --- profile, address, permissions --------------------------------------------------------

    def current_profile(self) -> Profile | None:
        name = self.profile.currentData()
        try:
            return load_profile(str(name)) if name else None
        except ProfileError as exc:
            self._say(str(exc))
            return None

    def set_profile(self, name: str) -> None:
        self.profile.setCurrentIndex(max(0, self.profile.findData(name)))

    def _profile_changed(self, _index: int) -> None:
        profile = self.current_profile()
        modbus = profile is not None and profile.protocol == MODBUS
        text = self.scan.addresses.text().strip()
        if modbus and not text:
            self.scan.addresses.setText(DEFAULT_MODBUS_RANGE)
        elif not modbus and text == DEFAULT_MODBUS_RANGE:
            self.scan.addresses.clear()
        self.scan.addresses.setPlaceholderText(
            self.tr("e.g. 1-247")
            if modbus
            else self.tr("empty: search the line for every meter (wildcard digits); or a range")
        )
        self._refresh_controls()

    def _fill_addresses(self) -> None:
        current = self.address.currentText()
        self.address.blockSignals(True)
        self.address.clear()
        for meter in self._meters:
            self.address.addItem(meter.address)
        self.address.setCurrentText(current or (self._meters[0].address if self._meters else ""))
        self.address.blockSignals(False)
        if self._meters and not current:
            self.set_profile(self._meters[0].profile.name)
        self._address_changed()

    def _address_changed(self) -> None:
        address = self.address.currentText().strip()
        meter = next((m for m in self._meters if m.address == address), None)
        if meter is not None and meter.profile.name != self.profile.currentData():
            self.set_profile(meter.profile.name)
        self._refresh_controls()

    def target(self) -> Target | None:
        """What the meter tests act on now (None without a worker)."""
        profile = self.current_profile()
        if self.worker is None or profile is None:
            return None
        return Target(
            self.worker,
            self._url,
            profile,
            self.address.currentText().strip(),
            tuple(self._meters),
        )

    def _refresh_controls(self) -> None:
        role = self._operator().role
        missing = missing_action(role, DiagnosticTest.READ)
        denied = not_allowed_note(role, missing) if missing is not None else ""
        runtime = self._uses_runtime_worker()
        for widget in (self.url, self.baud, self.parity, self.bytesize, self.stopbits):
            widget.setEnabled(not runtime)
        self.timeout.setEnabled(not runtime)
        self.open_button.setEnabled(not runtime)
        tip = self.tr("The console polls this bus with its own line settings.") if runtime else ""
        widgets: tuple[QWidget, ...] = (self.url, self.baud, self.open_button)
        for shown in widgets:
            shown.setToolTip(tip)
        self.scan.set_allowed(
            denied or ("" if self.worker is not None else self.tr("Open a port first."))
        )
        self.check_button.setEnabled(not denied)
        self.check_button.setToolTip(
            denied
            or self.tr("Probe the bus's known meters (or the address chosen) with these settings")
        )
        self.tests.refresh()

    # --- line check -------------------------------------------------------------------------

    def check_line(self) -> None:
        """Probe the known meters (or the chosen address) with the shown line settings; an
        own port is reopened first when they changed."""
        profile = self.current_profile()
        if profile is None or not self.check_button.isEnabled():
            return
        if not self._uses_runtime_worker():
            try:
                settings = self.line_settings()
            except ValueError as exc:
                self._say(str(exc))
                return
            url = self.url.text().strip()
            if self.worker is None or self.worker.settings != settings or self._url != url:
                if not url:
                    self._say(self.tr("Type the port first."))
                    return
                self._open(url, settings, list(self._meters))
                self.port_ready.connect(self._check_when_open)
                return
        self._run_line_check()

    def _check_when_open(self, ok: bool) -> None:
        self.port_ready.disconnect(self._check_when_open)
        if ok:
            self._run_line_check()

    def _run_line_check(self) -> None:
        worker, profile = self.worker, self.current_profile()
        if worker is None or profile is None:
            return
        meters = list(self._meters)
        address = self.address.currentText().strip()
        if not meters and address:
            meters = [BusMeter(0, address, profile)]
        if not meters:
            self._say(self.tr("No meter to ask: scan first, or type a meter address."))
            return
        self.status.setText(self.tr("Asking {n} meter(s)…").format(n=len(meters)))
        settings = worker.settings

        def shown(result: diag.LineCheck) -> None:
            text = self.tr(
                "{ok} of {n} answered at {baud} {bits}{parity}{stop}: {timeouts} timeout(s), "
                "{crc} CRC/checksum error(s), {frame} frame error(s), {refused} refusal(s)."
            ).format(
                ok=len(result.answered),
                n=result.asked,
                baud=settings.baudrate,
                bits=settings.bytesize,
                parity=settings.parity,
                stop=settings.stopbits,
                timeouts=result.timeouts,
                crc=result.crc_errors,
                frame=result.frame_errors,
                refused=result.exceptions,
            )
            if result.problems:
                text += " " + "; ".join(result.problems[:5])
            self.status.setText(text)
            self.line_checked.emit(result)

        self._calls.when_done(diag.check_line(worker, meters), shown, self._say)

    # --- live refresh, export ---------------------------------------------------------------

    def _add_found(self, address: str, profile: Profile, worker: BusWorker) -> None:
        """A meter found by a scan becomes known on this bus (line check, broadcast sync)."""
        if worker is self.worker and not any(m.address == address for m in self._meters):
            self._meters.append(BusMeter(0, address, profile))
            if self.owned:
                worker.stats.track(address)
            self._fill_addresses()

    # --- live refresh -----------------------------------------------------------------------

    def refresh(self) -> None:
        """Pull new frames (unless paused) and the counters from the worker's stats."""
        worker = self.worker
        if worker is None:
            return
        self.log.pull(worker.stats)
        self.counters.set_counters(worker.stats.counters())
        if worker.port_error:
            self.status.setText(worker.port_error)

    def export_log(self, path: Path) -> int:
        """Write the frames shown in the log to ``path`` as CSV; returns how many."""
        return self.log.export(path)

    def _say(self, message: str) -> None:
        self.status.setText(message)

    # --- closing ----------------------------------------------------------------------------

    def release(self) -> None:
        """Stop the timer, a scan, and this dialog's own worker (idempotent)."""
        if self._released:
            return
        self._released = True
        self._timer.stop()
        self._release_worker()
        with self._own_lock:
            self._let_go.set()
            own = list(self._own)
        for worker in own:
            worker.stop(timeout=0)  # each ends after its current request, off this thread
        self._calls.close()

    def done(self, result: int) -> None:
        self.release()
        super().done(result)

    def closeEvent(self, event: QCloseEvent) -> None:
        self.release()
        super().closeEvent(event)
