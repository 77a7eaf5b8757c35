"""Balance policies, load-guard settings and tariff plans of accounts: supervisors import them
from files (the same file again changes nothing, the same name replaces the values and the
accounts keep their policy), export them as they read them, and assign policies and plans to
accounts one by one or by building and floor; every change is audited, every refusal writes
nothing; on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import select

from app.billing.load_guard import GuardMode
from app.billing.load_guard_file import LoadGuardFileError, parse_load_guard
from app.billing.policy_file import PolicyFileError, parse_policy
from app.services.load_guard_setup import (
    export_load_guard,
    import_load_guard,
    list_load_guards,
    save_load_guard,
)
from app.services.operators import SignedIn
from app.services.permissions import PermissionDenied
from app.services.policy_setup import (
    assign_policy,
    export_policy,
    import_policy,
    stored_policy,
)
from app.services.setup_checks import SetupRefused, in_transaction
from app.services.site_import import import_workbook
from app.services.tariff_assign import assign_tariff
from app.store.database import Database
from app.store.models import Account, AccountTariff, BalancePolicy, TariffPlan
from app.vocabulary import Role, Utility
from tests.integration.services.setup_support import (
    BACKENDS,
    DORM,
    POLICY,
    STUDENT,
    Shared,
    last_event,
    refused,
    revision,
    settle,
    shared_site,
    snapshot,
    store_policy,
    store_tariff,
    with_site,
    workbook,
)

STAFF_POLICY = """\
name = "Staff"
alarm_1 = "50.00"
alarm_2 = "20.00"
overdraft_limit = "30.00"
close_permit = "0.00"
"""
GUARD = """\
total_mode = "trip"
total_limit_w = 4000
total_duration_s = 30
increment_mode = "trip"
pf_threshold = "0.950"
bands = [[30, 300, false], [300, 700, false], [700, 3000, true]]
restore_delay_s = 300
max_auto_restores_per_day = 3
"""
TOU = "Apartment time-of-use electricity"
WATER = "Tiered water"
# Accounts as the import numbers them: Block 7 floor 1, floor 2, then North Hall.
ROOMS = ["7-101", "7-102", "7-103", "7-201", "7-202", "7-203", "NH-101", "NH-102"]
NUMBERS = {room: str(100001 + n) for n, room in enumerate(ROOMS)}


def _site(db: Database) -> dict[Role, SignedIn]:
    """Block 7 (floors 1 and 2, three rooms each) and North Hall (two rooms), an electricity
    meter and an open account on the student policy and dormitory tariff in every room; the
    account of NH-102 is settled and closed."""
    who = with_site(db)
    admin = who[Role.ADMIN]
    store_policy(db, admin)
    for tariff in ("dorm-electricity", "tou-electricity", "tiered-water"):
        store_tariff(db, admin, tariff)
    rooms = [
        {"building": building, "floor": label.split("-")[1][0], "room": label.split("-")[1]}
        for label, building in zip(ROOMS, ["Block 7"] * 6 + ["North Hall"] * 2, strict=True)
    ]
    book = workbook(
        rooms=rooms,
        buses=[
            {
                "bus": "Line 1",
                "port": "sim://line-1",
                "baud": "9600",
                "parity": "N",
                "stopbits": "1",
                "profile": "hiking-dds238",
            }
        ],
        meters=[
            {
                "serial": f"E-{label}",
                "utility": "electricity",
                "room": label,
                "bus": "Line 1",
                "address": str(n + 1),
                "profile": "hiking-dds238",
            }
            for n, label in enumerate(ROOMS)
        ],
        tenants=[
            {"room": label, "holder": f"Tenant {label}", "tariffs": DORM, "policy": STUDENT}
            for label in ROOMS
        ],
    )
    done = import_workbook(db, admin, book, source="site.csv", digest="0" * 64)
    assert [o.ref.number for o in done.plan.new_accounts] == list(NUMBERS.values())
    settle(db, who[Role.OFFICE], NUMBERS["NH-102"])
    return who


@pytest.fixture
def who(db: Database) -> dict[Role, SignedIn]:
    return _site(db)


@pytest.fixture(scope="module", params=BACKENDS)
def shared(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Shared]:
    """The same site, shared by the refusals of this module."""
    yield from shared_site(request, tmp_path_factory, _site)


def policy_of(db: Database) -> dict[str, str]:
    """Account number -> the name of its policy."""
    with db.session() as session:
        return dict(
            session.execute(
                select(Account.number, BalancePolicy.name)
                .join(BalancePolicy, BalancePolicy.id == Account.policy_id)
                .order_by(Account.number)
            ).all()
        )


def plans_of(db: Database, utility: Utility) -> dict[str, str]:
    with db.session() as session:
        return dict(
            session.execute(
                select(Account.number, TariffPlan.name)
                .join(AccountTariff, AccountTariff.account_id == Account.id)
                .join(TariffPlan, TariffPlan.id == AccountTariff.plan_id)
                .where(AccountTariff.utility == utility)
            ).all()
        )


# -- balance policies --------------------------------------------------------------------------


def test_a_policy_file_adds_then_its_name_again_replaces_the_values(
    db: Database, who: dict[Role, SignedIn]
) -> None:
    sup = who[Role.SUPERVISOR]
    added = in_transaction(db, import_policy, sup, STAFF_POLICY, "staff.toml")
    assert (added.name, added.outcome) == ("Staff", "added")
    event = last_event(db)
    assert (event.action, event.operator_id, event.before) == ("policy.add", sup.operator_id, None)
    assert event.after is not None
    assert (event.after["name"], event.after["overdraft_limit_minor"]) == ("Staff", 3000)
    before = snapshot(db)
    same = in_transaction(db, import_policy, sup, STAFF_POLICY, "staff.toml")
    assert (same.name, same.outcome) == ("Staff", "unchanged")
    assert snapshot(db) == before  # no event
    accounts = policy_of(db)
    raised = POLICY.replace('alarm_1 = "20.00"', 'alarm_1 = "30.00"').replace(
        f'name = "{STUDENT}"', 'name = "student  DORMITORY"'
    )
    changed = in_transaction(db, import_policy, sup, raised, "student.toml")
    assert changed.outcome == "changed"
    event = last_event(db)
    assert event.action == "policy.change"
    assert event.before is not None
    assert event.after is not None
    assert (event.before["alarm_1_minor"], event.after["alarm_1_minor"]) == (2000, 3000)
    with db.session() as session:
        assert session.scalars(
            select(BalancePolicy.alarm_1_minor).order_by(BalancePolicy.id)
        ).all() == [3000, 5000]
    assert list(policy_of(db).items()) == [
        (number, policy if policy != STUDENT else changed.name)
        for number, policy in accounts.items()
    ]  # every account keeps its policy, now with the new values


def test_a_policy_exported_reads_back_as_stored(db: Database, who: dict[Role, SignedIn]) -> None:
    sup = who[Role.SUPERVISOR]
    with db.session() as session:
        text = export_policy(session, "STUDENT dormitory")
        stored = stored_policy(session, STUDENT)
    assert parse_policy(text, "exported.toml", "CNY") == stored
    before = snapshot(db)
    assert in_transaction(db, import_policy, sup, text, "exported.toml").outcome == "unchanged"
    assert snapshot(db) == before
    with db.session() as session, pytest.raises(SetupRefused) as missing:
        export_policy(session, "VIP")
    assert (missing.value.field, str(missing.value)) == (
        "policy",
        f"There is no balance policy 'VIP'; policies: {STUDENT}.",
    )


def test_a_bad_policy_file_names_every_problem_and_stores_nothing(
    db: Database, who: dict[Role, SignedIn]
) -> None:
    bad = STAFF_POLICY.replace('"50.00"', '"50.001"').replace('"30.00"', '"-1"')
    before = snapshot(db)
    with pytest.raises(PolicyFileError) as caught:
        in_transaction(db, import_policy, who[Role.SUPERVISOR], bad, "staff.toml")
    keys = [key for key, _message in caught.value.pairs()]
    assert "alarm_1" in keys
    assert "overdraft_limit" in keys
    assert "staff.toml" in str(caught.value)
    assert snapshot(db) == before


@pytest.mark.parametrize("role", [Role.CASHIER, Role.OFFICE, Role.TECHNICIAN])
def test_only_supervisors_change_policies_load_guards_and_tariff_plans(
    shared: Shared, role: Role
) -> None:
    db, who = shared.db, shared.who
    before = snapshot(db)
    policy_steps: list[tuple[Callable[..., object], tuple[object, ...], dict[str, object]]] = [
        (import_policy, (STAFF_POLICY, "staff.toml"), {}),
        (assign_policy, (STUDENT,), {"building": "Block 7"}),
        (import_load_guard, (GUARD, "guard.toml"), {}),
        (save_load_guard, (parse_load_guard(GUARD, "g"),), {"building": "Block 7"}),
    ]
    for step, args, kwargs in policy_steps:
        with pytest.raises(PermissionDenied) as denied:
            in_transaction(db, step, who[role], *args, **kwargs)
        assert str(denied.value).endswith(
            "may not change balance policies; ask a supervisor to do it."
        )
    with pytest.raises(PermissionDenied) as denied:
        in_transaction(db, assign_tariff, who[role], TOU, building="Block 7")
    assert str(denied.value).endswith("may not change tariffs; ask a supervisor to do it.")
    assert snapshot(db) == before


def test_accounts_move_to_a_policy_by_number_building_and_floor(
    db: Database, who: dict[Role, SignedIn]
) -> None:
    sup = who[Role.SUPERVISOR]
    in_transaction(db, import_policy, sup, STAFF_POLICY, "staff.toml")
    staff_id = last_event(db).target_id
    moved = in_transaction(
        db, assign_policy, sup, "staff", accounts=[NUMBERS["7-101"], NUMBERS["NH-101"]]
    )
    assert moved == [NUMBERS["7-101"], NUMBERS["NH-101"]]
    event = last_event(db)
    assert (event.action, event.target_id, event.after) == (
        "policy.assign",
        staff_id,
        {"policy": "Staff", "accounts": moved},
    )
    floor_2 = in_transaction(db, assign_policy, sup, "Staff", building="Block 7", floor=2)
    assert floor_2 == [NUMBERS["7-201"], NUMBERS["7-202"], NUMBERS["7-203"]]
    whole = in_transaction(db, assign_policy, sup, "Staff", building="7")  # by its code
    assert whole == [NUMBERS["7-102"], NUMBERS["7-103"]]  # the others are on it already
    on = policy_of(db)
    assert [n for n, p in on.items() if p == "Staff"] == [
        NUMBERS[r] for r in ("7-101", "7-102", "7-103", "7-201", "7-202", "7-203", "NH-101")
    ]
    assert on[NUMBERS["NH-102"]] == STUDENT  # closed: not moved
    before = snapshot(db)
    assert in_transaction(db, assign_policy, sup, "Staff", building="Block 7") == []
    assert snapshot(db) == before  # nobody moved: no event


@pytest.mark.parametrize(
    ("name", "where", "field", "says"),
    [
        ("VIP", {"building": "Block 7"}, "policy", "There is no balance policy 'VIP'"),
        (STUDENT, {"accounts": ["999999"]}, "account", "There is no account '999999'."),
        (STUDENT, {"accounts": ["100008"]}, "account", "Account 100008 is closed."),
        (STUDENT, {"building": "Block 9"}, "building", "There is no building 'Block 9'"),
        (STUDENT, {"building": "Block 7", "floor": 9}, "building", "no open account in Block 7,"),
        (STUDENT, {"building": "North Hall", "floor": 2}, "building", "North Hall, floor 2."),
        (STUDENT, {}, "account", "Name the accounts, or a building (and floor)."),
    ],
)
def test_bad_assignments_are_refused_naming_the_field(
    shared: Shared,
    name: str,
    where: dict[str, object],
    field: str,
    says: str,
) -> None:
    db, sup = shared.db, shared.who[Role.SUPERVISOR]
    problem = refused(db, assign_policy, sup, name, **where)
    assert problem.field == field
    assert says in str(problem)
    if name != "VIP":
        tariff = refused(db, assign_tariff, sup, TOU, **where)
        assert tariff.field == field


# -- load-guard settings -----------------------------------------------------------------------


def test_load_guard_settings_per_site_and_building_round_trip(
    db: Database, who: dict[Role, SignedIn]
) -> None:
    sup = who[Role.SUPERVISOR]
    assert list_load_guards(db) == []
    start = revision(db)
    assert in_transaction(db, import_load_guard, sup, GUARD, "guard.toml") == "added"
    event = last_event(db)
    assert (event.action, event.target_id, event.before) == ("load_guard.change", "site", None)
    assert revision(db) == start + 1
    before = snapshot(db)
    assert in_transaction(db, import_load_guard, sup, GUARD, "guard.toml") == "unchanged"
    assert snapshot(db) == before
    strict = GUARD.replace("total_limit_w = 4000", "total_limit_w = 2500")
    assert in_transaction(db, import_load_guard, sup, strict, "b.toml", "North Hall") == "added"
    rows = list_load_guards(db)
    assert [(r.building, r.params.total_limit_w) for r in rows] == [
        ("", 4000),
        ("North Hall", 2500),
    ]
    assert rows[0].params.total_mode is GuardMode.TRIP
    with db.session() as session:
        site_text = export_load_guard(session)
        hall_text = export_load_guard(session, "north hall")
        assert export_load_guard(session, "Block 7") is None
    assert site_text is not None
    assert hall_text is not None
    assert parse_load_guard(site_text, "site") == rows[0].params
    assert parse_load_guard(hall_text, "hall") == rows[1].params
    relaxed = GUARD.replace('increment_mode = "trip"', 'increment_mode = "alarm"')
    assert in_transaction(db, import_load_guard, sup, relaxed, "guard.toml") == "changed"
    event = last_event(db)
    assert event.before is not None
    assert event.after is not None
    assert (event.before["increment_mode"], event.after["increment_mode"]) == ("trip", "alarm")
    assert revision(db) == start + 3


def test_bad_load_guard_settings_store_nothing(db: Database, who: dict[Role, SignedIn]) -> None:
    sup = who[Role.SUPERVISOR]
    bad = GUARD.replace('pf_threshold = "0.950"', 'pf_threshold = "0.999"').replace(
        'total_mode = "trip"', 'total_mode = "boom"'
    )
    before = snapshot(db)
    with pytest.raises(LoadGuardFileError) as caught:
        in_transaction(db, import_load_guard, sup, bad, "guard.toml")
    assert {"pf_threshold", "total_mode"} <= {key for key, _ in caught.value.pairs()}
    assert snapshot(db) == before
    nowhere = refused(db, import_load_guard, sup, GUARD, "guard.toml", "Block 9")
    assert nowhere.field == "building"


# -- tariff plans of accounts ------------------------------------------------------------------


def test_tariff_plans_are_assigned_by_building_floor_and_number(
    db: Database, who: dict[Role, SignedIn]
) -> None:
    sup = who[Role.SUPERVISOR]
    changed = in_transaction(
        db, assign_tariff, sup, "apartment TIME-of-use electricity", building="Block 7", floor=1
    )
    assert changed == [NUMBERS["7-101"], NUMBERS["7-102"], NUMBERS["7-103"]]
    event = last_event(db)
    assert (event.action, event.after) == (
        "tariff.assign",
        {"plan": TOU, "utility": "electricity", "accounts": changed},
    )
    electricity = plans_of(db, Utility.ELECTRICITY)
    assert [electricity[NUMBERS[r]] for r in ROOMS[:4]] == [TOU, TOU, TOU, DORM]
    before = snapshot(db)
    assert in_transaction(db, assign_tariff, sup, TOU, building="Block 7", floor=1) == []
    assert snapshot(db) == before  # already billed so: no event
    water = in_transaction(db, assign_tariff, sup, WATER, accounts=[NUMBERS["NH-101"]])
    assert water == [NUMBERS["NH-101"]]
    assert plans_of(db, Utility.WATER) == {NUMBERS["NH-101"]: WATER}
    assert plans_of(db, Utility.ELECTRICITY)[NUMBERS["NH-101"]] == DORM  # the other utility stays
    missing = refused(db, assign_tariff, sup, "Flat rate", building="Block 7")
    assert (missing.field, str(missing)) == (
        "plan",
        f"There is no tariff plan 'Flat rate'; plans: {TOU}, {DORM}, {WATER}.",
    )
