"""Account life (DOMAIN.md section 1): open in an empty room, move to another room, settle and
close, reopen as a new account for the same holder.

Meters stay with their room; the balance goes with the person. Every step is one transaction
that takes the receipt counter's row lock first (like every money service), so two operators
never open or move two accounts into one room, nor take the same account number. An
idempotency key names each step: the same key again returns what was done (``replayed``). The
key is kept in the step's audit event, and on its ledger entry when money moved.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from app.billing.credit_region import credit_region
from app.billing.money import Money
from app.queries.site_facts import site_currency
from app.services.audit import record_audit
from app.services.counters import RECEIPT, lock_counter
from app.services.operators import SignedIn
from app.services.permissions import Action
from app.services.policy_setup import thresholds_of
from app.services.recharge import RechargeRefused, check_amount, pay_in
from app.services.service_checks import (
    Refused,
    check_key,
    check_same_request,
    key_used,
    locked_account,
    parse_money,
)
from app.store.database import Database
from app.store.models import (
    Account,
    AccountTariff,
    AuditEvent,
    BalancePolicy,
    LedgerEntry,
    Meter,
    Receipt,
    Room,
    TariffPlan,
    column_length,
)
from app.vocabulary import (
    AccountStatus,
    PaymentMethod,
    Utility,
)

FIRST_NUMBER = 100001  # the demo site's sequence (100000 + n): new numbers continue it
STEPS = ("account.open", "account.reopen", "account.move", "account.settle")


class AccountRefused(Refused):
    """An account step that was not done (nothing was written); ``field`` names the input."""


@dataclass(frozen=True)
class AccountOpened:
    account_id: int
    account_number: str
    room_label: str
    holder_name: str
    policy_name: str
    meter_serials: tuple[str, ...]
    tariffs: tuple[tuple[Utility, str], ...]  # (utility, plan name)
    opening_balance_minor: int
    receipt_number: int | None  # None when opened at zero: no money, no receipt
    reopened_from: str | None  # the closed account it follows
    replayed: bool


@dataclass(frozen=True)
class AccountMoved:
    account_number: str
    from_room: str
    to_room: str
    detached: tuple[str, ...]  # serials of the old room's meters
    attached: tuple[str, ...]  # serials of the new room's meters
    replayed: bool


@dataclass(frozen=True)
class FormChoices:
    empty_rooms: tuple[str, ...]
    policies: tuple[str, ...]
    plans: Mapping[Utility, tuple[str, ...]]


@dataclass(frozen=True)
class _Form:
    holder_name: str
    holder_ref: str
    phone: str
    room_label: str
    tariffs: Mapping[Utility, str]
    policy_name: str
    opening_text: str
    method: PaymentMethod | None


def open_account(
    db: Database,
    by: SignedIn,
    holder_name: str,
    holder_ref: str,
    phone: str,
    room_label: str,
    utility_tariffs: Mapping[Utility, str],
    policy_name: str,
    opening_balance_text: str,
    method: PaymentMethod | None,
    key: str,
) -> AccountOpened:
    """A new account in an empty room with the room's meters, a tariff per metered utility
    and the policy; an opening balance above zero is paid in as a recharge with its receipt."""
    by.require(Action.OPEN_ACCOUNT)
    key = check_key(key, AccountRefused)
    form = _Form(
        holder_name,
        holder_ref,
        phone,
        room_label,
        utility_tariffs,
        policy_name,
        opening_balance_text,
        method,
    )
    with db.transaction() as session:
        lock_counter(session, RECEIPT)
        done = _replay_open(session, "account.open", key, by, form, None)
        return done if done is not None else _open(session, by, form, key, None)


def reopen_account(
    db: Database,
    by: SignedIn,
    closed_account_number: str,
    room_label: str,
    key: str,
    *,
    holder_name: str | None = None,
    holder_ref: str | None = None,
    phone: str | None = None,
    policy_name: str | None = None,
    utility_tariffs: Mapping[Utility, str] | None = None,
    opening_balance_text: str = "0",
    method: PaymentMethod | None = None,
) -> AccountOpened:
    """A new account for the holder of a closed one: his details, policy and tariffs unless
    given otherwise; it names the account it follows."""
    by.require(Action.OPEN_ACCOUNT)
    key = check_key(key, AccountRefused)
    with db.transaction() as session:
        lock_counter(session, RECEIPT)
        asked = _Form(
            holder_name or "",
            holder_ref or "",
            phone or "",
            room_label,
            {},
            policy_name or "",
            opening_balance_text,
            method,
        )
        done = _replay_open(session, "account.reopen", key, by, asked, closed_account_number)
        if done is not None:
            return done
        old = locked_account(session, closed_account_number, AccountRefused)
        if old.status is AccountStatus.OPEN:
            raise AccountRefused(
                "account",
                f"Account {old.number} is still open; move it to the new room instead, "
                "or settle and close it first.",
            )
        again = session.scalar(select(Account.number).where(Account.reopened_from_id == old.id))
        if again is not None:
            raise AccountRefused(
                "account", f"Account {old.number} was already reopened as account {again}."
            )
        tariffs = {t.utility: t.plan.name for t in old.tariffs} | dict(utility_tariffs or {})
        form = _Form(
            old.holder_name if holder_name is None else holder_name,
            old.holder_ref if holder_ref is None else holder_ref,
            old.phone if phone is None else phone,
            room_label,
            tariffs,
            old.policy.name if policy_name is None else policy_name,
            opening_balance_text,
            method,
        )
        return _open(session, by, form, key, old)


def move_account(
    db: Database,
    by: SignedIn,
    account_number: str,
    new_room_label: str,
    key: str,
    *,
    utility_tariffs: Mapping[Utility, str] | None = None,
) -> AccountMoved:
    """The holder moves: the old room's meters are detached, the new room's attached, the
    balance stays. ``utility_tariffs`` gives plans for utilities the account had no tariff of."""
    by.require(Action.MOVE_ACCOUNT)
    key = check_key(key, AccountRefused)
    with db.transaction() as session:
        lock_counter(session, RECEIPT)
        account = locked_account(session, account_number, AccountRefused)
        event = keyed_event(session, key, "account.move", account.number)
        if event is not None:
            old, new = event.before or {}, event.after or {}
            check_same_request(
                key,
                AccountRefused,
                "a move",
                {"room": str(new.get("room")).lower(), "operator": event.operator_id},
                {"room": new_room_label.strip().lower(), "operator": by.operator_id},
            )
            return AccountMoved(
                account.number,
                str(old.get("room")),
                str(new.get("room")),
                _texts(old.get("meters")),
                _texts(new.get("meters")),
                replayed=True,
            )
        _must_be_open(account)
        room = _room(session, new_room_label)
        old_label = account.room.label if account.room else ""
        if room.id == account.room_id:
            raise AccountRefused(
                "room", f"Account {account.number} is in room {room.label} already; choose another."
            )
        _must_be_empty(session, room)
        new_meters = meters_in_service(session, Meter.room_id == room.id)
        have = {t.utility for t in account.tariffs}
        for utility, plan in _plans(session, room, new_meters, utility_tariffs or {}, have):
            account.tariffs.append(AccountTariff(utility=utility, plan_id=plan.id))
        old_meters = meters_in_service(session, Meter.account_id == account.id)
        for meter in old_meters:
            meter.account_id = None
        for meter in new_meters:
            meter.account_id = account.id
        account.room_id = room.id
        session.flush()
        detached = tuple(m.serial for m in old_meters)
        attached = tuple(m.serial for m in new_meters)
        record_audit(
            session,
            by,
            "account.move",
            "account",
            account.number,
            {"room": old_label, "meters": list(detached)},
            {"room": room.label, "meters": list(attached), "key": key},
        )
        return AccountMoved(account.number, old_label, room.label, detached, attached, False)


def open_form_choices(db: Database) -> FormChoices:
    """What the open-account dialog offers: empty rooms, policies, tariff plans per utility."""
    with db.session() as session:
        taken = select(Account.room_id).where(
            Account.status == AccountStatus.OPEN, Account.room_id.is_not(None)
        )
        rooms = session.scalars(
            select(Room.label).where(Room.id.not_in(taken)).order_by(Room.label)
        ).all()
        policies = session.scalars(select(BalancePolicy.name).order_by(BalancePolicy.name)).all()
        plans: dict[Utility, tuple[str, ...]] = {}
        for utility, name in session.execute(
            select(TariffPlan.utility, TariffPlan.name).order_by(TariffPlan.name)
        ):
            plans[utility] = (*plans.get(utility, ()), name)
        return FormChoices(tuple(rooms), tuple(policies), plans)


# -- opening -----------------------------------------------------------------------------------


def _open(
    session: Session, by: SignedIn, form: _Form, key: str, old: Account | None
) -> AccountOpened:
    name = _text(form.holder_name, "holder_name", "holder's name")
    ref = _text(form.holder_ref, "holder_ref", "holder's reference")
    phone = _text(form.phone, "phone", "phone number")
    if not name:
        raise AccountRefused("holder_name", "The holder's name is empty; type it as on the ID.")
    room = _room(session, form.room_label)
    _must_be_empty(session, room)
    policy = session.scalars(
        select(BalancePolicy).where(BalancePolicy.name == form.policy_name.strip())
    ).first()
    if policy is None:
        names = ", ".join(session.scalars(select(BalancePolicy.name).order_by(BalancePolicy.name)))
        raise AccountRefused(
            "policy", f"There is no balance policy {form.policy_name.strip()!r}; choose {names}."
        )
    meters = meters_in_service(session, Meter.room_id == room.id)
    plans = _plans(session, room, meters, form.tariffs, set())
    opening = parse_money(form.opening_text or "0", site_currency(session), AccountRefused)
    if opening.minor < 0:
        raise AccountRefused(
            "amount", "An opening balance cannot be negative; open at 0 and adjust what is owed."
        )
    if opening.minor and form.method is None:
        raise AccountRefused("method", "Choose how the opening balance is paid.")
    if opening.minor:
        by.require(Action.RECHARGE)
    account = Account(
        number=_next_number(session),
        holder_name=name,
        holder_ref=ref,
        phone=phone,
        room_id=room.id,
        status=AccountStatus.OPEN,
        policy_id=policy.id,
        balance_minor=0,
        reopened_from_id=old.id if old else None,
        tariffs=[AccountTariff(utility=utility, plan_id=plan.id) for utility, plan in plans],
    )
    session.add(account)
    session.flush()
    for meter in meters:
        meter.account_id = account.id
    number = None
    if opening.minor:
        number = _opening_money(session, by, account, opening, form.method, key)
    account.supply_state = credit_region(account.balance_minor, thresholds_of(policy))
    session.flush()
    serials = [meter.serial for meter in meters]
    record_audit(
        session,
        by,
        "account.reopen" if old else "account.open",
        "account",
        account.number,
        {"reopened_from": old.number} if old else None,
        {
            "room": room.label,
            "holder": name,
            "policy": policy.name,
            "meters": serials,
            "tariffs": {utility.value: plan.name for utility, plan in plans},
            "opening_balance": opening.minor,
            "receipt": number,
            "key": key,
        },
    )
    return _opened(session, account, opening.minor, number, replayed=False)


def _opening_money(
    session: Session,
    by: SignedIn,
    account: Account,
    opening: Money,
    method: PaymentMethod | None,
    key: str,
) -> int:
    """The opening balance as a recharge: the cap and the policy's hoard limit hold."""
    try:
        check_amount(session, account, str(opening))
    except RechargeRefused as exc:
        raise AccountRefused("amount", f"Opening balance: {exc}") from None
    _posted, number = pay_in(
        session,
        by,
        account,
        opening.minor,
        method,
        key,
        "opening balance",
        receipt_reason="opening balance",
    )
    return number


