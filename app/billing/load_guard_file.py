"""The load-guard file of DOMAIN.md section 1 ("Load-guard file format") and the stored JSON of
``LoadGuardSetting.params``, read and written; both give an ``app.billing.load_guard``
:class:`~app.billing.load_guard.LoadGuardParams`.

What this module holds:

- :func:`parse_load_guard` (TOML text to params) and :func:`dump_load_guard` (params to TOML text
  in the layout of DOMAIN.md), with ``parse_load_guard(dump_load_guard(p)) == p``.
- :func:`params_to_json` / :func:`params_from_json`: the JSON dict stored in
  ``LoadGuardSetting.params``. Its keys are ``LoadGuardParams``' field names, so the runtime's
  ``LoadGuardParams(**settings.params)`` reads it as it reads the demo's ``DEMO_LOAD_GUARD``:
  modes as strings, bands as ``[low, high, controlled]`` lists, ``pf_threshold`` as a float
  rounded to 3 decimals, whole numbers of watts and seconds as integers.
- :class:`LoadGuardFileError`: every problem found, each a
  :class:`~app.billing.file_problems.Problem` named by its key (see
  ``app.billing.file_problems``).
- The readers and checks that ``app.billing.load_guard_form`` reads a form with (:func:`read_mode`,
  :func:`pf_from_text`, :func:`read_controlled`, :func:`checked_bands`, :func:`finished_params`),
  so that a form is held to the rules of the file.

Rules of the file (every problem is reported, each naming its key; list positions count from 1):

- Keys: ``total_mode``, ``total_limit_w``, ``total_duration_s``, ``increment_mode``,
  ``pf_threshold``, ``bands``, ``restore_delay_s`` and ``max_auto_restores_per_day`` must be
  given; ``step_window_s`` and ``idle_w`` (which DOMAIN.md's example does not show) may be, and
  take ``LoadGuardParams``' defaults when left out. Any other key is refused as a likely typo,
  with the list of known keys.
- Modes are ``"off"``, ``"alarm"`` or ``"trip"``. Powers (W) and times (s) are bare TOML numbers,
  whole or not; ``max_auto_restores_per_day`` a whole number of 0 or more.
- ``pf_threshold`` is a string with up to 3 decimals (meters set it to 0.001), from ``"0.000"``
  to ``"0.997"``; a bare number is refused, as amounts are in the policy file.
- ``bands``: up to six ``[from_w, to_w, controlled]`` with ``0 <= from_w < to_w`` and
  ``controlled`` true or false (false = white list); bands may not overlap.
- The rules of ``LoadGuardParams`` (a total-power mode other than off needs a limit above 0 W,
  an increment mode other than off needs a controlled band, times and ``idle_w`` are not
  negative) are checked here too, with messages named by the file's keys; ``LoadGuardParams``
  then validates the result, and should it refuse anything the checks here let through, its
  message is reported as it stands, as a problem of the whole file.

The stored JSON is read with the same rules, except that ``pf_threshold`` is a number there and
missing keys take ``LoadGuardParams``' defaults (as the runtime does).

The form of the settings (the same params from and to the strings of a form) is
``app.billing.load_guard_form``.

Pure: no I/O, no database.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import re
from collections.abc import Callable, Mapping, Sequence
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from app.billing.file_problems import (
    FileProblemsError,
    Problem,
    ProblemList,
    commented,
    read_toml,
    shown,
    toml_string,
    wrapped_list,
)
from app.billing.load_guard import (
    MAX_BANDS,
    PF_RESOLUTION_DIGITS,
    PF_THRESHOLD_MAX,
    GuardMode,
    LoadGuardParams,
)

__all__ = [
    "FILE_KEYS",
    "KNOWN_KEYS",
    "OPTIONAL_KEYS",
    "LoadGuardFileError",
    "dump_load_guard",
    "params_from_json",
    "params_to_json",
    "parse_load_guard",
]

FILE_KEYS = (
    "total_mode",
    "total_limit_w",
    "total_duration_s",
    "increment_mode",
    "pf_threshold",
    "bands",
    "restore_delay_s",
    "max_auto_restores_per_day",
)
OPTIONAL_KEYS = ("step_window_s", "idle_w")
KNOWN_KEYS = FILE_KEYS + OPTIONAL_KEYS  # exactly LoadGuardParams' fields
_DEFAULTS: dict[str, Any] = {f.name: f.default for f in dataclasses.fields(LoadGuardParams)}
_MODE_KEYS = ("total_mode", "increment_mode")
_NUMBER_KEYS = ("total_limit_w", "total_duration_s", "restore_delay_s", "step_window_s", "idle_w")
_NON_NEGATIVE_KEYS = ("total_duration_s", "step_window_s", "restore_delay_s", "idle_w")
COUNT_KEY = "max_auto_restores_per_day"
_EXAMPLES = {
    "total_mode": '"trip"',
    "total_limit_w": "4000",
    "total_duration_s": "30",
    "increment_mode": '"trip"',
    "pf_threshold": '"0.950"',
    "bands": "[[30, 300, false], [700, 3000, true]]",
    "restore_delay_s": "300",
    "max_auto_restores_per_day": "3",
    "step_window_s": "3",
    "idle_w": "5",
    "from_w": "700",
    "to_w": "3000",
}
_BAND_EXAMPLE = "[700, 3000, true]"
_PF_TEXT = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)")
_EXACT_INT_LIMIT = 2**53  # larger floats are written as floats


class LoadGuardFileError(FileProblemsError):
    """A load-guard file, stored JSON or form that cannot be used: ``problems`` (each a
    :class:`~app.billing.file_problems.Problem` with ``key`` and ``message``), ``pairs()`` for
    ``(key, message)``, and one line per problem as the message."""


# A band as read: (from_w, to_w, controlled), each None when it could not be read.
ReadBand = tuple[float | None, float | None, bool | None]
_Reader = Callable[[ProblemList, str, object], Any]


# -- single values --------------------------------------------------------------------------


def plain_number(number: float) -> int | float:
    """Whole numbers as int (``4000``, as the demo stores them), others as they are."""
    if number.is_integer() and abs(number) < _EXACT_INT_LIMIT:
        return int(number)
    return number


def _number_text(number: float) -> str:
    """A number as written in TOML: ``4000``, ``0.5``, ``1e+20``."""
    plain = plain_number(number)
    return str(plain) if isinstance(plain, int) else repr(plain)


def example_of(key: str) -> str:
    """An example value for ``key`` (or for the last part of ``bands[1].to_w``), as in TOML."""
    return _EXAMPLES[key.rpartition(".")[2]]


def read_mode(problems: ProblemList, key: str, raw: object) -> GuardMode | None:
    """A mode: ``"off"``, ``"alarm"`` or ``"trip"``."""
    if isinstance(raw, str) and raw in set(GuardMode):
        return GuardMode(raw)
    problems.add(key, '{value} is not a mode; use "off", "alarm" or "trip".', value=shown(raw))
    return None


def _number(problems: ProblemList, key: str, raw: object) -> float | None:
    """A power or a time written as a bare TOML (or JSON) number."""
    if isinstance(raw, str):
        problems.add(
            key,
            "{value} is a string; write this number without quotes, e.g. {example}.",
            value=shown(raw),
            example=example_of(key),
        )
        return None
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        problems.add(
            key,
            "{value} is not a number; write a number, e.g. {example}.",
            value=shown(raw),
            example=example_of(key),
        )
        return None
    try:
        number = float(raw)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        problems.add(
            key,
            "{value} is not a usable number; write a number such as {example}.",
            value=shown(raw),
            example=example_of(key),
        )
        return None
    return number


def _count(problems: ProblemList, key: str, raw: object) -> int | None:
    if isinstance(raw, bool) or not isinstance(raw, int):
        problems.add(
            key,
            "{value} is not a whole number; write a count such as {example}.",
            value=shown(raw),
            example=example_of(key),
        )
        return None
    return raw


def pf_from_text(problems: ProblemList, key: str, text: str) -> float | None:
    """A power factor written as text with up to 3 decimals, e.g. ``"0.950"``."""
    stripped = text.strip()
    if not _PF_TEXT.fullmatch(stripped):
        problems.add(
            key,
            "{value} is not a power factor; write it like {example}.",
            value=shown(text),
            example='"0.950"',
        )
        return None
    number = Decimal(stripped)
    exponent = number.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > PF_RESOLUTION_DIGITS:
        limit = Decimal(f"{PF_THRESHOLD_MAX:.3f}")
        rounded = min(max(number.quantize(Decimal("0.001"), ROUND_HALF_UP), Decimal(0)), limit)
        problems.add(
            key,
            "{value} has more than 3 decimals; meters set the threshold in steps of 0.001, "
            "e.g. {example}.",
            value=shown(text),
            example=toml_string(str(rounded)),
        )
        return None
    return float(number)


def _pf_file(problems: ProblemList, key: str, raw: object) -> float | None:
    if isinstance(raw, str):
        return pf_from_text(problems, key, raw)
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        example = f'"{raw:.3f}"' if math.isfinite(raw) and 0 <= raw <= 1 else '"0.950"'
        problems.add(
            key,
            "{value} is a bare number; write pf_threshold as a string with up to 3 decimals, "
            "e.g. {example}, so it stays exact.",
            value=shown(raw),
            example=example,
        )
        return None
    problems.add(
        key,
        "{value} is not a power factor; write it as a string such as {example}.",
        value=shown(raw),
        example='"0.950"',
    )
    return None


def _pf_json(problems: ProblemList, key: str, raw: object) -> float | None:
    if isinstance(raw, str):
        return pf_from_text(problems, key, raw)
    return _number(problems, key, raw)


def read_controlled(problems: ProblemList, key: str, raw: object) -> bool | None:
    """A band's ``controlled``: true or false."""
    if isinstance(raw, bool):
        return raw
    problems.add(
        key,
        "{value} is not true or false; write true for a controlled band or false for a "
        "white-listed one.",
        value=shown(raw),
    )
    return None


