"""Account life: open in an empty room, move, settle and close, reopen; meters follow the room,
the balance follows the person; receipts, ledger and audit agree; on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from app.billing.credit_region import CreditThresholds, credit_region
from app.demo.site import DEMO_PASSWORD, DemoSpec, seed_demo_site
from app.services.account_life import (
    AccountRefused,
    move_account,
    open_account,
    open_form_choices,
    reopen_account,
)
from app.services.account_settlement import FinalReading, settle_account
from app.services.corrections import adjust, refund
from app.services.ledger_verify import verify_ledger
from app.services.operators import SignedIn, login
from app.services.permissions import PermissionDenied
from app.services.recharge import new_key, recharge
from app.store.database import Database
from app.store.models import (
    Account,
    AccountTariff,
    AuditEvent,
    BalancePolicy,
    Bus,
    IntervalReading,
    LedgerEntry,
    Meter,
    Receipt,
    Room,
)
from app.vocabulary import (
    AccountStatus,
    LedgerKind,
    PaymentMethod,
    ReadingQuality,
    ReceiptKind,
    Role,
    Utility,
)

CASH = PaymentMethod.CASH
STUDENT = "Student dormitory"
STAFF = "Staff apartment"
DORM = "Dormitory electricity"
WATER = "Tiered water"
PLANS = {Utility.ELECTRICITY: DORM, Utility.WATER: WATER}


@pytest.fixture
def site(db: Database) -> Database:
    """Rooms A-101 (electricity), A-102 (electricity and water), A-103, each with an open
    account 100001..100003; and empty rooms A-104 (both meters) and A-105 (electricity)."""
    seed_demo_site(db, DemoSpec(buildings=1, floors=1, rooms_per_floor=3))
    add_room(db, "A-104", water=True)
    add_room(db, "A-105", water=False)
    return db


def add_room(db: Database, label: str, *, water: bool) -> None:
    with db.transaction() as session:
        first = session.scalars(select(Room).order_by(Room.id)).first()
        assert first is not None
        bus = session.scalars(select(Bus).order_by(Bus.id)).first()
        assert bus is not None
        room = Room(building_id=first.building_id, floor=1, number=label[2:], label=label)
        session.add(room)
        session.flush()
        kinds = [Utility.ELECTRICITY] + ([Utility.WATER] if water else [])
        for utility in kinds:
            session.add(
                Meter(
                    serial=f"{utility.value[0].upper()}-{label}",
                    utility=utility,
                    profile="acrel-ddsy1352",
                    bus_id=bus.id,
                    address=f"{200 + room.id}{utility.value[0]}",
                    room_id=room.id,
                )
            )


def who(db: Database, role: Role) -> SignedIn:
    return login(db, role.value, DEMO_PASSWORD)


def by_number(db: Database, number: str) -> Account:
    with db.session() as session:
        return session.scalars(select(Account).where(Account.number == number)).one()


def meters(db: Database, room_label: str) -> list[tuple[str, int | None]]:
    """(serial, account id) of the room's meters."""
    with db.session() as session:
        return [
            (serial, account_id)
            for serial, account_id in session.execute(
                select(Meter.serial, Meter.account_id)
                .join(Room, Room.id == Meter.room_id)
                .where(Room.label == room_label)
                .order_by(Meter.serial)
            )
        ]


def receipts(db: Database) -> list[Receipt]:
    with db.session() as session:
        return list(session.scalars(select(Receipt).order_by(Receipt.number)))


def entries(db: Database, account_id: int) -> list[LedgerEntry]:
    with db.session() as session:
        return list(
            session.scalars(
                select(LedgerEntry)
                .where(LedgerEntry.account_id == account_id)
                .order_by(LedgerEntry.id)
            )
        )


def events(db: Database, action: str) -> list[AuditEvent]:
    with db.session() as session:
        return list(
            session.scalars(
                select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
            )
        )


def ok(db: Database) -> None:
    report = verify_ledger(db)
    assert report.ok, report.problems


def open_in(db: Database, room: str, amount: str = "0", key: str | None = None) -> str:
    opened = open_account(
        db,
        who(db, Role.OFFICE),
        "Li Wei",
        "202612345",
        "13800000000",
        room,
        PLANS,
        STUDENT,
        amount,
        CASH if amount != "0" else None,
        key or new_key(),
    )
    return opened.account_number


