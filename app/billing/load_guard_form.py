"""The load-guard settings of ``app.billing.load_guard_file`` from and to the strings of a form.

:func:`load_guard_from_fields` reads the strings of a form (a mode from a choice, numbers as typed,
bands as rows of ``(from, to, controlled)``) to an ``app.billing.load_guard``
:class:`~app.billing.load_guard.LoadGuardParams`, and :func:`load_guard_to_fields` gives the
strings (a :class:`LoadGuardFields`) to fill a form with. :func:`bands_to_text` and
:func:`bands_from_text` write and read the bands as one line of a form
(``30-300 no; 700-3000 yes``).

The form follows the rules of the file (see ``app.billing.load_guard_file``), with numbers as
typed (``4000``, ``1,500``) and ``pf_threshold`` with up to 3 decimals. Every problem is reported,
as a :class:`~app.billing.load_guard_file.LoadGuardFileError` without a source, each naming the
field, or the band row and column (``bands[2].to_w``, rows counted from 1).

Pure: no I/O, no database.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import Decimal
from typing import Any, TypedDict

from app.billing.file_problems import ProblemList, shown
from app.billing.load_guard import LoadGuardParams
from app.billing.load_guard_file import (
    COUNT_KEY,
    OPTIONAL_KEYS,
    ReadBand,
    checked_bands,
    example_of,
    finished_params,
    pf_from_text,
    plain_number,
    read_controlled,
    read_mode,
)
from app.billing.money import MoneyError, parse_decimal
from app.input_limits import MAX_DECIMAL_DIGITS, number_too_long

__all__ = [
    "LoadGuardFields",
    "bands_from_text",
    "bands_to_text",
    "load_guard_from_fields",
    "load_guard_to_fields",
]

# Words that mark a band of the one-line form as controlled (it trips); any other word does not.
_YES_WORDS = ("yes", "y", "true", "1", "是")


class LoadGuardFields(TypedDict):
    """The strings of a load-guard form (see :func:`load_guard_from_fields`)."""

    total_mode: str
    total_limit_w: str
    total_duration_s: str
    increment_mode: str
    pf_threshold: str
    bands: list[tuple[str, str, bool]]
    restore_delay_s: str
    max_auto_restores_per_day: str
    step_window_s: str
    idle_w: str


def _field_text(number: float) -> str:
    """A number as typed in a form, without an exponent: ``4000``, ``0.5``, ``0.00001``."""
    plain = plain_number(number)
    return str(plain) if isinstance(plain, int) else format(Decimal(repr(plain)), "f")


# -- the form -------------------------------------------------------------------------------


def _decimal_field(problems: ProblemList, key: str, text: str) -> Decimal | None:
    if not text.strip():
        problems.add(
            key, "this field is empty; type a number such as {example}.", example=example_of(key)
        )
        return None
    if number_too_long(text):
        problems.add(
            key,
            "{value} is too long a number; type at most {limit} digits, such as {example}.",
            value=shown(text),
            limit=MAX_DECIMAL_DIGITS,
            example=example_of(key),
        )
        return None
    try:
        return parse_decimal(text, key)
    except MoneyError:
        problems.add(
            key,
            "{value} is not a number; type a number such as {example}.",
            value=shown(text),
            example=example_of(key),
        )
        return None


def _number_field(problems: ProblemList, key: str, text: str) -> float | None:
    number = _decimal_field(problems, key, text)
    if number is None:
        return None
    value = float(number)
    if not math.isfinite(value):
        problems.add(
            key,
            "{value} is not a usable number; type a number such as {example}.",
            value=shown(text),
            example=example_of(key),
        )
        return None
    return value


def load_guard_from_fields(
    total_mode: str,
    total_limit_w: str,
    total_duration_s: str,
    increment_mode: str,
    pf_threshold: str,
    bands: Sequence[tuple[str, str, bool]],
    restore_delay_s: str,
    max_auto_restores_per_day: str,
    step_window_s: str = "",
    idle_w: str = "",
) -> LoadGuardParams:
    """The params in the strings of a form: modes as chosen (``"off"``, ``"alarm"``,
    ``"trip"``), numbers as typed (``4000``, ``1,500``), ``pf_threshold`` with up to 3 decimals,
    bands as rows ``(from_w, to_w, controlled)`` (rows with both numbers empty are skipped, but
    keep their place in the count). Empty ``step_window_s`` and ``idle_w`` take the defaults.

    Raises :class:`LoadGuardFileError` (no source) whose problems name the field, or the band
    row and column: ``bands[2].to_w`` (rows counted from 1).
    """
    problems = ProblemList()
    values: dict[str, Any] = {}
    for key, text in (("total_mode", total_mode), ("increment_mode", increment_mode)):
        mode = read_mode(problems, key, text)
        if mode is not None:
            values[key] = mode
    numbers = {
        "total_limit_w": total_limit_w,
        "total_duration_s": total_duration_s,
        "restore_delay_s": restore_delay_s,
        "step_window_s": step_window_s,
        "idle_w": idle_w,
    }
    for key, text in numbers.items():
        if key in OPTIONAL_KEYS and not text.strip():
            continue
        number = _number_field(problems, key, text)
        if number is not None:
            values[key] = number
    if not pf_threshold.strip():
        problems.add(
            "pf_threshold",
            "this field is empty; type a power factor such as {example}.",
            example="0.950",
        )
    elif (pf := pf_from_text(problems, "pf_threshold", pf_threshold)) is not None:
        values["pf_threshold"] = pf
    count = _decimal_field(problems, COUNT_KEY, max_auto_restores_per_day)
    if count is not None and count != count.to_integral_value():
        problems.add(
            COUNT_KEY,
            "{value} is not a whole number; type a count such as {example}.",
            value=shown(max_auto_restores_per_day),
            example=example_of(COUNT_KEY),
        )
    elif count is not None:
        values[COUNT_KEY] = int(count)
    rows: list[tuple[int, ReadBand]] = []
    for number, (low_text, high_text, controlled) in enumerate(bands, start=1):
        if not low_text.strip() and not high_text.strip():
            continue
        place = f"bands[{number}]"
        low = _number_field(problems, f"{place}.from_w", low_text)
        high = _number_field(problems, f"{place}.to_w", high_text)
        rows.append(
            (number, (low, high, read_controlled(problems, f"{place}.controlled", controlled)))
        )
    checked = checked_bands(problems, "bands", rows, len(rows))
    if checked is not None:
        values["bands"] = checked
    return finished_params(problems, values, "")


def load_guard_to_fields(params: LoadGuardParams) -> LoadGuardFields:
    """The strings to fill a form with: ``load_guard_from_fields(**load_guard_to_fields(p))``
    gives ``p`` back (``pf_threshold`` shown with 3 decimals)."""
    return LoadGuardFields(
        total_mode=params.total_mode.value,
        total_limit_w=_field_text(params.total_limit_w),
        total_duration_s=_field_text(params.total_duration_s),
        increment_mode=params.increment_mode.value,
        pf_threshold=f"{params.pf_threshold:.3f}",
        bands=[
            (_field_text(band.low_w), _field_text(band.high_w), band.controlled)
            for band in params.bands
        ],
        restore_delay_s=_field_text(params.restore_delay_s),
        max_auto_restores_per_day=str(params.max_auto_restores_per_day),
        step_window_s=_field_text(params.step_window_s),
        idle_w=_field_text(params.idle_w),
    )


def bands_to_text(bands: Sequence[tuple[str, str, bool]]) -> str:
    """The bands of :func:`load_guard_to_fields` as one line: ``30-300 no; 700-3000 yes``."""
    return "; ".join(
        f"{low}-{high} {'yes' if controlled else 'no'}" for low, high, controlled in bands
    )


def bands_from_text(text: str) -> list[tuple[str, str, bool]]:
    """The rows ``(from_w, to_w, controlled)`` of a line such as ``30-300 no; 700-3000 yes``
    for :func:`load_guard_from_fields` (which checks the numbers). Bands are separated by
    ``;``; a band without a word after its range is controlled, one with a word is controlled
    when the word is one of ``yes``, ``y``, ``true``, ``1``, ``是`` (any case); empty parts are
    skipped."""
    rows: list[tuple[str, str, bool]] = []
    for part in text.split(";"):
        words = part.split()
        if not words:
            continue
        low, _, high = words[0].partition("-")
        rows.append((low, high, len(words) < 2 or words[1].lower() in _YES_WORDS))
    return rows
