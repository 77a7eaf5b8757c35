"""Make the README's screenshots: the console on a fresh demo site, one PNG per screen.

Usage: python scripts/screenshots.py OUTPUT_DIR   (runs offscreen; no display needed)
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PySide6.QtCore import QDate, QEventLoop, QTimer

from app.application import make_application, open_console
from app.demo.site import DEMO_PASSWORD
from app.documents.site_workbook import write_workbook
from app.queries.history import Resolution, TargetKind
from app.queries.meters import list_meters
from app.runtime.runtime import Runtime, RuntimeOptions
from app.services.bus_setup import BusForm, add_bus
from app.services.operators import login, set_up_first_admin
from app.services.policy_setup import import_policy
from app.services.settings import RECEIPT_PRINTING, change_setting
from app.services.setup_checks import in_transaction
from app.services.site_layout import add_building, generate_rooms
from app.services.site_setup import SiteDetails, init_site
from app.services.tariff_library import import_tariff_file
from app.store.database import Database
from app.ui.background import wait_for_background
from app.views.diagnostics_dialog import DiagnosticsDialog
from app.views.main_window import MainWindow
from app.views.meter_detail_dialog import MeterDetailDialog
from app.vocabulary import Utility

WAIT_S = 120.0  # how long any one wait may take before the script gives up


def settle(ms: int = 400) -> None:
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def settle_until(
    condition: Callable[[], bool],
    what: str,
    timeout: float = WAIT_S,
    *,
    why: Callable[[], str] | None = None,
    step_ms: int = 100,
) -> None:
    """Run the event loop until ``condition()`` holds. After ``timeout`` seconds without it,
    stop the script (SystemExit) naming ``what`` it waited for and, from ``why``, what it saw."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            seen = f" ({why()})" if why is not None else ""
            raise SystemExit(f"screenshots: gave up after {timeout:g} s waiting for {what}{seen}")
        settle(step_ms)


def counter_shots(window: MainWindow, out: Path) -> None:
    """The counter as a cashier uses it: a room found, an amount typed, the confirmation, and
    the receipt line after paying (the PDF's first page too)."""
    counter = window.counter
    window.show_page(0)
    counter.list.search.setText("a305")
    settle()
    wait_for_background()
    settle()
    counter.amount.setFocus()
    counter.amount.setText("120")
    settle()
    window.grab().save(str(out / "counter.png"))
    counter.ask_confirmation()
    settle()
    counter.confirm_dialog.grab().save(str(out / "counter-confirm.png"))
    counter.confirm_dialog.accept()
    settle_until(
        lambda: counter.last_receipt is not None,
        "the counter's receipt",
        why=lambda: f"the counter says {counter.result_label.text()!r}",
    )
    wait_for_background()
    settle()
    window.grab().save(str(out / "counter-paid.png"))
    assert counter.last_receipt is not None  # settled above
    _number, pdf = counter.last_receipt
    subprocess.run(
        ["pdftoppm", "-png", "-r", "110", "-singlefile", str(pdf), str(out / "receipt-roll80")],
        check=True,
    )
    print(out / "counter.png", out / "counter-confirm.png", out / "counter-paid.png")


def diagnostics_shots(db: Database, runtime: Runtime, out: Path) -> None:
    """The technician's dialog on a bus the runtime polls: scan, frame log, counters, tests."""
    tech = login(db, "technician", DEMO_PASSWORD)
    dialog = DiagnosticsDialog(db, lambda: tech, lambda: {w.name: w for w in runtime.workers})
    dialog.resize(1200, 760)
    dialog.show()
    settle_until(
        lambda: dialog.bus.count() >= 2,
        "the diagnostics dialog to list two buses",
        why=lambda: f"it lists {dialog.bus.count()}",
    )
    dialog.bus.setCurrentIndex(0)  # the first bus: the runtime's worker polls it
    done: list[object] = []
    dialog.scan.finished.connect(done.append)
    dialog.scan.addresses.setText("1-10")  # a Modbus bus: a short range is enough to show
    dialog.scan.start()
    settle_until(lambda: bool(done), "the diagnostics scan of addresses 1-10 to finish")
    dialog.check_line()
    settle(1500)
    for index, name in enumerate(("scan", "frame-log", "counters", "meter-tests")):
        dialog.tabs.setCurrentIndex(index)
        settle()
        path = out / f"diagnostics-{name}.png"
        dialog.grab().save(str(path))
        print(path)
    dialog.close()


