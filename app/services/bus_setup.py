"""Buses: the site's RS485 lines. Add, change, retire, and test a line.

A bus is named by its port (a serial port such as ``/dev/ttyUSB0`` or ``COM3``, or a
``socket://``, ``rfc2217://``, ``modbus-tcp://`` or ``sim://`` URL) with its line settings, and
says which meter profile its new meters get unless told otherwise. One port, one owner: two
buses in use never name the same port. A bus with meters in service is not retired: retire or
move its meters first. Every change bumps the field revision, so a running console or
``serve`` polls a new bus and lets a retired or disabled one go without a restart.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from app.hardware.errors import ProfileError
from app.hardware.ports import (
    PARITIES,
    STOP_BITS,
    baud_problem,
    port_problem,
    same_port,
)
from app.hardware.profiles import Profile, available_profiles, load_profile
from app.input_limits import TIMEOUT_HIGH_MS, TIMEOUT_LOW_MS
from app.services.audit import record_audit
from app.services.operators import SignedIn
from app.services.permissions import Action
from app.services.setup_checks import SetupRefused, clean_text, field_changed, whole_number
from app.store.models import Bus, Meter, column_length, utc_now

RETRIES_MAX = 5


@dataclass(frozen=True)
class BusForm:
    """A bus as a person fills it in. Empty line settings take the profile's defaults."""

    name: str
    port: str
    profile: str
    baud: str = ""
    parity: str = ""
    stopbits: str = ""
    timeout_ms: str = ""
    retries: str = ""
    enabled: bool = True


def profile_named(name: str, field: str = "profile") -> Profile:
    """A meter profile by name, or SetupRefused naming the profiles there are."""
    text = name.strip()
    try:
        if not text:
            raise ProfileError("empty")
        return load_profile(text)
    except ProfileError:
        raise SetupRefused(
            field,
            f"There is no meter profile {text!r}; choose one of {', '.join(available_profiles())}.",
        ) from None


def _line_number(text: str, field: str, label: str, low: int, high: int) -> int:
    """A line setting typed as a whole number (``whole_number``), refused as not one when it
    holds anything but the digits 0-9 or more of them than any setting has (``²`` and a
    400-digit number are not numbers a line takes)."""
    raw = text.strip().removeprefix("-")
    if not raw.isascii() or len(raw) > 12:
        raise SetupRefused(
            field, f"The {label} {text.strip()[:20]!r} is not a whole number; type one."
        )
    return whole_number(text, field, label, low, high)


def line_settings(form: BusForm, profile: Profile) -> tuple[int, str, int, int, int]:
    line = profile.line
    baud = (
        _line_number(form.baud, "baud", "baud rate", 1, 10_000_000)
        if form.baud.strip()
        else line.baudrate
    )
    if (problem := baud_problem(baud)) is not None:
        raise SetupRefused("baud", problem + ".")
    parity = (form.parity.strip().upper() or line.parity)[:1]
    if form.parity.strip().upper() not in ("", *PARITIES, "NONE", "EVEN", "ODD"):
        raise SetupRefused("parity", f"Parity {form.parity.strip()!r}: use N, E or O.")
    stop = (
        _line_number(form.stopbits, "stopbits", "stop bits", 1, 2)
        if form.stopbits.strip()
        else line.stopbits
    )
    if stop not in STOP_BITS:
        raise SetupRefused("stopbits", "Stop bits: use 1 or 2.")
    default_timeout = round(line.timeout_s * 1000)
    timeout = (
        _line_number(
            form.timeout_ms, "timeout_ms", "reply timeout", TIMEOUT_LOW_MS, TIMEOUT_HIGH_MS
        )
        if form.timeout_ms.strip()
        else default_timeout
    )
    retries = (
        _line_number(form.retries, "retries", "retries", 0, RETRIES_MAX)
        if form.retries.strip()
        else 1
    )
    return baud, parity, stop, timeout, retries


def bus_name_text(name: str) -> str:
    """A bus name as typed, checked without the database (the import checks it so too)."""
    return clean_text(name, "name", "bus name", column_length(Bus.name))


def name_taken(name: str) -> SetupRefused:
    """The refusal of a name another bus has, retired ones included (kept for history)."""
    return SetupRefused("name", f"There is already a bus called {name}.")


def port_text(port: str) -> str:
    """A port as typed, checked without the database (the import checks it so too)."""
    text = port.strip()
    problem = port_problem(text)
    if problem is not None:
        raise SetupRefused("port", problem[0].upper() + problem[1:] + ".")
    if len(text) > column_length(Bus.url):
        raise SetupRefused("port", "The port is too long.")
    return text


def _check_name(session: Session, name: str, bus_id: int | None) -> str:
    text = bus_name_text(name)
    clash = session.scalars(select(Bus).where(func.lower(Bus.name) == text.lower())).first()
    if clash is not None and clash.id != bus_id:
        raise name_taken(clash.name)
    return text


