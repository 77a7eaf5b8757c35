"""The Reports screen: a clerk makes the revenue and arrears reports of the demo site, reads
the totals, narrows to a building, saves CSV, Excel and PDF; a cashier sees why he may not."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from app.application import make_application
from app.demo.site import DEMO_PASSWORD
from app.queries.report_table import ReportTable
from app.services.operators import SignedIn, login
from app.store.database import Database
from app.ui.background import wait_for_background
from app.views.reports_view import ReportsView

WAIT_MS = 60_000  # a bound for a stuck test, never a measurement


def view_for(qtbot, db: Database, who: SignedIn) -> ReportsView:  # type: ignore[no-untyped-def]
    make_application()
    view = ReportsView(db, lambda: who)
    qtbot.addWidget(view)
    view.resize(1240, 660)
    view.show()
    return view


def made(qtbot, view: ReportsView) -> ReportTable:  # type: ignore[no-untyped-def]
    with qtbot.waitSignal(view.made, timeout=WAIT_MS) as done:
        view.make()
    table = done.args[0]
    assert isinstance(table, ReportTable)
    return table


def test_a_clerk_makes_and_saves_reports(qtbot, demo_db: Database, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    view = view_for(qtbot, demo_db, login(demo_db, "office", DEMO_PASSWORD))
    view.report_box.setCurrentIndex(view.report_box.findData("revenue"))
    view.preset_box.setCurrentIndex(view.preset_box.findData("custom"))
    view.first_edit.setDate(view.first_edit.date().addDays(-40))
    table = made(qtbot, view)
    assert table.name == "revenue"
    assert view.model.rowCount() == len(table.rows) + 1  # the totals row last
    assert view.model.index(len(table.rows), 0).data() == "Total"
    assert view.chart.isVisible()
    assert "row(s)" in view.status.text()

    qtbot.waitUntil(lambda: view.building_box.count() > 1, timeout=WAIT_MS)
    view.building_box.setCurrentIndex(view.building_box.findData("A"))
    narrowed = made(qtbot, view)
    assert narrowed.subtitle == "Building A"

    for fmt in ("csv", "xlsx", "pdf"):
        with qtbot.waitSignal(view.saved, timeout=WAIT_MS) as saved:
            view.save_to(tmp_path / f"revenue.{fmt}", fmt)
        assert saved.args[0].stat().st_size > 0
    rows = list(csv.reader(io.StringIO((tmp_path / "revenue.csv").read_text("utf-8-sig"))))
    assert rows[0][0] == "Day"
    assert rows[-1][0] == "Total"

    view.report_box.setCurrentIndex(view.report_box.findData("arrears"))
    assert not view.by_box.isVisible()
    view.preset_box.setCurrentIndex(view.preset_box.findData("today"))
    arrears = made(qtbot, view)
    assert arrears.rows  # the demo site has tenants in arrears
    view.close()
    wait_for_background()


def test_a_cashier_is_told_who_may(qtbot, demo_db: Database) -> None:  # type: ignore[no-untyped-def]
    view = view_for(qtbot, demo_db, login(demo_db, "cashier", DEMO_PASSWORD))
    assert not view.make_button.isEnabled()
    assert "you are signed in as Cashier" in view.status.text()
    view.close()
    wait_for_background()
