"""Which accounts a report covers: the whole site, a building (by code or name), a floor of it,
a room (its label, "A-305"), one account (its number) or one meter (its serial: its room and
the account that pays for it, and in the reports of meters, that meter alone). An account
belongs to the room it is in now: an account that moved is reported under its present room."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, Select, false, func, or_, select
from sqlalchemy.orm import Session

from app.store.models import Account, Building, Meter, Room


class ScopeRefused(ValueError):
    """A scope naming nothing on the site; the message lists what there is."""


@dataclass(frozen=True)
class Scope:
    building: str | None = None
    floor: int | None = None  # with a building
    room: str | None = None
    account: str | None = None
    meter: str | None = None  # a serial

    def words(self) -> str:
        if self.meter:
            return f"meter {self.meter}"
        if self.account:
            return f"account {self.account}"
        if self.room:
            return f"room {self.room}"
        if self.building and self.floor is not None:
            return f"building {self.building}, floor {self.floor}"
        if self.building:
            return f"building {self.building}"
        return "the whole site"

    def heading(self) -> str:
        """``words`` as a subtitle starts: "Building A", "The whole site"."""
        words = self.words()
        return words[:1].upper() + words[1:]


def account_condition(session: Session, scope: Scope) -> ColumnElement[bool] | None:
    """A condition on ``Account`` selecting the scope's accounts; None for the whole site.
    ScopeRefused when the scope names no building, room or account of the site."""
    if scope.meter:
        account_id = _meter(session, scope.meter)[2]
        return Account.id == account_id if account_id is not None else false()
    if scope.account:
        number = scope.account.strip()
        if session.scalar(select(Account.id).where(Account.number == number)) is None:
            raise ScopeRefused(f"there is no account {number}; check the number")
        return Account.number == number
    if scope.room:
        return Account.room_id == _room_id(session, scope.room)
    rooms = _building_rooms(session, scope)
    return None if rooms is None else Account.room_id.in_(rooms)


def room_condition(session: Session, scope: Scope) -> ColumnElement[bool] | None:
    """A condition on ``Room`` selecting the scope's rooms (an account's: the room it is in
    now, none if it has left); None for the whole site. ScopeRefused as ``account_condition``.
    For what rooms measure, vacant ones included."""
    if scope.meter:
        room_id = _meter(session, scope.meter)[1]
        return Room.id == room_id if room_id is not None else false()
    if scope.account:
        number = scope.account.strip()
        found = session.execute(select(Account.room_id).where(Account.number == number)).first()
        if found is None:
            raise ScopeRefused(f"there is no account {number}; check the number")
        return Room.id == found[0] if found[0] is not None else false()
    if scope.room:
        return Room.id == _room_id(session, scope.room)
    rooms = _building_rooms(session, scope)
    return None if rooms is None else Room.id.in_(rooms)


def meter_condition(session: Session, scope: Scope) -> ColumnElement[bool] | None:
    """For the reports of meters (energy, meter health, load safety): ``Meter.id`` is the
    scope's meter; None when the scope names none (its rooms' meters then)."""
    if not scope.meter:
        return None
    return Meter.id == _meter(session, scope.meter)[0]


def _meter(session: Session, text: str) -> tuple[int, int | None, int | None]:
    """(id, room id, account id) of the meter with this serial (any letter case)."""
    serial = text.strip()
    found = session.execute(
        select(Meter.id, Meter.room_id, Meter.account_id).where(
            func.lower(Meter.serial) == serial.lower()
        )
    ).first()
    if found is None:
        raise ScopeRefused(f"there is no meter {serial}; give its serial as on its nameplate")
    return found[0], found[1], found[2]


def scope_named(session: Session, building: str | None, text: str) -> Scope:
    """The scope a person typed in one box: a room's label, an account's number or a meter's
    serial (tried in that order), within ``building`` when one is chosen. ScopeRefused when it
    is none of them."""
    wanted = text.strip()
    if session.scalar(select(Room.id).where(Room.label == wanted)) is not None:
        return Scope(building=building, room=wanted)
    if session.scalar(select(Account.id).where(Account.number == wanted)) is not None:
        return Scope(building=building, account=wanted)
    serial = session.scalar(select(Meter.serial).where(func.lower(Meter.serial) == wanted.lower()))
    if serial is not None:
        return Scope(building=building, meter=serial)
    raise ScopeRefused(
        f"{wanted!r} is no room, account or meter of the site; give a room as printed (A-305), "
        "an account number or a meter's serial"
    )


def _room_id(session: Session, text: str) -> int:
    label = text.strip()
    room_id = session.scalar(select(Room.id).where(Room.label == label))
    if room_id is None:
        raise ScopeRefused(f"there is no room {label}; give its label as printed, e.g. A-305")
    return room_id


def _building_rooms(session: Session, scope: Scope) -> Select[int] | None:
    """The ids of the rooms of the scope's building (and floor); None without a building."""
    if scope.floor is not None and not scope.building:
        raise ScopeRefused("a floor is one of a building's: give --building with --floor")
    if not scope.building:
        return None
    wanted = scope.building.strip()
    building_id = session.scalar(
        select(Building.id).where(or_(Building.code == wanted, Building.name == wanted))
    )
    if building_id is None:
        known = ", ".join(session.scalars(select(Building.code).order_by(Building.code)).all())
        raise ScopeRefused(
            f"there is no building {wanted}; the site's buildings are {known or 'none yet'}"
        )
    rooms = select(Room.id).where(Room.building_id == building_id)
    if scope.floor is not None:
        rooms = rooms.where(Room.floor == scope.floor)
    return rooms