def meter_detail_shots(db: Database, runtime: Runtime, out: Path) -> None:
    """The Meter detail of a polled meter (details, load guard, commands), then the clock-sync
    form with its outcome and the keep-power form, as a supervisor sees them."""
    boss = login(db, "supervisor", DEMO_PASSWORD)
    meter = next(m for m in list_meters(db) if m.serial.startswith("E") and m.account_number)
    meter_id = meter.id
    runtime.switch_relay(meter_id, False, boss.operator_id, "Rewiring the socket").result(60)
    runtime.switch_relay(meter_id, True, boss.operator_id, "Rewiring done").result(60)
    dialog = MeterDetailDialog(db, meter_id, lambda: boss, runtime)
    dialog.resize(1080, 740)
    dialog.show()
    settle_until(lambda: dialog.detail is not None, "the Meter detail to load")
    detail = dialog.detail
    assert detail is not None
    assert runtime.sim is not None
    simulated = runtime.sim.meter(detail.bus_url, detail.address)
    simulated.set_clock(simulated.clock_now() - timedelta(minutes=7))  # after a power cut
    sync = dialog.ask_sync_clock()
    if sync is not None:
        sync.reason.setText("Clock behind after the power cut")
        sync.confirm()
        settle_until(lambda: sync.done_ok, "the clock sync's read-back")
        settle()
        sync.grab().save(str(out / "meter-clock-sync.png"))
        sync.accept()
    settle(800)
    for index, name in ((0, "details"), (2, "load-guard"), (3, "commands")):
        dialog.tabs.setCurrentIndex(index)
        settle()
        path = out / f"meter-detail-{name}.png"
        dialog.grab().save(str(path))
        print(path)
    form = dialog.ask_keep_power()
    if form is not None:
        form.reason.setText("Oxygen concentrator (doctor's letter on file)")
        settle()
        form.grab().save(str(out / "meter-keep-power.png"))
        form.reject()
    dialog.close()


def charts_shot(window: MainWindow, out: Path) -> None:
    """The live chart over the last 15 minutes: the site, both buildings and two floors."""
    charts = window.charts
    window.show_page(window.page_number("charts"))
    for key in ("building:A", "building:B", "floor:A-3", "floor:B-5"):
        charts.add_series(key)
    charts.range_box.setCurrentIndex(0)
    charts.range_box.activated.emit(0)
    before = charts.plot.frames_drawn
    settle_until(lambda: charts.plot.frames_drawn > before, "the live chart to draw a frame")
    wait_for_background()  # the status bar's counts, reloaded as the runtime reports
    settle(600)
    path = out / "charts-live.png"
    window.grab().save(str(path))
    print(path)


def history_shot(window: MainWindow, today: date, out: Path) -> None:
    """Energy per hour of building A over the last three days, from the demo's readings."""
    charts = window.charts
    window.show_page(window.page_number("charts"))
    charts.tabs.setCurrentIndex(1)
    settle_until(lambda: charts._names is not None, "the History tab's buildings and floors")
    assert charts._names is not None  # settled above
    building = next(b for b in charts._names.targets.buildings if b.code == "A")
    charts.history.set_history(
        TargetKind.BUILDING,
        building.id,
        Utility.ELECTRICITY,
        today - timedelta(days=2),
        today,
        Resolution.HOUR,
    )
    loaded: list[object] = []
    charts.history.loaded.connect(loaded.append)
    charts.history.show_history()
    settle_until(lambda: bool(loaded), "building A's energy history")
    settle(600)
    path = out / "charts-history.png"
    window.grab().save(str(path))
    print(path)
    charts.tabs.setCurrentIndex(0)


