"""Meters: technicians add, change and retire them. The initial reading is the meter's first
good interval reading; addresses are stored as the wire wants them and never shared on a bus;
a serial is never used twice, not even after its meter retired; a meter without a relay that
serves an account says so; every change is audited and moves the field revision, every
refusal names the field and writes nothing; on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from app.services.bus_setup import BusForm, add_bus
from app.services.meter_setup import MeterForm, add_meter, change_meter, retire_meter
from app.services.operators import SignedIn
from app.services.permissions import PermissionDenied
from app.services.setup_checks import in_transaction
from app.services.site_layout import add_building, generate_rooms, retire_room
from app.store.database import Database
from app.store.models import Account, Alarm, IntervalReading, Meter
from app.vocabulary import (
    AlarmKind,
    AlarmSeverity,
    AlarmState,
    MeterStatus,
    ReadingQuality,
    Role,
    Utility,
)
from tests.integration.services.setup_support import (
    BACKENDS,
    Shared,
    last_event,
    open_in,
    refused,
    revision,
    shared_site,
    snapshot,
    store_policy,
    store_tariff,
    with_site,
)

HIKING = "hiking-dds238"  # Modbus, with a relay
EASTRON = "eastron-sdm120"  # Modbus, no relay
AT = datetime(2026, 9, 1, 8, 0, tzinfo=UTC)


def _wired(db: Database) -> dict[Role, SignedIn]:
    """The site with Block 7 (rooms 7-101..7-104), bus Line 1 (Hiking, Modbus), bus Line 2
    (DL/T 645) and bus Water (CJ/T 188), a policy and the dormitory electricity tariff."""
    who = with_site(db)
    sup, tech = who[Role.SUPERVISOR], who[Role.TECHNICIAN]
    in_transaction(db, add_building, sup, "Block 7")
    in_transaction(db, generate_rooms, sup, "Block 7", "1", "01-04")
    in_transaction(db, add_bus, tech, BusForm("Line 1", "sim://line-1", HIKING))
    in_transaction(db, add_bus, tech, BusForm("Line 2", "sim://line-2", "dlt645-2007"))
    in_transaction(db, add_bus, tech, BusForm("Water", "sim://water", "cjt188-water"))
    store_policy(db, who[Role.ADMIN])
    store_tariff(db, who[Role.ADMIN])
    return who


@pytest.fixture
def who(db: Database) -> dict[Role, SignedIn]:
    return _wired(db)


@pytest.fixture(scope="module", params=BACKENDS)
def wired(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Shared]:
    """As ``who``, plus meter E-1 at address 1 of Line 1 in room 7-101, shared by the
    refusals."""

    def build(db: Database) -> dict[Role, SignedIn]:
        who = _wired(db)
        form = MeterForm("E-1", "Line 1", "1", room="7-101")
        in_transaction(db, add_meter, who[Role.TECHNICIAN], form)
        return who

    yield from shared_site(request, tmp_path_factory, build)


def meter(db: Database, serial: str) -> Meter:
    with db.session() as session:
        return session.scalars(select(Meter).where(Meter.serial == serial)).one()


def readings(db: Database, serial: str) -> list[tuple[datetime, int, ReadingQuality]]:
    with db.session() as session:
        return [
            (row.read_at, row.register_units, row.quality)
            for row in session.scalars(
                select(IntervalReading)
                .join(Meter, Meter.id == IntervalReading.meter_id)
                .where(Meter.serial == serial)
                .order_by(IntervalReading.read_at)
            )
        ]


def test_the_initial_reading_becomes_the_first_good_reading(
    db: Database, who: dict[Role, SignedIn]
) -> None:
    tech = who[Role.TECHNICIAN]
    start = revision(db)
    form = MeterForm(" H7-101 ", "line 1", "007", room="7-101", initial_reading=" 123.456 ")
    saved = in_transaction(db, add_meter, tech, form, at=AT)
    assert (saved.serial, saved.room, saved.account, saved.warnings) == (
        "H7-101",
        "7-101",
        None,
        (),
    )
    stored = meter(db, "H7-101")
    assert (stored.utility, stored.profile, stored.address, stored.multiplier) == (
        Utility.ELECTRICITY,
        HIKING,  # the bus's profile
        "7",
        1,
    )
    assert (stored.status, stored.installed_at, stored.removed_at) == (MeterStatus.ACTIVE, AT, None)
    assert readings(db, "H7-101") == [(AT, 123_456, ReadingQuality.GOOD)]
    event = last_event(db)
    assert (event.action, event.operator_id, event.before) == ("meter.add", tech.operator_id, None)
    assert event.after == {
        "serial": "H7-101",
        "utility": "electricity",
        "profile": HIKING,
        "bus": "Line 1",
        "address": "7",
        "room": "7-101",
        "multiplier": 1,
        "initial_units": 123_456,
    }
    assert revision(db) == start + 1
    in_transaction(db, add_meter, who[Role.ADMIN], MeterForm("H7-102", "Line 1", "8"), at=AT)
    assert readings(db, "H7-102") == [(AT, 0, ReadingQuality.GOOD)]  # empty: from zero
    water = MeterForm("W7-101", "Water", "12345", room="7-101", initial_reading="12.5")
    in_transaction(db, add_meter, tech, water, at=AT)
    assert (meter(db, "W7-101").utility, meter(db, "W7-101").address) == (
        Utility.WATER,
        "00000000012345",
    )
    assert readings(db, "W7-101") == [(AT, 12_500, ReadingQuality.GOOD)]  # litres


ADDRESSES = [
    ("Line 1", "2", "2"),
    ("Line 1", "0247", "247"),
    ("Line 2", "12345", "000000012345"),
    ("Line 2", "000000012346", "000000012346"),
    ("Water", "12345678901234", "12345678901234"),
]


def test_addresses_are_stored_as_the_wire_wants_them(
    db: Database, who: dict[Role, SignedIn]
) -> None:
    for n, (bus, typed, _stored) in enumerate(ADDRESSES):
        in_transaction(db, add_meter, who[Role.TECHNICIAN], MeterForm(f"M-{n}", bus, typed))
    assert [meter(db, f"M-{n}").address for n in range(len(ADDRESSES))] == [
        stored for _bus, _typed, stored in ADDRESSES
    ]


def test_two_meters_on_one_bus_never_share_an_address(
    db: Database, who: dict[Role, SignedIn]
) -> None:
    tech = who[Role.TECHNICIAN]
    in_transaction(db, add_meter, tech, MeterForm("E-1", "Line 1", "1", room="7-101"))
    for typed in ("1", "01", " 001 "):
        clash = refused(db, add_meter, tech, MeterForm("E-2", "Line 1", typed))
        assert (clash.field, str(clash)) == (
            "address",
            "Address 1 on bus Line 1 belongs to meter E-1; two meters on one bus cannot share "
            "an address.",
        )
    in_transaction(db, add_bus, tech, BusForm("Line 3", "sim://line-3", HIKING))
    in_transaction(db, add_meter, tech, MeterForm("E-2", "Line 3", "1"))  # another bus
    in_transaction(db, add_meter, tech, MeterForm("E-3", "Line 1", "3"))
    moved = refused(db, change_meter, tech, "E-3", address="1")
    assert moved.field == "address"
    assert refused(db, change_meter, tech, "E-2", bus="Line 1").field == "address"
    in_transaction(db, retire_meter, tech, "E-1")
    in_transaction(db, add_meter, tech, MeterForm("E-4", "Line 1", "1"))  # free again


def test_a_serial_is_never_used_twice_not_even_after_retirement(
    db: Database, who: dict[Role, SignedIn]
) -> None:
    tech = who[Role.TECHNICIAN]
    in_transaction(db, add_meter, tech, MeterForm("H7-001", "Line 1", "1"))
    taken = refused(db, add_meter, tech, MeterForm("h7-001", "Line 1", "2"))
    assert (taken.field, str(taken)) == ("serial", "Serial H7-001 is already another meter's.")
    in_transaction(db, retire_meter, tech, "H7-001")
    retired = refused(db, add_meter, tech, MeterForm("H7-001", "Line 1", "2"))
    assert (retired.field, str(retired)) == ("serial", "Serial H7-001 is already another meter's.")


@pytest.mark.parametrize(
    ("form", "field", "says"),
    [
        (MeterForm("", "Line 1", "5"), "serial", "The serial is empty; type it."),
        (MeterForm("e-1", "Line 1", "5"), "serial", "Serial E-1 is already another meter's."),
        (
            MeterForm("E-5", "Line 1", "01"),
            "address",
            "Address 1 on bus Line 1 belongs to meter E-1",
        ),
        (MeterForm("E 5", "Line 1", "5"), "serial", "The serial 'E 5' has spaces"),
        (MeterForm("E-5", "Line 9", "5"), "bus", "There is no bus 'Line 9'; buses: Line 1,"),
        (MeterForm("E-5", "Line 1", "248"), "address", "Modbus address '248' must be a number"),
        (MeterForm("E-5", "Line 1", "0"), "address", "must be a number from 1 to 247"),
        (MeterForm("E-5", "Line 1", "five"), "address", "Modbus address 'five'"),
        (MeterForm("E-5", "Line 2", "1234567890123"), "address", "must be 12 digits"),
        (MeterForm("E-5", "Line 1", "5", room="7-999"), "room", "There is no room '7-999'"),
        (MeterForm("E-5", "Line 1", "5", profile="acme"), "profile", "no meter profile 'acme'"),
        (MeterForm("E-5", "Line 1", "5", utility="water"), "utility", "not water"),
        (MeterForm("E-5", "Line 1", "5", multiplier="0"), "multiplier", "give 1 to 10000"),
        (MeterForm("E-5", "Line 1", "5", multiplier="x"), "multiplier", "not a whole number"),
        (MeterForm("E-5", "Line 1", "5", initial_reading="-1"), "initial_reading", "negative"),
        (MeterForm("E-5", "Line 1", "5", initial_reading="1.2345"), "initial_reading", "3 dec"),
        (MeterForm("E-5", "Line 1", "5", initial_reading="abc"), "initial_reading", "not a num"),
    ],
)
def test_bad_meters_are_refused_naming_the_field(
    wired: Shared, form: MeterForm, field: str, says: str
) -> None:
    problem = refused(wired.db, add_meter, wired.who[Role.TECHNICIAN], form)
    assert problem.field == field
    assert says in str(problem)


def test_a_retired_room_takes_no_meter(db: Database, who: dict[Role, SignedIn]) -> None:
    tech = who[Role.TECHNICIAN]
    in_transaction(db, add_meter, tech, MeterForm("E-4", "Line 1", "4", room="7-104"))
    in_transaction(db, retire_meter, tech, "E-4")
    assert in_transaction(db, retire_room, who[Role.SUPERVISOR], "7-104") == "retired"
    problem = refused(db, add_meter, tech, MeterForm("E-5", "Line 1", "5", room="7-104"))
    assert (problem.field, str(problem)) == (
        "room",
        "Room 7-104 is retired; choose another room.",
    )


@pytest.mark.parametrize("role", [Role.CASHIER, Role.OFFICE, Role.SUPERVISOR])
def test_only_technicians_and_admins_set_up_meters(wired: Shared, role: Role) -> None:
    db, who = wired.db, wired.who
    before = snapshot(db)
    for step, args, kwargs in (
        (add_meter, (MeterForm("E-2", "Line 1", "2"),), {}),
        (change_meter, ("E-1",), {"multiplier": "2"}),
        (retire_meter, ("E-1",), {}),
    ):
        with pytest.raises(PermissionDenied) as denied:
            in_transaction(db, step, who[role], *args, **kwargs)  # type: ignore[operator]
        assert str(denied.value).endswith(
            "may not add, change and retire buses and meters; ask a technician to do it."
        )
    assert snapshot(db) == before


def test_a_meter_without_a_relay_serving_an_account_says_so(
    db: Database, who: dict[Role, SignedIn]
) -> None:
    tech, office = who[Role.TECHNICIAN], who[Role.OFFICE]
    number = open_in(db, office, "7-101")
    plain = in_transaction(
        db, add_meter, tech, MeterForm("N-101", "Line 1", "1", room="7-101", profile=EASTRON)
    )
    assert plain.account == number
    (warning,) = plain.warnings
    assert warning == (
        f"Meter N-101 ({EASTRON}) has no relay or valve: the console cannot cut this room's "
        f"supply when account {number} runs out; its balance policy cuts supply at the "
        "overdraft limit."
    )
    with db.session() as session:
        account_id = session.scalars(select(Account.id).where(Account.number == number)).one()
    assert meter(db, "N-101").account_id == account_id  # the room's account pays for it
    relay = in_transaction(db, add_meter, tech, MeterForm("H-101", "Line 1", "2", room="7-101"))
    assert (relay.account, relay.warnings) == (number, ())
    vacant = in_transaction(
        db, add_meter, tech, MeterForm("N-102", "Line 1", "3", room="7-102", profile=EASTRON)
    )
    assert (vacant.account, vacant.warnings) == (None, ())
    assert meter(db, "N-102").account_id is None


def test_a_change_rewires_the_meter_and_is_audited(db: Database, who: dict[Role, SignedIn]) -> None:
    tech = who[Role.TECHNICIAN]
    in_transaction(db, add_meter, tech, MeterForm("E-1", "Line 1", "1", room="7-101"))
    in_transaction(db, add_bus, tech, BusForm("Line 3", "sim://line-3", EASTRON))
    start = revision(db)
    saved = in_transaction(
        db, change_meter, tech, "e-1", bus="Line 3", address="09", profile=EASTRON, multiplier="40"
    )
    assert (saved.serial, saved.room) == ("E-1", "7-101")
    stored = meter(db, "E-1")
    assert (stored.address, stored.profile, stored.multiplier) == ("9", EASTRON, 40)
    event = last_event(db)
    assert event.action == "meter.change"
    assert event.before is not None
    assert event.after is not None
    assert (event.before["bus"], event.after["bus"]) == ("Line 1", "Line 3")
    assert (event.before["multiplier"], event.after["multiplier"]) == (1, 40)
    assert revision(db) == start + 1
    before = snapshot(db)
    in_transaction(db, change_meter, tech, "E-1", bus="line 3", address="9", multiplier="40")
    assert snapshot(db) == before  # nothing changed: no event, no new revision
    water = refused(db, change_meter, tech, "E-1", profile="cjt188-water")
    assert (water.field, str(water)) == (
        "profile",
        "Profile cjt188-water is for water meters; meter E-1 measures electricity.",
    )
    # a meter moves between rooms only while neither has an open account
    in_transaction(db, change_meter, tech, "E-1", room="7-102")
    assert meter(db, "E-1").room_id is not None
    in_transaction(db, change_meter, tech, "E-1", room="")
    assert meter(db, "E-1").room_id is None
    in_transaction(db, change_meter, tech, "E-1", room="7-102")
    number = open_in(db, who[Role.OFFICE], "7-102", electricity=True)
    held = refused(db, change_meter, tech, "E-1", room="7-103")
    assert held.field == "room"
    assert str(held).startswith(f"Room 7-102 has open account {number}: a meter moves")
    open_in(db, who[Role.OFFICE], "7-103")
    in_transaction(db, add_meter, tech, MeterForm("E-4", "Line 1", "4", room="7-104"))
    assert refused(db, change_meter, tech, "E-4", room="7-103").field == "room"


def test_retiring_stores_the_final_reading_and_keeps_the_meter(
    db: Database, who: dict[Role, SignedIn]
) -> None:
    tech = who[Role.TECHNICIAN]
    form = MeterForm("E-1", "Line 1", "1", room="7-101", initial_reading="100")
    in_transaction(db, add_meter, tech, form, at=AT)
    low = refused(db, retire_meter, tech, "E-1", "99.999")
    assert (low.field, str(low)) == (  # as a replacement words it (meter_replacement)
        "final_reading",
        "The final reading 99.999 kWh is below meter E-1's last good reading 100.000 kWh "
        "(2026-09-01T08:00:00+00:00); a register never goes back. Read the meter's display again.",
    )
    bad = refused(db, retire_meter, tech, "E-1", "lots")
    assert (bad.field, str(bad)) == ("final_reading", "The final reading 'lots' is not a number.")
    assert refused(db, retire_meter, tech, "E-1", "-1").field == "final_reading"
    start = revision(db)
    done = in_transaction(db, retire_meter, tech, "E-1", "150.5")
    assert (done.serial, done.room, done.account) == ("E-1", "7-101", None)
    kept = meter(db, "E-1")
    assert kept.status is MeterStatus.REMOVED
    assert kept.removed_at is not None
    assert kept.room_id is not None  # its room stays on it, for its history
    assert [(units, quality) for _at, units, quality in readings(db, "E-1")] == [
        (100_000, ReadingQuality.GOOD),
        (150_500, ReadingQuality.GOOD),
    ]
    event = last_event(db)
    assert (event.action, event.after) == ("meter.retire", {"final_units": 150_500})
    assert revision(db) == start + 1
    for step, args in ((retire_meter, ()), (change_meter, ())):
        gone = refused(db, step, tech, "E-1", *args)
        assert (gone.field, str(gone)) == ("serial", "Meter E-1 is retired; it cannot be changed.")
    missing = refused(db, retire_meter, tech, "E-9")
    assert (missing.field, str(missing)) == ("serial", "There is no meter 'E-9'; check the serial.")


def test_retiring_ends_the_meters_offline_and_implausible_reading_alarms(
    db: Database, who: dict[Role, SignedIn]
) -> None:
    """As a replaced meter's do: a retired meter no longer answers and its register is
    history; an alarm of another kind (a failed command) stays for someone to look at."""
    tech = who[Role.TECHNICIAN]
    saved = in_transaction(db, add_meter, tech, MeterForm("E-1", "Line 1", "1"), at=AT)
    kinds = (AlarmKind.METER_OFFLINE, AlarmKind.IMPLAUSIBLE_READING, AlarmKind.COMMAND_FAILED)
    with db.transaction() as session:
        for kind in kinds:
            session.add(
                Alarm(
                    kind=kind,
                    severity=AlarmSeverity.WARNING,
                    state=AlarmState.ACTIVE,
                    meter_id=saved.meter_id,
                    message=kind.value,
                    raised_at=AT + timedelta(hours=1),
                )
            )
    in_transaction(db, retire_meter, tech, "E-1")
    with db.session() as session:
        states = dict(
            session.execute(
                select(Alarm.kind, Alarm.state).where(Alarm.meter_id == saved.meter_id)
            ).all()
        )
        ended = session.scalars(
            select(Alarm.cleared_at).where(Alarm.state == AlarmState.CLEARED)
        ).all()
    assert states == {
        AlarmKind.METER_OFFLINE: AlarmState.CLEARED,
        AlarmKind.IMPLAUSIBLE_READING: AlarmState.CLEARED,
        AlarmKind.COMMAND_FAILED: AlarmState.ACTIVE,
    }
    assert len(ended) == 2
    assert all(at is not None for at in ended)
