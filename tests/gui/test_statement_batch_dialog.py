"""The Reports screen's "Statements for a building…" and its term presets: a clerk writes the
statements of one floor of the demo site into a folder off the GUI thread, the progress bar
follows, and the dialog says how many were written and which file to print; "This term" and
"Last term" fill in the site's terms, and say so when there is none; a cashier may not."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from PySide6.QtCore import Qt
from sqlalchemy import select

from app.demo.site import DEMO_PASSWORD
from app.services.operators import SignedIn, login
from app.services.settings import change_setting
from app.services.statement_batch import StatementBatch
from app.store.database import Database
from app.store.models import Account, Building, Room
from app.ui.background import wait_for_background
from app.views.reports_view import ReportsView
from app.views.statement_batch_dialog import StatementBatchDialog, recent_months
from tests.gui.test_reports_view import WAIT_MS, view_for

ZONE = "Asia/Shanghai"  # the demo site's


def site_view(qtbot, db: Database, who: SignedIn) -> ReportsView:  # type: ignore[no-untyped-def]
    view = view_for(qtbot, db, who)
    view.zone = ZONE
    qtbot.waitUntil(lambda: len(view.buildings) > 0, timeout=WAIT_MS)
    return view


def open_dialog(qtbot, view: ReportsView) -> StatementBatchDialog:  # type: ignore[no-untyped-def]
    view.statements_button.click()
    dialog = view.statements_dialog
    assert dialog is not None
    qtbot.waitExposed(dialog)
    return dialog


def test_a_clerk_writes_the_statements_of_a_floor(
    qtbot,  # type: ignore[no-untyped-def]
    demo_db: Database,
    tmp_path: Path,
) -> None:
    view = site_view(qtbot, demo_db, login(demo_db, "office", DEMO_PASSWORD))
    dialog = open_dialog(qtbot, view)
    today = datetime.now(ZoneInfo(ZONE)).date()
    assert dialog.month_box.currentText() == recent_months(today)[1]  # last month first
    assert not dialog.floor_box.isEnabled()  # the whole site has no floor to choose
    dialog.month_box.setCurrentIndex(0)  # this month: the demo's accounts are open in it
    dialog.building_box.setCurrentIndex(dialog.building_box.findData("A"))
    assert dialog.floor_box.isEnabled()
    dialog.floor_box.setCurrentIndex(dialog.floor_box.findData(2))
    folder = tmp_path / "statements"
    dialog.folder_edit.setText(str(folder))
    seen: list[int] = []
    dialog.progressed.connect(lambda done, _total, _room: seen.append(done))

    with qtbot.waitSignal(dialog.finished_batch, timeout=WAIT_MS) as finished:
        qtbot.mouseClick(dialog.write_button, Qt.MouseButton.LeftButton)
        assert not dialog.close_button.isEnabled()  # the batch runs: the dialog stays
    batch = finished.args[0]
    assert isinstance(batch, StatementBatch)

    with demo_db.session() as session:
        wanted = set(
            session.scalars(
                select(Account.number)
                .join(Room, Room.id == Account.room_id)
                .join(Building, Building.id == Room.building_id)
                .where(Building.code == "A", Room.floor == 2)
            )
        )
    assert {w.account_number for w in batch.written} == wanted
    assert len(list(folder.glob("statement-*.pdf"))) == len(wanted)
    assert batch.combined is not None
    assert batch.combined.is_file()
    assert seen == list(range(1, len(wanted) + 1))
    status = dialog.status.text()
    assert f"{len(wanted)} statement(s) of building A, floor 2, {today:%Y-%m}" in status
    assert f"To print: {batch.combined.name} ({batch.combined_pages} pages)." in status
    assert dialog.progress.value() == dialog.progress.maximum()
    assert dialog.open_button.isEnabled()
    assert dialog.close_button.isEnabled()
    assert not dialog.refusals.isVisible()
    dialog.close()
    view.close()
    wait_for_background()


def test_a_folder_is_needed(qtbot, demo_db: Database) -> None:  # type: ignore[no-untyped-def]
    view = site_view(qtbot, demo_db, login(demo_db, "supervisor", DEMO_PASSWORD))
    dialog = open_dialog(qtbot, view)
    dialog.folder_edit.setText("  ")
    dialog.start()
    assert dialog.status.text() == "Choose the folder the statements go in."
    assert dialog.write_button.isEnabled()
    dialog.close()
    view.close()
    wait_for_background()


def test_this_term_and_last_term(qtbot, demo_db: Database) -> None:  # type: ignore[no-untyped-def]
    office = login(demo_db, "office", DEMO_PASSWORD)
    view = site_view(qtbot, demo_db, office)
    view.preset_box.setCurrentIndex(view.preset_box.findData("this_term"))
    assert "The site has no terms yet" in view.status.text()
    view.make()
    assert "The site has no terms yet" in view.status.text()  # nothing is made
    assert view.table is None

    today = datetime.now(ZoneInfo(ZONE)).date()
    now = (today - timedelta(days=20), today + timedelta(days=20))
    supervisor = login(demo_db, "supervisor", DEMO_PASSWORD)
    with demo_db.transaction() as session:
        change_setting(session, supervisor, "terms", f"this one={now[0]}..{now[1]}")
    view.reload()
    qtbot.waitUntil(lambda: len(view.terms) == 1, timeout=WAIT_MS)
    assert (view.first_edit.date().toPython(), view.last_edit.date().toPython()) == now
    assert view.status.text() == "Term this one"
    assert not view.first_edit.isEnabled()
    with qtbot.waitSignal(view.made, timeout=WAIT_MS) as made:
        view.make()
    assert made.args[0].title.endswith(f"{now[0]} to {now[1]}")

    view.preset_box.setCurrentIndex(view.preset_box.findData("last_term"))
    assert view.status.text() == "No term has ended yet; choose This term or a range."
    view.preset_box.setCurrentIndex(view.preset_box.findData("last_month"))
    first = view.first_edit.date().toPython()
    assert isinstance(first, date)
    assert first.day == 1
    view.close()
    wait_for_background()


def test_a_cashier_may_not_write_statements(qtbot, demo_db: Database) -> None:  # type: ignore[no-untyped-def]
    view = view_for(qtbot, demo_db, login(demo_db, "cashier", DEMO_PASSWORD))
    assert not view.statements_button.isEnabled()
    view.close()
    wait_for_background()
