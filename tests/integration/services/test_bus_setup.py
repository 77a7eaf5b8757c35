"""Buses: technicians add, change and retire them; line settings default to the profile's; one
port has one owner; what has carried meters is retired, a typo removed; every change is audited
and moves the field revision, every refusal names the field and writes nothing; on SQLite and
PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from app.queries.site_layout import list_buses
from app.services.bus_setup import BusForm, add_bus, change_bus, retire_bus
from app.services.meter_setup import MeterForm, add_meter, retire_meter
from app.services.operators import SignedIn
from app.services.permissions import PermissionDenied
from app.services.setup_checks import in_transaction
from app.store.database import Database
from app.vocabulary import Role
from tests.integration.services.setup_support import (
    BACKENDS,
    Shared,
    last_event,
    refused,
    revision,
    shared_site,
    snapshot,
    with_site,
)

HIKING = "hiking-dds238"


@pytest.fixture
def who(db: Database) -> dict[Role, SignedIn]:
    return with_site(db)


def _wired(db: Database) -> dict[Role, SignedIn]:
    who = with_site(db)
    in_transaction(db, add_bus, who[Role.TECHNICIAN], BusForm("Line 1", "sim://l1", HIKING))
    return who


@pytest.fixture(scope="module", params=BACKENDS)
def wired(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Shared]:
    """The site with bus Line 1 on sim://l1, shared by the refusals."""
    yield from shared_site(request, tmp_path_factory, _wired)


def line(db: Database, name: str) -> tuple[str, int, str, int, int, int, str, bool]:
    row = next(r for r in list_buses(db, retired=True) if r.name == name)
    return (
        row.port,
        row.baud,
        row.parity,
        row.stopbits,
        row.timeout_ms,
        row.retries,
        row.profile,
        row.enabled,
    )


def test_line_settings_default_to_the_profile_and_are_audited(
    db: Database, who: dict[Role, SignedIn]
) -> None:
    tech = who[Role.TECHNICIAN]
    assert revision(db) == 0
    in_transaction(db, add_bus, tech, BusForm(" Block 7  meters ", " sim://block7 ", HIKING))
    assert line(db, "Block 7 meters") == ("sim://block7", 9600, "N", 1, 300, 1, HIKING, True)
    event = last_event(db)
    assert (event.action, event.operator_id, event.before) == ("bus.add", tech.operator_id, None)
    assert event.after == {
        "name": "Block 7 meters",
        "port": "sim://block7",
        "baud": 9600,
        "parity": "N",
        "stopbits": 1,
        "timeout_ms": 300,
        "retries": 1,
        "profile": HIKING,
        "enabled": True,
    }
    assert revision(db) == 1
    in_transaction(db, add_bus, tech, BusForm("Old meters", "/dev/ttyUSB1", "dlt645-2007"))
    assert line(db, "Old meters") == ("/dev/ttyUSB1", 2400, "E", 1, 800, 1, "dlt645-2007", True)
    in_transaction(
        db,
        add_bus,
        who[Role.ADMIN],
        BusForm(
            "Water",
            "socket://10.0.0.7:4001",
            "cjt188-water",
            baud="9600",
            parity="odd",
            stopbits="2",
            timeout_ms="1500",
            retries="0",
            enabled=False,
        ),
    )
    assert line(db, "Water") == (
        "socket://10.0.0.7:4001",
        9600,
        "O",
        2,
        1500,
        0,
        "cjt188-water",
        False,
    )
    assert revision(db) == 3


@pytest.mark.parametrize("role", [Role.CASHIER, Role.OFFICE, Role.SUPERVISOR])
def test_only_technicians_and_admins_set_up_buses(wired: Shared, role: Role) -> None:
    db, who = wired.db, wired.who
    before = snapshot(db)
    steps: list[tuple[Callable[..., object], tuple[object, ...], dict[str, object]]] = [
        (add_bus, (BusForm("Line 2", "sim://l2", HIKING),), {}),
        (change_bus, ("Line 1",), {"baud": "4800"}),
        (retire_bus, ("Line 1",), {}),
    ]
    for step, args, kwargs in steps:
        with pytest.raises(PermissionDenied) as denied:
            in_transaction(db, step, who[role], *args, **kwargs)
        said = str(denied.value)
        assert "may not add, change and retire buses and meters" in said
        assert said.endswith("ask a technician to do it.")
    assert snapshot(db) == before


@pytest.mark.parametrize(
    ("form", "field", "says"),
    [
        (BusForm("", "sim://x", HIKING), "name", "The bus name is empty; type it."),
        (BusForm("Line 1", "sim://x", HIKING), "name", "There is already a bus called Line 1."),
        (BusForm("Line 2", "", HIKING), "port", "The port is empty: give /dev/ttyUSB0, COM3"),
        (BusForm("Line 2", "ftp://x", HIKING), "port", "'ftp://x' is not a port MeterDesk opens"),
        (BusForm("Line 2", "socket://gw", HIKING), "port", "is not socket://host:port"),
        (BusForm("Line 2", "COM 3", HIKING), "port", "has spaces in it"),
        (BusForm("Line 2", "sim://x", "acme-9000"), "profile", "no meter profile 'acme-9000'"),
        (BusForm("Line 2", "sim://x", ""), "profile", "choose one of acrel-ddsy1352"),
        (BusForm("Line 2", "sim://x", HIKING, baud="1234"), "baud", "1234 baud is not"),
        (BusForm("Line 2", "sim://x", HIKING, baud="fast"), "baud", "is not a whole number"),
        (BusForm("Line 2", "sim://x", HIKING, parity="X"), "parity", "Parity 'X': use N, E or O."),
        (BusForm("Line 2", "sim://x", HIKING, stopbits="3"), "stopbits", "give 1 to 2"),
        (BusForm("Line 2", "sim://x", HIKING, timeout_ms="10"), "timeout_ms", "give 50 to 10000"),
        (BusForm("Line 2", "sim://x", HIKING, retries="6"), "retries", "give 0 to 5"),
    ],
)
def test_bad_buses_are_refused_naming_the_field(
    wired: Shared, form: BusForm, field: str, says: str
) -> None:
    problem = refused(wired.db, add_bus, wired.who[Role.TECHNICIAN], form)
    assert problem.field == field
    assert says in str(problem)