def _bands(problems: ProblemList, key: str, raw: object) -> tuple[ReadBand, ...] | None:
    """Bands ``[from_w, to_w, controlled]`` from TOML or JSON."""
    if not isinstance(raw, list | tuple):
        problems.add(
            key,
            "{value} is not a list of bands; write it like {example}.",
            value=shown(raw),
            example=_EXAMPLES["bands"],
        )
        return None
    rows: list[tuple[int, ReadBand]] = []
    for number, item in enumerate(raw, start=1):
        place = f"{key}[{number}]"
        if not isinstance(item, list | tuple) or len(item) != 3:
            problems.add(
                place,
                "{value} is not a band; write it as [from_w, to_w, controlled], e.g. {example}.",
                value=shown(item),
                example=_BAND_EXAMPLE,
            )
            continue
        low = _number(problems, f"{place}.from_w", item[0])
        high = _number(problems, f"{place}.to_w", item[1])
        rows.append(
            (number, (low, high, read_controlled(problems, f"{place}.controlled", item[2])))
        )
    return checked_bands(problems, key, rows, len(raw))


def _band_text(low: float, high: float) -> str:
    return f"{_number_text(low)}-{_number_text(high)} W"


def checked_bands(
    problems: ProblemList, key: str, rows: Sequence[tuple[int, ReadBand]], count: int
) -> tuple[ReadBand, ...] | None:
    """The band rules of ``LoadGuardParams``: at most six, ``0 <= from_w < to_w``, no overlap.
    ``rows`` are (position counted from 1, band)."""
    before = len(problems)
    if count > MAX_BANDS:
        problems.add(
            key,
            "{count} bands are given; a meter has at most {limit}, so merge or remove some.",
            count=count,
            limit=MAX_BANDS,
        )
    whole: list[tuple[int, float, float]] = []
    for number, (low, high, _) in rows:
        place = f"{key}[{number}]"
        if low is not None and low < 0:
            problems.add(
                f"{place}.from_w",
                "{value} W is below 0 W; a band starts at 0 W or above.",
                value=_number_text(low),
            )
        elif low is not None and high is not None and high <= low:
            problems.add(
                f"{place}.to_w",
                "{value} W is not above from_w ({low} W); a band runs from from_w up to a "
                "larger to_w.",
                value=_number_text(high),
                low=_number_text(low),
            )
        elif low is not None and high is not None:
            whole.append((number, low, high))
    whole.sort(key=lambda band: band[1])
    for (left, left_low, left_high), (right, right_low, right_high) in itertools.pairwise(whole):
        if right_low < left_high:
            problems.add(
                f"{key}[{right}]",
                "{band} overlaps {other} ({other_band}); a step must fall in one band only, so "
                "let the bands meet or leave a gap between them.",
                band=_band_text(right_low, right_high),
                other=f"{key}[{left}]",
                other_band=_band_text(left_low, left_high),
            )
    if len(problems) > before or len(rows) < count:
        return None
    if any(
        low is None or high is None or controlled is None for _, (low, high, controlled) in rows
    ):
        return None
    return tuple(band for _, band in rows)


