"""Site settings: the keys MeterDesk knows, their defaults and their checks.

Stored in the ``setting`` table as JSON values. Reading never fails: a missing or unusable
stored value gives the default. Changing one is an admin's or supervisor's act, audited.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.billing.money import Money, MoneyError, minor_unit_digits
from app.services.audit import record_audit
from app.services.operators import SignedIn
from app.services.permissions import Action
from app.store.database import Database
from app.store.models import Setting, Site, utc_now

RECHARGE_CAP = "recharge_cap_minor"
IDLE_LOCK_MINUTES = "idle_lock_minutes"
RECEIPT_LAYOUT = "receipt_layout"
RECEIPT_PRINTING = "receipt_printing"

DEFAULT_CAP = Decimal("10000.00")  # in the site currency
LAYOUTS = ("roll80", "a4")
# dialog: the print dialog each time; printer: straight to the default printer; none: PDF only
PRINTING = ("dialog", "printer", "none")


class SettingRefused(ValueError):
    """A setting value that cannot be used; the message says what to give instead."""


@dataclass(frozen=True)
class CounterSettings:
    currency: str
    recharge_cap_minor: int
    idle_lock_minutes: int
    receipt_layout: str
    receipt_printing: str


def site_currency(session: Session) -> str:
    return session.scalar(select(Site.currency).order_by(Site.id).limit(1)) or "CNY"


def _default_cap(currency: str) -> int:
    return int(DEFAULT_CAP.scaleb(minor_unit_digits(currency)))


def counter_settings(session: Session) -> CounterSettings:
    currency = site_currency(session)
    stored = dict(session.execute(select(Setting.key, Setting.value)).all())

    def pick(key: str, default: object, ok: object) -> object:
        value = stored.get(key, default)
        return value if callable(ok) and ok(value) else default

    cap = pick(RECHARGE_CAP, _default_cap(currency), lambda v: type(v) is int and v > 0)
    idle = pick(IDLE_LOCK_MINUTES, 5, lambda v: type(v) is int and 0 <= v <= 240)
    layout = pick(RECEIPT_LAYOUT, "roll80", lambda v: v in LAYOUTS)
    printing = pick(RECEIPT_PRINTING, "dialog", lambda v: v in PRINTING)
    return CounterSettings(currency, int(str(cap)), int(str(idle)), str(layout), str(printing))


def load_counter_settings(db: Database) -> CounterSettings:
    with db.session() as session:
        return counter_settings(session)


def _check(key: str, text: str, currency: str) -> object:
    value = text.strip()
    if key == RECHARGE_CAP:
        try:
            cap = Money.parse(value, currency)
        except MoneyError as exc:
            raise SettingRefused(f"Single-recharge cap: {exc}") from None
        if cap.minor <= 0:
            raise SettingRefused("The single-recharge cap must be more than zero.")
        return cap.minor
    if key == IDLE_LOCK_MINUTES:
        if not value.isdigit() or int(value) > 240:
            raise SettingRefused(
                f"Idle lock {value!r}: give whole minutes from 0 (never lock) to 240."
            )
        return int(value)
    if key == RECEIPT_LAYOUT and value in LAYOUTS:
        return value
    if key == RECEIPT_PRINTING and value in PRINTING:
        return value
    choices = {RECEIPT_LAYOUT: LAYOUTS, RECEIPT_PRINTING: PRINTING}.get(key)
    if choices is None:
        raise SettingRefused(f"There is no setting called {key!r}.")
    raise SettingRefused(f"{key} {value!r}: choose one of {', '.join(choices)}.")


def change_setting(session: Session, by: SignedIn, key: str, text: str) -> object:
    """Store one setting from a person's text (an amount, minutes, a choice), audited."""
    by.require(Action.CHANGE_POLICY)
    value = _check(key, text, site_currency(session))
    row = session.get(Setting, key)
    before = None if row is None else row.value
    if row is None:
        row = Setting(key=key, value=value)
        session.add(row)
    row.value = value
    row.updated_at = utc_now()
    row.updated_by_id = by.operator_id
    session.flush()
    record_audit(session, by, "setting.change", "setting", key, {"value": before}, {"value": value})
    return value