def test_one_port_has_one_owner(db: Database, who: dict[Role, SignedIn]) -> None:
    tech = who[Role.TECHNICIAN]
    in_transaction(db, add_bus, tech, BusForm("Line 1", "COM3", HIKING))
    in_transaction(db, add_bus, tech, BusForm("Line 2", "sim://desk", HIKING))
    for port in ("com3", "\\\\.\\COM3"):
        clash = refused(db, add_bus, tech, BusForm("Line 3", port, HIKING))
        assert clash.field == "port"
        assert str(clash) == (
            "Bus Line 1 already uses COM3: one port has one owner. Put both lines' meters on "
            "one bus, or disable the other bus first."
        )
    assert "Bus Line 2 already uses sim://desk" in str(
        refused(db, add_bus, tech, BusForm("Line 3", "SIM://Desk/", HIKING))
    )
    assert refused(db, change_bus, tech, "Line 2", port="COM3").field == "port"
    # a disabled bus may name the port (a spare wiring); it cannot be enabled beside the owner
    in_transaction(db, add_bus, tech, BusForm("Spare", "COM3", HIKING, enabled=False))
    assert refused(db, change_bus, tech, "Spare", enabled=True).field == "port"
    in_transaction(db, change_bus, tech, "Line 1", enabled=False)
    in_transaction(db, change_bus, tech, "Spare", enabled=True)
    assert refused(db, change_bus, tech, "Line 1", enabled=True).field == "port"
    # a retired bus lets its port go
    assert in_transaction(db, retire_bus, tech, "Spare") == "removed"
    in_transaction(db, change_bus, tech, "Line 1", enabled=True)
    assert line(db, "Line 1")[7] is True


def test_a_change_is_audited_and_the_same_values_change_nothing(
    db: Database, who: dict[Role, SignedIn]
) -> None:
    tech = who[Role.TECHNICIAN]
    in_transaction(db, add_bus, tech, BusForm("Line 1", "sim://l1", HIKING))
    start = revision(db)
    in_transaction(db, change_bus, tech, "line 1", name="Block 7", baud="19200", parity="E")
    assert line(db, "Block 7")[:3] == ("sim://l1", 19200, "E")
    event = last_event(db)
    assert event.action == "bus.change"
    assert event.before is not None
    assert event.after is not None
    assert (event.before["name"], event.after["name"]) == ("Line 1", "Block 7")
    assert (event.before["baud"], event.after["baud"]) == (9600, 19200)
    assert revision(db) == start + 1
    before = snapshot(db)
    in_transaction(db, change_bus, tech, "Block 7", baud="19200", profile=f" {HIKING} ")
    assert snapshot(db) == before  # no event, the revision stays
    unknown = refused(db, change_bus, tech, "Block 7", colour="red")
    assert (unknown.field, str(unknown)) == ("colour", "A bus has no 'colour'.")
    missing = refused(db, change_bus, tech, "Line 9", baud="4800")
    assert (missing.field, str(missing)) == ("bus", "There is no bus 'Line 9'; buses: Block 7.")
    assert refused(db, change_bus, tech, "Block 7", stopbits="0").field == "stopbits"


def test_a_bus_that_carried_meters_is_retired_and_a_typo_removed(
    db: Database, who: dict[Role, SignedIn]
) -> None:
    tech = who[Role.TECHNICIAN]
    in_transaction(db, add_bus, tech, BusForm("Typo", "sim://typo", HIKING))
    start = revision(db)
    assert in_transaction(db, retire_bus, tech, "typo") == "removed"
    event = last_event(db)
    assert (event.action, event.target_id) == ("bus.remove", "Typo")
    assert revision(db) == start + 1
    assert list_buses(db, retired=True) == []
    in_transaction(db, add_bus, tech, BusForm("Line 1", "sim://l1", HIKING))
    in_transaction(db, add_meter, tech, MeterForm("E-1", "Line 1", "1"))
    busy = refused(db, retire_bus, tech, "Line 1")
    assert (busy.field, str(busy)) == (
        "bus",
        "Bus Line 1 has meter E-1 in service; retire or move its meters first.",
    )
    in_transaction(db, retire_meter, tech, "E-1")
    assert in_transaction(db, retire_bus, tech, "Line 1") == "retired"
    assert last_event(db).action == "bus.retire"
    assert list_buses(db) == []
    (kept,) = list_buses(db, retired=True)
    assert (kept.name, kept.enabled, kept.retired_at is not None) == ("Line 1", False, True)
    gone = refused(db, change_bus, tech, "Line 1", baud="4800")
    assert (gone.field, str(gone)) == ("bus", "Bus Line 1 is retired; choose another.")
    assert refused(db, add_meter, tech, MeterForm("E-2", "Line 1", "2")).field == "bus"
    in_transaction(db, add_bus, tech, BusForm("Line 2", "sim://l1", HIKING))  # its port is free
