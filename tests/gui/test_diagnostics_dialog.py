"""The technicians' Diagnostics dialog against simulated meters served on a real pty pair.

The simulator (``SimServer``) answers on one end of a pseudo-terminal pair on its own thread;
the dialog opens the other end like a USB-RS485 adapter. The pair is made by socat (``socat
-d -d pty,raw,echo=0 pty,raw,echo=0``; CI installs it). Times are never asserted: only what
came back and what the dialog shows.
"""

from __future__ import annotations

import csv
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from sqlalchemy import select

from app.application import make_application
from app.demo.site import DEMO_PASSWORD
from app.hardware import service_worker
from app.hardware.bus_worker import BusMeter, BusWorker, PollPolicy
from app.hardware.discovery import ScanHit
from app.hardware.dlt645 import SPEC
from app.hardware.dlt645.driver import local_now
from app.hardware.link import LineSettings
from app.hardware.profiles import Profile, load_profile
from app.hardware.simulator.faults import Answerer
from app.hardware.simulator.server import SimServer
from app.hardware.simulator.sim_meter import SimMeter
from app.services.operators import SignedIn, login
from app.store.database import Database
from app.store.models import AuditEvent
from app.ui import save_file
from app.ui.background import wait_for_background
from app.views.diagnostics_dialog import DiagnosticsDialog
from tests.support import open_pty_port, socat_pair

FIRST, SECOND = "000000000001", "000000000002"
LINE = LineSettings(baudrate=9600, bytesize=8, parity="N", stopbits=1, timeout_s=0.3)
WAIT_MS = 30_000


@pytest.fixture
def profile() -> Profile:
    return load_profile("dlt645-2007")


def make_meter(address: str, profile: Profile) -> SimMeter:
    meter = SimMeter(address, profile, seed=3, reply_delay_s=0.0)
    meter.params["balance"] = Decimal("42.50")
    return meter


@contextmanager
def served(meters: Mapping[str, SimMeter]) -> Iterator[str]:
    """The simulator serving ``meters`` on one end of a pty pair; yields the other end's
    path. The server thread must have ended on the way out."""
    console, far_end, close_ptys = socat_pair()
    stop = threading.Event()
    try:
        port = open_pty_port(far_end, LINE)
    except BaseException:
        close_ptys()
        raise
    server = SimServer(port, LINE, Answerer(SPEC, meters))
    thread = threading.Thread(target=server.serve, args=(stop,), name="sim-pty", daemon=True)
    thread.start()
    try:
        yield console
    finally:
        stop.set()
        thread.join(timeout=5)
        port.close()
        close_ptys()
        assert not thread.is_alive(), "the simulator thread did not stop"


@pytest.fixture
def meters(profile: Profile) -> dict[str, SimMeter]:
    return {FIRST: make_meter(FIRST, profile), SECOND: make_meter(SECOND, profile)}


@pytest.fixture
def line(meters: dict[str, SimMeter]) -> Iterator[str]:
    with served(meters) as console:
        yield console


def technician(db: Database) -> SignedIn:
    return login(db, "technician", DEMO_PASSWORD)


def make_dialog(qtbot, db: Database, who: SignedIn, workers=None) -> DiagnosticsDialog:  # type: ignore[no-untyped-def]
    make_application()
    running = workers or {}
    dialog = DiagnosticsDialog(db, lambda: who, lambda: running)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(lambda: dialog.bus.count() > 1, timeout=WAIT_MS)
    return dialog


def open_typed_port(qtbot, dialog: DiagnosticsDialog, url: str, timeout_ms: int = 300) -> None:  # type: ignore[no-untyped-def]
    dialog.choose_bus(None)
    dialog.url.setText(url)
    dialog.baud.setCurrentText("9600")
    dialog.parity.setCurrentIndex(dialog.parity.findData("N"))
    dialog.timeout.setValue(timeout_ms)
    dialog.set_profile("dlt645-2007")
    with qtbot.waitSignal(dialog.port_ready, timeout=WAIT_MS) as ready:
        qtbot.mouseClick(dialog.open_button, Qt.MouseButton.LeftButton)
    assert ready.args == [True]
    assert dialog.owned


def scan(qtbot, dialog: DiagnosticsDialog, addresses: str) -> list[str]:  # type: ignore[no-untyped-def]
    """Scan ``addresses`` (empty: search the line); the addresses of the meters found."""
    dialog.scan.addresses.setText(addresses)
    with qtbot.waitSignal(dialog.scan.finished, timeout=WAIT_MS) as finished:
        qtbot.mouseClick(dialog.scan.start_button, Qt.MouseButton.LeftButton)
    hits: list[ScanHit] = list(finished.args[0])
    assert hits == dialog.scan.hits
    return [hit.address for hit in hits if hit.ok]