# -- rules between values and the final check -----------------------------------------------


def _check_rules(problems: ProblemList, values: Mapping[str, Any]) -> None:
    """``LoadGuardParams``' rules between values, for the keys read without a problem."""
    failed = problems.keys()
    merged = {**_DEFAULTS, **values}

    def usable(*keys: str) -> bool:
        return not failed.intersection(keys)

    total_mode = merged["total_mode"]
    if (
        usable("total_mode", "total_limit_w")
        and total_mode != GuardMode.OFF
        and merged["total_limit_w"] <= 0
    ):
        problems.add(
            "total_limit_w",
            "{value} W is not above 0 W, but total_mode is {mode}; give a limit such as 4000, "
            'or set total_mode to "off".',
            value=_number_text(merged["total_limit_w"]),
            mode=toml_string(str(total_mode)),
        )
    for key in _NON_NEGATIVE_KEYS:
        if usable(key) and merged[key] < 0:
            problems.add(
                key, "{value} is below zero; give 0 or more.", value=_number_text(merged[key])
            )
    pf = merged["pf_threshold"]
    if usable("pf_threshold") and not 0 <= pf <= PF_THRESHOLD_MAX:
        problems.add(
            "pf_threshold",
            "{value} is outside {low} to {high}; give a power factor in that range, "
            "e.g. {example}.",
            value=shown(f"{pf:.3f}" if round(pf, PF_RESOLUTION_DIGITS) == pf else repr(pf)),
            low='"0.000"',
            high=toml_string(f"{PF_THRESHOLD_MAX:.3f}"),
            example='"0.950"',
        )
    increment_mode = merged["increment_mode"]
    if (
        usable("increment_mode", "bands")
        and increment_mode != GuardMode.OFF
        and not any(band[2] for band in merged["bands"])
    ):
        problems.add(
            "increment_mode",
            "increment_mode is {mode} but no band is controlled; mark a band as controlled "
            '(true) or set increment_mode to "off".',
            mode=toml_string(str(increment_mode)),
        )
    if usable(COUNT_KEY) and merged[COUNT_KEY] < 0:
        problems.add(
            COUNT_KEY,
            "{value} is below zero; give a count of 0 or more (typically 3 to 5; 0 locks out "
            "on the first trip).",
            value=merged[COUNT_KEY],
        )


