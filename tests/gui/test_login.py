"""Operator sign-in at the console: the login dialog, the first start's administrator, the idle
lock and the lock screen, driven with real keystrokes."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, Qt, QTimer
from PySide6.QtWidgets import QApplication, QDialog, QLineEdit, QWidget

from app.application import make_application, run_gui
from app.demo.site import DEMO_PASSWORD
from app.queries.site_facts import SiteInfo
from app.services.operators import database_needs_first_admin, login
from app.store.database import Database, sqlite_url_for
from app.ui.idle_watch import IdleWatch
from app.views.login_dialog import FirstAdminDialog, LoginDialog
from app.views.main_window import MainWindow
from app.vocabulary import Role
from tests.support import run_python

ENTER = Qt.Key.Key_Return


def type_into(qtbot, edit: QLineEdit, text: str, *, replace: bool = False) -> None:  # type: ignore[no-untyped-def]
    if replace:
        qtbot.keyClick(edit, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClicks(edit, text)


@pytest.fixture
def empty_db(migrated_db: Database) -> Database:
    """A migrated database with no site and no operator, as on a first start."""
    return migrated_db


def test_wrong_password_is_refused_in_the_dialog_and_the_right_one_signs_in(  # type: ignore[no-untyped-def]
    qtbot, demo_db: Database, site: SiteInfo
) -> None:
    make_application()
    dialog = LoginDialog(demo_db, site.name, demo_password=DEMO_PASSWORD)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    assert dialog.title.text() == site.name
    assert dialog.focusWidget() is dialog.username
    assert dialog.password.echoMode() == QLineEdit.EchoMode.Password
    assert dialog.demo_hint is not None
    assert "cashier" in dialog.demo_hint.text()
    assert DEMO_PASSWORD in dialog.demo_hint.text()

    type_into(qtbot, dialog.username, "cashier")
    qtbot.keyClick(dialog.username, ENTER)  # the password is still empty: Enter goes there
    assert dialog.focusWidget() is dialog.password
    assert not dialog.error.isVisible()

    type_into(qtbot, dialog.password, "not-the-password")
    qtbot.keyClick(dialog.password, ENTER)
    assert dialog.isVisible()
    assert dialog.result() != QDialog.DialogCode.Accepted
    assert dialog.signed_in is None
    assert dialog.error.isVisible()
    assert dialog.error.text() == "The user name or the password is wrong; try again."
    assert dialog.password.text() == "", "a refused password is cleared for the next try"
    assert dialog.focusWidget() is dialog.password
    assert dialog.sign_in_button.isEnabled()

    type_into(qtbot, dialog.password, DEMO_PASSWORD)
    assert not dialog.error.isVisible(), "typing again takes the old message away"
    with qtbot.waitSignal(dialog.accepted, timeout=5_000):
        qtbot.keyClick(dialog.password, ENTER)
    who = dialog.signed_in
    assert who is not None
    assert (who.username, who.display_name) == ("cashier", "Counter cashier")
    assert who.role is Role.CASHIER
    assert who == login(demo_db, "cashier", DEMO_PASSWORD)


def test_escape_quits_the_start_screen_and_empty_fields_are_named(  # type: ignore[no-untyped-def]
    qtbot, demo_db: Database, site: SiteInfo
) -> None:
    make_application()
    dialog = LoginDialog(demo_db, site.name)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    assert dialog.demo_hint is None
    qtbot.mouseClick(dialog.sign_in_button, Qt.MouseButton.LeftButton)
    assert dialog.error.text() == "Type your user name."
    assert dialog.isVisible()
    with qtbot.waitSignal(dialog.rejected, timeout=2_000):
        qtbot.keyClick(dialog.username, Qt.Key.Key_Escape)
    assert dialog.result() == QDialog.DialogCode.Rejected
    assert dialog.signed_in is None


def test_first_start_sets_up_the_administrator(qtbot, empty_db: Database) -> None:  # type: ignore[no-untyped-def]
    make_application()
    assert database_needs_first_admin(empty_db)
    dialog = FirstAdminDialog(empty_db, "Block C")
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    assert dialog.focusWidget() is dialog.username
    assert dialog.username.selectedText() == "admin", "the suggested name is replaced by typing"

    qtbot.keyClicks(dialog.username, "chief")
    assert dialog.username.text() == "chief"
    qtbot.keyClick(dialog.username, ENTER)
    assert dialog.focusWidget() is dialog.display_name
    qtbot.keyClicks(dialog.display_name, "Chief of site")
    qtbot.keyClick(dialog.display_name, ENTER)
    assert dialog.focusWidget() is dialog.password

    # Two passwords that differ: said at the repeat field, nothing written.
    type_into(qtbot, dialog.password, "correct horse")
    qtbot.keyClick(dialog.password, ENTER)
    assert dialog.focusWidget() is dialog.repeat
    type_into(qtbot, dialog.repeat, "correct hose")
    qtbot.keyClick(dialog.repeat, ENTER)
    assert dialog.mismatch.isVisible()
    assert "differ" in dialog.mismatch.text()
    assert dialog.repeat.text() == ""
    assert dialog.focusWidget() is dialog.repeat
    assert dialog.isVisible()
    assert database_needs_first_admin(empty_db)

    # A short password: the service's message, nothing written.
    type_into(qtbot, dialog.password, "short", replace=True)
    assert not dialog.mismatch.isVisible()
    type_into(qtbot, dialog.repeat, "short")
    qtbot.keyClick(dialog.repeat, ENTER)
    assert dialog.error.isVisible()
    assert dialog.error.text() == "The password has 5 characters; give at least 8."
    assert dialog.isVisible()
    assert dialog.create_button.isEnabled()
    assert database_needs_first_admin(empty_db)

    type_into(qtbot, dialog.password, "correct horse", replace=True)
    type_into(qtbot, dialog.repeat, "correct horse", replace=True)
    assert not dialog.error.isVisible()
    with qtbot.waitSignal(dialog.accepted, timeout=5_000):
        qtbot.keyClick(dialog.repeat, ENTER)
    who = dialog.signed_in
    assert who is not None
    assert (who.username, who.display_name, who.role) == ("chief", "Chief of site", Role.ADMIN)
    assert not database_needs_first_admin(empty_db)
    assert login(empty_db, "chief", "correct horse").operator_id == who.operator_id


def test_idle_watch_fires_after_the_interval_without_input(qtbot) -> None:  # type: ignore[no-untyped-def]
    app = make_application()
    watch = IdleWatch()
    watch.install(app)
    try:
        assert not watch.counting, "0 minutes: never locks"
        watch.set_interval_ms(150)
        started = time.monotonic()
        with qtbot.waitSignal(watch.idle, timeout=3_000):
            pass
        assert time.monotonic() - started >= 0.14
        assert not watch.counting, "after idle it waits for the next input"
        watch.set_minutes(5)
        assert watch.interval_ms == 300_000
        assert watch.counting
        watch.set_minutes(0)
        assert not watch.counting
    finally:
        watch.uninstall(app)


def test_idle_watch_stays_quiet_while_input_keeps_coming_and_while_paused(qtbot) -> None:  # type: ignore[no-untyped-def]
    app = make_application()
    widget = QLineEdit()
    qtbot.addWidget(widget)
    widget.show()
    qtbot.waitExposed(widget)
    watch = IdleWatch()
    fired: list[float] = []
    watch.idle.connect(lambda: fired.append(time.monotonic()))
    watch.install(app)
    try:
        watch.set_interval_ms(200)
        # Keystrokes, clicks and mouse moves for three times the interval: no idle.
        for step in range(12):
            if step % 3 == 0:
                qtbot.keyClick(widget, Qt.Key.Key_X)
            elif step % 3 == 1:
                qtbot.mouseClick(widget, Qt.MouseButton.LeftButton)
            else:
                qtbot.mouseMove(widget, QPoint(5 + step, 5))
            last_input = time.monotonic()
            qtbot.wait(50)
        assert fired == []
        qtbot.waitUntil(lambda: len(fired) == 1, timeout=3_000)
        assert fired[0] - last_input >= 0.15, "counted from the last input"

        # Paused (the lock screen is up): input and time pass, no idle; resume counts again.
        watch.pause()
        qtbot.keyClick(widget, Qt.Key.Key_Y)
        qtbot.wait(400)
        assert len(fired) == 1
        watch.resume()
        qtbot.waitUntil(lambda: len(fired) == 2, timeout=3_000)
    finally:
        watch.uninstall(app)


def test_lock_screen_lets_another_operator_take_over(  # type: ignore[no-untyped-def]
    qtbot, main_window: MainWindow
) -> None:
    window = main_window
    assert window.operator.username == "admin"
    assert window.operator_label.text() == "Signed in: Site administrator (Administrator)"
    changes: list[object] = []
    window.operator_changed.connect(changes.append)

    with qtbot.waitSignal(window.lock_changed, timeout=2_000) as locked:
        window.lock()
    assert locked.args == [True]
    dialog = window.lock_dialog
    assert dialog is not None
    assert dialog.is_lock_screen
    qtbot.waitExposed(dialog)
    assert QApplication.activeModalWidget() is dialog
    assert not window.centralWidget().isVisible(), "the screens are hidden behind the lock"
    assert dialog.subtitle.text() == (
        "Locked — Site administrator. Type your password to go on, or sign in as someone else."
    )
    assert dialog.username.text() == "admin"
    assert dialog.focusWidget() is dialog.password

    qtbot.keyClick(dialog.password, Qt.Key.Key_Escape)
    assert dialog.isVisible(), "Esc does not take the lock away"
    assert window.is_locked
    window.lock()  # already locked: nothing changes
    assert window.lock_dialog is dialog

    type_into(qtbot, dialog.username, "cashier", replace=True)
    type_into(qtbot, dialog.password, DEMO_PASSWORD)
    with qtbot.waitSignal(window.operator_changed, timeout=5_000):
        qtbot.keyClick(dialog.password, ENTER)
    assert not window.is_locked
    assert window.centralWidget().isVisible()
    assert window.operator.username == "cashier"
    assert window.operator.role is Role.CASHIER
    assert changes == [window.operator]
    assert window.operator_label.text() == "Signed in: Counter cashier (Cashier)"


def test_unlocking_as_the_same_person_changes_nobody(  # type: ignore[no-untyped-def]
    qtbot, main_window: MainWindow
) -> None:
    window = main_window
    before = window.operator
    window.lock()
    dialog = window.lock_dialog
    assert dialog is not None
    qtbot.waitExposed(dialog)
    type_into(qtbot, dialog.password, "wrong password")
    qtbot.keyClick(dialog.password, ENTER)
    assert window.is_locked
    assert dialog.error.text() == "The user name or the password is wrong; try again."
    with (
        qtbot.assertNotEmitted(window.operator_changed),
        qtbot.waitSignal(window.lock_changed, timeout=5_000) as unlocked,
    ):
        type_into(qtbot, dialog.password, DEMO_PASSWORD)
        qtbot.keyClick(dialog.password, ENTER)
    assert unlocked.args == [False]
    assert window.operator == before
    assert not window.is_locked


def test_ctrl_l_locks_the_window(qtbot, main_window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    window = main_window
    window.activateWindow()
    qtbot.waitActive(window)
    with qtbot.waitSignal(window.lock_changed, timeout=2_000):
        qtbot.keyClick(window, Qt.Key.Key_L, Qt.KeyboardModifier.ControlModifier)
    assert window.is_locked


def _answer_modal(action: str, seen: list[QWidget]) -> None:
    """Close the application-modal dialog run_gui shows (exec() blocks the test meanwhile)."""

    def act() -> None:
        dialog = QApplication.activeModalWidget()
        if not isinstance(dialog, QDialog):
            QTimer.singleShot(50, act)
            return
        seen.append(dialog)
        if action == "quit":
            dialog.reject()

    QTimer.singleShot(50, act)


def test_quitting_the_first_start_writes_nothing(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    make_application()
    data = tmp_path / "new-site"
    seen: list[QWidget] = []
    _answer_modal("quit", seen)
    assert run_gui(data, None) == 0
    assert len(seen) == 1
    assert isinstance(seen[0], FirstAdminDialog)
    assert not (data / "session.lock").exists()
    db = Database(sqlite_url_for(data))
    try:
        assert database_needs_first_admin(db), "no operator was written"
    finally:
        db.dispose()


def test_quitting_the_sign_in_ends_the_console(  # type: ignore[no-untyped-def]
    qtbot, demo_db_file: Path, tmp_path: Path
) -> None:
    make_application()
    data = tmp_path / "demo-site"
    data.mkdir()
    (data / "meterdesk.sqlite3").write_bytes(demo_db_file.read_bytes())
    seen: list[QWidget] = []
    _answer_modal("quit", seen)
    assert run_gui(data, None, demo=True) == 0
    assert len(seen) == 1
    assert isinstance(seen[0], LoginDialog)
    assert not seen[0].is_lock_screen
    assert not (data / "session.lock").exists()


# The whole start runs in a process of its own: once app.exec() has quit, Qt refuses to
# activate windows in that process, which would break the tests that run after it here.
FIRST_START_SCRIPT = """
import json, sys
from pathlib import Path
from PySide6.QtCore import Qt, QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QDialog
from app.application import make_application, run_gui
from app.ui.idle_watch import IdleWatch
from app.views.login_dialog import FirstAdminDialog
from app.views.main_window import MainWindow