def test_opening_with_a_balance_continues_the_numbers_and_takes_the_room_meters(
    site: Database,
) -> None:
    office = who(site, Role.OFFICE)
    opened = open_account(
        site, office, " Li  Wei ", "202612345", "138", "a-104", PLANS, STUDENT, "80", CASH, "op-1"
    )
    assert opened.account_number == "100004"
    assert (opened.room_label, opened.holder_name, opened.policy_name) == (
        "A-104",
        "Li Wei",
        STUDENT,
    )
    assert opened.meter_serials == ("E-A-104", "W-A-104")
    assert opened.tariffs == ((Utility.ELECTRICITY, DORM), (Utility.WATER, WATER))
    assert (opened.opening_balance_minor, opened.receipt_number) == (8000, 1)
    assert opened.reopened_from is None
    assert not opened.replayed
    account = by_number(site, "100004")
    assert (account.status, account.balance_minor, account.holder_ref) == (
        AccountStatus.OPEN,
        8000,
        "202612345",
    )
    assert meters(site, "A-104") == [("E-A-104", account.id), ("W-A-104", account.id)]
    (entry,) = entries(site, account.id)
    assert (entry.kind, entry.amount_minor, entry.reason, entry.operator_id) == (
        LedgerKind.RECHARGE,
        8000,
        "opening balance",
        office.operator_id,
    )
    (receipt,) = receipts(site)
    assert (receipt.kind, receipt.method, receipt.amount_minor, receipt.ledger_entry_id) == (
        ReceiptKind.RECHARGE,
        CASH,
        8000,
        entry.id,
    )
    assert (receipt.content or {})["room"] == "A-104"
    (event,) = events(site, "account.open")
    assert event.target_id == "100004"
    assert event.after is not None
    assert event.after["room"] == "A-104"
    assert event.after["opening_balance"] == 8000
    assert event.after["tariffs"] == {"electricity": DORM, "water": WATER}
    with site.session() as session:
        policy = session.scalars(select(BalancePolicy).where(BalancePolicy.name == STUDENT)).one()
        limits = CreditThresholds(
            policy.alarm_1_minor,
            policy.alarm_2_minor,
            policy.overdraft_limit_minor,
            policy.close_permit_minor,
        )
    assert account.supply_state is credit_region(8000, limits)
    ok(site)


def test_opening_at_zero_posts_nothing_and_a_room_with_one_meter_gets_one_tariff(
    site: Database,
) -> None:
    number = open_in(site, "A-105")
    account = by_number(site, number)
    assert account.balance_minor == 0
    assert not entries(site, account.id)
    assert not receipts(site)
    with site.session() as session:
        utilities = session.scalars(
            select(AccountTariff.utility).where(AccountTariff.account_id == account.id)
        ).all()
    assert utilities == [Utility.ELECTRICITY]  # the water plan given is not needed here
    assert open_in(site, "A-104") == str(int(number) + 1)
    ok(site)


def test_opening_refusals_say_what_to_fix(site: Database) -> None:
    office = who(site, Role.OFFICE)

    def attempt(**changes: object) -> AccountRefused:
        args: dict[str, object] = {
            "holder_name": "Li Wei",
            "holder_ref": "",
            "phone": "",
            "room_label": "A-104",
            "utility_tariffs": PLANS,
            "policy_name": STUDENT,
            "opening_balance_text": "0",
            "method": None,
            "key": new_key(),
        } | changes
        with pytest.raises(AccountRefused) as refused:
            open_account(site, office, **args)  # type: ignore[arg-type]
        return refused.value

    holder = by_number(site, "100001").holder_name
    taken = attempt(room_label="A-101")
    assert (taken.field, str(taken)) == (
        "room",
        f"Room A-101 has open account 100001 ({holder}); move or settle that account first, "
        "or choose an empty room.",
    )
    assert "There is no room 'Z-9'" in str(attempt(room_label="Z-9"))
    assert str(attempt(policy_name="VIP")) == (
        f"There is no balance policy 'VIP'; choose {STAFF}, {STUDENT}."
    )
    no_water = attempt(utility_tariffs={Utility.ELECTRICITY: DORM})
    assert no_water.field == "tariff"
    assert str(no_water) == (
        f"Room A-104 has a water meter and no tariff was chosen; choose one of: {WATER}."
    )
    wrong = attempt(utility_tariffs={Utility.ELECTRICITY: WATER, Utility.WATER: WATER})
    assert "'Tiered water' is no electricity tariff" in str(wrong)
    assert "The holder's name is empty" in str(attempt(holder_name="  "))
    assert "at most 40" in str(attempt(phone="1" * 41))
    assert "cannot be negative" in str(attempt(opening_balance_text="-1"))
    assert attempt(opening_balance_text="5").field == "method"
    hoard = attempt(opening_balance_text="2000.01", method=CASH)
    assert "Opening balance: Policy 'Student dormitory' lets an account hold at most" in str(hoard)
    with pytest.raises(PermissionDenied, match="A cashier may not open accounts"):
        open_account(
            site, who(site, Role.CASHIER), "X", "", "", "A-104", PLANS, STUDENT, "0", None, "k"
        )
    assert meters(site, "A-104") == [("E-A-104", None), ("W-A-104", None)]
    assert not receipts(site)
    assert not events(site, "account.open")
    ok(site)


