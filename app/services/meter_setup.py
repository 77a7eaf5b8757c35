"""Meters: add, change and retire the meters of the site (replacing one is
``meter_replacement``).

A meter hangs on a bus at an address, measures one utility (its profile's), stays with its room
and is paid for by the room's open account. Its initial reading (the register on the display
when it was installed) is stored as its first good reading, so billing starts from it. Every
change bumps the field revision: a running console or ``serve`` starts polling a new meter and
stops polling a retired one without a restart.

A meter without a relay or valve cannot cut supply: when such a meter serves an account whose
balance policy cuts supply (every policy does, at its overdraft limit), the step succeeds and
says so in its warnings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.hardware.profiles import Profile
from app.services.audit import record_audit
from app.services.bus_setup import bus_named, profile_named
from app.services.meter_checks import check_meter_move, check_serial, free_address
from app.services.meter_checks import (  # re-exported: callers know it from here
    normalize_address as normalize_address,
)
from app.services.meter_replacement import ReplacementRefused, reading_units, take_out
from app.services.operators import SignedIn
from app.services.permissions import Action
from app.services.setup_checks import SetupRefused, field_changed, whole_number
from app.services.site_layout import room_named
from app.store.models import (
    Account,
    Bus,
    IntervalReading,
    Meter,
    Room,
    utc_now,
)
from app.vocabulary import AccountStatus, MeterStatus, ReadingQuality, Utility

MULTIPLIER_MAX = 10_000


@dataclass(frozen=True)
class MeterForm:
    """A meter as a person fills it in. ``profile`` empty: the bus's default profile;
    ``utility`` empty: the profile's; ``room`` empty: not in a room yet."""

    serial: str
    bus: str
    address: str
    room: str = ""
    profile: str = ""
    utility: str = ""
    multiplier: str = "1"
    initial_reading: str = ""  # kWh or m3 on the display; empty: 0


@dataclass(frozen=True)
class MeterSaved:
    meter_id: int
    serial: str
    room: str
    account: str | None
    warnings: tuple[str, ...] = field(default=())


def _utility(profile: Profile, text: str) -> Utility:
    wanted = text.strip().lower()
    if wanted and wanted != profile.utility:
        raise SetupRefused(
            "utility",
            f"Profile {profile.name} is for {profile.utility} meters, not {wanted}; choose a "
            f"profile for {wanted} or leave the utility empty.",
        )
    return Utility(profile.utility)


def initial_units(
    text: str, utility: Utility, field_name: str = "initial_reading", label: str = "initial reading"
) -> int:
    """A register reading as typed (kWh or m3; empty: 0) in Wh or litres."""
    raw = text.strip() or "0"
    try:
        reading = Decimal(raw)
    except InvalidOperation:
        raise SetupRefused(field_name, f"The {label} {raw!r} is not a number.") from None
    try:
        return reading_units(reading, utility, label)
    except ReplacementRefused as exc:
        raise SetupRefused(field_name, str(exc)) from None


def open_account_of(session: Session, room: Room | None) -> Account | None:
    if room is None:
        return None
    return session.scalars(
        select(Account).where(Account.room_id == room.id, Account.status == AccountStatus.OPEN)
    ).first()


def supply_warning(profile: Profile, serial: str, account_number: str | None) -> tuple[str, ...]:
    """The warning for a meter that cannot cut the supply of an account that may be cut
    (``account_number``: the open account the meter serves, None for none)."""
    if profile.supply is not None or account_number is None:
        return ()
    return (
        f"Meter {serial} ({profile.name}) has no relay or valve: the console cannot cut this "
        f"room's supply when account {account_number} runs out; its balance policy cuts "
        "supply at the overdraft limit.",
    )


def rated_current(profile: Profile) -> int | None:
    """A new meter's rated current in whole amperes (its profile's; None when not given),
    what the engine's plausibility check measures a jump against."""
    return int(profile.rated_current_a) if profile.rated_current_a else None


def _room(session: Session, label: str) -> Room | None:
    if not label.strip():
        return None
    room = room_named(session, label)
    if room.retired_at is not None:
        raise SetupRefused("room", f"Room {room.label} is retired; choose another room.")
    return room


def add_meter(
    session: Session, by: SignedIn, form: MeterForm, *, at: datetime | None = None
) -> MeterSaved:
    """A new meter in service with its first reading (audited; the field revision moves)."""
    by.require(Action.EDIT_FIELD)
    bus = bus_named(session, form.bus)
    profile = profile_named(form.profile or bus.profile or "")
    utility = _utility(profile, form.utility)
    serial = check_serial(session, form.serial, None)
    address = normalize_address(profile, form.address)
    free_address(session, bus, address, None)
    room = _room(session, form.room)
    multiplier = whole_number(form.multiplier or "1", "multiplier", "multiplier", 1, MULTIPLIER_MAX)
    units = initial_units(form.initial_reading, utility)
    account = open_account_of(session, room)
    when = at or utc_now()
    meter = Meter(
        serial=serial,
        utility=utility,
        profile=profile.name,
        bus_id=bus.id,
        address=address,
        room_id=room.id if room else None,
        account_id=account.id if account else None,
        multiplier=multiplier,
        rated_current_a=rated_current(profile),
        status=MeterStatus.ACTIVE,
        installed_at=when,
    )
    session.add(meter)
    session.flush()
    session.add(
        IntervalReading(
            meter_id=meter.id, read_at=when, register_units=units, quality=ReadingQuality.GOOD
        )
    )
    session.flush()
    field_changed(session)
    record_audit(
        session,
        by,
        "meter.add",
        "meter",
        meter.id,
        None,
        {**_as_dict(meter, bus, room), "initial_units": units},
    )
    return MeterSaved(
        meter.id,
        serial,
        room.label if room else "",
        account.number if account else None,
        supply_warning(profile, serial, account.number if account else None),
    )


