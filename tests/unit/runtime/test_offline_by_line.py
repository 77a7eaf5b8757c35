"""Meters offline because their line is down are marked offline without an alarm each (the
line's one alarm speaks for them); a meter still silent once its line is back gets its own."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.hardware.snapshot import LINE_DOWN, OFFLINE, Quality, Snapshot
from app.runtime.reading_store import MeterTrack, ReadingStore
from app.store.models import Alarm
from app.vocabulary import AlarmKind, Utility

T0 = datetime(2026, 12, 7, 10, 0, 0, tzinfo=UTC)


class FakeSession:
    def __init__(self) -> None:
        self.added: list[object] = []
        self.statements: list[object] = []

    def add(self, obj: object) -> None:
        self.added.append(obj)

    def execute(self, statement: object, rows: object = None) -> None:
        self.statements.append(statement)

    def scalars(self, _statement: object) -> list[object]:
        return []  # no open offline alarms to clear

    def alarms(self) -> list[Alarm]:
        return [o for o in self.added if isinstance(o, Alarm)]


def failed(meter_id: int, at: datetime, *, line_down: bool) -> Snapshot:
    status: dict[str, object] = {OFFLINE: True}
    if line_down:
        status[LINE_DOWN] = True
    error = "cannot open /dev/ttyUSB0: no such file" if line_down else "no reply within 300 ms"
    return Snapshot(
        meter_id, str(meter_id), at.timestamp(), at, Quality.FAILED, error=error, status=status
    )


def good(meter_id: int, at: datetime) -> Snapshot:
    return Snapshot(meter_id, str(meter_id), at.timestamp(), at, Quality.GOOD, power_w=10.0)


@pytest.fixture
def store() -> ReadingStore:
    store = ReadingStore()
    for meter_id in (1, 2):
        store.tracks[meter_id] = MeterTrack(meter_id, Utility.ELECTRICITY, rated_current_a=40)
    return store


def test_a_line_down_marks_its_meters_offline_without_an_alarm_each(store: ReadingStore) -> None:
    session = FakeSession()
    store.store(session, [failed(1, T0, line_down=True), failed(2, T0, line_down=True)])  # type: ignore[arg-type]
    assert store.tracks[1].offline
    assert store.tracks[2].offline
    assert len(session.statements) == 2  # each meter's status set to offline
    assert session.alarms() == []


def test_a_meter_still_silent_once_its_line_is_back_gets_its_own_alarm(
    store: ReadingStore,
) -> None:
    session = FakeSession()
    down = [failed(1, T0, line_down=True), failed(2, T0, line_down=True)]
    store.store(session, down)  # type: ignore[arg-type]
    later = T0 + timedelta(minutes=2)
    # The line is back: meter 1 answers, meter 2 does not.
    store.store(session, [good(1, later), failed(2, later, line_down=False)])  # type: ignore[arg-type]
    (alarm,) = session.alarms()
    assert alarm.kind == AlarmKind.METER_OFFLINE
    assert alarm.meter_id == 2
    assert "no reply within 300 ms" in alarm.message
    assert not store.tracks[1].offline
    # Told again, it is not raised twice.
    store.store(session, [failed(2, later + timedelta(minutes=1), line_down=False)])  # type: ignore[arg-type]
    assert len(session.alarms()) == 1


def test_a_meter_offline_before_its_line_went_down_keeps_its_one_alarm(
    store: ReadingStore,
) -> None:
    session = FakeSession()
    store.store(session, [failed(2, T0, line_down=False)])  # type: ignore[arg-type]
    store.store(session, [failed(2, T0 + timedelta(minutes=1), line_down=True)])  # type: ignore[arg-type]
    store.store(session, [failed(2, T0 + timedelta(minutes=2), line_down=False)])  # type: ignore[arg-type]
    assert len(session.alarms()) == 1