def setup_shots(out: Path) -> None:
    """A site an office sets up itself: the guide half-way, a scanned bus being assigned to
    rooms, and a roster workbook's import preview with a problem named by sheet, row and
    column."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        opened = open_console(folder, None, demo=False)
        db = opened.db
        admin = set_up_first_admin(db, "office", "Block 7 office", "block-7-office")
        window = MainWindow(db, opened.site, operator=admin, data_dir=folder)
        window.resize(1280, 720)
        window.show()
        in_transaction(
            db, init_site, admin, SiteDetails("Block 7 Dormitory", "Asia/Shanghai", "CNY")
        )
        in_transaction(db, add_building, admin, "Block 7")
        in_transaction(db, generate_rooms, admin, "Block 7", "1-3", "01-10")
        in_transaction(db, import_tariff_file, admin, SHOT_TARIFF, "block7.toml")
        in_transaction(db, import_policy, admin, SHOT_POLICY, "students.toml")
        line = "sim://block7?profile=hiking-dds238&addresses=1-30"
        in_transaction(db, add_bus, admin, BusForm("Block 7 meters", line, "hiking-dds238"))
        window.reload()
        window._site_changed()  # what the Site page does once it saved the site
        window.open_setup_if_new()
        settle(800)
        wait_for_background()
        settle()
        window.grab().save(str(out / "setup-guide.png"))
        window.setup.open("buses")
        buses = window.setup.page("buses")
        settle()
        wait_for_background()
        settle()
        buses.list.table.selectRow(0)  # type: ignore[attr-defined]
        buses.scan()  # type: ignore[attr-defined]
        scan = buses.scan_dialog  # type: ignore[attr-defined]
        scan.resize(1100, 640)
        scan.addresses.setText("1-30")
        scan.scan()
        settle_until(
            lambda: len(scan.hits) >= 30,
            "the scan of addresses 1-30 to find 30 meters",
            why=lambda: f"{len(scan.hits)} found; the dialog says {scan.message.text()!r}",
            step_ms=200,
        )
        scan.pattern.setText("H7-{address:03}")
        scan.fill_serials()
        scan.first_room.setText("7-101")
        scan.fill_rooms()
        settle()
        scan.check()
        settle_until(
            scan.save_button.isEnabled,
            "Check to find no conflict (Save enabled)",
            why=lambda: f"the dialog says {scan.message.text()!r}",
        )
        scan.grab().save(str(out / "setup-scan-assign.png"))
        scan.save()
        settle(800)
        roster = folder / "roster.xlsx"
        labels = [f"7-{floor}{n:02d}" for floor in (1, 2, 3) for n in range(1, 11)]
        tenants = [
            {
                "room": label,
                "holder": SHOT_NAMES[n % len(SHOT_NAMES)],
                "holder_ref": f"2026{n:04d}",
                "phone": "",
                "tariffs": "Block 7 electricity",
                "policy": "Block 7 students",
                "opening_balance": "50.00",
            }
            for n, label in enumerate(labels, start=1)
        ]
        tenants[4]["opening_balance"] = "12.345"  # a mistake the preview names
        write_workbook(roster, {"tenants": tenants})
        window.setup.open("import")
        page = window.setup.page("import")
        page.choose(str(roster))  # type: ignore[attr-defined]
        settle(1500)
        wait_for_background()
        settle()
        window.grab().save(str(out / "setup-import-preview.png"))
        window.close()
        wait_for_background()
        db.dispose()
        opened.crash_guard.stop()


SHOT_TARIFF = """name = "Block 7 electricity"
utility = "electricity"
unit = "kWh"
currency = "CNY"
effective_from = 2026-01-01
price = "0.6000"
"""
SHOT_POLICY = """name = "Block 7 students"
alarm_1 = "20.00"
alarm_2 = "5.00"
overdraft_limit = "0.00"
close_permit = "1.00"
"""
SHOT_NAMES = (
    "王芳 Wang Fang",
    "李强 Li Qiang",
    "张伟 Zhang Wei",
    "刘洋 Liu Yang",
    "陈静 Chen Jing",
)


def reports_shot(window: MainWindow, db: Database, out: Path) -> None:
    """The Reports screen at 1280x720: revenue of the last 40 days, by day, as a supervisor
    (the cashier of the other shots may not see reports)."""
    cashier = window._operator  # signs a supervisor in for a moment
    window._operator = login(db, "supervisor", DEMO_PASSWORD)
    window.reports.reload()
    size = window.size()
    window.resize(1280, 720)
    window.show_page(window.page_number("reports"))
    view = window.reports
    view.report_box.setCurrentIndex(view.report_box.findData("revenue"))
    view.preset_box.setCurrentIndex(view.preset_box.findData("custom"))
    today = view.today()  # the site's day
    view.last_edit.setDate(QDate(today.year, today.month, today.day))
    view.first_edit.setDate(view.last_edit.date().addDays(-30))
    made: list[object] = []
    view.made.connect(made.append)
    view.make()
    settle_until(lambda: bool(made), "the revenue report")
    settle()
    path = out / "reports.png"
    window.grab().save(str(path))
    print(path)
    window.resize(size)
    window._operator = cashier


def attached_shot(folder: Path, out: Path) -> None:
    """A second console on the site while the first polls it: attached, at 1280x720, its
    status bar naming who polls and its overview's live load read from the database."""
    opened = open_console(folder, None, demo=True)
    window = MainWindow(
        opened.db,
        opened.site,
        operator=login(opened.db, "supervisor", DEMO_PASSWORD),
        data_dir=folder,
        demo_password=DEMO_PASSWORD,
    )
    window.resize(1280, 720)
    window.show()
    runtime = Runtime(opened.db, RuntimeOptions(attached=True))
    window.attach_runtime(runtime)
    runtime.start()
    window.reload()
    window.show_page(4)
    settle(8_000)
    wait_for_background()
    settle()
    path = out / "attached-console.png"
    window.grab().save(str(path))
    print(path)
    runtime.stop()
    window.close()
    wait_for_background()
    opened.db.dispose()


