"""The status bar always shows the count of active critical alarms; a new one beeps and
flashes, and the count follows alarms raised, acknowledged and cleared."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import update

from app.store.database import Database
from app.store.models import Alarm
from app.ui.alarm_badge import AlarmBadge
from app.views.main_window import MainWindow
from app.vocabulary import AlarmSeverity, AlarmState


def test_the_badge_flashes_when_the_count_rises(qtbot) -> None:  # type: ignore[no-untyped-def]
    badge = AlarmBadge()
    qtbot.addWidget(badge)
    with qtbot.waitSignal(badge.rose, timeout=1000):
        badge.set_count(2)
    assert badge.text() == "2 critical alarm(s)"
    assert badge.flashing
    qtbot.waitUntil(lambda: not badge.flashing, timeout=5000)
    with qtbot.assertNotEmitted(badge.rose):
        badge.set_count(1)  # one acknowledged: no cue
    badge.set_count(0)
    assert badge.text() == "No critical alarms"


def test_the_status_bar_counts_active_critical_alarms(  # type: ignore[no-untyped-def]
    qtbot, main_window: MainWindow, demo_db: Database
) -> None:
    def counted() -> int:
        main_window.count_alarms()
        qtbot.wait(50)
        return main_window.alarm_badge.count

    before = counted()
    with demo_db.transaction() as session:
        alarm = Alarm(
            kind="load_guard_lockout",
            severity=AlarmSeverity.CRITICAL,
            state=AlarmState.ACTIVE,
            message="heater tripped three times",
            raised_at=datetime.now(UTC),
        )
        session.add(alarm)
        session.flush()
        alarm_id = alarm.id
    qtbot.waitUntil(lambda: counted() == before + 1, timeout=5000)
    assert f"{before + 1} critical" in main_window.alarm_badge.text()
    with demo_db.transaction() as session:
        session.execute(update(Alarm).where(Alarm.id == alarm_id).values(state=AlarmState.CLEARED))
    qtbot.waitUntil(lambda: counted() == before, timeout=5000)
    assert main_window.stack.indexOf(main_window.alarms) == 3  # Ctrl+4