def _check_port(session: Session, port: str, bus_id: int | None, enabled: bool) -> str:
    text = port_text(port)
    if enabled:
        for other in session.scalars(
            select(Bus).where(Bus.enabled.is_(True), Bus.retired_at.is_(None))
        ):
            if other.id != bus_id and same_port(other.url, text):
                raise SetupRefused(
                    "port",
                    f"Bus {other.name} already uses {other.url}: one port has one owner. "
                    "Put both lines' meters on one bus, or disable the other bus first.",
                )
    return text


def bus_named(session: Session, name: str, *, active: bool = True) -> Bus:
    text = " ".join(name.split())
    bus = session.scalars(select(Bus).where(func.lower(Bus.name) == text.lower())).first()
    if bus is None:
        names = session.scalars(
            select(Bus.name).where(Bus.retired_at.is_(None)).order_by(Bus.name)
        ).all()
        known = ", ".join(names) if names else "none yet: add one first"
        raise SetupRefused("bus", f"There is no bus {text!r}; buses: {known}.")
    if active and bus.retired_at is not None:
        raise SetupRefused("bus", f"Bus {bus.name} is retired; choose another.")
    return bus


def _as_dict(bus: Bus) -> dict[str, object]:
    return {
        "name": bus.name,
        "port": bus.url,
        "baud": bus.baudrate,
        "parity": bus.parity,
        "stopbits": bus.stopbits,
        "timeout_ms": bus.timeout_ms,
        "retries": bus.retries,
        "profile": bus.profile,
        "enabled": bus.enabled,
    }


def add_bus(session: Session, by: SignedIn, form: BusForm) -> Bus:
    by.require(Action.EDIT_FIELD)
    name = _check_name(session, form.name, None)
    port = _check_port(session, form.port, None, form.enabled)
    profile = profile_named(form.profile)
    baud, parity, stop, timeout, retries = line_settings(form, profile)
    bus = Bus(
        name=name,
        url=port,
        baudrate=baud,
        bytesize=profile.line.bytesize,
        parity=parity,
        stopbits=stop,
        timeout_ms=timeout,
        retries=retries,
        profile=profile.name,
        enabled=form.enabled,
    )
    session.add(bus)
    session.flush()
    field_changed(session)
    record_audit(session, by, "bus.add", "bus", bus.id, None, _as_dict(bus))
    return bus


def bus_form(bus: Bus) -> BusForm:
    """A stored bus as its form, to change some fields of it."""
    return BusForm(
        bus.name,
        bus.url,
        bus.profile or "",
        str(bus.baudrate),
        bus.parity,
        str(bus.stopbits),
        str(bus.timeout_ms),
        str(bus.retries),
        bus.enabled,
    )


def change_bus(session: Session, by: SignedIn, name: str, /, **changes: object) -> Bus:
    """Change some fields of a bus (those of ``BusForm``; ``name=`` renames it), audited."""
    by.require(Action.EDIT_FIELD)
    bus = bus_named(session, name)
    unknown = set(changes) - set(BusForm.__dataclass_fields__)
    if unknown:
        raise SetupRefused(sorted(unknown)[0], f"A bus has no {sorted(unknown)[0]!r}.")
    before = _as_dict(bus)
    form = replace(bus_form(bus), **changes)  # type: ignore[arg-type]
    if not form.profile.strip():  # a bus stored before buses had a default profile
        shared = session.scalars(
            select(Meter.profile).where(Meter.bus_id == bus.id, Meter.removed_at.is_(None))
        ).all()
        if len(set(shared)) == 1:
            form = replace(form, profile=shared[0])
    bus.name = _check_name(session, form.name, bus.id)
    bus.url = _check_port(session, form.port, bus.id, form.enabled)
    profile = profile_named(form.profile)
    bus.baudrate, bus.parity, bus.stopbits, bus.timeout_ms, bus.retries = line_settings(
        form, profile
    )
    bus.profile = profile.name
    bus.enabled = form.enabled
    after = _as_dict(bus)
    if after != before:
        session.flush()
        field_changed(session)
        record_audit(session, by, "bus.change", "bus", bus.id, before, after)
    return bus


def retire_bus(session: Session, by: SignedIn, name: str) -> str:
    """Retire a bus (kept for its meters' history) or remove one that never had a meter:
    returns "retired" or "removed"."""
    by.require(Action.EDIT_FIELD)
    bus = bus_named(session, name)
    serial = session.scalar(
        select(Meter.serial).where(Meter.bus_id == bus.id, Meter.removed_at.is_(None)).limit(1)
    )
    if serial is not None:
        raise SetupRefused(
            "bus", f"Bus {bus.name} has meter {serial} in service; retire or move its meters first."
        )
    before = _as_dict(bus)
    if session.scalar(select(exists().where(Meter.bus_id == bus.id))):
        outcome = "retired"
        bus.retired_at = utc_now()
        bus.enabled = False
    else:
        outcome = "removed"
        session.delete(bus)
    session.flush()
    field_changed(session)
    record_audit(session, by, f"bus.{outcome[:-1]}", "bus", before["name"], before, None)
    return outcome
