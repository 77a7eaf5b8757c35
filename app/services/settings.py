"""Site settings: each key MeterDesk knows is declared once here, with its label, help, default,
how a person's text becomes its stored value, and how the value is shown.

Stored in the ``setting`` table as JSON values. Reading never fails: a missing or unusable
stored value gives the default. Changing one is an admin's or supervisor's act, audited. The
command line (``setting list|set``) and the console's Settings page are both built from
``SETTINGS``: a new setting is one more entry there.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.billing.money import Money, MoneyError, minor_unit_digits
from app.hardware.ports import port_problem
from app.input_limits import MAX_MONEY_MINOR, MAX_WHOLE_DIGITS
from app.queries.reports.terms import Term, TermRefused, parse_terms, stored_terms, terms_text
from app.queries.site_facts import site_currency
from app.services.audit import record_audit
from app.services.operators import SignedIn
from app.services.permissions import Action
from app.store.database import Database
from app.store.models import Setting, utc_now

RECHARGE_CAP = "recharge_cap_minor"
IDLE_LOCK_MINUTES = "idle_lock_minutes"
RECEIPT_LAYOUT = "receipt_layout"
RECEIPT_PRINTING = "receipt_printing"
SMS_PORT = "sms_port"
SMS_BAUD = "sms_baud"
SMS_QUIET_HOURS = "sms_quiet_hours"
TERMS = "terms"
SMS_LANGUAGE = "sms_language"

DEFAULT_CAP = Decimal("10000.00")  # in the site currency
LAYOUTS = ("roll80", "a4")
# dialog: the print dialog each time; printer: straight to the default printer; none: PDF only
PRINTING = ("dialog", "printer", "none")
IDLE_LOCK_MAX = 240
SMS_BAUDS = ("9600", "19200", "38400", "57600", "115200")
NO_MODEM = "none"
SMS_LANGUAGES = ("en", "zh", "zh+en")  # zh+en: the Chinese text, then the English one
_HOURS = re.compile(r"([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)")


class SettingRefused(ValueError):
    """A setting value that cannot be used; the message says what to give instead."""


@dataclass(frozen=True)
class SettingSpec:
    """One setting. ``kind`` tells a screen which editor to offer: ``money`` (an amount in the
    site currency, stored in minor units), ``whole`` (a whole number from ``low`` to ``high``),
    ``choice`` (one of ``choices``), ``port`` (a serial port or ``none``) or ``hours`` (a span
    of the day, ``22:00-07:00``, or ``none``) or ``terms`` (named ranges of days,
    ``autumn 2026=2026-09-01..2027-01-20; ...``, or ``none``: ``app.queries.reports.terms``)."""

    key: str
    label: str
    help: str
    kind: str
    default: Callable[[str], object]  # currency -> the stored default
    choices: tuple[str, ...] = ()
    low: int = 0
    high: int = 0

    def usable(self, value: object) -> bool:
        """Whether a stored value can be used (a hand-edited row may hold anything)."""
        if self.kind == "money":
            return type(value) is int and 0 < value <= MAX_MONEY_MINOR
        if self.kind == "whole":
            return type(value) is int and self.low <= value <= self.high
        if self.kind == "port":
            return value == NO_MODEM or (isinstance(value, str) and port_problem(value) is None)
        if self.kind == "hours":
            return value == NO_MODEM or (
                isinstance(value, str) and _HOURS.fullmatch(value) is not None
            )
        if self.kind == "terms":
            try:
                stored_terms(value)
            except TermRefused:
                return False
            return True
        return value in self.choices

    def parse(self, text: str, currency: str) -> object:
        """The stored value of a person's text; SettingRefused says what to give instead."""
        value = text.strip()
        if self.kind == "money":
            try:
                amount = Money.parse(value, currency)
            except MoneyError as exc:
                raise SettingRefused(f"{self.label}: {exc}") from None
            if amount.minor <= 0:
                raise SettingRefused(f"{self.label} must be more than zero.")
            return amount.minor
        if self.kind == "terms":
            try:
                return [term.stored() for term in parse_terms(value)]
            except TermRefused as exc:
                raise SettingRefused(f"{self.label}: {exc}.") from None
        shown = _shortened(value)
        if self.kind == "whole":
            # ASCII digits only: a superscript 2 is a digit to str.isdigit() but not to int()
            plain = value.isascii() and value.isdigit() and len(value) <= MAX_WHOLE_DIGITS
            if not plain or not self.low <= int(value) <= self.high:
                raise SettingRefused(
                    f"{self.label} {shown!r}: give a whole number from {self.low} to {self.high}."
                )
            return int(value)
        if self.kind in ("port", "hours") and value.lower() in ("", NO_MODEM):
            return NO_MODEM
        if self.kind == "port":
            problem = port_problem(value)
            if problem is not None:
                raise SettingRefused(f"{self.label}: {problem}; or none for no modem.")
            return value
        if self.kind == "hours":
            if _HOURS.fullmatch(value.replace(" ", "")) is None:
                raise SettingRefused(
                    f"{self.label} {shown!r}: give the quiet span like 22:00-07:00, or none."
                )
            return value.replace(" ", "")
        if value in self.choices:
            return value
        raise SettingRefused(f"{self.label} {shown!r}: choose one of {', '.join(self.choices)}.")

    def shown(self, value: object, currency: str) -> str:
        """The value as a person types it back (an amount with its decimals)."""
        if self.kind == "money" and type(value) is int:
            return str(Money(value, currency))
        if self.kind == "terms":
            return terms_text(stored_terms(value))
        return str(value)


