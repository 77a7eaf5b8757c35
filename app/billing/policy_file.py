"""The balance-policy file of DOMAIN.md section 1 ("Balance policy file format"), read and written.

What this module holds:

- :class:`PolicyValues` (with :class:`PolicyWindow`): exactly what a ``BalancePolicy`` row holds,
  amounts in integer minor units of the site currency, never floats.
- :func:`parse_policy`: TOML text to values; :func:`dump_policy`: values to TOML text in the
  layout of DOMAIN.md, so that ``parse_policy(dump_policy(v)) == v`` for every valid ``v``.
- :class:`PolicyFileError`: every problem of one file (or form), each a
  :class:`~app.billing.file_problems.Problem` named by its key (see ``app.billing.file_problems``).
- The readers of single values and the rules between amounts (:func:`read_name`,
  :func:`amount_from_text`, :func:`read_clock`, :func:`check_amount_rules`...), which
  ``app.billing.policy_form`` reads a form with, so that a form is held to the rules of the file.

Rules of the file (every one is checked, and every problem found is reported, not just the
first; each names its key, with list positions counted from 1 as a person counts):

- Keys: ``name``, ``currency`` (optional), ``alarm_1``, ``alarm_2``, ``overdraft_limit``,
  ``close_permit``, ``hoard_limit`` (optional), ``friendly_hours`` and ``friendly_dates``
  (optional, empty when left out). Any other key is refused as a likely typo, with the list of
  known keys. Bad TOML syntax is reported with tomllib's line and column.
- ``name``: text, 1 to 80 characters after trimming, on one line (no control characters).
- ``currency``: when given, it must be the site's currency (the ``currency`` argument); the
  amounts are always read in the site's currency.
- Amounts are TOML strings holding exact decimals (``"20.00"``), read with
  ``app.billing.money`` with at most the currency's decimals; a bare number (``20.0``) is
  refused, because a float cannot hold money exactly.
- ``alarm_1 >= alarm_2 >= 0``; ``overdraft_limit >= 0``; ``close_permit >= -overdraft_limit``
  (otherwise an account would be restored below the balance it is cut at); when given,
  ``hoard_limit > alarm_1`` and ``hoard_limit >= close_permit`` (otherwise a cut-off account could
  never be recharged up to the close permit).
- ``friendly_hours``: a list of ``{ days = ["mon", ...], from = "HH:MM", to = "HH:MM" }``. Days
  are ``mon`` to ``sun`` (any letter case), at least one, none twice; they are kept in week order
  (Monday = 0 first). Times are exactly ``HH:MM``, ``00:00`` to ``23:59``; ``24:00`` only as
  ``to``; ``from`` and ``to`` differ; ``to`` before ``from`` crosses midnight (the window belongs
  to the day it starts on, see ``app.billing.friendly_time``). Windows keep the file's order.
- ``friendly_dates``: TOML dates (``2026-10-01``, no quotes), none twice; kept in date order.

The form of a policy (the same values from and to the strings a person types) is
``app.billing.policy_form``.

Pure: no I/O, no database; the caller reads the file and stores the values.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from app.billing.file_problems import (
    FileProblemsError,
    ProblemList,
    commented,
    read_toml,
    shown,
    toml_string,
    wrapped_list,
)
from app.billing.friendly_time import WEEKDAY_NAMES, FriendlyTimeError, FriendlyWindow
from app.billing.money import (
    MINOR_UNITS,
    Money,
    MoneyError,
    minor_unit_digits,
    parse_decimal,
)
from app.billing.tariff.values import clock
from app.input_limits import MAX_MONEY_MINOR, number_too_long

__all__ = [
    "DAY_NAMES",
    "MAX_AMOUNT_MINOR",
    "NAME_MAX_CHARS",
    "POLICY_KEYS",
    "PolicyFileError",
    "PolicyValues",
    "PolicyWindow",
    "dump_policy",
    "parse_policy",
]

DAY_NAMES = tuple(name.lower() for name in WEEKDAY_NAMES)  # index = weekday, Monday = 0
NAME_MAX_CHARS = 80  # BalancePolicy.name is a String(80)
POLICY_KEYS = (
    "name",
    "currency",
    "alarm_1",
    "alarm_2",
    "overdraft_limit",
    "close_permit",
    "hoard_limit",
    "friendly_hours",
    "friendly_dates",
)
_AMOUNT_KEYS = ("alarm_1", "alarm_2", "overdraft_limit", "close_permit", "hoard_limit")
_REQUIRED_KEYS = ("name", "alarm_1", "alarm_2", "overdraft_limit", "close_permit")
_WINDOW_KEYS = ("days", "from", "to")
# Example amounts (in whole currency units) used in messages and for missing keys.
EXAMPLE_UNITS = {
    "alarm_1": 20,
    "alarm_2": 5,
    "overdraft_limit": 0,
    "close_permit": 1,
    "hoard_limit": 2000,
}
# Far above any real balance, well inside the database's 64-bit minor-unit columns.
MAX_AMOUNT_MINOR = MAX_MONEY_MINOR
_WINDOW_EXAMPLE = '{ days = ["mon", "tue"], from = "22:00", to = "08:00" }'


class PolicyFileError(FileProblemsError):
    """A balance-policy file or form that cannot be used; see :class:`FileProblemsError`."""


# -- values ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PolicyWindow:
    """One friendly-hours window as a policy holds it: ``days`` are weekday numbers (Monday = 0)
    in week order, ``start`` and ``end`` the file's ``from`` and ``to`` as ``"HH:MM"``
    (``end`` may be ``"24:00"``; ``end`` before ``start`` crosses midnight)."""

    days: tuple[int, ...]
    start: str
    end: str

    def to_json(self) -> dict[str, object]:
        """The stored form, ``{"days": [0, 1], "from": "22:00", "to": "08:00"}``."""
        return {"days": list(self.days), "from": self.start, "to": self.end}

    @classmethod
    def from_json(cls, item: Mapping[str, object]) -> PolicyWindow:
        """From the stored form; raises ``FriendlyTimeError`` when it is not a usable window."""
        window = FriendlyWindow.from_json(item)
        days = tuple(sorted(window.days))
        return cls(days, clock(window.start_minute), clock(window.end_minute))

    def friendly_window(self) -> FriendlyWindow:
        """The window for ``app.billing.friendly_time``; raises ``FriendlyTimeError``."""
        return FriendlyWindow.from_json(self.to_json())

    def __str__(self) -> str:
        """As typed in a form: ``mon-fri 22:00-08:00``."""
        return f"{_days_text(self.days)} {self.start}-{self.end}"


@dataclass(frozen=True, slots=True)
class PolicyValues:
    """What a ``BalancePolicy`` row holds: amounts in integer minor units of the site currency
    (``hoard_limit_minor`` None when there is none), friendly hours and dates."""

    name: str
    alarm_1_minor: int
    alarm_2_minor: int
    overdraft_limit_minor: int
    close_permit_minor: int
    hoard_limit_minor: int | None
    friendly_hours: tuple[PolicyWindow, ...] = ()
    friendly_dates: tuple[date, ...] = ()

    def to_stored(self) -> dict[str, object]:
        """The ``BalancePolicy`` column values (``friendly_hours`` as JSON windows,
        ``friendly_dates`` as ISO strings)."""
        return {
            "name": self.name,
            "alarm_1_minor": self.alarm_1_minor,
            "alarm_2_minor": self.alarm_2_minor,
            "overdraft_limit_minor": self.overdraft_limit_minor,
            "close_permit_minor": self.close_permit_minor,
            "hoard_limit_minor": self.hoard_limit_minor,
            "friendly_hours": [window.to_json() for window in self.friendly_hours],
            "friendly_dates": [day.isoformat() for day in self.friendly_dates],
        }

    @classmethod
    def from_stored(
        cls,
        *,
        name: str,
        alarm_1_minor: int,
        alarm_2_minor: int,
        overdraft_limit_minor: int,
        close_permit_minor: int,
        hoard_limit_minor: int | None,
        friendly_hours: Iterable[Mapping[str, object]],
        friendly_dates: Iterable[str],
    ) -> PolicyValues:
        """From the ``BalancePolicy`` column values (e.g. to export a stored policy); days and
        dates come out in order. Raises ``FriendlyTimeError`` or ``ValueError`` on stored
        windows or dates that cannot be read."""
        return cls(
            name=name,
            alarm_1_minor=alarm_1_minor,
            alarm_2_minor=alarm_2_minor,
            overdraft_limit_minor=overdraft_limit_minor,
            close_permit_minor=close_permit_minor,
            hoard_limit_minor=hoard_limit_minor,
            friendly_hours=tuple(PolicyWindow.from_json(item) for item in friendly_hours),
            friendly_dates=tuple(sorted(date.fromisoformat(text) for text in friendly_dates)),
        )


def _days_text(days: Sequence[int]) -> str:
    """Days as typed in a form: runs of three or more as ranges, ``mon-fri,sun``."""
    parts: list[str] = []
    start = 0
    while start < len(days):
        stop = start
        while stop + 1 < len(days) and days[stop + 1] == days[stop] + 1:
            stop += 1
        if stop - start >= 2:
            parts.append(f"{DAY_NAMES[days[start]]}-{DAY_NAMES[days[stop]]}")
        else:
            parts.extend(DAY_NAMES[day] for day in days[start : stop + 1])
        start = stop + 1
    return ",".join(parts)


# -- reading single values, shared with app.billing.policy_form -----------------------------


def example_amount(key: str, currency: str) -> str:
    """The example amount of an amount key as a person types it (``"20.00"`` for alarm_1)."""
    return str(Money(EXAMPLE_UNITS[key] * 10 ** minor_unit_digits(currency), currency))


def _example_amount(key: str, currency: str) -> str:
    """The example amount of an amount key as the file writes it: a TOML string."""
    return toml_string(example_amount(key, currency))


def amount_from_text(problems: ProblemList, key: str, text: str, currency: str) -> int | None:
    """Minor units from an amount written as text (``"20.00"``), with money.py's rules."""
    digits = minor_unit_digits(currency)
    if number_too_long(text):
        problems.add(
            key,
            "{value} is larger than any balance MeterDesk keeps; check the amount.",
            value=shown(text),
        )
        return None
    try:
        value = parse_decimal(text, key)
    except MoneyError:
        problems.add(
            key,
            "{value} is not an amount; write a plain decimal number, e.g. {example}.",
            value=shown(text),
            example=_example_amount(key, currency),
        )
        return None
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > digits:
        problems.add(
            key,
            "{value} has more than {digits} decimal places for {currency}; write it like "
            "{example}.",
            value=shown(text),
            digits=digits,
            currency=currency,
            example=toml_string(str(Money.from_decimal(value, currency))),
        )
        return None
    minor = int(value.scaleb(digits))
    if abs(minor) > MAX_AMOUNT_MINOR:
        problems.add(
            key,
            "{value} is larger than any balance MeterDesk keeps; check the amount.",
            value=shown(text),
        )
        return None
    return minor


