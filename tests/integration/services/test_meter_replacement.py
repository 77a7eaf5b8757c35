"""Replacing a meter: final and initial readings, the swap recorded, refusals that write nothing;
and the engine's reading store taking the new meter's register as its starting point."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select

from app.demo.site import DemoSpec, seed_demo_site
from app.hardware.snapshot import Quality, Snapshot
from app.runtime.reading_store import ReadingStore
from app.services.meter_replacement import Replacement, ReplacementRefused, replace_meter
from app.store.database import Database
from app.store.models import Alarm, DailyUsage, IntervalReading, Meter
from app.vocabulary import AlarmSeverity, AlarmState, MeterStatus, ReadingQuality, Utility

# Building A: DL/T 645 electricity (EA01001..), building B: Modbus (EB01001 at address 1...);
# even rooms have a CJ/T 188 water meter (WA01002...).
SPEC = DemoSpec(buildings=2, floors=1, rooms_per_floor=4)
AT = (datetime.now(UTC) - timedelta(hours=2)).replace(microsecond=0)


@pytest.fixture
def site(db: Database) -> Database:
    seed_demo_site(db, SPEC)
    return db


def meter(db: Database, serial: str) -> Meter:
    with db.session() as session:
        found = session.scalars(select(Meter).where(Meter.serial == serial)).one()
        session.expunge(found)
        return found


def add_reading(
    db: Database, serial: str, units: int, at: datetime, quality: ReadingQuality
) -> None:
    meter_id = meter(db, serial).id
    with db.transaction() as session:
        session.add(
            IntervalReading(meter_id=meter_id, read_at=at, register_units=units, quality=quality)
        )


def add_alarm(db: Database, serial: str, kind: str, state: AlarmState = AlarmState.ACTIVE) -> int:
    meter_id = meter(db, serial).id
    with db.transaction() as session:
        alarm = Alarm(
            kind=kind,
            severity=AlarmSeverity.WARNING,
            state=state,
            meter_id=meter_id,
            message=kind,
            raised_at=AT - timedelta(hours=1),
        )
        session.add(alarm)
        session.flush()
        return alarm.id


def used_by(db: Database, meter_id: int) -> int:
    with db.session() as session:
        return int(
            session.scalar(
                select(func.coalesce(func.sum(DailyUsage.units), 0)).where(
                    DailyUsage.meter_id == meter_id
                )
            )
            or 0
        )


def options(**changes: Any) -> dict[str, Any]:
    given: dict[str, Any] = {
        "final_reading": Decimal("1234.567"),
        "new_serial": "NEW-0001",
        "new_address": "1",
        "initial_reading": Decimal("0.012"),
        "at": AT,
    }
    given.update(changes)
    return given


def replace(db: Database, old: str | int = "EB01001", **changes: Any) -> Replacement:
    with db.transaction() as session:
        return replace_meter(session, old, **options(**changes))


def everything(db: Database) -> list[tuple[object, ...]]:
    """Every row the replacement may touch, to prove a refusal changed nothing."""
    rows: list[tuple[object, ...]] = []
    with db.session() as session:
        for model in (Meter, IntervalReading, Alarm):
            for obj in session.scalars(select(model).order_by(model.id)):
                rows.append(
                    tuple(sorted((k, repr(v)) for k, v in vars(obj).items() if k[0] != "_"))
                )
    return rows


def test_a_replacement_records_both_readings_and_moves_the_meter_over(site: Database) -> None:
    old = meter(site, "EB01001")
    add_reading(site, "EB01001", 1_200_000, AT - timedelta(hours=1), ReadingQuality.GOOD)
    offline = add_alarm(site, "EB01001", "meter_offline", AlarmState.ACKNOWLEDGED)
    implausible = add_alarm(site, "EB01001", "implausible_reading")
    low_balance = add_alarm(site, "EB01001", "low_balance_1")
    other = add_alarm(site, "EB01002", "meter_offline")
    rolled_up = used_by(site, old.id)

    done = replace(site)

    # The old meter's last use (its last reading to the final register) reaches the daily
    # rollup the energy report reads.
    assert used_by(site, old.id) - rolled_up == 1_234_567 - 1_200_000

    assert (done.old_meter_id, done.old_serial, done.new_serial, done.new_address) == (
        old.id,
        "EB01001",
        "NEW-0001",
        "1",
    )
    assert (done.final_units, done.initial_units, done.cleared_alarms) == (1_234_567, 12, 2)
    assert done.utility is Utility.ELECTRICITY
    assert done.at == AT
    removed = meter(site, "EB01001")
    assert removed.status is MeterStatus.REMOVED
    assert removed.removed_at == AT
    assert (removed.account_id, removed.room_id) == (old.account_id, old.room_id)
    assert removed.address == "1"  # kept for history; the new meter in service has it too
    new = meter(site, "NEW-0001")
    assert new.id == done.new_meter_id
    assert (new.bus_id, new.address, new.room_id, new.account_id) == (
        old.bus_id,
        "1",
        old.room_id,
        old.account_id,
    )
    assert (new.utility, new.profile, new.multiplier, new.rated_current_a) == (
        old.utility,
        old.profile,
        old.multiplier,
        old.rated_current_a,
    )
    assert (new.replaces_id, new.installed_at, new.status) == (old.id, AT, MeterStatus.ACTIVE)
    assert new.relay_closed is None
    assert new.removed_at is None
    with site.session() as session:
        readings = session.execute(
            select(
                IntervalReading.meter_id, IntervalReading.register_units, IntervalReading.quality
            )
            .where(IntervalReading.read_at == AT)
            .order_by(IntervalReading.meter_id)
        ).all()
        alarms = {a.id: a for a in session.scalars(select(Alarm))}
    assert [tuple(r) for r in readings] == [
        (old.id, 1_234_567, ReadingQuality.GOOD),
        (new.id, 12, ReadingQuality.GOOD),
    ]
    for cleared in (offline, implausible):
        assert alarms[cleared].state is AlarmState.CLEARED
        assert alarms[cleared].cleared_at is not None
    assert alarms[low_balance].state is AlarmState.ACTIVE  # not about the meter's register
    assert alarms[other].state is AlarmState.ACTIVE  # another meter's


def test_water_readings_are_litres_and_a_new_address_and_profile_can_be_given(
    site: Database,
) -> None:
    old = meter(site, "WA01002")
    done = replace(
        site,
        old.id,
        final_reading=Decimal("12.345"),
        initial_reading=Decimal("0"),
        new_serial=" W-NEW ",
        new_address="20260101000099",
        new_profile="cjt188-water",
    )
    assert (done.final_units, done.initial_units) == (12_345, 0)
    new = meter(site, "W-NEW")
    assert (new.address, new.profile, new.utility) == (
        "20260101000099",
        "cjt188-water",
        Utility.WATER,
    )
    assert meter(site, "WA01002").address == old.address  # not needed by anyone: unchanged


def test_another_profile_of_the_same_utility_is_taken(site: Database) -> None:
    done = replace(site, "EB01002", new_serial="HK-1", new_address="2", new_profile="hiking-dds238")
    assert meter(site, "HK-1").profile == done.new_profile == "hiking-dds238"


def test_the_new_address_is_stored_as_the_wire_wants_it(site: Database) -> None:
    """As a meter added on its own: a Modbus unit id without leading zeros, a DL/T 645
    address padded to its 12 digits (a spreadsheet or a hurried technician drops them)."""
    modbus = replace(site, new_address="001")
    dlt = replace(site, "EA01001", new_serial="NEW-DLT", new_address="42")
    assert (modbus.new_address, meter(site, "NEW-0001").address) == ("1", "1")
    assert (dlt.new_address, meter(site, "NEW-DLT").address) == ("000000000042", "000000000042")


def test_a_meter_replaced_twice_at_one_address_keeps_every_removed_row(site: Database) -> None:
    first = replace(site, new_serial="NEW-A")
    second = replace(
        site,
        "NEW-A",
        final_reading=Decimal("5"),
        initial_reading=Decimal("0"),
        new_serial="NEW-B",
        at=AT + timedelta(minutes=30),
    )
    assert second.old_meter_id == first.new_meter_id
    assert meter(site, "NEW-B").replaces_id == first.new_meter_id
    assert meter(site, "EB01001").address == "1"
    assert meter(site, "NEW-A").address == "1"
    assert meter(site, "NEW-B").address == "1"


def test_the_final_reading_may_exceed_a_held_reading_and_equal_the_last_good_one(
    site: Database,
) -> None:
    add_reading(site, "EB01001", 1_000_000, AT - timedelta(hours=1), ReadingQuality.GOOD)
    add_reading(site, "EB01001", 9_000_000, AT - timedelta(minutes=30), ReadingQuality.HELD)
    assert replace(site, final_reading=Decimal("1000")).final_units == 1_000_000


def _removed_first(db: Database) -> None:
    replace(db, new_serial="FIRST")


REFUSALS: list[tuple[str, Callable[[Database], None], dict[str, Any], str]] = [
    ("unknown meter", lambda db: None, {"old": "NOPE"}, "No meter with serial 'NOPE'"),
    ("unknown id", lambda db: None, {"old": 99_999}, "No meter with id 99999"),
    ("already removed", _removed_first, {"new_serial": "SECOND"}, "already removed"),
    (
        "final below the last good reading",
        lambda db: add_reading(
            db, "EB01001", 2_000_000, AT - timedelta(hours=1), ReadingQuality.GOOD
        ),
        {},
        "below meter EB01001's last good reading 2000.000 kWh",
    ),
    (
        "time not after the last reading",
        lambda db: add_reading(db, "EB01001", 1_000_000, AT, ReadingQuality.HELD),
        {},
        "already has a reading at",
    ),
    ("time before installation", lambda db: None, {"at": AT - timedelta(days=500)}, "not after"),
    ("time in the future", lambda db: None, {"at": AT + timedelta(days=1)}, "in the future"),
    ("naive time", lambda db: None, {"at": AT.replace(tzinfo=None)}, "no time zone"),
    ("serial in use", lambda db: None, {"new_serial": "EB01003"}, "Serial EB01003 is already used"),
    (  # a serial is compared as every meter's is (meter_checks): whatever its case
        "serial in use in another case",
        lambda db: None,
        {"new_serial": "eb01003"},
        "Serial EB01003 is already used",
    ),
    ("serial with spaces", lambda db: None, {"new_serial": "NEW 1"}, "has spaces"),
    ("empty serial", lambda db: None, {"new_serial": "  "}, "serial is empty"),
    (
        "address of an active meter",
        lambda db: None,
        {"new_address": "2"},
        "Address 2 on this bus belongs to meter EB01002",
    ),
    (  # stored as the wire wants it first: Modbus unit 002 is unit 2
        "address of an active meter with leading zeros",
        lambda db: None,
        {"new_address": "002"},
        "Address 2 on this bus belongs to meter EB01002",
    ),
    ("address the protocol cannot have", lambda db: None, {"new_address": "300"}, "1 to 247"),
    ("negative final", lambda db: None, {"final_reading": Decimal("-1")}, "negative"),
    ("negative initial", lambda db: None, {"initial_reading": Decimal("-0.001")}, "negative"),
    (
        "finer than a Wh",
        lambda db: None,
        {"initial_reading": Decimal("0.0005")},
        "more than 3 decimals",
    ),
    ("not a number", lambda db: None, {"final_reading": Decimal("NaN")}, "not a number"),
    ("unknown profile", lambda db: None, {"new_profile": "nope"}, "unknown meter profile 'nope'"),
    (
        "profile of another utility",
        lambda db: None,
        {"new_profile": "cjt188-water"},
        "is for water meters, but meter EB01001 measures electricity",
    ),
]


@pytest.mark.parametrize(
    ("prepare", "changes", "message"),
    [pytest.param(p, c, m, id=name) for name, p, c, m in REFUSALS],
)
def test_a_refused_replacement_writes_nothing(
    site: Database,
    prepare: Callable[[Database], None],
    changes: dict[str, Any],
    message: str,
) -> None:
    prepare(site)
    add_alarm(site, "EB01001", "meter_offline")
    before = everything(site)
    changes = dict(changes)  # the parameters are shared by both database runs
    old = changes.pop("old", "EB01001")
    # The caller owns the transaction: it may catch the refusal and commit other work. Nothing
    # of the replacement may be pending or flushed by then.
    with site.session() as session:
        with pytest.raises(ReplacementRefused, match=re.escape(message)):
            replace_meter(session, old, **options(**changes))
        assert (len(session.new), len(session.dirty), len(session.deleted)) == (0, 0, 0)
        session.commit()
    assert everything(site) == before


def test_after_a_replacement_the_reading_store_starts_from_the_initial_register(
    site: Database,
) -> None:
    """A fresh engine (a restarted console) takes the new meter's initial reading as its last
    register: a register just above it is usage, not a register that went backwards from the
    old meter's final reading."""
    add_reading(site, "EB01001", 1_200_000, AT - timedelta(hours=1), ReadingQuality.GOOD)
    done = replace(site, final_reading=Decimal("1234.567"), initial_reading=Decimal("0.012"))
    store = ReadingStore(interval_s=900)
    with site.session() as session:
        store.load(session)
    track = store.tracks[done.new_meter_id]
    assert (track.last_units, track.last_units_at) == (12, AT)
    assert done.old_meter_id not in store.tracks  # removed: a poll of it is not stored

    later = AT + timedelta(minutes=20)
    snapshot = Snapshot(
        done.new_meter_id,
        "1",
        later.timestamp(),
        later,
        Quality.GOOD,
        energy_import_kwh=0.512,  # 500 Wh in 20 minutes: well within a 40 A meter
        relay_closed=True,
    )
    with site.transaction() as session:
        result = store.store(session, [snapshot])
    assert result.held == 0
    assert result.usage_units == {done.new_meter_id: 500}
    with site.session() as session:
        stored = session.execute(
            select(IntervalReading.register_units, IntervalReading.quality)
            .where(IntervalReading.meter_id == done.new_meter_id)
            .order_by(IntervalReading.read_at)
        ).all()
        alarms = session.scalars(
            select(Alarm.kind).where(Alarm.meter_id == done.new_meter_id)
        ).all()
    assert [tuple(r) for r in stored] == [(12, ReadingQuality.GOOD), (512, ReadingQuality.GOOD)]
    assert alarms == []