def _replay_open(
    session: Session, action: str, key: str, by: SignedIn, asked: _Form, closed: str | None
) -> AccountOpened | None:
    """The opening ``key`` names, if it is this one again: the same room, opening balance,
    payment method and operator (and, for a reopening, the same closed account; for an opening,
    the same holder and policy); None for a new key; refused for anything else."""
    event = keyed_event(session, key, action, None)
    if event is None:
        return None
    after = event.after or {}
    opening = after.get("opening_balance")
    try:
        asked_opening: int | None = parse_money(
            asked.opening_text or "0", site_currency(session), AccountRefused
        ).minor
    except AccountRefused:
        asked_opening = None
    method = session.scalar(
        select(Receipt.method)
        .join(LedgerEntry, LedgerEntry.id == Receipt.ledger_entry_id)
        .where(LedgerEntry.idempotency_key == key)
    )
    earlier: dict[str, object] = {
        "room": str(after.get("room")).lower(),
        "opening balance": opening,
        "payment method": method,
        "operator": event.operator_id,
    }
    now: dict[str, object] = {
        "room": asked.room_label.strip().lower(),
        "opening balance": asked_opening,
        "payment method": asked.method if asked_opening else None,
        "operator": by.operator_id,
    }
    if closed is None:
        earlier.update(holder=after.get("holder"), policy=after.get("policy"))
        now.update(holder=" ".join(asked.holder_name.split()), policy=asked.policy_name.strip())
    else:
        earlier["closed account"] = (event.before or {}).get("reopened_from")
        now["closed account"] = closed.strip()
    what = "a reopening" if closed is not None else "an opening"
    check_same_request(key, AccountRefused, what, earlier, now)
    account = session.scalars(select(Account).where(Account.number == event.target_id)).one()
    receipt = after.get("receipt")
    return _opened(
        session,
        account,
        opening if isinstance(opening, int) else 0,
        receipt if isinstance(receipt, int) else None,
        replayed=True,
    )