def meter_named(session: Session, serial: str) -> Meter:
    meter = session.scalars(
        select(Meter).where(func.lower(Meter.serial) == serial.strip().lower())
    ).first()
    if meter is None:
        raise SetupRefused("serial", f"There is no meter {serial.strip()!r}; check the serial.")
    if meter.removed_at is not None:
        raise SetupRefused("serial", f"Meter {meter.serial} is retired; it cannot be changed.")
    return meter


def _as_dict(meter: Meter, bus: Bus, room: Room | None) -> dict[str, object]:
    return {
        "serial": meter.serial,
        "utility": meter.utility.value,
        "profile": meter.profile,
        "bus": bus.name,
        "address": meter.address,
        "room": room.label if room else "",
        "multiplier": meter.multiplier,
    }


def change_meter(
    session: Session,
    by: SignedIn,
    serial: str,
    *,
    bus: str | None = None,
    address: str | None = None,
    profile: str | None = None,
    room: str | None = None,
    multiplier: str | None = None,
) -> MeterSaved:
    """Rewire a meter (bus, address, profile of the same utility), change its CT multiplier,
    or move it to another room while neither room has an open account."""
    by.require(Action.EDIT_FIELD)
    meter = meter_named(session, serial)
    old_bus = session.get_one(Bus, meter.bus_id)
    old_room = session.get(Room, meter.room_id) if meter.room_id else None
    before = _as_dict(meter, old_bus, old_room)
    new_bus = bus_named(session, bus) if bus is not None else old_bus
    chosen = profile_named(profile if profile is not None else meter.profile)
    if chosen.utility != meter.utility.value:
        raise SetupRefused(
            "profile",
            f"Profile {chosen.name} is for {chosen.utility} meters; meter {meter.serial} "
            f"measures {meter.utility.value}.",
        )
    new_address = normalize_address(chosen, address if address is not None else meter.address)
    free_address(session, new_bus, new_address, meter.id)
    new_room = _room(session, room) if room is not None else old_room
    if new_room is not None and meter.incomer_building_id is not None:
        raise SetupRefused(
            "room",
            f"Meter {meter.serial} is a building's incomer and belongs to no room; clear that "
            f"first with 'main.py meter incomer --meter {meter.serial} --clear'.",
        )
    if (new_room.id if new_room else None) != meter.room_id:
        for side in (old_room, new_room):
            holder = open_account_of(session, side)
            check_meter_move(side.label if side else "", holder.number if holder else None)
    if multiplier is not None:
        meter.multiplier = whole_number(multiplier, "multiplier", "multiplier", 1, MULTIPLIER_MAX)
    meter.bus_id = new_bus.id
    meter.address = new_address
    meter.profile = chosen.name
    meter.room_id = new_room.id if new_room else None
    account = open_account_of(session, new_room)
    meter.account_id = account.id if account else None
    after = _as_dict(meter, new_bus, new_room)
    if after != before:
        session.flush()
        field_changed(session)
        record_audit(session, by, "meter.change", "meter", meter.id, before, after)
    return MeterSaved(
        meter.id,
        meter.serial,
        new_room.label if new_room else "",
        account.number if account else None,
        supply_warning(chosen, meter.serial, account.number if account else None),
    )


def retire_meter(
    session: Session, by: SignedIn, serial: str, final_reading: str = ""
) -> MeterSaved:
    """Take a meter out of service (kept for its history; its room and account stay on it).
    A final reading, when given, is stored as its last good reading and billed; its open
    offline and implausible-reading alarms end with it (as a replaced meter's do)."""
    by.require(Action.EDIT_FIELD)
    meter = meter_named(session, serial)
    bus = session.get_one(Bus, meter.bus_id)
    room = session.get(Room, meter.room_id) if meter.room_id else None
    units: int | None = None
    if final_reading.strip():
        units = initial_units(final_reading, meter.utility, "final_reading", "final reading")
    try:
        take_out(session, meter, units, utc_now())
    except ReplacementRefused as exc:
        raise SetupRefused("final_reading", str(exc)) from None
    session.flush()
    field_changed(session)
    record_audit(
        session,
        by,
        "meter.retire",
        "meter",
        meter.id,
        _as_dict(meter, bus, room),
        {"final_units": units},
    )
    return MeterSaved(meter.id, meter.serial, room.label if room else "", None)