@pytest.fixture
def dialog(qtbot, demo_db: Database, line: str) -> Iterator[DiagnosticsDialog]:  # type: ignore[no-untyped-def]
    widget = make_dialog(qtbot, demo_db, technician(demo_db))
    open_typed_port(qtbot, widget, line)
    yield widget
    widget.close()
    wait_for_background()


def test_scan_finds_the_meters_and_the_log_shows_decoded_frames(
    qtbot, qtmodeltester, dialog: DiagnosticsDialog
) -> None:  # type: ignore[no-untyped-def]
    found = scan(qtbot, dialog, "000000000001-000000000003")
    assert found == [FIRST, SECOND]
    assert dialog.scan.results() == [(FIRST, "dlt645-2007"), (SECOND, "dlt645-2007")]
    assert dialog.scan.progress.value() == dialog.scan.progress.maximum() == 3
    assert [dialog.address.itemText(i) for i in range(dialog.address.count())] == [FIRST, SECOND]

    # Three energy reads (the third gets no reply), and the meter number of each meter found.
    qtbot.waitUntil(lambda: dialog.frames.rowCount() >= 9, timeout=WAIT_MS)
    rows = dialog.frames.rows()
    sent = [r for r in rows if r.direction == "tx" and r.address == FIRST]
    # The energy read as the scan sent it: DI 00010000 goes out as 33 33 34 33 (+0x33, DI0
    # first); the log shows the identifier in the usual order and the data with 0x33 removed.
    assert "33 33 34 33" in sent[0].raw_hex
    assert "read request: DI 00010000 forward active energy total" in sent[0].meaning
    assert "data−33h: 00 00 01 00" in sent[0].meaning
    replies = [r for r in rows if r.direction == "rx"]
    energy = [r for r in replies if "read reply: DI 00010000" in r.meaning]
    assert len(energy) == 2
    assert all("kWh" in r.meaning for r in energy)
    numbers = [r for r in replies if "read reply: DI 04000402 meter number" in r.meaning]
    assert [r.address for r in numbers] == [FIRST, SECOND]
    assert len(replies) == 4
    qtmodeltester.check(dialog.frames, force_py=True)

    dialog.log.filter.setText("2")
    assert {r.address for r in dialog.frames.rows()} == {SECOND}
    dialog.log.filter.clear()

    # The counters table fills from the line check (every known meter probed once).
    with qtbot.waitSignal(dialog.line_checked, timeout=WAIT_MS) as checked:
        qtbot.mouseClick(dialog.check_button, Qt.MouseButton.LeftButton)
    assert checked.args[0].answered == (FIRST, SECOND)
    assert "2 of 2 answered" in dialog.status.text()
    qtbot.waitUntil(lambda: dialog.counters.rowCount() == 2, timeout=WAIT_MS)
    counters = {c.address: c for c in dialog.counters.counters()}
    assert counters[FIRST].requests >= 1
    assert counters[FIRST].p50_ms is not None
    assert counters[FIRST].online is None  # a line check does not poll
    qtmodeltester.check(dialog.counters, force_py=True)


def test_the_wildcard_search_finds_both_meters_with_their_numbers_and_energy(
    qtbot, dialog: DiagnosticsDialog, meters: dict[str, SimMeter]
) -> None:  # type: ignore[no-untyped-def]
    meters[SECOND].params["meter_number"] = "230815000042"
    assert dialog.scan.addresses.text() == ""  # a DL/T 645 profile: empty means search
    assert "search the line" in dialog.scan.addresses.placeholderText()
    assert scan(qtbot, dialog, "") == [FIRST, SECOND]
    headers = [
        dialog.scan.found.horizontalHeaderItem(c).text()
        for c in range(dialog.scan.found.columnCount())
    ]
    assert headers == ["Address", "Profile", "Meter number", "Register", "Model", "Problem"]
    rows = [
        [dialog.scan.cell(r, c) for c in range(len(headers))]
        for r in range(dialog.scan.found.rowCount())
    ]
    assert [row[:3] for row in rows] == [
        [FIRST, "dlt645-2007", FIRST],
        [SECOND, "dlt645-2007", "230815000042"],
    ]
    for row, address in zip(rows, (FIRST, SECOND), strict=True):
        value, unit = row[3].split()
        assert unit == "kWh"
        assert float(value) == pytest.approx(meters[address].state().energy_import_kwh, abs=0.05)
        assert row[4] == "DL/T 645-2007 single-phase cost-control meter with relay"
        assert row[5] == ""
    # Progress counts search branches; the total grew with the collision and was reached.
    assert dialog.scan.progress.maximum() == 11
    assert dialog.scan.progress.value() == 11
    assert "Done: 2 meter(s) found." in dialog.scan.status.text()
    assert [dialog.address.itemText(i) for i in range(dialog.address.count())] == [FIRST, SECOND]