seen, errors = [], []
ENTER = Qt.Key.Key_Return

def step(action):
    def run():
        try:
            action()
        except BaseException as exc:  # reported, and the run ends instead of hanging
            errors.append(repr(exc))
            modal = QApplication.activeModalWidget()
            if isinstance(modal, FirstAdminDialog):
                modal.reject()
            for widget in QApplication.topLevelWidgets():
                if isinstance(widget, MainWindow):
                    widget.close()
    return run

def set_up_admin():
    dialog = QApplication.activeModalWidget()
    if not isinstance(dialog, FirstAdminDialog):
        QTimer.singleShot(50, step(set_up_admin))
        return
    # Typed as a person does it: Enter moves on to the next empty field, then creates.
    for edit, text in [(dialog.username, "boss"), (dialog.display_name, ""),
                       (dialog.password, "long enough"), (dialog.repeat, "long enough")]:
        assert dialog.focusWidget() is edit, edit
        QTest.keyClicks(edit, text)
        QTest.keyClick(edit, ENTER)
    assert dialog.result() == QDialog.DialogCode.Accepted, dialog.error.text()
    QTimer.singleShot(50, step(make_idle_quick))

def main_window():
    shown = QApplication.topLevelWidgets()
    return next((w for w in shown if isinstance(w, MainWindow) and w.isVisible()), None)

