"""Buildings and rooms: add, rename, retire, and a generator for whole floors of rooms.

A building has a name ("Block 7") and a short code printed in room labels ("7"); a room has a
floor, a number ("305") and a label people type at the counter ("7-305": code, dash, number).
Nothing with history is ever deleted: a room or building that has had an account or a meter is
retired (kept, hidden from new work); one that never had either is removed, so a typo is undone.
A room with an open account or a meter in service is not retired: move or settle the account and
retire or move the meters first.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import delete, exists, func, select
from sqlalchemy.orm import Session

from app.services.audit import record_audit
from app.services.operators import SignedIn
from app.services.permissions import Action
from app.services.setup_checks import SetupRefused, clean_text, whole_number
from app.services.site_setup import the_site
from app.store.database import Database
from app.store.models import Account, Building, Meter, Room, column_length, utc_now
from app.vocabulary import AccountStatus

FLOOR_LOW, FLOOR_HIGH = -9, 199
ROOMS_PER_FLOOR_MAX = 999
GENERATE_MAX = 5000
_CODE = re.compile(r"[A-Za-z0-9]{1,16}")
_NUMBER = re.compile(r"[A-Za-z0-9][A-Za-z0-9.-]{0,15}")


@dataclass(frozen=True)
class RoomPlan:
    """A room the generator would add (``exists``: already there, left as it is)."""

    floor: int
    number: str
    label: str
    exists: bool


def label_of(code: str, number: str) -> str:
    return f"{code}-{number}"


def default_code(name: str, taken: Sequence[str] = ()) -> str:
    """A short code for a building name: its last word when short ("Block 7" -> "7",
    "Tower B" -> "B"), else its initials ("North Hall" -> "NH"); made unique against
    ``taken`` (case-insensitive): a letter after a code that ends in a digit ("7" -> "7B", so
    its rooms do not read as building 72's), a number after one that ends in a letter."""
    words = re.findall(r"[A-Za-z0-9]+", name)
    if not words:
        base = "B"
    elif len(words[-1]) <= 3:  # "Hall", "Wing": words, not codes
        base = words[-1].upper()
    else:
        base = "".join(w[0] for w in words).upper()[:6]
    used = {t.lower() for t in taken}
    suffixes = (
        (chr(c) for c in range(ord("B"), ord("Z") + 1))
        if base[-1].isdigit()
        else (str(n) for n in range(2, 10_000))
    )
    code = base
    for suffix in suffixes:
        if code.lower() not in used:
            break
        code = f"{base}{suffix}"
    return code


def _building_named(session: Session, text: str) -> Building:
    """The building with this name or code (case-insensitive), retired ones included."""
    wanted = " ".join(text.split()).lower()
    found = session.scalars(
        select(Building).where(
            (func.lower(Building.name) == wanted) | (func.lower(Building.code) == wanted)
        )
    ).first()
    if found is None:
        names = session.scalars(
            select(Building.name).where(Building.retired_at.is_(None)).order_by(Building.name)
        ).all()
        known = ", ".join(names) if names else "none yet: add one first"
        raise SetupRefused(
            "building", f"There is no building {text.strip()!r}; buildings: {known}."
        )
    return found


def active_building(session: Session, text: str) -> Building:
    building = _building_named(session, text)
    if building.retired_at is not None:
        raise SetupRefused("building", f"Building {building.name} is retired; choose another.")
    return building


def check_code_text(code: str) -> str:
    """A building code as typed: 1 to 16 letters or digits."""
    code = code.strip()
    if not _CODE.fullmatch(code):
        raise SetupRefused(
            "code",
            f"The building code {code!r} must be 1 to 16 letters or digits (it starts every "
            "room label, e.g. A-305).",
        )
    return code


def _check_code(session: Session, code: str, building_id: int | None) -> str:
    code = check_code_text(code)
    clash = session.scalars(
        select(Building).where(func.lower(Building.code) == code.lower())
    ).first()
    if clash is not None and clash.id != building_id:
        raise SetupRefused("code", f"Building {clash.name} already has the code {clash.code}.")
    return code


def _check_building_name(session: Session, name: str, building_id: int | None) -> str:
    text = clean_text(name, "name", "building name", column_length(Building.name))
    clash = session.scalars(
        select(Building).where(func.lower(Building.name) == text.lower())
    ).first()
    if clash is not None and clash.id != building_id:
        raise SetupRefused("name", f"There is already a building called {clash.name}.")
    return text


def add_building(session: Session, by: SignedIn, name: str, code: str = "") -> Building:
    """A new building of the site; ``code`` defaults to one made from the name."""
    by.require(Action.EDIT_LAYOUT)
    site = the_site(session)
    if site is None:
        raise SetupRefused("name", "There is no site yet; set it up first ('main.py site init').")
    text = _check_building_name(session, name, None)
    taken = session.scalars(select(Building.code)).all()
    chosen = _check_code(session, code or default_code(text, taken), None)
    building = Building(site_id=site.id, name=text, code=chosen, floors=0)
    session.add(building)
    session.flush()
    record_audit(
        session, by, "building.add", "building", building.id, None, {"name": text, "code": chosen}
    )
    return building


def rename_building(
    session: Session,
    by: SignedIn,
    building: str,
    *,
    name: str | None = None,
    code: str | None = None,
) -> Building:
    """A new name and/or code; a new code relabels every room of the building ("A-305" ->
    "B-305"). Receipts keep the words they were printed with."""
    by.require(Action.EDIT_LAYOUT)
    found = _building_named(session, building)
    before = {"name": found.name, "code": found.code}
    if name is not None:
        found.name = _check_building_name(session, name, found.id)
    if code is not None and code.strip() != found.code:
        found.code = _check_code(session, code, found.id)
        rooms = session.scalars(select(Room).where(Room.building_id == found.id)).all()
        labels = {room.id: label_of(found.code, room.number) for room in rooms}
        clash = session.scalars(
            select(Room.label).where(
                func.lower(Room.label).in_([v.lower() for v in labels.values()]),
                Room.building_id != found.id,
            )
        ).first()
        if clash is not None:
            raise SetupRefused("code", f"With code {found.code} a room label {clash} repeats.")
        for room in rooms:
            room.label = labels[room.id]
    after = {"name": found.name, "code": found.code}
    if after != before:
        session.flush()
        record_audit(session, by, "building.rename", "building", found.id, before, after)
    return found


def retire_building(session: Session, by: SignedIn, building: str) -> str:
    """Retire a building and its rooms (kept with their history), or remove one that never had
    any: returns "retired" or "removed"."""
    by.require(Action.EDIT_LAYOUT)
    found = _building_named(session, building)
    if found.retired_at is not None:
        raise SetupRefused("building", f"Building {found.name} is retired already.")
    rooms = session.scalars(select(Room).where(Room.building_id == found.id)).all()
    for room in rooms:
        _must_be_free(session, room)
    had = [room for room in rooms if _has_history(session, room)]
    # A building whose incomer meter was ever marked keeps it (and its readings) in history.
    fed = session.scalar(select(Meter.id).where(Meter.incomer_building_id == found.id).limit(1))
    now = utc_now()
    if had or fed is not None:
        outcome = "retired"
        found.retired_at = now
        for room in rooms:
            room.retired_at = room.retired_at or now
    else:
        outcome = "removed"
        session.execute(delete(Room).where(Room.building_id == found.id))
        session.delete(found)
    session.flush()
    record_audit(
        session,
        by,
        f"building.{'retire' if outcome == 'retired' else 'remove'}",
        "building",
        found.id,
        {"name": found.name, "code": found.code, "rooms": len(rooms)},
        None,
    )
    return outcome


def check_room_number(number: str) -> str:
    text = number.strip()
    if not _NUMBER.fullmatch(text):
        raise SetupRefused(
            "room",
            f"The room number {text!r} must be 1 to 16 letters, digits, dots or dashes, "
            "starting with a letter or digit (e.g. 305, B12).",
        )
    return text


def _free_label(session: Session, label: str, room_id: int | None) -> None:
    clash = session.scalars(select(Room).where(func.lower(Room.label) == label.lower())).first()
    if clash is not None and clash.id != room_id:
        state = " (retired)" if clash.retired_at is not None else ""
        raise SetupRefused("room", f"Room {clash.label}{state} is already there.")


def add_room(
    session: Session, by: SignedIn, building: str, floor: int | str, number: str, note: str = ""
) -> Room:
    by.require(Action.EDIT_LAYOUT)
    found = active_building(session, building)
    level = whole_number(floor, "floor", "floor", FLOOR_LOW, FLOOR_HIGH)
    text = check_room_number(number)
    label = label_of(found.code, text)
    _free_label(session, label, None)
    remark = clean_text(note, "note", "note", 300, required=False)
    room = Room(building_id=found.id, floor=level, number=text, label=label, note=remark)
    session.add(room)
    found.floors = max(found.floors, level)
    session.flush()
    record_audit(
        session,
        by,
        "room.add",
        "room",
        room.id,
        None,
        {"building": found.name, "floor": level, "room": text, "label": label, "note": remark},
    )
    return room


def room_named(session: Session, label: str) -> Room:
    found = session.scalars(
        select(Room).where(func.lower(Room.label) == label.strip().lower())
    ).first()
    if found is None:
        raise SetupRefused("room", f"There is no room {label.strip()!r}; check the label.")
    return found


def change_room(
    session: Session,
    by: SignedIn,
    label: str,
    *,
    number: str | None = None,
    floor: int | str | None = None,
    note: str | None = None,
) -> Room:
    """A new number (and so label), floor or note of a room."""
    by.require(Action.EDIT_LAYOUT)
    room = room_named(session, label)
    building = session.get_one(Building, room.building_id)
    before = {"label": room.label, "floor": room.floor, "note": room.note}
    if number is not None:
        text = check_room_number(number)
        label = label_of(building.code, text)
        _free_label(session, label, room.id)  # before the change: its query flushes
        room.number, room.label = text, label
    if floor is not None:
        room.floor = whole_number(floor, "floor", "floor", FLOOR_LOW, FLOOR_HIGH)
        building.floors = max(building.floors, room.floor)
    if note is not None:
        room.note = clean_text(note, "note", "note", 300, required=False)
    after = {"label": room.label, "floor": room.floor, "note": room.note}
    if after != before:
        session.flush()
        record_audit(session, by, "room.change", "room", room.id, before, after)
    return room


def _must_be_free(session: Session, room: Room) -> None:
    account = session.scalars(
        select(Account).where(Account.room_id == room.id, Account.status == AccountStatus.OPEN)
    ).first()
    if account is not None:
        raise SetupRefused(
            "room",
            f"Room {room.label} has open account {account.number} ({account.holder_name}); "
            "move or settle it first.",
        )
    meter = session.scalars(
        select(Meter.serial).where(Meter.room_id == room.id, Meter.removed_at.is_(None))
    ).first()
    if meter is not None:
        raise SetupRefused(
            "room", f"Room {room.label} has meter {meter} in service; retire or move it first."
        )


def _has_history(session: Session, room: Room) -> bool:
    return bool(
        session.scalar(select(exists().where(Account.room_id == room.id)))
        or session.scalar(select(exists().where(Meter.room_id == room.id)))
    )


def retire_room(session: Session, by: SignedIn, label: str) -> str:
    """Retire a room (kept with its history) or remove one that never had an account or a
    meter: returns "retired" or "removed"."""
    by.require(Action.EDIT_LAYOUT)
    room = room_named(session, label)
    _must_be_free(session, room)
    before = {"label": room.label, "floor": room.floor}
    if _has_history(session, room) or room.retired_at is not None:
        outcome = "retired"
        room.retired_at = room.retired_at or utc_now()
    else:
        outcome = "removed"
        session.delete(room)
    session.flush()
    action = "room.retire" if outcome == "retired" else "room.remove"
    record_audit(session, by, action, "room", before["label"], before, None)
    return outcome


def _range(text: str, field: str, label: str, low: int, high: int) -> tuple[int, int, int]:
    """``"1-6"`` or ``"3"`` -> (first, last, width of the first as typed)."""
    first, dash, last = text.strip().partition("-")
    if first.startswith("-") or not first:  # a negative floor: "-2--1" is not worth parsing
        raise SetupRefused(field, f"Give the {label} as a range like 1-6 or one number.")
    a = whole_number(first, field, label, low, high)
    b = whole_number(last, field, label, low, high) if dash else a
    if b < a:
        raise SetupRefused(field, f"The {label} {text.strip()!r} run backwards; write {b}-{a}.")
    return a, b, len(first.strip())


def plan_rooms(session: Session, building: str, floors: str, rooms: str) -> list[RoomPlan]:
    """What ``generate_rooms`` would add: floors "1-6" x rooms "01-20" gives 101..620 (the
    room part as wide as typed: "1-20" gives 11..120 on floor 1... so type "01-20")."""
    found = active_building(session, building)
    f1, f2, _ = _range(floors, "floors", "floors", FLOOR_LOW, FLOOR_HIGH)
    r1, r2, width = _range(rooms, "rooms", "rooms", 1, ROOMS_PER_FLOOR_MAX)
    count = (f2 - f1 + 1) * (r2 - r1 + 1)
    if count > GENERATE_MAX:
        raise SetupRefused(
            "rooms", f"That is {count} rooms; generate at most {GENERATE_MAX} at a time."
        )
    existing = {
        label.lower()
        for label in session.scalars(select(Room.label).where(Room.building_id == found.id))
    }
    plans = []
    for floor in range(f1, f2 + 1):
        for n in range(r1, r2 + 1):
            number = f"{floor}{n:0{width}d}"
            label = label_of(found.code, number)
            plans.append(RoomPlan(floor, number, label, label.lower() in existing))
    return plans


def generate_rooms(
    session: Session, by: SignedIn, building: str, floors: str, rooms: str
) -> list[RoomPlan]:
    """Add every room of ``plan_rooms`` that is not there yet (one audit event)."""
    by.require(Action.EDIT_LAYOUT)
    plans = plan_rooms(session, building, floors, rooms)
    found = active_building(session, building)
    new = [p for p in plans if not p.exists]
    taken = {
        label.lower()
        for label in session.scalars(
            select(Room.label).where(func.lower(Room.label).in_([p.label.lower() for p in new]))
        )
    }
    if taken:
        raise SetupRefused("rooms", f"Room {sorted(taken)[0]} is taken by another building.")
    session.add_all(
        Room(building_id=found.id, floor=p.floor, number=p.number, label=p.label) for p in new
    )
    if new:
        found.floors = max(found.floors, *(p.floor for p in new))
    session.flush()
    if new:
        record_audit(
            session,
            by,
            "room.generate",
            "building",
            found.id,
            None,
            {"floors": floors.strip(), "rooms": rooms.strip(), "labels": [p.label for p in new]},
        )
    return plans


def preview_rooms(db: Database, building: str, floors: str, rooms: str) -> list[RoomPlan]:
    """``plan_rooms`` in a read-only session of its own (the generator's preview)."""
    with db.session() as session:
        return plan_rooms(session, building, floors, rooms)
