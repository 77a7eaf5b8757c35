"""A building's incomer is not a room's meter anywhere else either: the load guard leaves it
alone (a room's limit on it would cut the building), it cannot be moved into a room without
clearing it first, a replacement keeps it the incomer, and the site's history does not count
the building's use twice."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select

from app.demo.site import DEMO_PASSWORD, DemoSpec, seed_demo_site
from app.queries.history import HistoryTarget, TargetKind, _meters_of
from app.runtime.load_control import LoadControl
from app.runtime.supply_control import Route, SupplyControl
from app.services.meter_incomer import set_incomer
from app.services.meter_replacement import replace_meter
from app.services.meter_setup import MeterForm, add_meter, change_meter
from app.services.operators import login
from app.services.setup_checks import SetupRefused
from app.services.site_layout import add_building, retire_building
from app.store.database import Database
from app.store.models import Building, Meter
from app.vocabulary import Role, Utility

BUS = "Block A electricity 1"


@pytest.fixture
def site(db: Database) -> Database:
    seed_demo_site(db, DemoSpec(buildings=1, floors=1, rooms_per_floor=2))
    technician = login(db, Role.TECHNICIAN.value, DEMO_PASSWORD)
    with db.transaction() as session:
        add_meter(session, technician, MeterForm("INC-1", BUS, "999999000001"))
        set_incomer(session, technician, "INC-1", "A")
    return db


def meter_id(db: Database, serial: str) -> int:
    with db.session() as session:
        return int(session.scalar(select(Meter.id).where(Meter.serial == serial)) or 0)


def test_the_load_guard_leaves_an_incomer_alone(site: Database) -> None:
    load = LoadControl(SupplyControl(lambda meter_id, on, command_id: Route.QUEUED))
    with site.session() as session:
        room_meter = session.scalar(
            select(Meter.id).where(Meter.room_id.is_not(None), Meter.serial.startswith("E"))
        )
        assert room_meter is not None
        assert load._params(session, room_meter) is not None  # a room's meter is guarded
        assert load._params(session, meter_id(site, "INC-1")) is None


def test_an_incomer_is_not_moved_into_a_room(site: Database) -> None:
    technician = login(site, Role.TECHNICIAN.value, DEMO_PASSWORD)
    with (
        pytest.raises(SetupRefused, match="incomer --meter INC-1 --clear"),
        site.transaction() as s,
    ):
        change_meter(s, technician, "INC-1", room="A-102")
    with site.session() as session:
        assert session.scalars(select(Meter).where(Meter.serial == "INC-1")).one().room_id is None


def test_a_replaced_incomer_stays_the_incomer(site: Database) -> None:
    with site.transaction() as session:
        replace_meter(
            session,
            "INC-1",
            final_reading=Decimal("0"),
            new_serial="INC-2",
            new_address="999999000009",
            initial_reading=Decimal("0"),
            at=datetime.now(UTC),
        )
    with site.session() as session:
        new = session.scalars(select(Meter).where(Meter.serial == "INC-2")).one()
        old = session.scalars(select(Meter).where(Meter.serial == "INC-1")).one()
        assert new.incomer_building_id == old.incomer_building_id is not None


def test_the_sites_history_counts_the_rooms_not_the_incomer(site: Database) -> None:
    site_meters = _meters_of(HistoryTarget(TargetKind.SITE, None, Utility.ELECTRICITY))
    with site.session() as session:
        counted = {row[0] for row in session.execute(site_meters)}
        rooms = set(
            session.scalars(
                select(Meter.id).where(
                    Meter.room_id.is_not(None), Meter.utility == Utility.ELECTRICITY
                )
            )
        )
    assert counted == rooms
    assert meter_id(site, "INC-1") not in counted


def test_a_building_with_an_incomer_is_retired_not_removed(db: Database) -> None:
    seed_demo_site(db, DemoSpec(buildings=1, floors=1, rooms_per_floor=1))
    admin = login(db, Role.ADMIN.value, DEMO_PASSWORD)
    technician = login(db, Role.TECHNICIAN.value, DEMO_PASSWORD)
    with db.transaction() as session:
        add_building(session, admin, "Annex", code="X")
        add_meter(session, technician, MeterForm("INC-X", BUS, "999999000021"))
        set_incomer(session, technician, "INC-X", "X")
    with db.transaction() as session:
        assert retire_building(session, admin, "X") == "retired"
    with db.session() as session:
        building = session.scalars(select(Building).where(Building.code == "X")).one()
        assert building.retired_at is not None
