"""Composition root of the GUI: QApplication, theme, database, main window; orderly start and
shutdown. The only module that knows every part exists."""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QLocale, QSettings, QTimer, QTranslator
from PySide6.QtWidgets import QApplication, QDialog, QMessageBox

from app import __version__
from app.demo.site import DEMO_PASSWORD
from app.i18n import install_translator
from app.process.crash_report import CrashNotice
from app.process.data_dir import private_files
from app.process.startup import OpenedSite, open_site
from app.resources import RESOURCES
from app.runtime.ownership import another_owns_site
from app.runtime.runtime import DEMO_INTERVAL_S, DEMO_POSTING_S, Runtime, RuntimeOptions
from app.runtime.usage_billing import DEFAULT_POSTING_S
from app.services.operators import (
    OperatorRefused,
    SignedIn,
    database_needs_first_admin,
    login,
)
from app.services.settings import load_counter_settings
from app.store.errors import StoreError
from app.ui.background import wait_for_background
from app.ui.change_bridge import ChangeBridge
from app.ui.heap import start_quietly, tune_collector
from app.ui.idle_watch import IdleWatch
from app.ui.stall_monitor import StallMonitor
from app.ui.theme import apply_theme
from app.views.login_dialog import FirstAdminDialog, LoginDialog
from app.views.main_window import MainWindow


def _tr(text: str) -> str:
    return QCoreApplication.translate("Application", text)


def make_application() -> QApplication:
    """The QApplication, created once per process (tests reuse pytest-qt's)."""
    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(sys.argv[:1])
    app.setApplicationName("MeterDesk")
    app.setApplicationVersion(__version__)
    app.setOrganizationName("MeterDesk")
    translator = QTranslator(app)
    if translator.load(QLocale(), "meterdesk", "_", str(RESOURCES / "translations")):
        app.installTranslator(translator)
    install_translator(QCoreApplication.translate)
    apply_theme(app)
    return app


def _show_crash_notice(notice: CrashNotice) -> None:
    text = _tr(
        "MeterDesk did not close normally last time ({when}). Work that was not saved was "
        "rolled back by the database; nothing half-written was kept."
    ).format(when=notice.ended_at)
    box = QMessageBox(QMessageBox.Icon.Warning, _tr("Previous session ended unexpectedly"), text)
    if notice.report_path is not None:
        box.setInformativeText(
            _tr("The error was: {summary}\nDetails are in {path}").format(
                summary=notice.summary, path=notice.report_path
            )
        )
    box.exec()


def open_console(data_dir: Path, db_url: str | None, *, demo: bool) -> OpenedSite:
    """Open the site (raises StoreError with a message for the operator)."""
    return open_site(data_dir, db_url, demo=demo)


def ask_operator(opened: OpenedSite, *, demo: bool) -> SignedIn | None:
    """Who works at this console: the first administrator of an empty database (who is then
    signed in), else a sign-in. None when the person chose Quit."""
    if database_needs_first_admin(opened.db):
        first = FirstAdminDialog(opened.db, opened.site.name)
        if first.exec() != QDialog.DialogCode.Accepted:
            return None
        return first.signed_in
    dialog = LoginDialog(opened.db, opened.site.name, demo_password=DEMO_PASSWORD if demo else None)
    if dialog.exec() != QDialog.DialogCode.Accepted:
        return None
    return dialog.signed_in


def _smoke_operator(opened: OpenedSite) -> SignedIn | None:
    """A smoke run has nobody at the keyboard: it signs in as the demo site's administrator."""
    try:
        return login(opened.db, "admin", DEMO_PASSWORD)
    except OperatorRefused as exc:
        print(  # noqa: T201
            f"error: the smoke run signs in as the demo administrator and could not: {exc}",
            file=sys.stderr,
        )
        return None


def _install_idle_lock(app: QApplication, window: MainWindow, db_minutes: int) -> IdleWatch:
    """Lock the window after the site's idle time; the count pauses while it is locked."""
    watch = IdleWatch(db_minutes, parent=window)
    watch.idle.connect(window.lock)

    def lock_changed(locked: bool) -> None:
        if locked:
            watch.pause()
        else:
            watch.resume()

    window.lock_changed.connect(lock_changed)
    watch.install(app)
    return watch