def finished_params(problems: ProblemList, values: dict[str, Any], source: str) -> LoadGuardParams:
    """The params of ``values`` (missing keys take the defaults), after the rules between
    values; raises :class:`LoadGuardFileError` with every problem found."""
    _check_rules(problems, values)
    if len(problems):
        raise LoadGuardFileError(source, problems.items)
    try:
        return LoadGuardParams(**values)
    except ValueError as exc:  # a rule of LoadGuardParams that the checks here do not know
        raise LoadGuardFileError(source, [Problem("", "{reason}", {"reason": str(exc)})]) from None


def _read_table(
    problems: ProblemList,
    table: Mapping[str, object],
    readers: Mapping[str, _Reader],
) -> dict[str, Any]:
    problems.unknown_keys(table, KNOWN_KEYS)
    values: dict[str, Any] = {}
    for key in KNOWN_KEYS:
        if key in table:
            value = readers[key](problems, key, table[key])
            if value is not None:
                values[key] = value
    return values


def _readers(pf: _Reader) -> dict[str, _Reader]:
    readers: dict[str, _Reader] = dict.fromkeys(_MODE_KEYS, read_mode)
    readers.update(dict.fromkeys(_NUMBER_KEYS, _number))
    readers.update({"pf_threshold": pf, "bands": _bands, COUNT_KEY: _count})
    return readers


