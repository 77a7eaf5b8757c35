"""How a data file's problems are collected and reported, and the helpers that write TOML.

The readers of the data files (``app.billing.policy_file``, ``app.billing.load_guard_file``) and
of their forms (``app.billing.policy_form``, ``app.billing.load_guard_form``) report every problem
they find, not just the first, each naming its key (``alarm_2``, ``friendly_hours[2].days``,
``bands[1].to_w``; list positions counted from 1 as a person counts; empty for the whole file):

- :class:`Problem`: one mistake, a key and a message built from a plain English template with
  ``{named}`` values: the template is the catalog entry, translated with ``app.i18n.tr``
  (context ``file_problems``) before the values go in.
- :class:`ProblemList`: the collector the readers write to while every key is read (with unknown
  and missing keys reported in one way for every file).
- :class:`FileProblemsError`: every problem of one file or form; ``.problems``, ``.pairs()``.
- :func:`read_toml`: a TOML document, or its syntax error reported with tomllib's line and column.

And for writing the files: :func:`toml_string` (a TOML basic string), :func:`shown` (a value as
written in TOML, for messages), :func:`commented` (a line with DOMAIN.md's comment column) and
:func:`wrapped_list` (a list wrapped to 100 columns).

Pure: no I/O.
"""

from __future__ import annotations

import difflib
import re
import tomllib
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, time
from typing import Any

from app.i18n import tr
from app.input_limits import MAX_TOML_NESTING, too_deep

__all__ = [
    "FileProblemsError",
    "Problem",
    "ProblemList",
    "closest_key",
    "commented",
    "read_toml",
    "shown",
    "toml_string",
    "wrapped_list",
]

I18N_CONTEXT = "file_problems"  # the catalog context of every Problem template

# -- problems -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Problem:
    """One mistake: ``key`` names the place (``alarm_2``, ``friendly_hours[2].days``, ``bands[1]``;
    empty for the whole file), ``template`` is a plain English sentence with ``{named}`` values
    (the catalog entry) and ``values`` fills them in (already shown as text)."""

    key: str
    template: str
    values: Mapping[str, str] = field(default_factory=dict, hash=False)

    @property
    def message(self) -> str:
        """The sentence a person reads: the template, translated, with its values."""
        return tr(I18N_CONTEXT, self.template).format_map(self.values)

    @property
    def field_name(self) -> str:
        """The top-level key or form field of ``key``: ``friendly_hours[2].days`` ->
        ``friendly_hours``."""
        return re.split(r"[.\[]", self.key, maxsplit=1)[0]

    def __str__(self) -> str:
        return f"{self.key}: {self.message}" if self.key else self.message


class FileProblemsError(ValueError):
    """Every problem found in one file or form.

    ``problems`` is the tuple of :class:`Problem` in the order found; ``pairs()`` gives
    ``(key, message)`` for each; ``str()`` is one line per problem, ``SOURCE: KEY: message``
    (no ``SOURCE:`` when ``source`` is empty, as for a form).
    """

    def __init__(self, source: str, problems: Iterable[Problem]) -> None:
        self.source = source
        self.problems: tuple[Problem, ...] = tuple(problems)
        super().__init__("\n".join(self.lines()))

    def __reduce__(self) -> tuple[type[FileProblemsError], tuple[str, tuple[Problem, ...]]]:
        return (type(self), (self.source, self.problems))  # picklable despite the custom init

    def lines(self) -> list[str]:
        prefix = f"{self.source}: " if self.source else ""
        return [f"{prefix}{problem}" for problem in self.problems]

    def pairs(self) -> list[tuple[str, str]]:
        return [(problem.key, problem.message) for problem in self.problems]


def closest_key(key: str, known: Sequence[str]) -> str | None:
    """The known key that ``key`` most likely misspells, if any is close enough."""
    close = difflib.get_close_matches(key, known, n=1)
    return close[0] if close else None


class ProblemList:
    """Collects the problems of one file or form while every key is read."""

    def __init__(self) -> None:
        self.items: list[Problem] = []

    def __len__(self) -> int:
        return len(self.items)

    def add(self, key: str, template: str, **values: object) -> None:
        self.items.append(Problem(key, template, {name: str(v) for name, v in values.items()}))

    def keys(self) -> set[str]:
        """The top-level keys (form fields) that have a problem."""
        return {problem.field_name for problem in self.items}

    def unknown_keys(
        self, table: Mapping[str, object], known: Sequence[str], prefix: str = ""
    ) -> None:
        """Report each key of ``table`` that is not in ``known`` (with a suggestion)."""
        for key in table:
            if key in known:
                continue
            suggestion = closest_key(key, known)
            if suggestion is not None:
                self.add(
                    f"{prefix}{key}",
                    "this key is not known; did you mean {suggestion}? The known keys are {known}.",
                    suggestion=suggestion,
                    known=", ".join(known),
                )
            else:
                self.add(
                    f"{prefix}{key}",
                    "this key is not known; remove it or use one of {known}.",
                    known=", ".join(known),
                )

    def missing(self, key: str, example: str) -> None:
        self.add(key, "this key is missing; add it, e.g. {example}.", example=example)


