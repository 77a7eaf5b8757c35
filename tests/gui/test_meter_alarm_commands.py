"""The Meter detail's Commands tab names the meter's own alarm commands (issue 17: the meter as a
notice channel) and says what became of them: acknowledged by the meter, or failed and why."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

from PySide6.QtCore import Qt
from sqlalchemy import select

from app.application import make_application
from app.demo.site import DEMO_PASSWORD
from app.services.operators import login
from app.store.database import Database
from app.store.models import Meter, RelayCommand
from app.ui.background import wait_for_background
from app.views.meter_detail_dialog import MeterDetailDialog
from app.vocabulary import CommandState, RelayAction

WAIT_MS = 60_000  # a bound for a stuck test, never a measurement


def test_alarm_commands_are_listed_by_name(qtbot, demo_db: Database) -> None:  # type: ignore[no-untyped-def]
    now = datetime.now(UTC)
    with demo_db.transaction() as session:
        meter = session.scalars(
            select(Meter).where(Meter.profile == "dlt645-2007").order_by(Meter.id)
        ).first()
        assert meter is not None
        meter_id = meter.id
        session.add_all(
            [
                RelayCommand(
                    meter_id=meter_id,
                    action=RelayAction.ALARM_ON,
                    reason="Balance 9.00 is below alarm 2 (10.00)",
                    requested_at=now - timedelta(minutes=2),
                    state=CommandState.VERIFIED,
                    attempts=1,
                    completed_at=now - timedelta(minutes=2),
                ),
                RelayCommand(
                    meter_id=meter_id,
                    action=RelayAction.ALARM_OFF,
                    reason="Balance 60.00 after a recharge",
                    requested_at=now - timedelta(minutes=1),
                    state=CommandState.FAILED,
                    attempts=2,
                    completed_at=now - timedelta(minutes=1),
                    error="no reply within 300 ms",
                ),
            ]
        )
    admin = login(demo_db, "admin", DEMO_PASSWORD)
    make_application()
    dialog = MeterDetailDialog(demo_db, meter_id, lambda: admin, None)
    qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: dialog.detail is not None, timeout=WAIT_MS)
    dialog.resize(1280, 720)
    dialog.show()
    model = dialog.tabs.commands
    rows = {
        model.index(row, 1).data(): [model.index(row, c).data() for c in range(model.columnCount())]
        for row in range(model.rowCount())
    }
    assert rows["Alarm off"][3] == "Failed"
    assert rows["Alarm off"][4] == "—"
    assert model.index(0, 1).data() == "Alarm off"  # newest first
    assert model.index(0, 3).data(Qt.ItemDataRole.ToolTipRole) == "no reply within 300 ms"
    assert rows["Alarm on"][3] == "Verified"
    assert rows["Alarm on"][4] == "Acknowledged by the meter"
    shot = os.environ.get("METERDESK_SCREENSHOT_DIR")
    if shot:  # a person looks at it: the Commands tab at 1280x720
        dialog.tabs.setCurrentWidget(dialog.tabs.commands_view)
        dialog.grab().save(os.path.join(shot, "meter_alarm_commands.png"))
    dialog.close()
    wait_for_background()