def _opened(
    session: Session, account: Account, opening: int, receipt: int | None, *, replayed: bool
) -> AccountOpened:
    tariffs = session.execute(
        select(AccountTariff.utility, TariffPlan.name)
        .join(TariffPlan, TariffPlan.id == AccountTariff.plan_id)
        .where(AccountTariff.account_id == account.id)
        .order_by(AccountTariff.utility)
    ).all()
    previous = session.get(Account, account.reopened_from_id) if account.reopened_from_id else None
    return AccountOpened(
        account.id,
        account.number,
        account.room.label if account.room else "",
        account.holder_name,
        account.policy.name,
        tuple(meter.serial for meter in meters_in_service(session, Meter.account_id == account.id)),
        tuple((utility, name) for utility, name in tariffs),
        opening,
        receipt,
        previous.number if previous else None,
        replayed,
    )


# -- settling ----------------------------------------------------------------------------------


# -- rooms, meters, tariffs, keys ---------------------------------------------------------------


def _room(session: Session, label: str) -> Room:
    room = session.scalars(
        select(Room).where(func.lower(Room.label) == label.strip().lower())
    ).first()
    if room is None:
        raise AccountRefused("room", f"There is no room {label.strip()!r}; pick one from the list.")
    return room


def _must_be_empty(session: Session, room: Room) -> None:
    holder = session.scalars(
        select(Account).where(Account.room_id == room.id, Account.status == AccountStatus.OPEN)
    ).first()
    if holder is not None:
        raise AccountRefused(
            "room",
            f"Room {room.label} has open account {holder.number} ({holder.holder_name}); "
            "move or settle that account first, or choose an empty room.",
        )