def read_name(problems: ProblemList, raw: object) -> str | None:
    """The policy's name, trimmed: 1 to 80 characters on one line (reported under ``name``)."""
    example = toml_string("Student dormitory")
    if not isinstance(raw, str):
        problems.add(
            "name",
            "{value} is not a name; write the name as a string, e.g. {example}.",
            value=shown(raw),
            example=example,
        )
        return None
    name = raw.strip()
    if not name:
        problems.add(
            "name", "the name is empty; give the policy a name, e.g. {example}.", example=example
        )
        return None
    if any(unicodedata.category(char) in ("Cc", "Cs") for char in name):
        problems.add(
            "name",
            "the name contains a control character (such as a tab or a line break); "
            "write it as one line of text.",
        )
        return None
    if len(name) > NAME_MAX_CHARS:
        problems.add(
            "name",
            "the name is {length} characters long; shorten it to {limit} characters or fewer.",
            length=len(name),
            limit=NAME_MAX_CHARS,
        )
        return None
    return name


def read_clock(
    problems: ProblemList, key: str, raw: object, *, end: bool, pattern: re.Pattern[str]
) -> str | None:
    """``"HH:MM"`` from 00:00 to 23:59; ``"24:00"`` only when ``end``."""
    if not isinstance(raw, str):
        problems.add(
            key,
            '{value} is not a time; write it as a string "HH:MM", e.g. {example}.',
            value=shown(raw),
            example='"22:00"',
        )
        return None
    match = pattern.fullmatch(raw.strip())
    if match is None:
        problems.add(
            key,
            "{value} is not a time written as HH:MM; write it like {example}.",
            value=shown(raw),
            example='"08:00"',
        )
        return None
    hours, minutes = int(match[1]), int(match[2])
    if (hours, minutes) == (24, 0):
        if end:
            return "24:00"
        problems.add(
            key,
            "{value} can only end a window; a window that starts at midnight starts at {example}.",
            value=shown(raw),
            example='"00:00"',
        )
        return None
    if hours > 23 or minutes > 59:
        problems.add(
            key,
            "{value} is not a time of day; use 00:00 to 23:59, or 24:00 as the end of a window.",
            value=shown(raw),
        )
        return None
    return f"{hours:02d}:{minutes:02d}"


