"""Meter replacement: a technician swaps a meter for a new one.

The old meter's final register and the new meter's initial register are recorded at the moment
of the swap, so usage up to it belongs to the old meter and usage after it to the new one, and
the engine never mistakes the new meter's register for one that went backwards.

``replace_meter_as`` is what an operator does: it checks the permission (technicians,
administrators), records the swap, writes the audit event and moves the field revision, so a
running console or ``serve`` polls the new meter within seconds. ``replace_meter`` is the
record itself, in the caller's session and transaction. Everything is checked before anything
is written: a refusal (``ReplacementRefused``) leaves the database as it was. The new meter
follows the serial and address rules of every meter (``meter_checks``), and the old one is taken
out of service as a retired meter is (``take_out``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.hardware.addresses import address_problem
from app.hardware.errors import ProfileError
from app.hardware.profiles import Profile, load_profile
from app.input_limits import date_in_range, date_range_text
from app.services.audit import record_audit
from app.services.meter_checks import address_holder, serial_holder, serial_text, stored_address
from app.services.operators import SignedIn
from app.services.permissions import Action
from app.services.setup_checks import SetupRefused, field_changed
from app.services.usage_days import add_readings
from app.store.models import Alarm, IntervalReading, Meter, column_length
from app.vocabulary import AlarmKind, AlarmState, MeterStatus, ReadingQuality, Utility

# Alarms about the old meter that end with it: it no longer answers, its register is history.
ENDED_ALARM_KINDS = (AlarmKind.IMPLAUSIBLE_READING, AlarmKind.METER_OFFLINE)
# How far ``at`` may lie ahead of this computer's clock (a technician's watch, a slow clock).
FUTURE_TOLERANCE = timedelta(minutes=5)
MAX_UNITS = 2**63 - 1
SERIAL_MAX = column_length(Meter.serial)
ADDRESS_MAX = column_length(Meter.address)


class ReplacementRefused(ValueError):
    """The replacement cannot be recorded as given; the message says why and what to do."""


@dataclass(frozen=True)
class Replacement:
    old_meter_id: int
    old_serial: str
    new_meter_id: int
    new_serial: str
    new_address: str
    new_profile: str
    utility: Utility
    at: datetime  # UTC
    final_units: int  # Wh or litres
    initial_units: int
    cleared_alarms: int
    operator_id: int | None


def unit_name(utility: Utility) -> str:
    """The unit a person reads off the display: kWh for electricity, m3 for water and gas."""
    return "kWh" if utility is Utility.ELECTRICITY else "m3"


def format_units(units: int, utility: Utility) -> str:
    """``123456`` Wh -> ``123.456 kWh``; litres -> m3."""
    return f"{Decimal(units) / 1000:.3f} {unit_name(utility)}"


def reading_units(reading: Decimal, utility: Utility, what: str) -> int:
    """A display reading (kWh or m3) as the integer register (Wh or litres)."""
    unit = unit_name(utility)
    small = "Wh" if utility is Utility.ELECTRICITY else "litres"
    if not reading.is_finite():
        raise ReplacementRefused(f"The {what} {reading} is not a number; give it in {unit}.")
    if reading < 0:
        raise ReplacementRefused(
            f"The {what} {reading} {unit} is negative; a meter register never is. "
            "Read it again off the meter's display."
        )
    scaled = reading * 1000
    if scaled != scaled.to_integral_value():
        raise ReplacementRefused(
            f"The {what} {reading} {unit} has more than 3 decimals; registers are stored in "
            f"whole {small}. Give at most 3 decimals."
        )
    units = int(scaled)
    if units > MAX_UNITS:
        raise ReplacementRefused(f"The {what} {reading} {unit} is too large for a register.")
    return units


def replace_meter(
    session: Session,
    old_serial_or_id: str | int,
    *,
    final_reading: Decimal,
    new_serial: str,
    new_address: str,
    initial_reading: Decimal,
    at: datetime,
    new_profile: str | None = None,
    operator_id: int | None = None,
) -> Replacement:
    """Record that ``old_serial_or_id`` (serial, or meter id as an int) was swapped at ``at``.

    The old meter gets a GOOD reading with ``final_reading`` at ``at`` and is marked removed
    (room and account kept for history); a new meter on the same bus, room and account starts
    with a GOOD reading of ``initial_reading`` at ``at``. Open offline and implausible-reading
    alarms of the old meter are cleared. Readings are in kWh (electricity) or m3 (water, gas).
    Raises ``ReplacementRefused`` before writing anything when the input does not fit.
    """
    if at.tzinfo is None or at.utcoffset() is None:
        raise ReplacementRefused(
            f"The replacement time {at.isoformat()} has no time zone; give an aware time."
        )
    if not date_in_range(at):
        raise ReplacementRefused(
            f"The replacement time {at.isoformat()} is out of range; give the time the meters "
            f"were swapped, {date_range_text()}."
        )
    at = at.astimezone(UTC)
    old = _old_meter(session, old_serial_or_id)
    utility = old.utility
    final_units = reading_units(final_reading, utility, "final reading")
    initial_units = reading_units(initial_reading, utility, "initial reading")
    _check_time(session, old, at)
    serial = _check_serial(session, new_serial)
    profile_name, profile = _profile(old, new_profile)
    address = _check_address(session, old, new_address, profile)
    # The last check (the final register never below the last good one) opens the writing.
    cleared = take_out(session, old, final_units, at)
    new = Meter(
        serial=serial,
        utility=utility,
        profile=profile_name,
        bus_id=old.bus_id,
        address=address,
        room_id=old.room_id,
        account_id=old.account_id,
        multiplier=old.multiplier,
        rated_current_a=old.rated_current_a,
        status=MeterStatus.ACTIVE,
        relay_closed=None,
        installed_at=at,
        replaces_id=old.id,
        incomer_building_id=old.incomer_building_id,  # a building's incomer stays its incomer
    )
    session.add(new)
    session.flush()
    session.add(
        IntervalReading(
            meter_id=new.id,
            read_at=at,
            register_units=initial_units,
            quality=ReadingQuality.GOOD,
        )
    )
    session.flush()
    return Replacement(
        old_meter_id=old.id,
        old_serial=old.serial,
        new_meter_id=new.id,
        new_serial=new.serial,
        new_address=new.address,
        new_profile=profile_name,
        utility=utility,
        at=at,
        final_units=final_units,
        initial_units=initial_units,
        cleared_alarms=cleared,
        operator_id=operator_id,
    )


def replace_meter_as(
    session: Session,
    by: SignedIn,
    old_serial: str,
    *,
    final_reading: Decimal,
    new_serial: str,
    new_address: str,
    initial_reading: Decimal,
    at: datetime,
    new_profile: str | None = None,
) -> Replacement:
    """An operator records a meter swap (see ``replace_meter``), audited."""
    by.require(Action.REPLACE_METER)
    done = replace_meter(
        session,
        old_serial,
        final_reading=final_reading,
        new_serial=new_serial,
        new_address=new_address,
        initial_reading=initial_reading,
        at=at,
        new_profile=new_profile,
        operator_id=by.operator_id,
    )
    field_changed(session)
    record_audit(
        session,
        by,
        "meter.replace",
        "meter",
        done.old_meter_id,
        {"serial": done.old_serial, "final_units": done.final_units},
        {
            "serial": done.new_serial,
            "meter_id": done.new_meter_id,
            "address": done.new_address,
            "profile": done.new_profile,
            "initial_units": done.initial_units,
            "at": done.at.isoformat(),
        },
    )
    return done


def _old_meter(session: Session, key: str | int) -> Meter:
    where = Meter.id == key if isinstance(key, int) else Meter.serial == key.strip()
    meter = session.scalars(select(Meter).where(where).with_for_update()).first()
    if meter is None:
        what = f"id {key}" if isinstance(key, int) else f"serial {key.strip()!r}"
        raise ReplacementRefused(
            f"No meter with {what}. Check the serial on the old meter's nameplate "
            "(the Meters screen lists every meter)."
        )
    if meter.status is MeterStatus.REMOVED:
        when = meter.removed_at.isoformat() if meter.removed_at else "earlier"
        raise ReplacementRefused(
            f"Meter {meter.serial} was already removed ({when}); nothing to replace. "
            "Replace the meter that is installed now."
        )
    return meter


def _check_time(session: Session, old: Meter, at: datetime) -> None:
    now = datetime.now(UTC)
    if at > now + FUTURE_TOLERANCE:
        raise ReplacementRefused(
            f"The replacement time {at.isoformat()} lies in the future; give the time the "
            "meters were swapped (check the computer's clock)."
        )
    if at <= old.installed_at:
        raise ReplacementRefused(
            f"The replacement time {at.isoformat()} is not after meter {old.serial} was "
            f"installed ({old.installed_at.isoformat()}); give the time the meters were swapped."
        )
    last_at = session.scalar(
        select(func.max(IntervalReading.read_at)).where(IntervalReading.meter_id == old.id)
    )
    if last_at is not None and at <= last_at:
        raise ReplacementRefused(
            f"Meter {old.serial} already has a reading at {last_at.isoformat()}, not before "
            f"the replacement time {at.isoformat()}; give the time the meters were swapped, "
            "after its last reading."
        )


def take_out(session: Session, meter: Meter, final_units: int | None, at: datetime) -> int:
    """Take ``meter`` out of service at ``at`` (a swap or a retirement), in the caller's
    transaction: its final register (Wh or litres; None: not read) becomes its last good
    reading, it is marked removed (room and account kept for history), and its open offline
    and implausible-reading alarms end. Returns how many alarms ended. Raises
    ``ReplacementRefused``, writing nothing, when the final register is below its last good
    reading."""
    if final_units is not None:
        _check_final(session, meter, final_units)
        session.add(
            IntervalReading(
                meter_id=meter.id,
                read_at=at,
                register_units=final_units,
                quality=ReadingQuality.GOOD,
            )
        )
        session.flush()
        add_readings(session, [(meter.id, at, final_units)])  # its last use, to the day
    meter.status = MeterStatus.REMOVED
    meter.removed_at = at
    return _clear_alarms(session, meter.id)


def _check_final(session: Session, old: Meter, final_units: int) -> None:
    last = session.execute(
        select(IntervalReading.register_units, IntervalReading.read_at)
        .where(
            IntervalReading.meter_id == old.id,
            IntervalReading.quality == ReadingQuality.GOOD,
        )
        .order_by(IntervalReading.read_at.desc())
        .limit(1)
    ).first()
    if last is not None and final_units < last[0]:
        raise ReplacementRefused(
            f"The final reading {format_units(final_units, old.utility)} is below meter "
            f"{old.serial}'s last good reading {format_units(last[0], old.utility)} "
            f"({last[1].isoformat()}); a register never goes back. Read the meter's display "
            "again."
        )


def _check_serial(session: Session, new_serial: str) -> str:
    """The serial rules of every new meter (``meter_checks``), worded for a swap."""
    serial = new_serial.strip()
    if not serial:
        raise ReplacementRefused("The new meter's serial is empty; give its nameplate number.")
    if len(serial) > SERIAL_MAX:
        raise ReplacementRefused(
            f"The new serial {serial!r} is longer than {SERIAL_MAX} characters; "
            "check the nameplate number."
        )
    try:
        serial_text(serial)
    except SetupRefused as exc:
        raise ReplacementRefused(str(exc)) from None
    holder = serial_holder(session, serial)
    if holder is not None:
        raise ReplacementRefused(
            f"Serial {holder.serial} is already used by another meter; each meter's serial is "
            "unique, whatever its case. Check the new meter's nameplate."
        )
    return serial


def _profile(old: Meter, new_profile: str | None) -> tuple[str, Profile | None]:
    """The new meter's profile name, and the loaded profile when it can be loaded."""
    if new_profile is None:
        try:
            return old.profile, load_profile(old.profile)
        except ProfileError:
            return old.profile, None  # the old meter's profile stays as it was
    name = new_profile.strip()
    try:
        profile = load_profile(name)
    except ProfileError as exc:
        raise ReplacementRefused(f"{exc}. Give one of the known profiles.") from None
    if profile.utility != old.utility.value:
        raise ReplacementRefused(
            f"Profile {name} is for {profile.utility} meters, but meter {old.serial} measures "
            f"{old.utility.value}; give a {old.utility.value} profile."
        )
    return name, profile


