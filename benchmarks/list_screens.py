"""How the Accounts and Meters screens behave with 20,000 accounts (30,000 meters).

Seeds a site of 10 buildings x 20 floors x 100 rooms in a temporary folder, opens the real main
window offscreen and measures the work each user action puts on the GUI thread: installing the
loaded rows, every keystroke of a search, a state filter, sorting by balance, and switching
screens. Each figure is printed with its ratio to the 50 ms bound (a frame the operator would
notice); the event-loop monitor's worst stall over the whole run is printed the same way.
Exit status 1 if any ratio exceeds 1.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PySide6.QtCore import QEventLoop, Qt, QTimer

from app.application import make_application, open_console
from app.demo.site import DEMO_PASSWORD, DemoSpec, seed_demo_site
from app.services.operators import login
from app.store.database import Database, sqlite_url_for
from app.store.migrate import upgrade
from app.ui.background import wait_for_background
from app.ui.heap import tune_collector
from app.ui.stall_monitor import StallMonitor
from app.views.main_window import MainWindow

BOUND_MS = 50.0


def pump(ms: int = 50) -> None:
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def timed(action) -> float:  # type: ignore[no-untyped-def]
    """GUI-thread time of one action, then back to the event loop (as between keystrokes)."""
    start = time.perf_counter()
    action()
    elapsed = (time.perf_counter() - start) * 1000
    pump(30)
    return elapsed


def main() -> int:
    app = make_application()
    results: list[tuple[str, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        db = Database(sqlite_url_for(folder))
        upgrade(db)
        start = time.perf_counter()
        summary = seed_demo_site(db, DemoSpec(buildings=10, floors=20, rooms_per_floor=100))
        print(
            f"seeded {summary.accounts} accounts, {summary.meters} meters "
            f"in {time.perf_counter() - start:.1f} s"
        )
        db.dispose()
        opened = open_console(folder, None, demo=True)
        operator = login(opened.db, "admin", DEMO_PASSWORD)
        window = MainWindow(
            opened.db, opened.site, operator=operator, data_dir=folder, demo_password=DEMO_PASSWORD
        )
        window.resize(1440, 880)
        tune_collector()
        monitor = StallMonitor(parent=window)
        window.show()
        pump()
        monitor.start()
        accounts, meters = window.accounts, window.meters
        # Loading: the query runs in a worker; time what the GUI thread does with the result.
        load_start = time.perf_counter()
        window.reload()
        while sum(1 for v in window.loaded_counts.values() if v) < 2:
            pump(5)
        print(
            f"loaded {window.loaded_counts} in {time.perf_counter() - load_start:.2f} s "
            "(worker time, GUI stays live)"
        )
        pump(200)
        wait_for_background()
        results.append(("worst stall while loading in the background", monitor.max_ms))
        monitor.stalls_ms.clear()
        search = accounts.list.search
        for text in ("B", "B-", "B-1", "B-12", "B-120", "B-1205"):
            results.append(
                (
                    f"accounts search keystroke {text!r}",
                    timed(lambda t=text: (search.setText(t), app.processEvents())),
                )
            )
        results.append(
            ("accounts clear search", timed(lambda: (search.clear(), app.processEvents())))
        )
        for text in ("z", "zh", "zha", "zhan", "zhang"):
            results.append(
                (
                    f"accounts name keystroke {text!r}",
                    timed(lambda t=text: (search.setText(t), app.processEvents())),
                )
            )
        search.clear()
        combo = accounts.state_filter
        results.append(
            (
                "accounts state filter 'Cut off'",
                timed(
                    lambda: (combo.setCurrentIndex(combo.findData("cut_off")), app.processEvents())
                ),
            )
        )
        combo.setCurrentIndex(0)
        results.append(
            (
                "accounts sort by balance",
                timed(
                    lambda: (
                        accounts.list.table.sortByColumn(4, Qt.SortOrder.AscendingOrder),
                        app.processEvents(),
                    )
                ),
            )
        )
        results.append(
            ("switch to Meters", timed(lambda: (window.show_page(1), app.processEvents())))
        )
        msearch = meters.list.search
        for text in ("E", "EJ", "EJ2", "EJ20"):
            results.append(
                (
                    f"meters search keystroke {text!r}",
                    timed(lambda t=text: (msearch.setText(t), app.processEvents())),
                )
            )
        results.append(
            (
                "meters sort by address",
                timed(
                    lambda: (
                        meters.list.table.sortByColumn(6, Qt.SortOrder.DescendingOrder),
                        app.processEvents(),
                    )
                ),
            )
        )
        pump(300)
        wait_for_background()
        pump(100)
        monitor.stop()
        results.append(("worst stall between the actions above", monitor.max_ms))
        window.close()
        wait_for_background()
        opened.db.dispose()
        opened.crash_guard.stop()
    worst = 0.0
    print(f"{'action':45s} {'ms':>8s} {'ratio to 50 ms':>15s}")
    for name, ms in results:
        ratio = ms / BOUND_MS
        worst = max(worst, ratio)
        print(f"{name:45s} {ms:8.1f} {ratio:15.2f}")
    print(f"worst ratio {worst:.2f} (bound 1.00)")
    return 0 if worst <= 1.0 else 1


if __name__ == "__main__":
    sys.exit(main())
