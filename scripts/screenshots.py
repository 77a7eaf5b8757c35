"""Make the README's screenshots: the console on a fresh demo site, one PNG per screen.

Usage: python scripts/screenshots.py OUTPUT_DIR   (runs offscreen; no display needed)
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PySide6.QtCore import QEventLoop, QTimer

from app.application import make_application, open_console
from app.runtime.runtime import Runtime
from app.services.demo_site import DEMO_PASSWORD
from app.services.operators import login
from app.services.settings import RECEIPT_PRINTING, change_setting
from app.ui.background import wait_for_background
from app.views.main_window import MainWindow


def settle(ms: int = 400) -> None:
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


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
    while counter.last_receipt is None:
        settle(100)
    wait_for_background()
    settle()
    window.grab().save(str(out / "counter-paid.png"))
    _number, pdf = counter.last_receipt
    subprocess.run(
        ["pdftoppm", "-png", "-r", "110", "-singlefile", str(pdf), str(out / "receipt-roll80")],
        check=True,
    )
    print(out / "counter.png", out / "counter-confirm.png", out / "counter-paid.png")


def main(out: Path) -> int:
    out.mkdir(parents=True, exist_ok=True)
    app = make_application()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        opened = open_console(folder, None, demo=True)
        operator = login(opened.db, "cashier", DEMO_PASSWORD)
        admin = login(opened.db, "admin", DEMO_PASSWORD)
        with opened.db.transaction() as session:  # no printer here: receipts as PDF only
            change_setting(session, admin, RECEIPT_PRINTING, "none")
        window = MainWindow(opened.db, opened.site, operator=operator, data_dir=folder, demo=True)
        window.resize(1440, 880)
        window.show()
        # Let the runtime poll the simulated buses for a while, so the screens show live state.
        runtime = Runtime(opened.db)
        runtime.start()
        settle(12_000)
        runtime.stop()
        window.reload()
        settle(800)
        wait_for_background()
        settle()
        counter_shots(window, out)
        shots = {"main-window": 1, "meters": 2, "alarms": 3}
        # Show a search in progress on the accounts screen, as a cashier would type it.
        window.accounts.list.search.setText("A-3")
        settle()
        wait_for_background()
        settle()
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