def test_a_silent_meter_counts_as_timeouts_and_comes_first(
    qtbot, dialog: DiagnosticsDialog, meters: dict[str, SimMeter]
) -> None:  # type: ignore[no-untyped-def]
    scan(qtbot, dialog, "000000000001-000000000002")
    meters[SECOND].faults.dead = True
    with qtbot.waitSignal(dialog.line_checked, timeout=WAIT_MS) as checked:
        dialog.check_line()
    assert checked.args[0].answered == (FIRST,)
    assert checked.args[0].timeouts == 1
    assert "1 timeout(s)" in dialog.status.text()
    qtbot.waitUntil(lambda: dialog.counters.rowCount() == 2, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: dialog.counters.counters()[0].timeouts == 1, timeout=WAIT_MS)
    assert dialog.counters.index(0, 0).data() == SECOND  # failing meters first


def test_cancel_stops_a_scan_midway(qtbot, dialog: DiagnosticsDialog) -> None:  # type: ignore[no-untyped-def]
    dialog.timeout.setValue(60)
    with qtbot.waitSignal(dialog.port_ready, timeout=WAIT_MS):
        dialog.open_port()
    dialog.scan.addresses.setText("000000000003-000000000200")
    with qtbot.waitSignal(dialog.scan.finished, timeout=WAIT_MS) as finished:
        dialog.scan.start()
        qtbot.waitUntil(lambda: dialog.scan.progress.value() >= 2, timeout=WAIT_MS)
        assert not dialog.scan.start_button.isEnabled()
        qtbot.mouseClick(dialog.scan.cancel_button, Qt.MouseButton.LeftButton)
    assert finished.args[0] == []
    assert dialog.scan.progress.value() < dialog.scan.progress.maximum() == 198
    assert "Cancelled after" in dialog.scan.status.text()
    assert dialog.scan.start_button.isEnabled()


def test_opening_the_port_again_first_lets_the_old_worker_go(
    qtbot, dialog: DiagnosticsDialog
) -> None:  # type: ignore[no-untyped-def]
    first = dialog.worker
    assert first is not None
    assert first.alive
    dialog.timeout.setValue(150)
    with qtbot.waitSignal(dialog.port_ready, timeout=WAIT_MS) as ready:
        dialog.open_port()
    assert ready.args == [True]
    assert dialog.worker is not first
    assert dialog.owned
    assert not first.alive, "the old worker must have ended before the port opened again"
    assert dialog.worker.settings.timeout_s == 0.15
    assert scan(qtbot, dialog, FIRST) == [FIRST]
    second = dialog.worker
    dialog.close()
    qtbot.waitUntil(lambda: not second.alive, timeout=WAIT_MS)


def test_closing_while_a_port_opens_leaves_no_worker_on_it(
    qtbot, dialog: DiagnosticsDialog
) -> None:  # type: ignore[no-untyped-def]
    url = dialog.url.text()
    dialog.open_port()  # the open is on its way in the background ...
    dialog.close()  # ... when the technician closes the dialog
    wait_for_background()
    holder = service_worker._holders[url]
    qtbot.waitUntil(lambda: not holder.alive, timeout=WAIT_MS)


def test_wildcard_scan_asks_a_lone_meter_its_address(qtbot, demo_db: Database, profile) -> None:  # type: ignore[no-untyped-def]
    lone = "123456789012"
    with served({lone: make_meter(lone, profile)}) as console:
        dialog = make_dialog(qtbot, demo_db, technician(demo_db))
        open_typed_port(qtbot, dialog, console)
        assert scan(qtbot, dialog, "") == [lone]
        qtbot.waitUntil(lambda: dialog.frames.rowCount() >= 2, timeout=WAIT_MS)
        meanings = [r.meaning for r in dialog.frames.rows()]
        assert any(m == "13 read address request" for m in meanings)
        assert any(f"read address reply: address {lone}" in m for m in meanings)
        dialog.close()


