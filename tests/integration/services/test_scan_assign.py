"""Scan and assign as services: how a bus's line is scanned (its profile, the addresses), a scan
over a simulated line that returns at once with the scan under way on the bus's worker, and
rooms filled in order from a first room, which must be in service; on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import uuid

import pytest

from app.hardware.discovery import ScanHit
from app.services.bus_setup import BusForm, add_bus, retire_bus
from app.services.line_check import check_bus_line, start_line_check
from app.services.meter_setup import MeterForm, add_meter, retire_meter
from app.services.operators import SignedIn
from app.services.scan_assign import plan_scan, rooms_in_order, scan_bus, start_scan
from app.services.setup_checks import SetupRefused, in_transaction
from app.services.site_layout import add_building, add_room, retire_room
from app.store.database import Database
from app.vocabulary import Role
from tests.integration.services.setup_support import with_site

SDM = "eastron-sdm120"  # Modbus RTU
DLT = "dlt645-2007"  # the wildcard search


@pytest.fixture
def admin(db: Database) -> SignedIn:
    """The site with Block A: rooms A-101..A-103 on floor 1, A-201 and A-202 on floor 2."""
    who = with_site(db)[Role.ADMIN]
    in_transaction(db, add_building, who, "Block A", "A")
    for floor, number in ((1, "101"), (1, "102"), (1, "103"), (2, "201"), (2, "202")):
        in_transaction(db, add_room, who, "Block A", floor, number)
    return who


def sim_line(addresses: str) -> str:
    """A simulated Modbus line of its own (the registry of simulated lines is process-wide)."""
    return f"sim://scan-{uuid.uuid4().hex[:8]}?profile={SDM}&addresses={addresses}"


def retire_with_history(db: Database, by: SignedIn, label: str) -> None:
    """Retire the room after a meter served it (a room without history is removed)."""
    in_transaction(db, add_bus, by, BusForm(f"Old {label}", f"sim://old-{label}", SDM))
    in_transaction(db, add_meter, by, MeterForm(f"OLD-{label}", f"Old {label}", "1", room=label))
    in_transaction(db, retire_meter, by, f"OLD-{label}", "")
    assert in_transaction(db, retire_room, by, label) == "retired"


def test_rooms_are_filled_in_order_leaving_retired_ones_out(db: Database, admin: SignedIn) -> None:
    retire_with_history(db, admin, "A-103")
    assert rooms_in_order(db, "a-102", 3) == ["A-102", "A-201", "A-202"]
    assert rooms_in_order(db, " A-101 ", 2) == ["A-101", "A-102"]


def test_a_retired_first_room_is_refused_with_the_reason(db: Database, admin: SignedIn) -> None:
    retire_with_history(db, admin, "A-102")
    with pytest.raises(SetupRefused) as caught:
        rooms_in_order(db, "A-102", 3)
    assert caught.value.field == "room"
    assert "A-102 is retired" in str(caught.value)
    with pytest.raises(SetupRefused) as unknown:
        rooms_in_order(db, "A-999", 3)
    assert (unknown.value.field, "A-999" in str(unknown.value)) == ("room", True)


def test_the_scan_plan_takes_the_bus_profile_and_the_addresses(
    db: Database, admin: SignedIn
) -> None:
    in_transaction(db, add_bus, admin, BusForm("Line 1", "sim://plan-1", SDM))
    in_transaction(db, add_bus, admin, BusForm("Line 2", "sim://plan-2", DLT))
    modbus = plan_scan(db, " line   1 ")  # spaces and case as load_bus_setup takes them
    assert (modbus.setup.name, modbus.profile.name) == ("Line 1", SDM)
    assert modbus.addresses == [str(n) for n in range(1, 248)]
    assert not modbus.searching
    assert plan_scan(db, "Line 1", "3,7-8").addresses == ["3", "7", "8"]
    search = plan_scan(db, "Line 2")
    assert (search.addresses, search.searching) == (None, True)
    with pytest.raises(SetupRefused) as bad:
        plan_scan(db, "Line 1", "7-x")
    assert bad.value.field == "addresses"
    in_transaction(db, retire_bus, admin, "Line 2")
    for name in ("Line 2", "Line 9"):
        with pytest.raises(SetupRefused) as unknown:
            plan_scan(db, name)
        assert (unknown.value.field, str(unknown.value)) == (
            "bus",
            f"There is no bus {name!r} in use.",
        )


def test_a_scan_returns_at_once_and_runs_on_the_bus_worker(db: Database, admin: SignedIn) -> None:
    in_transaction(db, add_bus, admin, BusForm("Line 1", sim_line("3,7"), SDM, timeout_ms="100"))
    # The bus's answer: what a blocking caller (the command line) waits for.
    assert [hit.address for hit in scan_bus(db, "Line 1", "1-8") if hit.ok] == ["3", "7"]

    # Started: the port is open and the scan queued; the caller is not held meanwhile.
    moved = threading.Event()
    proceed = threading.Event()
    seen: list[int] = []

    def progress(done: int, _total: int, _hits: list[ScanHit]) -> None:  # the worker's thread
        seen.append(done)
        moved.set()
        proceed.wait(30)

    job = start_scan(plan_scan(db, "Line 1", "1-8"), None, progress)
    try:
        assert job.owned
        assert moved.wait(30), "the scan did not start on the worker"
        assert not job.future.done()  # held in its progress report: still under way
        proceed.set()
        hits = job.future.result(60)
    finally:
        proceed.set()
        job.release(5.0)
    assert [hit.address for hit in hits if hit.ok] == ["3", "7"]
    assert seen == list(range(1, 9))
    assert not job.worker.alive  # released: the port is let go


def test_a_line_check_reports_each_meter_and_lets_the_port_go(
    db: Database, admin: SignedIn
) -> None:
    in_transaction(db, add_bus, admin, BusForm("Line 1", sim_line("3"), SDM, timeout_ms="100"))
    for serial, address in (("SDM-3", "3"), ("SDM-4", "4")):
        in_transaction(db, add_meter, admin, MeterForm(serial, "Line 1", address))
    setup, check = check_bus_line(db, "Line 1")
    assert (setup.name, check.asked, check.answered, check.timeouts) == ("Line 1", 2, ("3",), 1)
    job = start_line_check(db, "line 1")
    try:
        assert job.future.result(60).answered == ("3",)
    finally:
        job.release(5.0)
    assert not job.worker.alive
    in_transaction(db, add_bus, admin, BusForm("Line 2", "sim://no-such-line", SDM))
    with pytest.raises(SetupRefused) as port:
        check_bus_line(db, "Line 2")
    assert port.value.field == "port"
    assert "Check the cable, the adapter and the port." in str(port.value)