_FILE_READERS = _readers(_pf_file)
_JSON_READERS = _readers(_pf_json)


# -- the file and the stored JSON ------------------------------------------------------------


def parse_load_guard(text: str, source: str) -> LoadGuardParams:
    """The load-guard settings in ``text`` (TOML); ``source`` names the file in messages.

    Raises :class:`LoadGuardFileError` with every problem found.
    """
    problems = ProblemList()
    data = read_toml(text, problems)
    if data is None:
        raise LoadGuardFileError(source, problems.items)
    for key in FILE_KEYS:
        if key not in data:
            problems.missing(key, f"{key} = {_EXAMPLES[key]}")
    return finished_params(problems, _read_table(problems, data, _FILE_READERS), source)


def params_to_json(params: LoadGuardParams) -> dict[str, object]:
    """The dict stored in ``LoadGuardSetting.params``; ``LoadGuardParams(**d)`` reads it back."""
    return {
        "total_mode": params.total_mode.value,
        "total_limit_w": plain_number(params.total_limit_w),
        "total_duration_s": plain_number(params.total_duration_s),
        "increment_mode": params.increment_mode.value,
        "bands": [
            [plain_number(band.low_w), plain_number(band.high_w), band.controlled]
            for band in params.bands
        ],
        "pf_threshold": round(params.pf_threshold, PF_RESOLUTION_DIGITS),
        "step_window_s": plain_number(params.step_window_s),
        "restore_delay_s": plain_number(params.restore_delay_s),
        "max_auto_restores_per_day": params.max_auto_restores_per_day,
        "idle_w": plain_number(params.idle_w),
    }


def params_from_json(
    stored: Mapping[str, object], source: str = "stored load-guard settings"
) -> LoadGuardParams:
    """The params of a stored ``LoadGuardSetting.params`` dict; missing keys take
    ``LoadGuardParams``' defaults. Raises :class:`LoadGuardFileError` with every problem."""
    problems = ProblemList()
    return finished_params(problems, _read_table(problems, stored, _JSON_READERS), source)


_COMMENTS = {
    "mode": "off | alarm | trip",
    "pf_threshold": f"0.000-{PF_THRESHOLD_MAX:.3f}",
    "bands": "[from_w, to_w, controlled]; uncontrolled = white list",
    "max_auto_restores_per_day": "then locked out until an operator restores",
    "step_window_s": "optional: how far back a step's baseline may reach (s)",
    "idle_w": "optional: after a restore, power at or below this is still dark",
}


def dump_load_guard(params: LoadGuardParams, *, comments: bool = True) -> str:
    """The TOML text of ``params`` in the layout of DOMAIN.md (with its comments unless
    ``comments`` is False), ``step_window_s`` and ``idle_w`` at the end.

    ``pf_threshold`` is written with 3 decimals (the meters' resolution), so a threshold between
    two steps of 0.001 comes back rounded.
    """

    def note(key: str) -> str | None:
        return _COMMENTS[key] if comments else None

    bands = [
        f"[{_number_text(band.low_w)}, {_number_text(band.high_w)}, "
        f"{'true' if band.controlled else 'false'}]"
        for band in params.bands
    ]
    lines = [
        commented(f"total_mode = {toml_string(params.total_mode.value)}", note("mode")),
        f"total_limit_w = {_number_text(params.total_limit_w)}",
        f"total_duration_s = {_number_text(params.total_duration_s)}",
        commented(f"increment_mode = {toml_string(params.increment_mode.value)}", note("mode")),
        commented(f'pf_threshold = "{params.pf_threshold:.3f}"', note("pf_threshold")),
        *wrapped_list("bands", bands, note("bands")),
        f"restore_delay_s = {_number_text(params.restore_delay_s)}",
        commented(
            f"max_auto_restores_per_day = {params.max_auto_restores_per_day}",
            note("max_auto_restores_per_day"),
        ),
        commented(f"step_window_s = {_number_text(params.step_window_s)}", note("step_window_s")),
        commented(f"idle_w = {_number_text(params.idle_w)}", note("idle_w")),
    ]
    return "\n".join(lines) + "\n"