def report_same_times(problems: ProblemList, key: str, start: str, whole_day: str) -> None:
    """Report a window that starts and ends at ``start``; ``whole_day`` is how a whole day is
    written where it stands."""
    problems.add(
        key,
        "the window starts and ends at {value}, so it has no length; for a whole day use "
        "{whole_day}.",
        value=start,
        whole_day=whole_day,
    )


def confirmed_window(problems: ProblemList, key: str, window: PolicyWindow) -> PolicyWindow | None:
    """The window, after ``app.billing.friendly_time`` (which the engine uses) accepts it."""
    try:
        window.friendly_window()
    except FriendlyTimeError as exc:  # a rule of friendly_time.py that the readers do not know
        problems.add(key, "{reason}", reason=str(exc))
        return None
    return window


def site_currency_known(problems: ProblemList, currency: str) -> bool:
    """Whether the site currency is known (reported under ``currency`` when not)."""
    if currency in MINOR_UNITS:
        return True
    problems.add(
        "currency",
        "the site currency {currency} is not known; set the site's currency to one of {known}.",
        currency=shown(currency),
        known=", ".join(sorted(MINOR_UNITS)),
    )
    return False


@dataclass(slots=True)
class Amounts:
    """The amounts read so far, in minor units (None where missing or unreadable)."""

    alarm_1: int | None = None
    alarm_2: int | None = None
    overdraft_limit: int | None = None
    close_permit: int | None = None
    hoard_limit: int | None = None


