"""The sign-in lock at the console: the login dialog says the lock after the fifth wrong password
and refuses the right one while it lasts; the Operators page shows until when a name is locked
and its Unlock action lets the operator in again."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLineEdit, QPushButton
from pytestqt.qtbot import QtBot

from app.application import make_application
from app.demo.site import DEMO_PASSWORD
from app.queries.site_facts import SiteInfo
from app.services.operators import OperatorRefused, login
from app.store.database import Database
from app.views.login_dialog import LoginDialog
from app.views.main_window import MainWindow
from app.views.setup_page import SetupPage

ENTER = Qt.Key.Key_Return
LONG = 20_000


def _type(qtbot: QtBot, edit: QLineEdit, text: str) -> None:
    edit.clear()
    qtbot.keyClicks(edit, text)


def _lock(db: Database, name: str) -> None:
    for _ in range(5):
        with pytest.raises(OperatorRefused):
            login(db, name, "not-the-password")


def test_the_login_dialog_says_the_lock_and_refuses_the_right_password(
    qtbot: QtBot, demo_db: Database, site: SiteInfo
) -> None:
    make_application()
    dialog = LoginDialog(demo_db, site.name)
    qtbot.addWidget(dialog)
    dialog.show()
    _type(qtbot, dialog.username, "cashier")
    for _ in range(5):
        _type(qtbot, dialog.password, "not-the-password")
        qtbot.keyClick(dialog.password, ENTER)
    assert "cashier is locked until" in dialog.error.text()
    assert "after 5 wrong passwords in a row" in dialog.error.text()
    _type(qtbot, dialog.password, DEMO_PASSWORD)
    qtbot.keyClick(dialog.password, ENTER)
    assert dialog.signed_in is None
    assert dialog.error.text().startswith("cashier is locked until")


def test_the_operators_page_shows_the_lock_and_unlocks(
    qtbot: QtBot, main_window: MainWindow, demo_db: Database
) -> None:
    _lock(demo_db, "cashier")
    main_window.show_page(main_window.page_number("setup"))
    main_window.setup.open("operators")
    page = main_window.setup.page("operators")
    assert isinstance(page, SetupPage)
    model = page.list.model
    qtbot.waitUntil(lambda: model.rowCount() > 0, timeout=LONG)

    def sign_in_column() -> dict[str, str]:
        return {model.index(r, 0).data(): model.index(r, 5).data() for r in range(model.rowCount())}

    assert sign_in_column()["cashier"].startswith("locked until ")
    assert sign_in_column()["office"] == ""
    row = next(r for r in range(model.rowCount()) if model.index(r, 0).data() == "cashier")
    page.list.table.selectRow(row)
    unlock = next(b for b in page.findChildren(QPushButton) if b.text() == "Unlock")
    assert unlock.isEnabled(), unlock.toolTip()
    with qtbot.waitSignal(page.changed, timeout=LONG):
        qtbot.mouseClick(unlock, Qt.MouseButton.LeftButton)
    assert "cashier may sign in again." in page.message.text()
    qtbot.waitUntil(lambda: sign_in_column()["cashier"] == "", timeout=LONG)
    assert login(demo_db, "cashier", DEMO_PASSWORD).username == "cashier"