def main(out: Path) -> int:
    out.mkdir(parents=True, exist_ok=True)
    app = make_application()
    setup_shots(out)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        opened = open_console(folder, None, demo=True)
        operator = login(opened.db, "cashier", DEMO_PASSWORD)
        admin = login(opened.db, "admin", DEMO_PASSWORD)
        with opened.db.transaction() as session:  # no printer here: receipts as PDF only
            change_setting(session, admin, RECEIPT_PRINTING, "none")
        window = MainWindow(
            opened.db, opened.site, operator=operator, data_dir=folder, demo_password=DEMO_PASSWORD
        )
        window.resize(1440, 880)
        window.show()
        # Let the runtime poll the simulated buses for a while, so the screens show live state.
        runtime = Runtime(opened.db)
        window.attach_runtime(runtime)
        runtime.start()
        settle(12_000)
        attached_shot(folder, out)
        diagnostics_shots(opened.db, runtime, out)
        meter_detail_shots(opened.db, runtime, out)
        # The live chart once every bus has gone round once (a DL/T 645 bus at 9600 baud reads
        # every value of each meter on its first round: most of a minute).
        settle(45_000)
        charts_shot(window, out)
        runtime.stop()
        window.reload()
        settle(800)
        wait_for_background()
        settle()
        counter_shots(window, out)
        reports_shot(window, opened.db, out)
        shots = {"main-window": 1, "meters": 2, "alarms": 3, "overview": 4}
        # Show a search in progress on the accounts screen, as a cashier would type it.
        window.accounts.list.search.setText("A-3")
        settle()
        wait_for_background()
        settle()
        history_shot(window, datetime.now(ZoneInfo(opened.site.timezone)).date(), out)
        for name, page in shots.items():
            window.show_page(page)
            settle()
            path = out / f"{name}.png"
            window.grab().save(str(path))
            print(path)
        window.close()
        wait_for_background()
        opened.db.dispose()
    app.quit()
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshots")))
