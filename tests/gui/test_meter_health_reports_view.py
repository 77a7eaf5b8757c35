"""The meter health report on the Reports screen: a supervisor picks it, sees its groupings
(per meter, per bus), makes it over the poll health the runtime wrote, the worst meter first
with its hours offline, and the chart of hours offline."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from app.demo.site import DEMO_PASSWORD
from app.hardware.bus_worker import BusMeter, BusWorker
from app.hardware.link import LineSettings
from app.hardware.profiles import load_profile
from app.queries.report_table import ReportTable
from app.runtime.health_days import HealthDays
from app.services.operators import login
from app.store.database import Database
from app.store.models import Bus, Meter
from app.ui.background import wait_for_background
from tests.gui.test_reports_view import made, view_for


def counted_health(db: Database) -> tuple[str, str]:
    """An hour of polls of the site's first eight meters, the third offline for 45 minutes,
    flushed as the runtime does; the offline meter's serial and bus."""
    with db.session() as session:
        rows = session.execute(
            select(Meter.id, Meter.serial, Meter.address, Meter.profile).order_by(Meter.id).limit(8)
        ).all()
        bus_name = session.scalar(
            select(Bus.name).join(Meter, Meter.bus_id == Bus.id).where(Meter.id == rows[2][0])
        )
    bus = BusWorker(
        "bus",
        "sim://gui",
        LineSettings(),
        [BusMeter(i, address, load_profile(profile)) for i, _s, address, profile in rows],
        lambda _snapshot: None,
    )
    now = datetime.now(UTC)
    clock = [now - timedelta(hours=1)]
    health = HealthDays(lambda: [bus], clock=lambda: clock[0])
    for index, (_id, _serial, address, _profile) in enumerate(rows):
        for _ in range(300):
            bus.stats.poll_done(address, True, 20.0, (now - timedelta(minutes=45)).timestamp())
        for _ in range(index % 4):
            bus.stats.count_fault(address, "timeouts", "no answer")
            bus.stats.poll_done(address, False, None, 0.0)
    bus.stats.set_online(rows[2][2], False)
    clock[0] = now  # an hour later
    with db.transaction() as session:
        health.flush(session)
    return str(rows[2][1]), str(bus_name)


def test_a_supervisor_makes_the_meter_health_report(qtbot, demo_db: Database) -> None:  # type: ignore[no-untyped-def]
    offline, offline_bus = counted_health(demo_db)
    view = view_for(qtbot, demo_db, login(demo_db, "supervisor", DEMO_PASSWORD))
    view.resize(1280, 720)
    view.report_box.setCurrentIndex(view.report_box.findData("meter-health"))
    assert "Meter health" in view.report_box.currentText()
    assert [view.by_box.itemData(i) for i in range(view.by_box.count())] == ["meter", "bus"]
    view.preset_box.setCurrentIndex(view.preset_box.findData("today"))
    table: ReportTable = made(qtbot, view)
    assert table.name == "meter_health"
    assert table.rows[0][table.column("meter")] == offline
    assert view.model.rowCount() == len(table.rows) + 1
    assert view.chart.isVisible()
    shot = os.environ.get("METERDESK_SHOT_DIR")
    if shot:  # a picture to look at, when asked for
        view.grab().save(str(Path(shot) / "meter_health_report.png"))
    view.by_box.setCurrentIndex(view.by_box.findData("bus"))
    buses = made(qtbot, view)
    assert buses.rows[0][buses.column("bus")] == offline_bus
    view.close()
    wait_for_background()
