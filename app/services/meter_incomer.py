"""A building's incomer (master) meter: the meter on the building's supply that measures what
the whole building draws, set against the sum of its rooms' meters by the loss report
(``app.queries.reports.loss``).

An incomer is polled and its readings stored like any meter (its daily rollup is written by
the reading store, which asks nothing of accounts), but it belongs to no room and no account:
nobody is billed for it and the energy report leaves it out of the rooms' use. So a meter that
is in a room, or carries an account, is refused, as is a retired meter. Marking and clearing
are set-up steps of the field (technicians and administrators, as adding a meter is), audited.
A building may have several incomers of one utility (two feeders): the loss report adds them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.services.audit import record_audit
from app.services.operators import SignedIn
from app.services.permissions import Action
from app.services.setup_checks import SetupRefused
from app.services.site_layout import active_building
from app.store.models import Account, Building, Meter, Room


@dataclass(frozen=True)
class IncomerSaved:
    """What a marking or clearing did: the meter, the building it measures now (None: none)
    and the one it measured before, each as "Name (CODE)"."""

    serial: str
    utility: str
    building: str | None
    before: str | None
    warnings: tuple[str, ...] = field(default=())


def _words(building: Building | None) -> str | None:
    return None if building is None else f"{building.name} ({building.code})"


def _meter(session: Session, serial: str) -> Meter:
    """The meter with this serial (any letter case), in service."""
    wanted = serial.strip()
    if not wanted:
        raise SetupRefused("meter", "The meter's serial is empty; give its nameplate number.")
    meter = session.scalars(select(Meter).where(func.lower(Meter.serial) == wanted.lower())).first()
    if meter is None:
        raise SetupRefused(
            "meter", f"There is no meter {wanted!r}; check the serial ('main.py meter list')."
        )
    if meter.removed_at is not None:
        raise SetupRefused(
            "meter",
            f"Meter {meter.serial} is retired; an incomer must be in service. Give the serial "
            "of the meter that replaced it.",
        )
    return meter


def _check_free(session: Session, meter: Meter) -> None:
    """Refuse a meter that somebody pays for or that counts for a room."""
    if meter.account_id is not None:
        number = session.scalar(select(Account.number).where(Account.id == meter.account_id))
        raise SetupRefused(
            "meter",
            f"Meter {meter.serial} is paid for by account {number}: an incomer belongs to no "
            "room and no account (its energy is the whole building's). Check the serial on the "
            "incoming meter's nameplate; the building's incomer is added without a room "
            "('main.py meter add' without --room).",
        )
    if meter.room_id is not None:
        label = session.scalar(select(Room.label).where(Room.id == meter.room_id))
        raise SetupRefused(
            "meter",
            f"Meter {meter.serial} is room {label}'s meter and counts for that room: an incomer "
            f"belongs to no room. If it really is the building's incoming meter, take it out of "
            f"the room first ('main.py meter change --meter {meter.serial} --room \"\"').",
        )


def _audited(meter: Meter, building: Building | None) -> dict[str, object]:
    return {
        "serial": meter.serial,
        "incomer_of": None if building is None else building.code,
    }


def set_incomer(session: Session, by: SignedIn, serial: str, building: str) -> IncomerSaved:
    """Mark meter ``serial`` as the incomer of ``building`` (its name or code); a meter that
    was another building's incomer moves. SetupRefused (nothing written) for an unknown or
    retired meter or building, or a meter in a room or with an account."""
    by.require(Action.EDIT_FIELD)
    meter = _meter(session, serial)
    target = active_building(session, building)
    _check_free(session, meter)
    old = session.get(Building, meter.incomer_building_id) if meter.incomer_building_id else None
    saved = IncomerSaved(
        meter.serial,
        meter.utility.value,
        _words(target),
        _words(old),
        _others(session, meter, target),
    )
    if old is not None and old.id == target.id:
        return saved  # already so: nothing to write or audit
    before = _audited(meter, old)
    meter.incomer_building_id = target.id
    session.flush()
    record_audit(session, by, "meter.incomer", "meter", meter.id, before, _audited(meter, target))
    return saved


def clear_incomer(session: Session, by: SignedIn, serial: str) -> IncomerSaved:
    """Meter ``serial`` is no longer an incomer. SetupRefused for an unknown or retired meter,
    or one that is no building's incomer."""
    by.require(Action.EDIT_FIELD)
    meter = _meter(session, serial)
    if meter.incomer_building_id is None:
        raise SetupRefused(
            "meter",
            f"Meter {meter.serial} is no building's incomer; there is nothing to clear.",
        )
    old = session.get_one(Building, meter.incomer_building_id)
    before = _audited(meter, old)
    meter.incomer_building_id = None
    session.flush()
    record_audit(session, by, "meter.incomer", "meter", meter.id, before, _audited(meter, None))
    return IncomerSaved(meter.serial, meter.utility.value, None, _words(old))


def _others(session: Session, meter: Meter, building: Building) -> tuple[str, ...]:
    """A warning when the building already has another incomer of the meter's utility."""
    others = session.scalars(
        select(Meter.serial)
        .where(
            Meter.incomer_building_id == building.id,
            Meter.utility == meter.utility,
            Meter.removed_at.is_(None),
            Meter.id != meter.id,
        )
        .order_by(Meter.serial)
    ).all()
    if not others:
        return ()
    return (
        f"Building {building.name} now has {len(others) + 1} {meter.utility.value} incomers "
        f"({', '.join([*others, meter.serial])}): the loss report adds them up, as for a "
        "building fed by several supplies. If one of them no longer feeds the building, clear "
        "it with 'main.py meter incomer --clear'.",
    )