def _shortened(text: str) -> str:
    """A person's text as a message quotes it: at most 40 characters (a pasted page is not
    repeated back)."""
    return text if len(text) <= 40 else f"{text[:37]}..."


def _default_cap(currency: str) -> int:
    return int(DEFAULT_CAP.scaleb(minor_unit_digits(currency)))


SETTINGS: tuple[SettingSpec, ...] = (
    SettingSpec(
        RECHARGE_CAP,
        "Single-recharge cap",
        "the largest amount one recharge may take, e.g. 5000.00",
        "money",
        _default_cap,
    ),
    SettingSpec(
        IDLE_LOCK_MINUTES,
        "Idle lock (minutes)",
        f"lock the console after this many quiet minutes; 0 never locks (up to {IDLE_LOCK_MAX})",
        "whole",
        lambda _currency: 5,
        low=0,
        high=IDLE_LOCK_MAX,
    ),
    SettingSpec(
        RECEIPT_LAYOUT,
        "Receipt layout",
        "roll80: an 80 mm thermal roll; a4: an A4 page",
        "choice",
        lambda _currency: "roll80",
        choices=LAYOUTS,
    ),
    SettingSpec(
        RECEIPT_PRINTING,
        "Receipt printing",
        "dialog: ask each time; printer: straight to the default printer; none: PDF only",
        "choice",
        lambda _currency: "dialog",
        choices=PRINTING,
    ),
    SettingSpec(
        SMS_PORT,
        "SMS modem port",
        "the GSM modem that texts tenants: /dev/ttyUSB1, COM4 or socket://host:port; none: no "
        "modem",
        "port",
        lambda _currency: NO_MODEM,
    ),
    SettingSpec(
        SMS_BAUD,
        "SMS modem speed",
        "the modem's baud rate (most USB modems: 115200)",
        "choice",
        lambda _currency: "115200",
        choices=SMS_BAUDS,
    ),
    SettingSpec(
        SMS_QUIET_HOURS,
        "SMS quiet hours",
        "no text to tenants in this span of the site's day (e.g. 22:00-07:00); none: any time",
        "hours",
        lambda _currency: "22:00-07:00",
    ),
    SettingSpec(
        SMS_LANGUAGE,
        "SMS language",
        "the language of texts to tenants: en, zh, or zh+en for both in one message",
        "choice",
        lambda _currency: "en",
        choices=SMS_LANGUAGES,
    ),
    SettingSpec(
        TERMS,
        "Terms",
        "the site's terms for reports (this term, last term): NAME=FIRST..LAST separated by ;, "
        "e.g. autumn 2026=2026-09-01..2027-01-20; none: no terms",
        "terms",
        lambda _currency: [],
    ),
)
SPECS: Mapping[str, SettingSpec] = {spec.key: spec for spec in SETTINGS}


def spec_of(key: str) -> SettingSpec:
    spec = SPECS.get(key.strip())
    if spec is None:
        raise SettingRefused(
            f"There is no setting called {_shortened(key.strip())!r}; the settings are "
            f"{', '.join(SPECS)}."
        )
    return spec


@dataclass(frozen=True)
class CounterSettings:
    """The settings the counter and the console use, typed."""

    currency: str
    recharge_cap_minor: int
    idle_lock_minutes: int
    receipt_layout: str
    receipt_printing: str


def setting_values(session: Session) -> dict[str, object]:
    """Every setting's value in use: the stored one when usable, else its default."""
    currency = site_currency(session)
    stored = dict(session.execute(select(Setting.key, Setting.value)).all())
    return {
        spec.key: stored[spec.key]
        if spec.key in stored and spec.usable(stored[spec.key])
        else spec.default(currency)
        for spec in SETTINGS
    }


def counter_settings(session: Session) -> CounterSettings:
    values = setting_values(session)
    return CounterSettings(
        site_currency(session),
        int(str(values[RECHARGE_CAP])),
        int(str(values[IDLE_LOCK_MINUTES])),
        str(values[RECEIPT_LAYOUT]),
        str(values[RECEIPT_PRINTING]),
    )


def site_terms_setting(session: Session) -> tuple[Term, ...]:
    """The site's terms in date order (none when unset: ``setting_values`` gives the default
    for a stored value that is not usable)."""
    return stored_terms(setting_values(session)[TERMS])


def load_terms(db: Database) -> tuple[Term, ...]:
    """``site_terms_setting`` in a session of its own (the Reports screen, ``--term``)."""
    with db.session() as session:
        return site_terms_setting(session)


def load_counter_settings(db: Database) -> CounterSettings:
    with db.session() as session:
        return counter_settings(session)


def shown_settings(db: Database) -> dict[str, str]:
    """Every setting's value as a person types it (``setting list``, the Settings page)."""
    with db.session() as session:
        currency = site_currency(session)
        values = setting_values(session)
    return {key: SPECS[key].shown(value, currency) for key, value in values.items()}


def change_setting(session: Session, by: SignedIn, key: str, text: str) -> object:
    """Store one setting from a person's text (an amount, minutes, a choice), audited."""
    by.require(Action.CHANGE_POLICY)
    spec = spec_of(key)
    value = spec.parse(text, site_currency(session))
    row = session.get(Setting, spec.key)
    before = None if row is None else row.value
    if row is None:
        row = Setting(key=spec.key, value=value)
        session.add(row)
    row.value = value
    row.updated_at = utc_now()
    row.updated_by_id = by.operator_id
    session.flush()
    record_audit(
        session, by, "setting.change", "setting", spec.key, {"value": before}, {"value": value}
    )
    return value
