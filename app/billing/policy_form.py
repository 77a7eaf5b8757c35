"""The balance policy of ``app.billing.policy_file`` from and to the strings of a form.

:func:`policy_from_fields` reads the strings a person types (amounts as typed, ``20`` or
``1,234.50``; friendly hours as ``mon-fri 22:00-08:00; sat,sun 00:00-24:00``; dates as
``2026-10-01, 2026-10-02``) to :class:`~app.billing.policy_file.PolicyValues`, and
:func:`policy_to_fields` gives the strings to fill a form with.

The form follows the rules of the file (see ``app.billing.policy_file``); it also accepts
``H:MM`` times, day ranges (``mon-fri``, ``fri-mon`` wraps round the week) and English day names
or their prefixes of two letters or more (``tues``, ``thursday``). Every problem is reported, as a
:class:`~app.billing.policy_file.PolicyFileError` without a source, each naming the form field
(``alarm_1``) or the entry of a list field (``friendly_hours[2]``, ``friendly_dates[1]``, counted
from 1).

Pure: no I/O, no database.
"""

from __future__ import annotations

import re
from datetime import date

from app.billing.file_problems import ProblemList, shown
from app.billing.money import Money
from app.billing.policy_file import (
    DAY_NAMES,
    Amounts,
    PolicyFileError,
    PolicyValues,
    PolicyWindow,
    amount_from_text,
    check_amount_rules,
    collected_values,
    confirmed_window,
    example_amount,
    read_clock,
    read_name,
    report_same_times,
    site_currency_known,
)

__all__ = ["policy_from_fields", "policy_to_fields"]

_FULL_DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_ENTRY_EXAMPLE = "mon-fri 22:00-08:00"
_HHMM_FORM = re.compile(r"(\d{1,2}):(\d\d)")


# -- friendly hours and dates ---------------------------------------------------------------


def _day_number(token: str) -> int | None:
    """Weekday of ``mon``, ``tues``, ``Thursday``... (a prefix of two letters or more)."""
    token = token.lower()
    if len(token) < 2:
        return None
    for number, full in enumerate(_FULL_DAY_NAMES):
        if full.startswith(token):
            return number
    return None


_ENTRY = re.compile(r"(?P<days>.*?)\s*(?P<start>\d{1,2}:\d{2})\s*[-–]\s*(?P<end>\d{1,2}:\d{2})")
_DAY_NAMES_HINT = "mon, tue, wed, thu, fri, sat, sun"


def _form_days(problems: ProblemList, key: str, entry: str, text: str) -> tuple[int, ...] | None:
    tokens = [t for t in re.split(r"[,\s]+", re.sub(r"\s*[-–]\s*", "-", text)) if t]
    if not tokens:
        problems.add(
            key,
            "{value} names no days; start it with days, e.g. {example}.",
            value=shown(entry),
            example=_ENTRY_EXAMPLE,
        )
        return None
    numbers: list[int] = []
    good = True
    for token in tokens:
        first, dash, last = token.partition("-")
        low = _day_number(first)
        high = _day_number(last) if dash else low
        if low is None or high is None:
            problems.add(
                key,
                "{value} is not a day; use {names}, or a range like mon-fri.",
                value=shown(token),
                names=_DAY_NAMES_HINT,
            )
            good = False
            continue
        for offset in range((high - low) % 7 + 1):
            day = (low + offset) % 7
            if day in numbers:
                problems.add(
                    key,
                    "{value} is listed twice; list each day once.",
                    value=shown(DAY_NAMES[day]),
                )
                good = False
            else:
                numbers.append(day)
    return tuple(sorted(numbers)) if good else None