def _check_address(session: Session, old: Meter, new_address: str, profile: Profile | None) -> str:
    """The address rules of every new meter (``meter_checks``: stored as the wire wants it,
    never shared on a bus), worded for a swap; the old meter's own address is free."""
    address = new_address.strip()
    if not address:
        raise ReplacementRefused("The new meter's address is empty; give its bus address.")
    if profile is not None:
        address = stored_address(profile, address)
        if problem := address_problem(profile.protocol, address):
            raise ReplacementRefused(f"{problem}; give the address set on the new meter.")
    if len(address) > ADDRESS_MAX:
        raise ReplacementRefused(
            f"The address {address!r} is longer than {ADDRESS_MAX} characters."
        )
    holder = address_holder(session, old.bus_id, address, old.id)
    if holder is not None:
        raise ReplacementRefused(
            f"Address {address} on this bus belongs to meter {holder.serial} "
            f"({holder.status.value}); two meters on one bus cannot share an address. "
            "Set another address on the new meter, or remove that meter first."
        )
    return address


def _clear_alarms(session: Session, meter_id: int) -> int:
    now = datetime.now(UTC)
    alarms = session.scalars(
        select(Alarm).where(
            Alarm.meter_id == meter_id,
            Alarm.kind.in_(ENDED_ALARM_KINDS),
            Alarm.state != AlarmState.CLEARED,
        )
    ).all()
    for alarm in alarms:
        alarm.state = AlarmState.CLEARED
        alarm.cleared_at = now
    return len(alarms)
