"""The rules a meter's serial and address follow, shared by every way a meter comes in: the
set-up screens and commands (``meter_setup``), a swap (``meter_replacement``) and the site
workbook import (``import_plan``).

A serial is typed as on the plate (no spaces) and never used twice, whatever its case, not even
after its meter retired. An address is stored as the wire wants it (a Modbus unit id without
leading zeros, a DL/T 645 or CJ/T 188 number padded to its width) and two meters in service on
one bus never share it. The parts without a database (``serial_text``, ``stored_address``,
``check_address_free``, ``check_meter_move``) are what the import calls against its index.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.hardware.addresses import ADDRESS_DIGITS, address_problem
from app.hardware.profiles import Profile
from app.services.setup_checks import SetupRefused, clean_text
from app.store.models import Bus, Meter, column_length


def serial_text(text: str) -> str:
    """A serial as typed (spaces around it dropped), checked without the database."""
    serial = clean_text(text, "serial", "serial", column_length(Meter.serial))
    if any(c.isspace() for c in serial):
        raise SetupRefused("serial", f"The serial {serial!r} has spaces; type it as on the plate.")
    return serial


def serial_holder(session: Session, serial: str) -> Meter | None:
    """The meter (in service or retired) with this serial, compared case-insensitively."""
    return session.scalars(select(Meter).where(func.lower(Meter.serial) == serial.lower())).first()


def check_serial(session: Session, text: str, meter_id: int | None) -> str:
    """A serial no other meter has (``meter_id``: the meter it may stay with)."""
    serial = serial_text(text)
    holder = serial_holder(session, serial)
    if holder is not None and holder.id != meter_id:
        raise SetupRefused("serial", f"Serial {holder.serial} is already another meter's.")
    return serial


def stored_address(profile: Profile, text: str) -> str:
    """The address as stored, not yet checked: a Modbus unit id without leading zeros; a
    DL/T 645 or CJ/T 188 number padded to its width (a spreadsheet drops leading zeros)."""
    raw = text.strip()
    if profile.protocol == "modbus-rtu" and raw.isdigit():
        raw = str(int(raw))
    digits = ADDRESS_DIGITS.get(profile.protocol)
    if digits is not None and raw.isdigit() and len(raw) < digits:
        raw = raw.zfill(digits)
    return raw


def normalize_address(profile: Profile, text: str, field_name: str = "address") -> str:
    """The address as stored (``stored_address``), refused when the protocol cannot have it."""
    raw = stored_address(profile, text)
    problem = address_problem(profile.protocol, raw)
    if problem is not None:
        raise SetupRefused(field_name, f"{problem[0].upper()}{problem[1:]}.")
    return raw


def address_holder(
    session: Session, bus_id: int, address: str, meter_id: int | None
) -> Meter | None:
    """Another meter in service at ``address`` of the bus (``meter_id``: the one that may
    stay there)."""
    query = select(Meter).where(
        Meter.bus_id == bus_id, Meter.address == address, Meter.removed_at.is_(None)
    )
    if meter_id is not None:
        query = query.where(Meter.id != meter_id)
    return session.scalars(query).first()


def check_address_free(address: str, bus_name: str, holder: str | None) -> None:
    """Refuse the address when meter ``holder`` (another meter in service) has it."""
    if holder is not None:
        raise SetupRefused(
            "address",
            f"Address {address} on bus {bus_name} belongs to meter {holder}; two meters on one "
            "bus cannot share an address.",
        )


def free_address(session: Session, bus: Bus, address: str, meter_id: int | None) -> None:
    holder = address_holder(session, bus.id, address, meter_id)
    check_address_free(address, bus.name, holder.serial if holder is not None else None)


def check_meter_move(room_label: str, account_number: str | None) -> None:
    """A meter leaves or enters room ``room_label`` only while it has no open account
    (``account_number``): its usage belongs to one account."""
    if account_number is not None:
        raise SetupRefused(
            "room",
            f"Room {room_label} has open account {account_number}: a meter moves between rooms "
            "only while neither has an open account (its usage belongs to one account). Retire "
            "it and add a new meter instead.",
        )
