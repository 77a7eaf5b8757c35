"""Make the README's screenshots: the console on a fresh demo site, one PNG per screen.

Usage: python scripts/screenshots.py OUTPUT_DIR   (runs offscreen; no display needed)
"""

from __future__ import annotations

import os
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
from app.ui.background import wait_for_background
from app.views.main_window import MainWindow


def settle(ms: int = 400) -> None:
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def main(out: Path) -> int:
    out.mkdir(parents=True, exist_ok=True)
    app = make_application()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        opened = open_console(folder, None, demo=True)
        operator = login(opened.db, "admin", DEMO_PASSWORD)
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
        shots = {"main-window": 0, "meters": 1}
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