def make_idle_quick():
    window = main_window()
    if window is None:  # run_gui is still between the dialog and the window
        QTimer.singleShot(50, step(make_idle_quick))
        return
    seen.append(["operator", window.operator.username, window.operator.role.value])
    watch = window.findChild(IdleWatch)
    watch.set_interval_ms(150)
    window.lock_changed.connect(lambda locked: seen.append(["locked", locked, watch.paused]))
    window.lock_changed.connect(lambda locked: locked and QTimer.singleShot(0, step(unlock)))

def unlock():
    window = main_window()
    dialog = window.lock_dialog
    QTest.keyClicks(dialog.password, "long enough")
    QTest.keyClick(dialog.password, ENTER)
    seen.append(["unlocked by", window.operator.username])
    window.close()

make_application()
QTimer.singleShot(50, step(set_up_admin))
code = run_gui(Path(sys.argv[1]), None)
print(json.dumps({"code": code, "seen": seen, "errors": errors}))
"""


def test_first_start_opens_the_console_for_the_new_admin_and_locks_it_when_idle(
    tmp_path: Path,
) -> None:
    """The whole start as run_gui does it: set up the administrator, who is then signed in;
    the idle watch locks the window and is paused while the lock screen is up."""
    result = run_python(
        ["-c", FIRST_START_SCRIPT, str(tmp_path / "new-site")],
        env={"QT_QPA_PLATFORM": "offscreen"},
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["errors"] == []
    assert report["code"] == 0
    assert report["seen"] == [
        ["operator", "boss", "admin"],
        ["locked", True, True],
        ["locked", False, False],
        ["unlocked by", "boss"],
    ]