def _form_hours(problems: ProblemList, text: str) -> tuple[PolicyWindow, ...] | None:
    windows: list[PolicyWindow] = []
    good = True
    entries = [entry.strip() for entry in re.split(r"[;\n]", text)]
    for number, entry in enumerate((e for e in entries if e), start=1):
        key = f"friendly_hours[{number}]"
        before = len(problems)
        match = _ENTRY.fullmatch(entry)
        if match is None:
            problems.add(
                key,
                "{value} does not end with a time range; write each entry like {example}.",
                value=shown(entry),
                example=_ENTRY_EXAMPLE,
            )
            good = False
            continue
        days = _form_days(problems, key, entry, match["days"])
        start = read_clock(problems, key, match["start"], end=False, pattern=_HHMM_FORM)
        end = read_clock(problems, key, match["end"], end=True, pattern=_HHMM_FORM)
        if start is not None and start == end:
            report_same_times(problems, key, start, "00:00-24:00")
        if len(problems) > before or days is None or start is None or end is None:
            good = False
            continue
        window = confirmed_window(problems, key, PolicyWindow(days, start, end))
        if window is None:
            good = False
        else:
            windows.append(window)
    return tuple(windows) if good else None


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _form_dates(problems: ProblemList, text: str) -> tuple[date, ...] | None:
    dates: list[date] = []
    good = True
    for number, token in enumerate((t for t in re.split(r"[,;\s]+", text) if t), start=1):
        key = f"friendly_dates[{number}]"
        try:
            if not _ISO_DATE.fullmatch(token):
                raise ValueError(token)
            day = date.fromisoformat(token)
        except ValueError:
            problems.add(
                key,
                "{value} is not a date; write dates like {example}.",
                value=shown(token),
                example="2026-10-01",
            )
            good = False
            continue
        if day in dates:
            problems.add(
                key, "{value} is listed twice; list each date once.", value=day.isoformat()
            )
            good = False
        else:
            dates.append(day)
    return tuple(sorted(dates)) if good else None


# -- the form -------------------------------------------------------------------------------


def policy_from_fields(
    name: str,
    alarm_1: str,
    alarm_2: str,
    overdraft_limit: str,
    close_permit: str,
    hoard_limit: str,
    friendly_hours_text: str,
    friendly_dates_text: str,
    currency: str,
) -> PolicyValues:
    """The policy in the strings of a form: amounts as typed (``20``, ``1,234.50``), an empty
    ``hoard_limit`` for none, friendly hours as ``mon-fri 22:00-08:00; sat,sun 00:00-24:00``
    (entries split by ``;`` or new lines) and dates as ``2026-10-01, 2026-10-02``.

    Raises :class:`PolicyFileError` (no source) whose problems name the field: ``name``,
    ``alarm_1``... ``hoard_limit``, ``friendly_hours[N]`` and ``friendly_dates[N]`` (the Nth
    entry, from 1).
    """
    problems = ProblemList()
    if not site_currency_known(problems, currency):
        raise PolicyFileError("", problems.items)
    checked_name = read_name(problems, name)
    amounts = Amounts()
    for key, text in (
        ("alarm_1", alarm_1),
        ("alarm_2", alarm_2),
        ("overdraft_limit", overdraft_limit),
        ("close_permit", close_permit),
        ("hoard_limit", hoard_limit),
    ):
        if text.strip():
            setattr(amounts, key, amount_from_text(problems, key, text, currency))
        elif key != "hoard_limit":
            problems.add(
                key,
                "the amount is empty; type an amount such as {example}.",
                example=example_amount(key, currency),
            )
    check_amount_rules(problems, amounts, currency)
    hours = _form_hours(problems, friendly_hours_text)
    dates = _form_dates(problems, friendly_dates_text)
    values = collected_values(problems, checked_name, amounts, hours, dates)
    if values is None:
        raise PolicyFileError("", problems.items)
    return values


def policy_to_fields(values: PolicyValues, currency: str) -> dict[str, str]:
    """The strings to fill a form with, keyed by :func:`policy_from_fields`' parameter names
    (``currency`` aside), so that ``policy_from_fields(**policy_to_fields(v, c), currency=c)``
    gives ``v`` back."""

    def amount(minor: int | None) -> str:
        return "" if minor is None else str(Money(minor, currency))

    return {
        "name": values.name,
        "alarm_1": amount(values.alarm_1_minor),
        "alarm_2": amount(values.alarm_2_minor),
        "overdraft_limit": amount(values.overdraft_limit_minor),
        "close_permit": amount(values.close_permit_minor),
        "hoard_limit": amount(values.hoard_limit_minor),
        "friendly_hours_text": "; ".join(str(window) for window in values.friendly_hours),
        "friendly_dates_text": ", ".join(day.isoformat() for day in values.friendly_dates),
    }