def check_amount_rules(problems: ProblemList, amounts: Amounts, currency: str) -> None:
    """The rules between amounts, for the amounts that could be read."""

    def text(minor: int) -> str:
        return toml_string(str(Money(minor, currency)))

    a1, a2 = amounts.alarm_1, amounts.alarm_2
    overdraft, permit, hoard = amounts.overdraft_limit, amounts.close_permit, amounts.hoard_limit
    if a1 is not None and a1 < 0:
        problems.add(
            "alarm_1",
            "{value} is below zero; the first warning must be at a balance of 0 or more.",
            value=text(a1),
        )
    if a2 is not None and a2 < 0:
        problems.add(
            "alarm_2",
            "{value} is below zero; the second warning must be at a balance of 0 or more.",
            value=text(a2),
        )
    if a1 is not None and a2 is not None and 0 <= a1 < a2:
        problems.add(
            "alarm_2",
            "{value} is above alarm_1 ({alarm_1}); the second warning comes after the first, so "
            "make alarm_2 at most alarm_1.",
            value=text(a2),
            alarm_1=text(a1),
        )
    if overdraft is not None and overdraft < 0:
        problems.add(
            "overdraft_limit",
            "{value} is below zero; write how far below zero supply continues as 0 or more "
            "(0 cuts at zero).",
            value=text(overdraft),
        )
    if permit is not None and overdraft is not None and overdraft >= 0 and permit < -overdraft:
        problems.add(
            "close_permit",
            "{value} is below {floor}, the balance at which supply is cut (minus "
            "overdraft_limit), so a cut-off account would be restored while still in arrears; "
            "make close_permit {floor} or more.",
            value=text(permit),
            floor=text(-overdraft),
        )
    if hoard is not None and a1 is not None and hoard <= a1:
        problems.add(
            "hoard_limit",
            "{value} is not above alarm_1 ({alarm_1}), so no recharge could clear the first "
            "warning; make hoard_limit larger than alarm_1 or leave it out.",
            value=text(hoard),
            alarm_1=text(a1),
        )
    if hoard is not None and permit is not None and hoard < permit:
        problems.add(
            "hoard_limit",
            "{value} is below close_permit ({close_permit}), so a cut-off account could never "
            "be recharged up to the close permit; make hoard_limit at least close_permit.",
            value=text(hoard),
            close_permit=text(permit),
        )


