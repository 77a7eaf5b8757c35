"""The load-safety report: every trip of the period with its evidence, and trips, lock-outs
and failed supply commands counted per room and building, most first; the scope and the
period's local days hold."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from app.demo.site import DEMO_PASSWORD, DemoSpec, seed_demo_site
from app.queries.reports.period import Period
from app.queries.reports.scope import Scope, ScopeRefused
from app.queries.reports.site_terms import site_terms
from app.services.operators import login
from app.services.reports import run_report, scope_of
from app.store.database import Database
from app.store.models import LoadTrip, Meter, RelayCommand, Room
from app.vocabulary import CommandState, RelayAction, Utility


@pytest.fixture
def site(db: Database) -> Database:
    seed_demo_site(db, DemoSpec(buildings=2, floors=1, rooms_per_floor=2))
    return db


def electricity_meters(db: Database) -> list[tuple[int, str]]:
    """(meter id, room label) of the electricity meters, building A first."""
    with db.session() as session:
        return [
            (meter_id, label)
            for meter_id, label in session.execute(
                select(Meter.id, Room.label)
                .join(Room, Room.id == Meter.room_id)
                .where(Meter.utility == Utility.ELECTRICITY)
                .order_by(Room.label)
            )
        ]


def test_trips_and_failed_commands_by_trip_room_and_building(site: Database) -> None:
    (a1, room_a1), (a2, _room_a2), (b1, room_b1), *_ = electricity_meters(site)
    with site.session() as session:
        zone = site_terms(session).zone
    today = datetime.now(zone).date()
    noon = datetime.combine(today, datetime.min.time(), zone).replace(hour=12).astimezone(UTC)
    with site.transaction() as session:
        for meter_id, locked in ((a1, False), (a1, True), (b1, False)):
            session.add(
                LoadTrip(
                    meter_id=meter_id,
                    tripped_at=noon,
                    mode="increment",
                    power_w=2150.4,
                    delta_power_w=1800.0,
                    power_factor=0.99,
                    band=1,
                    window_s=10.0,
                    locked_out=locked,
                )
            )
        session.add(  # yesterday: outside the period
            LoadTrip(meter_id=a2, tripped_at=noon - timedelta(days=1), mode="total", power_w=4000)
        )
        session.add(
            RelayCommand(
                meter_id=a1,
                action=RelayAction.CUT_SUPPLY,
                reason="arrears",
                requested_at=noon,
                state=CommandState.UNVERIFIED,
                attempts=3,
                error="still closed",
            )
        )
        for action in (RelayAction.ALARM_ON, RelayAction.SYNC_CLOCK):  # no safety matters
            session.add(
                RelayCommand(
                    meter_id=a1,
                    action=action,
                    reason="low balance 2",
                    requested_at=noon,
                    state=CommandState.FAILED,
                    error="no answer",
                )
            )
    office = login(site, "office", DEMO_PASSWORD)
    period = Period.day(today)

    listed = run_report(site, office, "load-safety", period, Scope())
    assert len(listed.rows) == 3
    assert listed.rows[0][listed.column("mode")] == "sudden increase"
    assert str(listed.rows[0][listed.column("power")]) == "2150"
    assert listed.totals is not None
    assert listed.totals[listed.column("locked")] == 1
    assert "1 supply command(s) failed" in listed.notes[0]

    by_room = run_report(site, office, "load-safety", period, Scope(), "room")
    first = by_room.rows[0]
    assert first[0] == room_a1  # most trips first
    assert first[1:] == (2, 1, 1)  # trips, lock-outs, failed commands
    assert {row[0] for row in by_room.rows} == {room_a1, room_b1}

    by_building = run_report(site, office, "load-safety", period, Scope(), "building")
    assert {row[0]: row[1] for row in by_building.rows} == {"A": 2, "B": 1}

    only_b = run_report(site, office, "load-safety", period, Scope(building="B"))
    assert [row[listed.column("room")] for row in only_b.rows] == [room_b1]

    with site.session() as session:
        serial = session.get_one(Meter, a1).serial
    typed = scope_of(site, None, serial.lower())  # as typed in the Reports screen's box
    assert typed.meter == serial
    one_meter = run_report(site, office, "load-safety", period, typed)
    assert len(one_meter.rows) == 2
    assert {row[listed.column("meter")] for row in one_meter.rows} == {serial}
    assert scope_of(site, None, room_b1).room == room_b1
    with pytest.raises(ScopeRefused, match="no room, account or meter"):
        scope_of(site, None, "Z-999")
