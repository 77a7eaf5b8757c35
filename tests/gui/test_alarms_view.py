"""The alarm centre driven with the keyboard: list, filters, acknowledge with a note."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from sqlalchemy import select

from app.application import make_application
from app.demo.site import DEMO_PASSWORD
from app.services.operators import SignedIn, login
from app.store.database import Database
from app.store.models import Alarm, AuditEvent, Meter, utc_now
from app.views.alarms_view import AlarmsView, kind_labels
from app.vocabulary import AlarmKind, AlarmSeverity, AlarmState


def add_alarms(db: Database) -> dict[str, int]:
    with db.transaction() as session:
        meters = list(session.scalars(select(Meter).order_by(Meter.id)))
        b_meter = next(m for m in meters if m.room is not None and m.room.label.startswith("B-"))
        specs = [
            ("cut_off", AlarmSeverity.CRITICAL, AlarmState.ACTIVE, meters[0], None),
            (
                "load_guard_trip",
                AlarmSeverity.CRITICAL,
                AlarmState.ACTIVE,
                b_meter,
                {"power_w": 2450.0, "mode": "total"},
            ),
            ("low_balance_1", AlarmSeverity.WARNING, AlarmState.ACTIVE, meters[1], None),
            ("meter_offline", AlarmSeverity.WARNING, AlarmState.CLEARED, meters[2], None),
        ]
        ids = {}
        for kind, severity, state, meter, evidence in specs:
            alarm = Alarm(
                kind=kind,
                severity=severity,
                state=state,
                meter_id=meter.id,
                account_id=meter.account_id,
                message=f"{kind.replace('_', ' ')} on {meter.serial}",
                evidence=evidence,
                raised_at=utc_now(),
                cleared_at=utc_now() if state == AlarmState.CLEARED else None,
            )
            session.add(alarm)
            session.flush()
            ids[kind] = alarm.id
    return ids


@pytest.fixture
def view(qtbot, demo_db: Database) -> AlarmsView:  # type: ignore[no-untyped-def]
    make_application()
    who: SignedIn = login(demo_db, "supervisor", DEMO_PASSWORD)
    add_alarms(demo_db)
    widget = AlarmsView(demo_db, lambda: who)
    widget.resize(1200, 600)
    qtbot.addWidget(widget)
    widget.show()
    with qtbot.waitSignal(widget.rows_loaded, timeout=10_000):
        widget.reload()
    return widget


def shown(view: AlarmsView) -> list[str]:
    model = view.list.model
    return sorted(model.row_at(i).kind for i in range(model.rowCount()))


def test_lists_active_alarms_by_default_and_filters(qtmodeltester, view: AlarmsView) -> None:  # type: ignore[no-untyped-def]
    qtmodeltester.check(view.list.model)
    assert shown(view) == ["cut_off", "load_guard_trip", "low_balance_1"]
    view.state_filter.setCurrentIndex(view.state_filter.findData(None))
    assert len(shown(view)) == 4
    view.state_filter.setCurrentIndex(view.state_filter.findData("cleared"))
    assert shown(view) == ["meter_offline"]
    view.state_filter.setCurrentIndex(view.state_filter.findData(None))
    view.severity_filter.setCurrentIndex(view.severity_filter.findData("critical"))
    assert shown(view) == ["cut_off", "load_guard_trip"]
    view.building_filter.setCurrentIndex(view.building_filter.findData("B"))
    assert shown(view) == ["load_guard_trip"]
    assert "power_w: 2450.0" in view.detail.text()
    view.building_filter.setCurrentIndex(0)
    view.severity_filter.setCurrentIndex(0)
    view.kind_filter.setCurrentIndex(view.kind_filter.findData("low_balance_1"))
    assert shown(view) == ["low_balance_1"]
    row = view.list.model.row_at(0)
    assert view.list.model.data(view.list.model.index(0, 2)) == "Low balance 1"
    assert view.list.model.data(view.list.model.index(0, 3)) == row.room_label
    qtmodeltester.check(view.list.model)


def test_acknowledge_with_keystrokes(qtbot, view: AlarmsView, demo_db: Database) -> None:  # type: ignore[no-untyped-def]
    view.kind_filter.setCurrentIndex(view.kind_filter.findData("cut_off"))
    assert view.list.current_row().kind == "cut_off"
    view.list.table.setFocus()
    assert view.ack_button.isEnabled()
    qtbot.keyClick(view.list.table, Qt.Key.Key_K, Qt.KeyboardModifier.ControlModifier)
    dialog = view.dialog
    assert dialog is not None
    qtbot.waitUntil(dialog.isVisible, timeout=5000)
    # Enter with a blank note is refused at the note.
    qtbot.keyClick(dialog.note, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: not dialog.note_error.isHidden(), timeout=5000)
    assert "Write a note" in dialog.note_error.text()
    qtbot.keyClicks(dialog.note, "Tenant called, paying today")
    with qtbot.waitSignal(view.rows_loaded, timeout=10_000):
        qtbot.keyClick(dialog.note, Qt.Key.Key_Return)
    assert not dialog.isVisible()
    assert shown(view) == []  # filtered to active cut-offs: none left
    view.state_filter.setCurrentIndex(view.state_filter.findData("acknowledged"))
    row = view.list.current_row()
    assert row.kind == "cut_off"
    assert row.state is AlarmState.ACKNOWLEDGED
    assert row.ack_note == "Tenant called, paying today"
    assert "Tenant called" in view.detail.text()
    assert not view.ack_button.isEnabled()
    with demo_db.session() as session:
        actions = list(session.scalars(select(AuditEvent.action)))
    assert actions.count("alarm.acknowledge") == 1


def test_the_kind_filter_offers_every_kind_the_runtime_raises(view: AlarmsView) -> None:
    """The kinds come from ``AlarmKind``: a new kind cannot be missing from the filter."""
    labels = kind_labels()
    assert list(labels) == list(AlarmKind)
    assert all(labels.values())
    offered = [view.kind_filter.itemData(i) for i in range(view.kind_filter.count())]
    assert offered == [None, *(kind.value for kind in AlarmKind)]