def collected_values(
    problems: ProblemList,
    name: str | None,
    amounts: Amounts,
    hours: tuple[PolicyWindow, ...] | None,
    dates: tuple[date, ...] | None,
) -> PolicyValues | None:
    """The values read, or None when any problem was found."""
    if len(problems) or name is None or hours is None or dates is None:
        return None
    assert amounts.alarm_1 is not None
    assert amounts.alarm_2 is not None
    assert amounts.overdraft_limit is not None
    assert amounts.close_permit is not None
    return PolicyValues(
        name=name,
        alarm_1_minor=amounts.alarm_1,
        alarm_2_minor=amounts.alarm_2,
        overdraft_limit_minor=amounts.overdraft_limit,
        close_permit_minor=amounts.close_permit,
        hoard_limit_minor=amounts.hoard_limit,
        friendly_hours=hours,
        friendly_dates=dates,
    )


# -- the file -------------------------------------------------------------------------------


def _amount_value(problems: ProblemList, key: str, raw: object, currency: str) -> int | None:
    """Minor units from a TOML value, which must be a string."""
    if isinstance(raw, str):
        return amount_from_text(problems, key, raw, currency)
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        number = Decimal(repr(raw)) if isinstance(raw, float) else Decimal(raw)
        example = (
            toml_string(str(Money.from_decimal(number, currency)))
            if number.is_finite() and abs(number) < MAX_AMOUNT_MINOR
            else _example_amount(key, currency)
        )
        problems.add(
            key,
            "{value} is a bare number, which cannot hold money exactly; write amounts as "
            "strings, e.g. {example}.",
            value=shown(raw),
            example=example,
        )
        return None
    problems.add(
        key,
        "{value} is not an amount; write amounts as strings, e.g. {example}.",
        value=shown(raw),
        example=_example_amount(key, currency),
    )
    return None


_HHMM_FILE = re.compile(r"(\d\d):(\d\d)")