def test_opening_twice_with_one_key_opens_one_account(site: Database) -> None:
    first = open_account(
        site, who(site, Role.OFFICE), "Li Wei", "", "", "A-104", PLANS, STUDENT, "50", CASH, "k-o"
    )
    again = open_account(
        site, who(site, Role.OFFICE), "Li Wei", "", "", "A-104", PLANS, STUDENT, "50", CASH, "k-o"
    )
    assert again.replayed
    assert (again.account_number, again.receipt_number, again.opening_balance_minor) == (
        first.account_number,
        first.receipt_number,
        5000,
    )
    assert again.meter_serials == first.meter_serials
    with pytest.raises(AccountRefused, match="already used") as refused:
        open_in(site, "A-105", key="k-o")
    assert refused.value.field == "key"
    with site.session() as session:
        assert session.scalar(select(Account.id).where(Account.number == "100005")) is None
    assert len(receipts(site)) == 1
    ok(site)


def test_the_form_lists_empty_rooms_policies_and_plans(site: Database) -> None:
    choices = open_form_choices(site)
    assert choices.empty_rooms == ("A-104", "A-105")
    assert choices.policies == (STAFF, STUDENT)
    assert choices.plans[Utility.WATER] == (WATER,)
    assert set(choices.plans[Utility.ELECTRICITY]) == {DORM, "Apartment time-of-use electricity"}
    open_in(site, "A-104")
    settle_account(site, who(site, Role.OFFICE), "100001", CASH, new_key())
    assert open_form_choices(site).empty_rooms == ("A-101", "A-105")


def test_moving_takes_the_balance_and_leaves_the_meters(site: Database) -> None:
    office = who(site, Role.OFFICE)
    before = by_number(site, "100002")
    moved = move_account(site, office, "100002", "A-104", "mv-1")
    assert (moved.from_room, moved.to_room) == ("A-102", "A-104")
    assert (moved.detached, moved.attached) == (("EA01002", "WA01002"), ("E-A-104", "W-A-104"))
    after = by_number(site, "100002")
    assert after.balance_minor == before.balance_minor
    assert meters(site, "A-102") == [("EA01002", None), ("WA01002", None)]
    assert meters(site, "A-104") == [("E-A-104", after.id), ("W-A-104", after.id)]
    (event,) = events(site, "account.move")
    assert event.before == {"room": "A-102", "meters": ["EA01002", "WA01002"]}
    assert event.after is not None
    assert event.after["room"] == "A-104"
    again = move_account(site, office, "100002", "A-104", "mv-1")
    assert again.replayed
    assert (again.from_room, again.attached) == ("A-102", moved.attached)
    assert len(events(site, "account.move")) == 1
    with pytest.raises(AccountRefused, match="already used"):
        move_account(site, office, "100001", "A-102", "mv-1")
    ok(site)


def test_moving_is_refused_into_an_occupied_or_the_same_room(site: Database) -> None:
    office = who(site, Role.OFFICE)
    with pytest.raises(AccountRefused, match="Room A-103 has open account 100003") as refused:
        move_account(site, office, "100001", "A-103", new_key())
    assert refused.value.field == "room"
    with pytest.raises(AccountRefused, match="is in room A-101 already; choose another"):
        move_account(site, office, "100001", "a-101", new_key())
    with pytest.raises(PermissionDenied, match="A cashier may not move accounts"):
        move_account(site, who(site, Role.CASHIER), "100001", "A-104", new_key())
    settle_account(site, office, "100001", CASH, new_key())
    with pytest.raises(AccountRefused, match="Account 100001 is closed; reopen it"):
        move_account(site, office, "100001", "A-104", new_key())
    assert meters(site, "A-104") == [("E-A-104", None), ("W-A-104", None)]


