"""Scan a bus and assign what answered to rooms: the commissioning path of a new line.

``plan_scan`` says how a bus's line is scanned (Modbus: an address range; DL/T 645 and
CJ/T 188: the wildcard search finds every meter); ``start_scan`` opens the port (off the GUI
thread) and returns at once with the scan queued on the bus's worker, whose future gives what
each meter said (model, meter number where the protocol has one, register); ``scan_bus`` waits
for it (the command line). ``check_assignments`` shows every conflict before anything is
saved: an address another meter in service has on the bus, a serial another meter has (in
another room, or retired), an unknown or retired room, two rows with one serial or room...
``assign_meters`` adds them all in one transaction (all or nothing), each with its register
as the initial reading, audited like ``meter add``.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select

from app.hardware.addresses import parse_addresses
from app.hardware.bus_scan import ScanProgress
from app.hardware.bus_worker import BusWorker
from app.hardware.discovery import ScanHit
from app.hardware.profiles import Profile, load_profile
from app.services.bus_pause import asked_by
from app.services.bus_setup import bus_named, profile_named
from app.services.field_setup import BusJob, BusSetup, bus_in_use, run_on_bus
from app.services.meter_setup import MeterForm, MeterSaved, add_meter, normalize_address
from app.services.operators import SignedIn
from app.services.permissions import Action
from app.services.setup_checks import SetupRefused
from app.services.site_layout import room_named
from app.store.database import Database
from app.store.models import Meter, Room

SCAN_WAIT_S = 3600.0


@dataclass(frozen=True)
class ScanPlan:
    """How a bus's line is scanned: its meters' profile, and the addresses to visit (None:
    every meter on the line, by the protocol's wildcard search)."""

    setup: BusSetup
    profile: Profile
    addresses: list[str] | None

    @property
    def searching(self) -> bool:
        """The wildcard search, whose total is not known in advance (it grows with
        collisions); else an address range."""
        return self.addresses is None


def plan_scan(db: Database, bus_name: str, addresses: str = "") -> ScanPlan:
    """``addresses`` ("1-247", "1,5,9-12") for Modbus; empty: every Modbus address, or the
    wildcard search of DL/T 645 and CJ/T 188. SetupRefused names an unknown bus, a bus with
    no usable profile, or addresses that cannot be read."""
    setup = bus_in_use(db, bus_name)
    profile = profile_named(setup.profile, "bus")
    wanted: list[str] | None = None
    if addresses.strip():
        try:
            wanted = parse_addresses(addresses)
        except ValueError as exc:
            raise SetupRefused("addresses", f"Addresses: {exc}.") from None
    elif profile.protocol == "modbus-rtu":
        wanted = [str(n) for n in range(1, 248)]
    return ScanPlan(setup, profile, wanted)


def start_scan(
    plan: ScanPlan,
    workers: Mapping[str, BusWorker] | None = None,
    progress: ScanProgress | None = None,
    cancel: threading.Event | None = None,
    db: Database | None = None,
) -> BusJob[list[ScanHit]]:
    """The scan queued on the bus's worker: a bus the running console polls is scanned through
    its own worker (polls wait meanwhile); one another runtime polls (``db`` given: on any PC)
    is first paused there. ``progress`` and ``cancel``: see ``app.hardware.bus_scan``
    (``progress`` is called on the worker's thread). Blocks while the port opens (SetupRefused
    "port" when it cannot be); the caller releases the job once its future is done."""

    def job(worker: BusWorker) -> Future[list[ScanHit]]:
        return worker.scan(plan.profile, plan.addresses, progress, cancel)

    borrow = None if db is None else (db, asked_by("bus scan"))
    return run_on_bus(plan.setup, job, workers, borrow)


def scan_bus(
    db: Database,
    bus_name: str,
    addresses: str = "",
    workers: Mapping[str, BusWorker] | None = None,
    progress: ScanProgress | None = None,
    cancel: threading.Event | None = None,
) -> list[ScanHit]:
    """What answers on the bus's line (``plan_scan``, ``start_scan``), waited for."""
    return start_scan(plan_scan(db, bus_name, addresses), workers, progress, cancel, db).wait(
        SCAN_WAIT_S
    )


@dataclass(frozen=True)
class Assignment:
    """One found meter as the technician fills it in: its serial (from the meter, or typed
    from the nameplate) and its room; ``reading`` the register the scan read (kWh, m3)."""

    address: str
    serial: str
    room: str
    reading: Decimal | None = None


@dataclass(frozen=True)
class AssignmentCheck:
    address: str
    conflicts: tuple[str, ...]  # empty: ready to save
    already: bool = False  # this very meter is on the bus at this address: nothing to do


def check_assignments(
    db: Database, bus_name: str, rows: Sequence[Assignment]
) -> list[AssignmentCheck]:
    """Every conflict of every row, found before anything is saved."""
    with db.session() as session:
        bus = bus_named(session, bus_name)
        profile = load_profile(bus.profile) if bus.profile else None
        serials = {
            s.lower(): (bus_id, address, removed, room)
            for s, bus_id, address, removed, room in session.execute(
                select(
                    Meter.serial, Meter.bus_id, Meter.address, Meter.removed_at, Room.label
                ).outerjoin(Room, Room.id == Meter.room_id)
            )
        }
        taken = dict(
            session.execute(
                select(Meter.address, Meter.serial).where(
                    Meter.bus_id == bus.id, Meter.removed_at.is_(None)
                )
            ).all()
        )
        rooms = {
            label.lower(): retired
            for label, retired in session.execute(select(Room.label, Room.retired_at))
        }
        checks = []
        seen_serial: dict[str, str] = {}
        seen_room: dict[str, str] = {}
        for row in rows:
            problems: list[str] = []
            address = row.address
            if profile is not None:
                try:
                    address = normalize_address(profile, row.address)
                except SetupRefused as exc:
                    problems.append(str(exc))
            serial = row.serial.strip()
            room = row.room.strip()
            already = False
            if not serial:
                problems.append("Type the serial from the meter's nameplate.")
            else:
                known = serials.get(serial.lower())
                if known is not None:
                    bus_id, at, removed, where = known
                    if removed is not None:
                        problems.append(f"Serial {serial} belongs to a retired meter.")
                    elif bus_id == bus.id and at == address:
                        already = True
                    else:
                        problems.append(
                            f"Serial {serial} is meter at {at} in room {where or '-'} already."
                        )
                if serial.lower() in seen_serial:
                    problems.append(
                        f"Serial {serial} is also given to address {seen_serial[serial.lower()]}."
                    )
                seen_serial[serial.lower()] = address
            holder = taken.get(address)
            if holder is not None and not already:
                problems.append(f"Address {address} on {bus.name} is meter {holder}'s already.")
            if not room:
                problems.append("Choose the room this meter serves.")
            elif room.lower() not in rooms:
                problems.append(f"There is no room {room}.")
            elif rooms[room.lower()] is not None:
                problems.append(f"Room {room} is retired.")
            elif room.lower() in seen_room and profile is not None:
                problems.append(
                    f"Room {room} is also given to address {seen_room[room.lower()]}; one meter "
                    "of a utility per room."
                )
            if room:
                seen_room[room.lower()] = address
            checks.append(AssignmentCheck(address, tuple(problems), already))
        return checks


def assign_meters(
    db: Database, by: SignedIn, bus_name: str, rows: Sequence[Assignment]
) -> list[MeterSaved]:
    """Add every row's meter to the bus in one transaction; SetupRefused (naming the address)
    and nothing saved when any row conflicts."""
    by.require(Action.EDIT_FIELD)
    checks = check_assignments(db, bus_name, rows)
    for check in checks:
        if check.conflicts:
            raise SetupRefused("address", f"Address {check.address}: {' '.join(check.conflicts)}")
    saved: list[MeterSaved] = []
    with db.transaction() as session:
        for row, check in zip(rows, checks, strict=True):
            if check.already:
                continue
            reading = "" if row.reading is None else str(row.reading)
            form = MeterForm(
                row.serial, bus_name, check.address, room=row.room, initial_reading=reading
            )
            saved.append(add_meter(session, by, form))
    return saved


def rooms_in_order(db: Database, first: str, count: int) -> list[str]:
    """``count`` room labels of ``first``'s building from ``first`` on (by floor and number,
    retired rooms left out): fills the rooms of found meters in a few keystrokes. SetupRefused
    for an unknown or retired first room."""
    with db.session() as session:
        start = room_named(session, first)
        if start.retired_at is not None:
            raise SetupRefused(
                "room", f"Room {start.label} is retired; start from a room in service."
            )
        labels = session.scalars(
            select(Room.label)
            .where(Room.building_id == start.building_id, Room.retired_at.is_(None))
            .order_by(Room.floor, Room.number)
        ).all()
    at = labels.index(start.label)
    return list(labels[at : at + count])