# -- reading TOML ---------------------------------------------------------------------------

_TOML_POSITION = re.compile(r"(?P<reason>.*) \(at line (?P<line>\d+), column (?P<column>\d+)\)")
_TOML_AT_END = re.compile(r"(?P<reason>.*) \(at end of document\)")


def read_toml(text: str, problems: ProblemList) -> dict[str, Any] | None:
    """The TOML document in ``text`` (a leading byte-order mark is ignored), or None after
    reporting the syntax error with its line and column (or its nesting past
    ``MAX_TOML_NESTING``, which ``tomllib`` would recurse on until it crashed)."""
    text = text.removeprefix("\ufeff")
    deep = too_deep(text)
    if deep is not None:
        problems.add(
            "",
            "its lists and tables nest {depth} deep, more than the {limit} MeterDesk reads; "
            "this is not a MeterDesk file: give the right one.",
            depth=deep,
            limit=MAX_TOML_NESTING,
        )
        return None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = _TOML_POSITION.fullmatch(str(exc))
        if match:
            problems.add(
                "",
                "the file is not valid TOML at line {line}, column {column} ({reason}); "
                "correct it there.",
                line=match["line"],
                column=match["column"],
                reason=match["reason"],
            )
        elif match := _TOML_AT_END.fullmatch(str(exc)):
            problems.add(
                "",
                "the file is not valid TOML at its end ({reason}); complete it there.",
                reason=match["reason"],
            )
        else:
            problems.add(
                "", "the file is not valid TOML ({reason}); correct it there.", reason=str(exc)
            )
        return None


# -- writing TOML ---------------------------------------------------------------------------

_COMMENT_COLUMN = 33  # where DOMAIN.md's example puts its comments
_MAX_LINE = 100


_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\b": "\\b",
    "\t": "\\t",
    "\n": "\\n",
    "\f": "\\f",
    "\r": "\\r",
}


def toml_string(text: str) -> str:
    """``text`` as a TOML basic string (double quotes; control characters escaped)."""
    out = []
    for char in text:
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif unicodedata.category(char) in ("Cc", "Cs"):
            out.append(f"\\u{ord(char):04X}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


_SHOWN_MAX = 60


def shown(value: object) -> str:
    """A value as it is written in TOML, for messages: ``"5.000"``, ``20.0``, ``true``,
    ``2026-10-01``, ``[1, 2]``; cut short when long."""
    text: str
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, str):
        text = toml_string(value)
    elif isinstance(value, int | float):
        text = repr(value)
    elif isinstance(value, date | time):  # datetime is a date
        text = value.isoformat()
    elif isinstance(value, list | tuple):
        text = "[" + ", ".join(shown(item) for item in value) + "]"
    elif isinstance(value, dict):
        text = "{ " + ", ".join(f"{k} = {shown(v)}" for k, v in value.items()) + " }"
    else:
        text = repr(value)
    return text if len(text) <= _SHOWN_MAX else text[: _SHOWN_MAX - 1] + "…"


def commented(line: str, comment: str | None) -> str:
    """``line`` with ``# comment`` at DOMAIN.md's comment column (or two spaces after)."""
    if comment is None:
        return line
    if len(line) < _COMMENT_COLUMN - 1:
        return f"{line.ljust(_COMMENT_COLUMN)}# {comment}"
    return f"{line}  # {comment}"


def wrapped_list(head: str, items: Sequence[str], comment: str | None) -> list[str]:
    """``head = [a, b]`` on one line when it fits (and has no comment), else the items on indented
    lines of at most 100 characters, each line ending with a comma, and ``]`` alone."""
    single = f"{head} = [{', '.join(items)}]"
    if not items or (comment is None and len(single) <= _MAX_LINE):
        return [commented(single, comment)]
    lines = [commented(f"{head} = [", comment)]
    current = ""
    for item in items:
        candidate = f"{current} {item}," if current else f"  {item},"
        if current and len(candidate) > _MAX_LINE:
            lines.append(current)
            candidate = f"  {item},"
        current = candidate
    lines.append(current)
    lines.append("]")
    return lines