def _must_be_open(account: Account) -> None:
    if account.status is not AccountStatus.OPEN:
        raise AccountRefused(
            "account", f"Account {account.number} is closed; reopen it as a new account."
        )


def meters_in_service(session: Session, where: ColumnElement[bool]) -> list[Meter]:
    """Meters in service (not removed) of a room or an account."""
    query = select(Meter).where(where, Meter.removed_at.is_(None))
    return list(session.scalars(query.order_by(Meter.utility, Meter.serial)))


def _plans(
    session: Session,
    room: Room,
    meters: Sequence[Meter],
    names: Mapping[Utility, str],
    have: set[Utility],
) -> list[tuple[Utility, TariffPlan]]:
    """The named plan of each utility the room has a meter of (and the account no tariff of)."""
    chosen = []
    for utility in sorted({meter.utility for meter in meters} - have):
        name = names.get(utility, "").strip()
        plan = session.scalars(
            select(TariffPlan).where(TariffPlan.name == name, TariffPlan.utility == utility)
        ).first()
        if plan is None:
            known = ", ".join(
                session.scalars(
                    select(TariffPlan.name)
                    .where(TariffPlan.utility == utility)
                    .order_by(TariffPlan.name)
                )
            )
            said = f"{name!r} is no {utility.value} tariff" if name else "no tariff was chosen"
            raise AccountRefused(
                "tariff",
                f"Room {room.label} has a {utility.value} meter and {said}; choose one of: "
                f"{known or 'none (import a ' + utility.value + ' tariff first)'}.",
            )
        chosen.append((utility, plan))
    return chosen


def next_account_number(numbers: Iterable[str]) -> int:
    """The next number of the site's sequence, given every account number there is: one above
    the highest numeric one, ``FIRST_NUMBER`` at the start (an import numbers on from it)."""
    taken = [int(n) for n in numbers if n.isascii() and n.isdigit()]
    return max([FIRST_NUMBER - 1, *taken]) + 1


def _next_number(session: Session) -> str:
    return str(next_account_number(session.scalars(select(Account.number))))


def keyed_event(session: Session, key: str, action: str, target: str | None) -> AuditEvent | None:
    """The earlier step this key names, if it is ``action`` (on ``target``); a key used for
    anything else is refused."""
    event = session.scalars(
        select(AuditEvent).where(
            AuditEvent.action.in_(STEPS), AuditEvent.after["key"].as_string() == key
        )
    ).first()
    if event is None:
        if session.scalar(select(LedgerEntry.id).where(LedgerEntry.idempotency_key == key)):
            raise _key_used(key)
        return None
    if event.action != action or target not in (None, event.target_id):
        raise _key_used(key)
    return event


def _key_used(key: str) -> Refused:
    return key_used(key, AccountRefused, "another step")


def _text(value: str, field: str, what: str) -> str:
    text = " ".join(value.split())
    limit = column_length(getattr(Account, field))
    if len(text) > limit:
        raise AccountRefused(field, f"The {what} has {len(text)} characters; give at most {limit}.")
    return text


def _texts(value: object) -> tuple[str, ...]:
    return tuple(str(item) for item in value) if isinstance(value, list) else ()