def _file_days(problems: ProblemList, key: str, raw: object) -> tuple[int, ...] | None:
    if not isinstance(raw, list):
        problems.add(
            key,
            "{value} is not a list of days; write it like {example}.",
            value=shown(raw),
            example='["mon", "tue"]',
        )
        return None
    if not raw:
        problems.add(
            key, "no days are given; list at least one, e.g. {example}.", example='["sat", "sun"]'
        )
        return None
    numbers: list[int] = []
    good = True
    for item in raw:
        name = item.strip().lower() if isinstance(item, str) else None
        if name not in DAY_NAMES:
            problems.add(
                key,
                "{value} is not a day; use {names}.",
                value=shown(item),
                names=", ".join(DAY_NAMES),
            )
            good = False
            continue
        number = DAY_NAMES.index(name)
        if number in numbers:
            problems.add(key, "{value} is listed twice; list each day once.", value=shown(item))
            good = False
            continue
        numbers.append(number)
    return tuple(sorted(numbers)) if good else None


def _file_window(problems: ProblemList, key: str, raw: object) -> PolicyWindow | None:
    if not isinstance(raw, dict):
        problems.add(
            key,
            "{value} is not a window; write it like {example}.",
            value=shown(raw),
            example=_WINDOW_EXAMPLE,
        )
        return None
    before = len(problems)
    problems.unknown_keys(raw, _WINDOW_KEYS, prefix=f"{key}.")
    for name, example in (("days", '["mon", "tue"]'), ("from", '"22:00"'), ("to", '"08:00"')):
        if name not in raw:
            problems.missing(f"{key}.{name}", f"{name} = {example}")
    days = _file_days(problems, f"{key}.days", raw["days"]) if "days" in raw else None
    start = (
        read_clock(problems, f"{key}.from", raw["from"], end=False, pattern=_HHMM_FILE)
        if "from" in raw
        else None
    )
    end = (
        read_clock(problems, f"{key}.to", raw["to"], end=True, pattern=_HHMM_FILE)
        if "to" in raw
        else None
    )
    if start is not None and start == end:
        report_same_times(problems, f"{key}.to", toml_string(start), 'from = "00:00", to = "24:00"')
    if len(problems) > before or days is None or start is None or end is None:
        return None
    return confirmed_window(problems, key, PolicyWindow(days, start, end))


def _file_hours(problems: ProblemList, raw: object) -> tuple[PolicyWindow, ...] | None:
    if not isinstance(raw, list):
        problems.add(
            "friendly_hours",
            "{value} is not a list of windows; write it like [{example}].",
            value=shown(raw),
            example=_WINDOW_EXAMPLE,
        )
        return None
    windows = [
        _file_window(problems, f"friendly_hours[{number}]", item)
        for number, item in enumerate(raw, start=1)
    ]
    if any(window is None for window in windows):
        return None
    return tuple(window for window in windows if window is not None)


def _file_dates(problems: ProblemList, raw: object) -> tuple[date, ...] | None:
    if not isinstance(raw, list):
        problems.add(
            "friendly_dates",
            "{value} is not a list of dates; write it like {example}.",
            value=shown(raw),
            example="[2026-10-01, 2026-10-02]",
        )
        return None
    dates: list[date] = []
    good = True
    for number, item in enumerate(raw, start=1):
        key = f"friendly_dates[{number}]"
        if isinstance(item, date) and not isinstance(item, datetime):
            if item in dates:
                problems.add(
                    key, "{value} is listed twice; list each date once.", value=shown(item)
                )
                good = False
            else:
                dates.append(item)
        elif isinstance(item, str):
            problems.add(
                key,
                "{value} is a string; write dates without quotes, e.g. {example}.",
                value=shown(item),
                example="2026-10-01",
            )
            good = False
        else:
            problems.add(
                key,
                "{value} is not a date; write dates like {example} (no quotes, no time).",
                value=shown(item),
                example="2026-10-01",
            )
            good = False
    return tuple(sorted(dates)) if good else None


