"""Setup > Text messages: the wording of each notice in each language is shown, a wording that
cannot be filled in is refused under its field, a good one is saved as the site's, and a test
text goes through the modem the settings name (a simulated modem on a pty pair)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from app.demo.site import DEMO_PASSWORD
from app.hardware.sms.sim_modem import SimModem
from app.services.notice_templates import templates_in_use
from app.services.operators import login
from app.services.settings import SMS_PORT, change_setting
from app.store.database import Database
from app.views.main_window import MainWindow
from app.views.setup_page import SetupPage
from app.vocabulary import NoticeKind
from tests.gui.setup_helpers import LONG, fill, press
from tests.support import socat_pair

ENTER = Qt.Key.Key_Return


def open_notices(window: MainWindow, qtbot: QtBot) -> SetupPage:
    window.show_page(window.page_number("setup"))
    window.setup.open("notices")
    page = window.setup.page("notices")
    assert isinstance(page, SetupPage)
    qtbot.waitUntil(lambda: page.list.model.rowCount() == 12, timeout=LONG)
    return page


def choose(page: SetupPage, kind: NoticeKind, language: str) -> None:
    for row in range(page.list.model.rowCount()):
        page.list.table.selectRow(row)
        chosen = page.list.current_row()
        if chosen.kind is kind and chosen.language == language:
            return
    raise AssertionError(f"no row {kind} {language}")


def test_a_wording_is_checked_saved_and_a_test_text_sent(
    qtbot: QtBot, main_window: MainWindow, demo_db: Database
) -> None:
    page = open_notices(main_window, qtbot)
    choose(page, NoticeKind.RECHARGE, "zh")
    dialog = press(qtbot, page, "changeWording")
    dialog.inputs["text"].clear()  # type: ignore[attr-defined]
    fill(qtbot, dialog, text="{power}")
    qtbot.mouseClick(dialog.confirm_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.errors["text"].isVisible(), timeout=LONG)
    assert "{power} is not something a recharge notice can fill in" in (
        dialog.errors["text"].text()
    )
    # Chinese is typed through an input method, not key by key: the text arrives whole.
    dialog.inputs["text"].setPlainText("收到{amount}，余额{balance}")  # type: ignore[attr-defined]
    with qtbot.waitSignal(page.changed, timeout=LONG):
        qtbot.mouseClick(dialog.confirm_button, Qt.MouseButton.LeftButton)
    [saved] = [
        t for t in templates_in_use(demo_db) if t.kind is NoticeKind.RECHARGE and t.language == "zh"
    ]
    assert (saved.text, saved.own) == ("收到{amount}，余额{balance}", True)
    qtbot.waitUntil(
        lambda: any(
            page.list.model.index(r, 2).data() == "the site's"
            for r in range(page.list.model.rowCount())
        ),
        timeout=LONG,
    )

    console, far_end, close = socat_pair()
    try:
        boss = login(demo_db, "supervisor", DEMO_PASSWORD)
        with demo_db.transaction() as session:
            change_setting(session, boss, SMS_PORT, console)
        with SimModem(far_end, manufacturer="Quectel", model="EC200T") as modem:
            dialog = press(qtbot, page, "testText")
            fill(qtbot, dialog, to="+8613800138000")
            with qtbot.waitSignal(page.changed, timeout=LONG):
                qtbot.mouseClick(dialog.confirm_button, Qt.MouseButton.LeftButton)
            [sent] = modem.sent
        assert sent.to == "+8613800138000"
        assert "Quectel EC200T" in page.message.text()
        assert "sent to +8613800138000" in page.message.text()
    finally:
        close()
    main_window.resize(1280, 720)
    main_window.grab().save("/tmp/setup_notices.png")