def test_csv_export_has_the_frames_shown(qtbot, dialog: DiagnosticsDialog, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    scan(qtbot, dialog, "000000000001-000000000002")
    qtbot.waitUntil(lambda: dialog.frames.rowCount() >= 4, timeout=WAIT_MS)
    dialog.log.pause_button.setChecked(True)
    shown = dialog.frames.rows()
    path = tmp_path / "frames.csv"
    assert dialog.export_log(path) == len(shown)
    with path.open(encoding="utf-8", newline="") as handle:
        records = list(csv.DictReader(handle))
    assert [r["raw_hex"] for r in records] == [r.raw_hex for r in shown]
    assert records[0]["direction"] == "tx"
    assert records[0]["address"] == FIRST
    assert "DI 00010000" in records[0]["meaning"]
    assert records[0]["note"].startswith("read 00010000")
    assert "T" in records[0]["time"]  # ISO date and time


def test_the_export_button_saves_off_the_gui_thread_and_says_so(  # type: ignore[no-untyped-def]
    qtbot, dialog: DiagnosticsDialog, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scan(qtbot, dialog, FIRST)
    path = tmp_path / "frames.csv"
    monkeypatch.setattr(save_file.QFileDialog, "getSaveFileName", lambda *_args: (str(path), ""))
    qtbot.mouseClick(dialog.log.export_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "frames saved to" in dialog.log.status.text(), timeout=WAIT_MS)
    dialog.refresh()  # the live count is shown again, the note stays beside it
    assert "frames shown (live) · " in dialog.log.status.text()
    assert "frames saved to" in dialog.log.status.text()
    assert path.read_text(encoding="utf-8").startswith("time,direction,address")


def test_raw_read_write_relay_test_and_time_sync(  # type: ignore[no-untyped-def]
    qtbot, dialog: DiagnosticsDialog, demo_db: Database, meters: dict[str, SimMeter]
) -> None:
    tests = dialog.tests
    dialog.address.setCurrentText(FIRST)
    dialog.tabs.setCurrentWidget(tests)

    tests.register.setText("00900200")
    with qtbot.waitSignal(tests.raw_done, timeout=WAIT_MS) as read:
        qtbot.mouseClick(tests.read_button, Qt.MouseButton.LeftButton)
    assert read.args[0].ok
    assert read.args[0].data == "50 42 00 00"  # 42.50 BCD, least significant byte first
    assert "remaining amount = 42.50" in tests.raw_result.text()

    tests.register.setText("04001001")
    tests.value.setText("12.5")
    with qtbot.waitSignal(tests.audited, timeout=WAIT_MS):
        qtbot.mouseClick(tests.write_button, Qt.MouseButton.LeftButton)
    assert "reads back alarm amount 1 limit = 12.50" in tests.raw_result.text()
    assert "(matches)" in tests.raw_result.text()

    with qtbot.waitSignal(tests.audited, timeout=WAIT_MS):
        qtbot.mouseClick(tests.off_button, Qt.MouseButton.LeftButton)
    assert "verified, it reads back off" in tests.relay_result.text()
    assert meters[FIRST].supply_on is False
    with qtbot.waitSignal(tests.audited, timeout=WAIT_MS):
        qtbot.mouseClick(tests.on_button, Qt.MouseButton.LeftButton)
    assert meters[FIRST].supply_on is True

    meters[FIRST].set_clock(local_now() - timedelta(seconds=120))
    with (
        qtbot.waitSignal(tests.audited, timeout=WAIT_MS),
        qtbot.waitSignal(tests.clock_done, timeout=WAIT_MS) as synced,
    ):
        qtbot.mouseClick(tests.sync_button, Qt.MouseButton.LeftButton)
    (drift,) = synced.args[0]
    assert drift.address == FIRST
    assert not drift.error
    assert drift.before_s == pytest.approx(-120, abs=3)
    assert drift.after_s == pytest.approx(0, abs=2)
    assert f"{FIRST}: before -1" in tests.clock_result.text()

    # Broadcast: every known meter's drift before and after one 08 frame.
    scan(qtbot, dialog, "000000000001-000000000002")
    meters[SECOND].set_clock(local_now() + timedelta(seconds=300))
    tests.broadcast.setChecked(True)
    with (
        qtbot.waitSignal(tests.audited, timeout=WAIT_MS),
        qtbot.waitSignal(tests.clock_done, timeout=WAIT_MS) as synced,
    ):
        qtbot.mouseClick(tests.sync_button, Qt.MouseButton.LeftButton)
    drifts = {d.address: d for d in synced.args[0]}
    assert drifts[SECOND].before_s == pytest.approx(300, abs=3)
    assert drifts[SECOND].after_s == pytest.approx(0, abs=2)
    qtbot.waitUntil(
        lambda: any("08 broadcast time sync" in r.meaning for r in dialog.frames.rows()),
        timeout=WAIT_MS,
    )

    wait_for_background()
    with demo_db.session() as session:
        events = list(
            session.scalars(select(AuditEvent).where(AuditEvent.action.like("diagnostics.%")))
        )
    actions = [e.action for e in events]
    assert actions == [
        "diagnostics.raw_write",
        "diagnostics.relay_test",
        "diagnostics.relay_test",
        "diagnostics.time_sync",
        "diagnostics.time_sync",
    ]
    relay = events[1]
    assert relay.target_type == "meter"
    assert relay.target_id.endswith(f"#{FIRST}")
    assert relay.after["verified"] is True
    assert relay.after["wanted_on"] is False
    assert events[-1].target_type == "bus"
    assert events[-1].after["broadcast"] is True


def test_a_bus_polled_by_the_console_uses_its_worker(  # type: ignore[no-untyped-def]
    qtbot, demo_db: Database, line: str, profile: Profile
) -> None:
    make_application()
    dialog_probe = DiagnosticsDialog(demo_db, lambda: technician(demo_db), dict)
    qtbot.addWidget(dialog_probe)
    qtbot.waitUntil(lambda: dialog_probe.bus.count() > 1, timeout=WAIT_MS)
    bus_name = str(dialog_probe.bus.itemData(0))
    dialog_probe.close()

    polled = BusWorker(
        bus_name,
        line,
        LINE,
        [BusMeter(1, FIRST, profile), BusMeter(2, SECOND, profile)],
        lambda _snapshot: None,
        policy=PollPolicy(cycle_pause_s=0.2),
    )
    polled.start()
    try:
        dialog = make_dialog(qtbot, demo_db, technician(demo_db), {bus_name: polled})
        assert "polled by the console" in dialog.bus.itemText(0)
        dialog.choose_bus(bus_name)
        assert dialog.worker is polled
        assert not dialog.owned
        assert not dialog.url.isEnabled()
        assert not dialog.open_button.isEnabled()
        assert dialog.url.text() == line
        dialog.choose_bus(None)  # typing the polled bus's port takes the console's worker too
        dialog.url.setText(line)
        dialog.open_port()
        assert dialog.worker is polled
        assert dialog.bus.currentData() == bus_name
        qtbot.waitUntil(lambda: dialog.counters.rowCount() == 2, timeout=WAIT_MS)
        qtbot.waitUntil(
            lambda: any(r.direction == "rx" for r in dialog.frames.rows()), timeout=WAIT_MS
        )
        dialog.close()
        assert polled.alive  # the console's worker is not the dialog's to stop
    finally:
        polled.stop()
    assert not polled.alive


def test_a_port_that_cannot_be_opened_is_a_message(qtbot, demo_db: Database) -> None:  # type: ignore[no-untyped-def]
    dialog = make_dialog(qtbot, demo_db, technician(demo_db))
    with qtbot.waitSignal(dialog.port_ready, timeout=WAIT_MS) as ready:
        dialog.choose_bus(str(dialog.bus.itemData(0)))  # sim:// line not served by a runtime
    assert ready.args == [False]
    assert "cannot open" in dialog.status.text()
    assert dialog.worker is None
    assert not dialog.scan.start_button.isEnabled()
    dialog.close()


@pytest.mark.parametrize(
    ("user", "relay_allowed"), [("cashier", False), ("supervisor", False), ("admin", True)]
)
def test_tests_are_disabled_for_roles_that_may_not(  # type: ignore[no-untyped-def]
    qtbot, demo_db: Database, line: str, user: str, relay_allowed: bool
) -> None:
    who = login(demo_db, user, DEMO_PASSWORD)
    dialog = make_dialog(qtbot, demo_db, who)
    open_typed_port(qtbot, dialog, line)
    dialog.address.setCurrentText(FIRST)
    tests = dialog.tests
    assert tests.on_button.isEnabled() is relay_allowed
    assert tests.sync_button.isEnabled() is relay_allowed
    assert tests.write_button.isEnabled() is relay_allowed
    assert dialog.scan.start_button.isEnabled() is relay_allowed
    if not relay_allowed:
        assert "Only" in tests.on_button.toolTip()
        assert "Only" in dialog.scan.start_button.toolTip()
        tests.relay_test(False)  # a call that slips through does nothing
        assert tests.relay_result.text() == ""
    dialog.close()
