"""The meters list: every meter with its bus, room and paying account."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import update

from app.demo.site import seed_demo_site
from app.queries.meters import list_meters
from app.store.database import Database
from app.store.models import Meter
from app.vocabulary import MeterStatus, Utility


def test_every_meter_is_listed_by_bus_with_room_and_account(db: Database) -> None:
    summary = seed_demo_site(db)
    meters = list_meters(db)
    assert len(meters) == summary.meters == 360
    assert len({m.id for m in meters}) == 360
    assert [(m.bus_name, m.id) for m in meters] == sorted((m.bus_name, m.id) for m in meters)
    assert len({m.bus_name for m in meters}) == summary.buses
    assert all(m.bus_url.startswith("sim://") for m in meters)
    assert all(m.room_label and m.account_number and m.holder_name for m in meters)
    assert all(m.status is MeterStatus.ACTIVE and m.last_seen_at is None for m in meters)
    assert Counter(m.utility for m in meters) == {Utility.ELECTRICITY: 240, Utility.WATER: 120}
    # one room's meters share its account
    room_accounts = {(m.room_label, m.account_number) for m in meters}
    assert len(room_accounts) == len({m.room_label for m in meters}) == 240


def test_a_meter_without_room_or_account_is_still_listed(db: Database) -> None:
    seed_demo_site(db)
    with db.transaction() as session:
        session.execute(
            update(Meter).where(Meter.serial == "EA01001").values(room_id=None, account_id=None)
        )
    spare = next(m for m in list_meters(db) if m.serial == "EA01001")
    assert (spare.room_label, spare.account_number, spare.holder_name) == ("", "", "")