def test_moving_into_a_room_with_a_new_utility_needs_its_tariff(site: Database) -> None:
    office = who(site, Role.OFFICE)
    number = open_in(site, "A-105")  # electricity only: no water tariff
    with pytest.raises(AccountRefused, match="Room A-104 has a water meter and no tariff"):
        move_account(site, office, number, "A-104", new_key())
    move_account(site, office, number, "A-104", new_key(), utility_tariffs={Utility.WATER: WATER})
    account = by_number(site, number)
    with site.session() as session:
        utilities = session.scalars(
            select(AccountTariff.utility)
            .where(AccountTariff.account_id == account.id)
            .order_by(AccountTariff.utility)
        ).all()
    assert utilities == [Utility.ELECTRICITY, Utility.WATER]
    assert meters(site, "A-105") == [("E-A-105", None)]


def readings(db: Database, serial: str, *rows: tuple[int, int, ReadingQuality]) -> None:
    """Readings (hours ago, register, quality) of a meter."""
    now = datetime.now(UTC).replace(microsecond=0)
    with db.transaction() as session:
        meter_id = session.scalars(select(Meter.id).where(Meter.serial == serial)).one()
        for hours, units, quality in rows:
            session.add(
                IntervalReading(
                    meter_id=meter_id,
                    read_at=now - timedelta(hours=hours),
                    register_units=units,
                    quality=quality,
                )
            )


def test_settling_a_remainder_pays_it_back_with_the_final_readings(site: Database) -> None:
    office = who(site, Role.OFFICE)
    number = open_in(site, "A-104", "120.00")
    readings(
        site,
        "E-A-104",
        (3, 1000, ReadingQuality.GOOD),
        (2, 1500, ReadingQuality.GOOD),
        (1, 9_999_999, ReadingQuality.HELD),  # implausible: never the final reading
    )
    done = settle_account(site, office, number, CASH, "st-1")
    assert (done.balance_before_minor, done.amount_minor, done.receipt_number) == (12000, -12000, 2)
    electricity, water = done.final_readings
    assert (electricity.serial, electricity.register_units) == ("E-A-104", 1500)
    assert electricity.read_at is not None
    assert water == FinalReading("W-A-104", Utility.WATER, None, None)
    account = by_number(site, number)
    assert (account.status, account.balance_minor) == (AccountStatus.CLOSED, 0)
    assert account.closed_at is not None
    assert meters(site, "A-104") == [("E-A-104", None), ("W-A-104", None)]  # still in the room
    settlement = entries(site, account.id)[-1]
    assert (settlement.kind, settlement.amount_minor, settlement.operator_id) == (
        LedgerKind.SETTLEMENT,
        -12000,
        office.operator_id,
    )
    assert settlement.approved_by_id is None
    receipt = receipts(site)[-1]
    assert (receipt.kind, receipt.method, receipt.amount_minor, receipt.balance_after_minor) == (
        ReceiptKind.SETTLEMENT,
        CASH,
        -12000,
        0,
    )
    content = receipt.content or {}
    assert content["meters"] == [
        "electricity E-A-104: final 1.500 kWh",
        "water W-A-104: no reading stored",
    ]
    assert content["final_readings"][0]["register_units"] == 1500  # type: ignore[index]
    (event,) = events(site, "account.settle")
    assert event.before == {"balance": 12000, "status": "open"}
    assert event.after is not None
    assert event.after["final_readings"][0]["register_units"] == 1500  # type: ignore[index]
    assert event.after["amount"] == -12000
    again = settle_account(site, office, number, CASH, "st-1")
    assert again.replayed
    assert (again.amount_minor, again.receipt_number, again.final_readings) == (
        -12000,
        2,
        done.final_readings,
    )
    with pytest.raises(AccountRefused, match=f"Account {number} was closed on .*nothing to settle"):
        settle_account(site, office, number, CASH, new_key())
    assert len(receipts(site)) == 2
    ok(site)