def run_gui(
    data_dir: Path,
    db_url: str | None,
    *,
    demo: bool = False,
    smoke_seconds: float | None = None,
    attach: bool = False,
) -> int:
    """Run the console until its window closes; everything it writes is its user's alone.
    ``attach``: poll nothing (also when another runtime already owns the site)."""
    with private_files():
        return _run_gui(data_dir, db_url, demo=demo, smoke_seconds=smoke_seconds, attach=attach)


def _run_gui(
    data_dir: Path, db_url: str | None, *, demo: bool, smoke_seconds: float | None, attach: bool
) -> int:
    app = make_application()
    smoke = smoke_seconds is not None
    try:
        opened = open_console(data_dir, db_url, demo=demo)
    except StoreError as exc:
        if smoke:
            print(f"error: {exc}", file=sys.stderr)  # noqa: T201
        else:
            QMessageBox.critical(None, _tr("MeterDesk cannot open its database"), str(exc))
        return exc.exit_code

    if opened.previous_crash is not None and not smoke:
        _show_crash_notice(opened.previous_crash)
    opened.crash_guard.acknowledge()
    opened.crash_guard.start()
    opened.crash_guard.add_cleanup(opened.db.dispose)

    operator = _smoke_operator(opened) if smoke else ask_operator(opened, demo=demo)
    if operator is None:  # Quit at the first dialog: nothing was written
        opened.db.dispose()
        opened.crash_guard.stop()
        return 1 if smoke else 0

    # The one bridge from the change feed: screens follow what any process commits. Listening
    # before the window reads anything (up to 2 s for a server), so nothing goes unheard.
    changes = ChangeBridge(opened.db)
    changes.start(wait_s=2.0)
    window = MainWindow(
        opened.db,
        opened.site,
        operator=operator,
        data_dir=data_dir,
        demo_password=DEMO_PASSWORD if demo else None,
        changes=changes,
    )
    watch = _install_idle_lock(app, window, load_counter_settings(opened.db).idle_lock_minutes)
    # Another MeterDesk polls the site (the server's 'serve', the first console): attach.
    attached = attach or another_owns_site(opened.db)
    runtime = Runtime(
        opened.db,
        RuntimeOptions(
            interval_s=DEMO_INTERVAL_S if demo else 900,
            posting_s=DEMO_POSTING_S if demo else DEFAULT_POSTING_S,
            attached=attached,
        ),
    )
    window.account_changed.connect(runtime.account_changed)  # a cut room is restored at once
    window.attach_runtime(runtime)  # live load for the overview and charts, relay commands
    # A settlement's final bill holds the usage rated up to that moment.
    window.accounts.before_settle = lambda account_id: runtime.post_and_wait([account_id])
    tune_collector()
    monitor = StallMonitor(parent=window)
    # Fitted to its screen, or as saved for that screen (in the data folder, beside the site),
    # with the cursor in the Counter's search field.
    window.show_signed_in(QSettings(str(data_dir / "window.ini"), QSettings.Format.IniFormat))
    window.reload()
    window.open_setup_if_new()  # a site not set up yet opens on the setup guide
    # Polling starts beside the window, never on the GUI thread: setting up hundreds of
    # simulated meters and threads would freeze the first frames.
    starter = threading.Thread(
        target=start_quietly(runtime.start), name="runtime start", daemon=True
    )
    starter.start()
    monitor.start()
    started = time.perf_counter()

    if smoke_seconds is not None:
        smoke_ms = round(smoke_seconds * 1000)

        def finish() -> None:
            monitor.stop()
            counts = window.loaded_counts
            report = {
                "ok": all(counts.values()),
                "window": window.windowTitle(),
                "operator": window.operator.username,
                "screens": [key for key, _label, _page in window.pages],
                "rows_loaded": counts,
                "max_stall_ms": round(monitor.max_ms, 1),
                "p99_stall_ms": round(monitor.percentile_ms(0.99), 1),
                "seconds": round(time.perf_counter() - started, 2),
                "database": opened.db.display_name,
                "seeded_demo": opened.seeded_demo,
                "buses_polled": len(runtime.workers),
                "attached": runtime.options.attached,
                "snapshots_stored": runtime.engine.totals.snapshots,
            }
            print(json.dumps(report, ensure_ascii=False), flush=True)  # noqa: T201
            window.close()

        QTimer.singleShot(smoke_ms, finish)

    code = app.exec()
    changes.stop()
    watch.uninstall(app)
    window.close()
    starter.join()
    runtime.stop()
    wait_for_background()
    opened.db.dispose()
    opened.crash_guard.stop()
    if smoke and not all(window.loaded_counts.values()):
        return 1
    return int(code)
