"""Buildings and rooms: supervisors lay out the site; a new building code relabels its rooms;
what has history is retired, a typo is removed; the floor generator's preview is what it adds
and a second run adds nothing; every refusal names the field and writes nothing; the lists and
the setup guide's checklist follow; on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import select

from app.queries.site_layout import list_buildings, list_rooms, setup_status
from app.services.bus_setup import BusForm, add_bus
from app.services.meter_setup import MeterForm, add_meter, retire_meter
from app.services.operators import SignedIn
from app.services.permissions import PermissionDenied
from app.services.setup_checks import SetupRefused, in_transaction
from app.services.site_layout import (
    add_building,
    add_room,
    change_room,
    default_code,
    generate_rooms,
    plan_rooms,
    preview_rooms,
    rename_building,
    retire_building,
    retire_room,
)
from app.store.database import Database
from app.store.models import Building, Bus, Room
from app.vocabulary import Role
from tests.integration.services.setup_support import (
    BACKENDS,
    Shared,
    audit_actions,
    last_event,
    open_in,
    refused,
    settle,
    shared_site,
    snapshot,
    staff,
    store_policy,
    with_site,
)


@pytest.fixture
def who(db: Database) -> dict[Role, SignedIn]:
    return with_site(db)


def _laid_out(db: Database) -> dict[Role, SignedIn]:
    who = with_site(db)
    block_7(db, who[Role.SUPERVISOR])
    return who


@pytest.fixture(scope="module", params=BACKENDS)
def laid_out(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Shared]:
    """The site with Block 7 (rooms 7-101..7-103, 7-201..7-203), shared by the refusals."""
    yield from shared_site(request, tmp_path_factory, _laid_out)


def labels(db: Database, building: str | None = None, *, retired: bool = False) -> list[str]:
    return [r.label for r in list_rooms(db, building, retired=retired)]


def block_7(db: Database, by: SignedIn, rooms: str = "01-03") -> None:
    """Building Block 7 (code 7) with rooms on floors 1 and 2."""
    in_transaction(db, add_building, by, "Block 7")
    in_transaction(db, generate_rooms, by, "Block 7", "1-2", rooms)


def meter_in(db: Database, by: SignedIn, room: str, serial: str, address: str) -> None:
    with db.session() as session:
        has_bus = session.scalar(select(Bus.id).limit(1)) is not None
    if not has_bus:
        in_transaction(db, add_bus, by, BusForm("Line 1", "sim://line-1", "hiking-dds238"))
    in_transaction(db, add_meter, by, MeterForm(serial, "Line 1", address, room=room))


def test_default_codes_are_short_and_unique() -> None:
    assert default_code("Block 7") == "7"
    assert default_code("Tower B") == "B"
    assert default_code("Block 12A") == "12A"
    assert default_code("North Hall") == "NH"
    assert default_code("East Wing") == "EW"
    assert default_code("Graduate Student Residence") == "GSR"
    assert default_code("楼") == "B"  # nothing to take a code from
    assert default_code("Tower 7", ["7"]) == "7B"  # not "72": its rooms would read 72-101
    assert default_code("Tower 7", ["7", "7b"]) == "7C"
    assert default_code("North Hall", ["nh", "NH2"]) == "NH3"


def test_supervisors_add_buildings_with_a_code_from_the_name(
    db: Database, who: dict[Role, SignedIn]
) -> None:
    sup = who[Role.SUPERVISOR]
    building = in_transaction(db, add_building, sup, "  Block   7 ")
    assert (building.name, building.code) == ("Block 7", "7")
    event = last_event(db)
    assert (event.action, event.operator_id, event.after) == (
        "building.add",
        sup.operator_id,
        {"name": "Block 7", "code": "7"},
    )
    assert in_transaction(db, add_building, who[Role.ADMIN], "Tower 7").code == "7B"
    assert in_transaction(db, add_building, sup, "North Hall", "N").code == "N"
    assert [(b.name, b.code) for b in list_buildings(db)] == [
        ("Block 7", "7"),
        ("North Hall", "N"),
        ("Tower 7", "7B"),
    ]


@pytest.mark.parametrize(
    ("name", "code", "field", "says"),
    [
        ("block 7", "", "name", "There is already a building called Block 7."),
        ("Seven", "7", "code", "Building Block 7 already has the code 7."),
        ("Seven", "7-A", "code", "must be 1 to 16 letters or digits"),
        ("Seven", "X" * 17, "code", "must be 1 to 16 letters or digits"),
        ("   ", "", "name", "The building name is empty; type it."),
        ("B" * 121, "", "name", "shorten it to 120 at most"),
    ],
)
def test_bad_buildings_are_refused_naming_the_field(
    laid_out: Shared, name: str, code: str, field: str, says: str
) -> None:
    problem = refused(laid_out.db, add_building, laid_out.who[Role.SUPERVISOR], name, code)
    assert problem.field == field
    assert says in str(problem)


def test_no_building_before_the_site(db: Database) -> None:
    sup = staff(db)[Role.SUPERVISOR]
    problem = refused(db, add_building, sup, "Block 7")
    assert problem.field == "name"
    assert "There is no site yet" in str(problem)


LAYOUT_STEPS: list[tuple[str, Callable[..., object], tuple[object, ...]]] = [
    ("add a building", add_building, ("Block 8",)),
    ("rename a building", rename_building, ("Block 7",)),
    ("retire a building", retire_building, ("Block 7",)),
    ("add a room", add_room, ("Block 7", 3, "301")),
    ("change a room", change_room, ("7-101",)),
    ("retire a room", retire_room, ("7-101",)),
    ("generate rooms", generate_rooms, ("Block 7", "3", "01-02")),
]


@pytest.mark.parametrize("role", [Role.CASHIER, Role.OFFICE, Role.TECHNICIAN])
def test_only_supervisors_and_admins_lay_out_the_site(laid_out: Shared, role: Role) -> None:
    db = laid_out.db
    before = snapshot(db)
    for what, step, args in LAYOUT_STEPS:
        kwargs = {"code": "B7"} if step is rename_building else {}
        kwargs = {"note": "x"} if step is change_room else kwargs
        with pytest.raises(PermissionDenied) as denied:
            in_transaction(db, step, laid_out.who[role], *args, **kwargs)
        said = str(denied.value)
        assert "may not add, rename and retire buildings and rooms" in said, what
        assert said.endswith("ask a supervisor to do it."), what
    assert snapshot(db) == before


def test_an_admin_lays_out_the_site_too(db: Database, who: dict[Role, SignedIn]) -> None:
    block_7(db, who[Role.ADMIN])
    in_transaction(db, rename_building, who[Role.ADMIN], "Block 7", code="B7")
    assert labels(db)[0] == "B7-101"


def test_a_new_code_relabels_the_rooms_and_a_new_name_does_not(
    db: Database, who: dict[Role, SignedIn]
) -> None:
    sup = who[Role.SUPERVISOR]
    block_7(db, sup)
    in_transaction(db, add_building, sup, "North Hall")
    assert labels(db, "Block 7") == ["7-101", "7-102", "7-103", "7-201", "7-202", "7-203"]
    in_transaction(db, rename_building, sup, "7", code="B7")  # found by its code
    assert labels(db, "Block 7") == ["B7-101", "B7-102", "B7-103", "B7-201", "B7-202", "B7-203"]
    event = last_event(db)
    assert (event.action, event.before, event.after) == (
        "building.rename",
        {"name": "Block 7", "code": "7"},
        {"name": "Block 7", "code": "B7"},
    )
    in_transaction(db, rename_building, sup, "block 7", name="Block Seven")
    assert labels(db, "B7")[0] == "B7-101"
    assert [b.name for b in list_buildings(db)] == ["Block Seven", "North Hall"]
    events = len(audit_actions(db))
    in_transaction(db, rename_building, sup, "Block Seven", name="Block Seven", code="B7")
    assert len(audit_actions(db)) == events  # nothing changed: no event
    clash = refused(db, rename_building, sup, "Block Seven", code="nh")
    assert (clash.field, str(clash)) == ("code", "Building North Hall already has the code NH.")
    named = refused(db, rename_building, sup, "Block Seven", name="north hall")
    assert named.field == "name"
    missing = refused(db, rename_building, sup, "Block 9", code="9")
    assert missing.field == "building"
    assert str(missing) == "There is no building 'Block 9'; buildings: Block Seven, North Hall."


def test_rooms_are_added_and_changed_with_their_labels(
    db: Database, who: dict[Role, SignedIn]
) -> None:
    sup = who[Role.SUPERVISOR]
    in_transaction(db, add_building, sup, "Tower B")
    room = in_transaction(db, add_room, sup, "tower b", "12", " 1205 ", note=" corner  room ")
    assert (room.label, room.floor, room.number, room.note) == ("B-1205", 12, "1205", "corner room")
    event = last_event(db)
    assert (event.action, event.after) == (
        "room.add",
        {
            "building": "Tower B",
            "floor": 12,
            "room": "1205",
            "label": "B-1205",
            "note": "corner room",
        },
    )
    assert list_buildings(db)[0].floors == 12
    changed = in_transaction(db, change_room, sup, "b-1205", number="1206", floor="13", note="")
    assert (changed.label, changed.floor, changed.note) == ("B-1206", 13, "")
    event = last_event(db)
    assert event.action == "room.change"
    assert (event.before, event.after) == (
        {"label": "B-1205", "floor": 12, "note": "corner room"},
        {"label": "B-1206", "floor": 13, "note": ""},
    )
    assert list_buildings(db)[0].floors == 13
    assert labels(db) == ["B-1206"]


@pytest.mark.parametrize(
    ("args", "field", "says"),
    [
        (("Block 7", "one", "150"), "floor", "The floor 'one' is not a whole number"),
        (("Block 7", "200", "20001"), "floor", "The floor 200 is out of range; give -9 to 199."),
        (("Block 7", "1", "1 05"), "room", "The room number '1 05' must be 1 to 16 letters"),
        (("Block 7", "1", ""), "room", "The room number '' must be"),
        (("Block 7", "1", "101"), "room", "Room 7-101 is already there."),
        (("Block 9", "1", "150"), "building", "There is no building 'Block 9'"),
    ],
)
def test_bad_rooms_are_refused_naming_the_field(
    laid_out: Shared, args: tuple[str, str, str], field: str, says: str
) -> None:
    problem = refused(laid_out.db, add_room, laid_out.who[Role.SUPERVISOR], *args)
    assert problem.field == field
    assert says in str(problem)


def test_room_changes_are_checked(laid_out: Shared) -> None:
    db, sup = laid_out.db, laid_out.who[Role.SUPERVISOR]
    taken = refused(db, change_room, sup, "7-101", number="102")
    assert (taken.field, str(taken)) == ("room", "Room 7-102 is already there.")
    assert refused(db, change_room, sup, "7-101", floor="x").field == "floor"
    assert refused(db, change_room, sup, "7-101", note="n" * 301).field == "note"
    assert refused(db, change_room, sup, "7-999", note="").field == "room"


def test_the_generator_preview_is_what_it_adds_and_a_second_run_adds_nothing(
    db: Database, who: dict[Role, SignedIn]
) -> None:
    sup = who[Role.SUPERVISOR]
    in_transaction(db, add_building, sup, "Block 7")
    in_transaction(db, add_room, sup, "Block 7", 2, "205")
    before = snapshot(db)
    with db.session() as session:
        preview = plan_rooms(session, "Block 7", "1-3", "01-10")
    assert preview_rooms(db, "block 7", "1-3", "01-10") == preview  # the screen's preview
    assert snapshot(db) == before  # the previews wrote nothing
    assert len(preview) == 30
    assert [p.label for p in preview[:3]] == ["7-101", "7-102", "7-103"]
    assert preview[-1].label == "7-310"
    assert [p.label for p in preview if p.exists] == ["7-205"]
    assert {p.floor for p in preview if p.label.startswith("7-2")} == {2}
    done = in_transaction(db, generate_rooms, sup, "Block 7", "1-3", "01-10")
    assert done == preview
    assert labels(db) == sorted(p.label for p in preview)
    event = last_event(db)
    assert event.action == "room.generate"
    assert event.after is not None
    assert event.after["labels"] == [p.label for p in preview if not p.exists]
    assert list_buildings(db)[0].floors == 3
    before = snapshot(db)
    again = in_transaction(db, generate_rooms, sup, "Block 7", "1-3", "01-10")
    assert [p.label for p in again] == [p.label for p in preview]
    assert all(p.exists for p in again)
    assert snapshot(db) == before  # nothing added, no event
    with db.session() as session:
        narrow = plan_rooms(session, "Block 7", "4", "1-10")
    assert [p.number for p in narrow][:2] == ["41", "42"]  # as wide as typed
    assert narrow[-1].number == "410"


@pytest.mark.parametrize(
    ("floors", "rooms", "field", "says"),
    [
        ("3-1", "01-10", "floors", "The floors '3-1' run backwards; write 1-3."),
        ("1-3", "1-1000", "rooms", "The rooms 1000 is out of range; give 1 to 999."),
        ("a-b", "01-10", "floors", "is not a whole number"),
        ("", "01-10", "floors", "Give the floors as a range like 1-6 or one number."),
        ("1-100", "1-100", "rooms", "That is 10000 rooms; generate at most 5000 at a time."),
    ],
)
def test_bad_ranges_are_refused_naming_the_field(
    laid_out: Shared, floors: str, rooms: str, field: str, says: str
) -> None:
    db = laid_out.db
    with db.session() as session, pytest.raises(SetupRefused) as preview:
        plan_rooms(session, "Block 7", floors, rooms)
    problem = refused(db, generate_rooms, laid_out.who[Role.SUPERVISOR], "Block 7", floors, rooms)
    assert problem.field == preview.value.field == field
    assert says in str(problem)


def test_a_room_without_history_is_removed_and_one_with_history_retired(
    db: Database, who: dict[Role, SignedIn]
) -> None:
    sup, tech, office = who[Role.SUPERVISOR], who[Role.TECHNICIAN], who[Role.OFFICE]
    store_policy(db, who[Role.ADMIN])
    block_7(db, sup)
    assert in_transaction(db, retire_room, sup, " 7-103 ") == "removed"
    assert "7-103" not in labels(db, retired=True)
    event = last_event(db)
    assert (event.action, event.target_id) == ("room.remove", "7-103")
    # a meter in service keeps the room; once retired, it leaves history behind
    meter_in(db, tech, "7-102", "E-102", "2")
    busy = refused(db, retire_room, sup, "7-102")
    assert (busy.field, str(busy)) == (
        "room",
        "Room 7-102 has meter E-102 in service; retire or move it first.",
    )
    in_transaction(db, retire_meter, tech, "E-102")
    assert in_transaction(db, retire_room, sup, "7-102") == "retired"
    assert last_event(db).action == "room.retire"
    assert "7-102" not in labels(db)
    assert "7-102" in labels(db, retired=True)
    # an open account keeps the room; a settled one leaves history behind
    number = open_in(db, office, "7-101")
    occupied = refused(db, retire_room, sup, "7-101")
    assert occupied.field == "room"
    assert f"Room 7-101 has open account {number} (Li Wei); move or settle it first." == str(
        occupied
    )
    settle(db, office, number)
    assert in_transaction(db, retire_room, sup, "7-101") == "retired"
    # a retired room takes no new room of its label and no meter
    again = refused(db, add_room, sup, "Block 7", 1, "101")
    assert (again.field, str(again)) == ("room", "Room 7-101 (retired) is already there.")
    with db.session() as session:
        assert session.scalars(select(Room.retired_at).where(Room.label == "7-101")).one()


def test_a_building_is_removed_or_retired_with_its_rooms(
    db: Database, who: dict[Role, SignedIn]
) -> None:
    sup, tech = who[Role.SUPERVISOR], who[Role.TECHNICIAN]
    in_transaction(db, add_building, sup, "Typo Hall")
    in_transaction(db, generate_rooms, sup, "Typo Hall", "1", "01-05")
    assert in_transaction(db, retire_building, sup, "typo hall") == "removed"
    assert list_buildings(db, retired=True) == []
    assert labels(db, retired=True) == []
    assert last_event(db).action == "building.remove"
    block_7(db, sup)
    meter_in(db, tech, "7-201", "E-201", "1")
    busy = refused(db, retire_building, sup, "Block 7")
    assert "Room 7-201 has meter E-201 in service" in str(busy)
    in_transaction(db, retire_meter, tech, "E-201")
    assert in_transaction(db, retire_building, sup, "Block 7") == "retired"
    event = last_event(db)
    assert (event.action, event.before) == (
        "building.retire",
        {"name": "Block 7", "code": "7", "rooms": 6},
    )
    assert list_buildings(db) == []
    assert [b.name for b in list_buildings(db, retired=True)] == ["Block 7"]
    again = refused(db, retire_building, sup, "Block 7")  # no second event for the same act
    assert (again.field, str(again)) == ("building", "Building Block 7 is retired already.")
    assert labels(db) == []
    assert len(labels(db, retired=True)) == 6
    closed = refused(db, add_room, sup, "Block 7", 3, "301")
    assert (closed.field, str(closed)) == (
        "building",
        "Building Block 7 is retired; choose another.",
    )
    with db.session() as session:
        assert session.scalars(select(Building.retired_at)).one() is not None


def test_the_checklist_follows_the_setup(db: Database) -> None:
    empty = setup_status(db)
    assert empty.missing == (
        "site",
        "rooms",
        "buses",
        "meters",
        "tariffs",
        "policies",
        "load_guard",
        "tenants",
    )
    assert empty.operators == 0
    who = with_site(db)
    block_7(db, who[Role.SUPERVISOR])
    meter_in(db, who[Role.TECHNICIAN], "7-101", "E-101", "1")
    store_policy(db, who[Role.ADMIN])
    status = setup_status(db)
    assert status.missing == ("tariffs", "load_guard", "tenants")
    assert status.operators == len(Role)
    assert status.step("site").name == "North Dormitories"
    assert (status.step("rooms").count, status.step("rooms").extra) == (6, 1)  # 1 building
    assert (status.step("meters").count, status.step("meters").extra) == (1, 1)  # 1 in a room
    assert not status.complete