def test_settling_a_debt_collects_it_and_a_zero_balance_closes_without_a_receipt(
    site: Database,
) -> None:
    office, supervisor = who(site, Role.OFFICE), who(site, Role.SUPERVISOR)
    debtor = open_in(site, "A-104")
    adjust(site, supervisor, debtor, "-35.40", "unpaid usage from the old system", None, new_key())
    done = settle_account(site, office, debtor, PaymentMethod.CARD, new_key(), approver=supervisor)
    assert (done.balance_before_minor, done.amount_minor, done.receipt_number) == (-3540, 3540, 2)
    last = entries(site, by_number(site, debtor).id)[-1]
    assert (last.kind, last.amount_minor, last.approved_by_id) == (
        LedgerKind.SETTLEMENT,
        3540,
        supervisor.operator_id,
    )
    receipt = receipts(site)[-1]
    assert (receipt.kind, receipt.method, receipt.amount_minor) == (
        ReceiptKind.SETTLEMENT,
        PaymentMethod.CARD,
        3540,
    )
    assert (receipt.content or {})["approved_by"] == "Duty supervisor"
    empty = open_in(site, "A-105")
    nothing = settle_account(site, office, empty, CASH, "st-0")
    assert (nothing.amount_minor, nothing.receipt_number) == (0, None)
    assert by_number(site, empty).status is AccountStatus.CLOSED
    assert not entries(site, by_number(site, empty).id)
    assert settle_account(site, office, empty, CASH, "st-0").replayed
    assert [r.number for r in receipts(site)] == [1, 2]
    with pytest.raises(PermissionDenied, match="may not approve"):
        settle_account(site, office, "100001", CASH, new_key(), approver=office)
    with pytest.raises(PermissionDenied, match="A cashier may not settle and close accounts"):
        settle_account(site, who(site, Role.CASHIER), "100001", CASH, new_key())
    ok(site)


def test_reopening_gives_the_holder_a_new_account(site: Database) -> None:
    office = who(site, Role.OFFICE)
    old = by_number(site, "100002")
    settle_account(site, office, "100002", CASH, new_key())
    reopened = reopen_account(site, office, "100002", "A-104", "ro-1")
    assert reopened.account_number == "100004"
    assert reopened.reopened_from == "100002"
    assert reopened.tariffs == ((Utility.ELECTRICITY, DORM), (Utility.WATER, WATER))
    assert reopened.meter_serials == ("E-A-104", "W-A-104")
    new = by_number(site, "100004")
    assert (new.holder_name, new.holder_ref, new.phone, new.policy_id) == (
        old.holder_name,
        old.holder_ref,
        old.phone,
        old.policy_id,
    )
    assert new.reopened_from_id == old.id
    (event,) = events(site, "account.reopen")
    assert event.before == {"reopened_from": "100002"}
    again = reopen_account(site, office, "100002", "A-104", "ro-1")
    assert again.replayed
    assert again.account_number == "100004"
    with pytest.raises(AccountRefused, match="100002 was already reopened as account 100004"):
        reopen_account(site, office, "100002", "A-102", new_key())
    with pytest.raises(AccountRefused, match="Account 100001 is still open; move it"):
        reopen_account(site, office, "100001", "A-105", new_key())
    settle_account(site, office, "100004", CASH, new_key())
    with pytest.raises(AccountRefused, match="Room A-103 has open account 100003"):
        reopen_account(site, office, "100004", "A-103", new_key())
    other = reopen_account(
        site,
        office,
        "100004",
        "A-105",
        new_key(),
        policy_name=STAFF,
        opening_balance_text="20",
        method=CASH,
    )
    assert other.reopened_from == "100004"
    assert (other.policy_name, other.opening_balance_minor) == (STAFF, 2000)
    assert other.tariffs == ((Utility.ELECTRICITY, DORM),)
    ok(site)


def test_receipt_numbers_run_without_gaps_across_every_kind(site: Database) -> None:
    office, supervisor = who(site, Role.OFFICE), who(site, Role.SUPERVISOR)
    number = open_in(site, "A-104", "100")  # 1: recharge (opening balance)
    recharge(site, who(site, Role.CASHIER), number, "10", CASH, new_key())  # 2: recharge
    with pytest.raises(AccountRefused):
        open_in(site, "A-101", "10")  # refused: takes no number
    refund(site, supervisor, number, "5", CASH, "overpaid", None, new_key())  # 3: refund
    adjust(site, supervisor, number, "+1", "goodwill", None, new_key())  # 4: adjustment
    settle_account(site, office, number, CASH, new_key())  # 5: settlement
    kinds = [(r.number, r.kind) for r in receipts(site)]
    assert kinds == [
        (1, ReceiptKind.RECHARGE),
        (2, ReceiptKind.RECHARGE),
        (3, ReceiptKind.REFUND),
        (4, ReceiptKind.ADJUSTMENT),
        (5, ReceiptKind.SETTLEMENT),
    ]
    assert [r.amount_minor for r in receipts(site)] == [10000, 1000, -500, 100, -10600]
    assert by_number(site, number).balance_minor == 0
    ok(site)