def parse_policy(text: str, source: str, currency: str) -> PolicyValues:
    """The balance policy in ``text`` (TOML); ``source`` names the file in messages and
    ``currency`` is the site's currency, in which the amounts are read.

    Raises :class:`PolicyFileError` with every problem found.
    """
    problems = ProblemList()
    data = read_toml(text, problems)
    if data is None or not site_currency_known(problems, currency):
        raise PolicyFileError(source, problems.items)
    problems.unknown_keys(data, POLICY_KEYS)
    for key in _REQUIRED_KEYS:
        if key not in data:
            example = (
                toml_string("Student dormitory")
                if key == "name"
                else _example_amount(key, currency)
            )
            problems.missing(key, f"{key} = {example}")

    name = read_name(problems, data["name"]) if "name" in data else None
    if "currency" in data:
        declared = data["currency"]
        if not isinstance(declared, str):
            problems.add(
                "currency",
                "{value} is not a currency code; write currency = {site} (this site's currency) "
                "or leave the key out.",
                value=shown(declared),
                site=toml_string(currency),
            )
        elif declared.strip() != currency:
            problems.add(
                "currency",
                "the file is in {value} but this site bills in {site}; convert the amounts to "
                "{site} and write currency = {site_quoted}, or leave the key out.",
                value=shown(declared),
                site=currency,
                site_quoted=toml_string(currency),
            )
    amounts = Amounts()
    for key in _AMOUNT_KEYS:
        if key in data:
            setattr(amounts, key, _amount_value(problems, key, data[key], currency))
    check_amount_rules(problems, amounts, currency)
    hours = _file_hours(problems, data["friendly_hours"]) if "friendly_hours" in data else ()
    dates = _file_dates(problems, data["friendly_dates"]) if "friendly_dates" in data else ()
    values = collected_values(problems, name, amounts, hours, dates)
    if values is None:
        raise PolicyFileError(source, problems.items)
    return values


_COMMENTS = {
    "alarm_1": "first warning at or below this balance",
    "alarm_2": "second warning",
    "overdraft_limit": "supply continues down to -overdraft_limit; 0 = cut at zero",
    "close_permit": "a cut-off account is restored at or above this balance",
    "hoard_limit": "optional: largest balance a recharge may reach",
    "friendly_hours": "no cut inside these windows (to < from crosses midnight)",
}


def dump_policy(values: PolicyValues, currency: str, *, comments: bool = True) -> str:
    """The TOML text of ``values`` in the layout of DOMAIN.md (amounts as strings with the
    currency's decimals, days as names, dates as TOML dates; with DOMAIN.md's comments unless
    ``comments`` is False). ``hoard_limit`` is left out when there is none."""

    def note(key: str) -> str | None:
        return _COMMENTS[key] if comments else None

    lines = [f"name = {toml_string(values.name)}", f"currency = {toml_string(currency)}"]
    for key, minor in (
        ("alarm_1", values.alarm_1_minor),
        ("alarm_2", values.alarm_2_minor),
        ("overdraft_limit", values.overdraft_limit_minor),
        ("close_permit", values.close_permit_minor),
        ("hoard_limit", values.hoard_limit_minor),
    ):
        if minor is not None:
            lines.append(
                commented(f"{key} = {toml_string(str(Money(minor, currency)))}", note(key))
            )
    windows = [
        "{ days = ["
        + ", ".join(toml_string(DAY_NAMES[day]) for day in window.days)
        + f"], from = {toml_string(window.start)}, to = {toml_string(window.end)} }}"
        for window in values.friendly_hours
    ]
    if windows:
        lines.append(commented("friendly_hours = [", note("friendly_hours")))
        lines.extend(f"  {window}," for window in windows)
        lines.append("]")
    else:
        lines.append(commented("friendly_hours = []", note("friendly_hours")))
    dates = [day.isoformat() for day in values.friendly_dates]
    lines.extend(wrapped_list("friendly_dates", dates, None))
    return "\n".join(lines) + "\n"
