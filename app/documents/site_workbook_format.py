"""The site workbook's format, declared once: its sheets and columns, the rows read from it, the
problems found in it, and how one sheet's cells become rows of text.

``app.documents.site_workbook`` reads and writes the files (an .xlsx workbook or a folder of CSV
files) and re-exports the public names of this module. Values stay text here: whether "9600" is a
baud rate, or a bus exists, is the import service's business; ``parse_bool`` and ``split_list``
are the small pure helpers it shares with the format.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from types import MappingProxyType

from app.i18n import tr
from app.vocabulary import Utility

I18N_CONTEXT = "site_workbook"


@dataclass(frozen=True)
class ColumnSpec:
    name: str
    description: str
    optional: bool = False


@dataclass(frozen=True)
class SheetSpec:
    name: str
    description: str
    columns: tuple[ColumnSpec, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns)

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns if not column.optional)

    @property
    def optional(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns if column.optional)


def _sheet(name: str, description: str, *columns: tuple[str, str]) -> SheetSpec:
    """Columns as ``(name, description)``; a name in brackets is optional."""
    specs = tuple(
        ColumnSpec(name.strip("[]"), text, optional=name.startswith("[")) for name, text in columns
    )
    return SheetSpec(name, description, specs)


_UTILITIES = "one of: " + ", ".join(utility.value for utility in Utility)

SHEETS: Mapping[str, SheetSpec] = MappingProxyType(
    {
        spec.name: spec
        for spec in (
            _sheet(
                "rooms",
                "One row per room that meters serve or tenants live in.",
                ("building", "code of the building, as in room labels (e.g. A)"),
                ("floor", "floor number (e.g. 3)"),
                ("room", "room number in the building (e.g. 305)"),
                ("[note]", "free text kept with the room"),
            ),
            _sheet(
                "buses",
                "One row per RS485 line the console talks over.",
                ("bus", "a short name for the line, unique on the site (e.g. A-east)"),
                ("port", "COM3, /dev/ttyUSB0, socket://host:port, modbus-tcp://host:502..."),
                ("baud", "line speed in baud (e.g. 9600)"),
                ("parity", "N, E or O"),
                ("stopbits", "1 or 2"),
                ("profile", "meter profile of the line's meters (e.g. dlt645-2007)"),
                ("[enabled]", "yes or no: whether the line is polled (empty: yes)"),
            ),
            _sheet(
                "meters",
                "One row per meter.",
                ("serial", "number on the meter's nameplate, unique on the site"),
                ("utility", _UTILITIES),
                ("room", "label of the room the meter serves (e.g. A-305)"),
                ("bus", "name of the line it hangs on (see the buses sheet)"),
                ("address", "its address on the line: Modbus 1-247 or 12 digits, zeros kept"),
                ("profile", "meter profile (e.g. dlt645-2007)"),
                ("[multiplier]", "CT ratio the register is multiplied by (empty: 1)"),
                ("[initial_reading]", "register reading at installation, as the meter shows it"),
            ),
            _sheet(
                "tenants",
                "One row per account holder, in the room they live in.",
                ("room", "label of the room (e.g. A-305)"),
                ("holder", "name of the account holder"),
                ("[holder_ref]", "student or staff number"),
                ("[phone]", "phone number"),
                ("tariffs", "tariff plan names, one per metered utility, separated by ;"),
                ("policy", "name of the balance policy"),
                ("[opening_balance]", "credit brought over, in the site currency (empty: 0)"),
            ),
        )
    }
)

# Sheets (and CSV files) for people, never read: compared trimmed and case-insensitively.
IGNORED_SHEETS = ("notes", "readme", "read me", "说明", "填写说明")

# One catalog of what a person reads; tr() translates an entry before its values go in.
MESSAGES: Mapping[str, str] = MappingProxyType(
    {
        "missing_path": "{path} does not exist. Check the name and the folder it is in.",
        "unreadable": (
            "{path} cannot be read ({reason}). Close it in any program that has it open, "
            "check that you may read it, and try again."
        ),
        "not_xlsx": (
            "{path} is not an .xlsx workbook, or it is damaged ({reason}). Open it in Excel "
            "or WPS and save it as an Excel workbook (.xlsx) without a password."
        ),
        "old_format": "{path} is a {suffix} file. Save it as an Excel workbook (.xlsx) first.",
        "single_csv": (
            "{path} is a single CSV file. Give the folder that holds the CSV files, "
            "named after the sheets: {files}."
        ),
        "unknown_kind": "{path} is neither an .xlsx workbook nor a folder of CSV files.",
        "no_csv": "The folder {path} holds no CSV files. It should hold some of: {files}.",
        "unknown_sheet": (
            "there is no sheet of this name; the sheets are {sheets} (sheets named {ignored} "
            "are ignored). Rename the sheet or remove it."
        ),
        "duplicate_sheet": "two sheets are named {name} ({first} and {second}); keep one.",
        "csv_encoding": (
            "{file} is neither UTF-8 nor GB18030 text. Save it again as CSV UTF-8 (comma "
            "delimited)."
        ),
        "csv_utf16": (
            "{file} is UTF-16 text (Unicode text), not CSV. Save it again as CSV UTF-8 (comma "
            "delimited)."
        ),
        "csv_open_quote": (
            'the quoted value that starts on line {line} of {file} is never closed (a " is '
            "missing); nothing after it was read."
        ),
        "csv_syntax": (
            "line {line} of {file} is not valid CSV ({reason}); nothing after it was read."
        ),
        "missing_column": "this required column is missing; the columns of {sheet} are {columns}.",
        "unknown_column": "unknown column{hint}; the columns of {sheet} are {columns}.",
        "did_you_mean": " (did you mean {name}?)",
        "duplicate_column": "the column appears twice (columns {first} and {second}); keep one.",
        "unnamed_cell": (
            "the cell holds a value but its column has no name in row {header}; name the column "
            "or clear the cell."
        ),
        "csv_too_many": (
            "the row has {count} values but row {header} names {width} columns; is there a comma "
            "too many, or a value with a comma that is not in quotes?"
        ),
        "xlsx_character": (
            "the text holds a control character ({code}) that an .xlsx workbook cannot store; "
            "remove it or export to a folder of CSV files."
        ),
        "xlsx_too_long": "the text has {length} characters; an Excel cell holds at most {limit}.",
        "write_kind": "{path}: give a name ending in .xlsx, or a folder for CSV files.",
        "write_failed": (
            "{path} cannot be written ({reason}). Check that the folder exists and that you may "
            "write there, and close the file in any program that has it open."
        ),
        "not_bool": "{text!r} is not yes or no; write yes, no, true, false, 1, 0, 是 or 否.",
    }
)


def message(key: str, **values: object) -> str:
    """The catalog entry ``key`` in the site's language, with ``values`` filled in."""
    return tr(I18N_CONTEXT, MESSAGES[key]).format(**values)


@dataclass(frozen=True, slots=True)
class SheetRow:
    """One data row: ``number`` as the person's program shows it (the header is row 1) and the
    trimmed text of every declared column of its sheet, "" where empty or absent."""

    number: int
    values: Mapping[str, str]


@dataclass(frozen=True)
class Workbook:
    """Every declared sheet, in ``SHEETS`` order; an absent sheet is empty."""

    sheets: Mapping[str, tuple[SheetRow, ...]]


@dataclass(frozen=True)
class Problem:
    """What is wrong and where: ``sheet`` is "" for the file as a whole; ``row`` and ``column``
    are None where the problem has none (a missing column has no row)."""

    sheet: str
    row: int | None
    column: str | None
    message: str

    def __str__(self) -> str:
        where = self.sheet
        if self.row is not None:
            where = f"{where} row {self.row}".strip()
        if self.column is not None:
            where = f"{where}, column {self.column}" if where else f"column {self.column}"
        return f"{where}: {self.message}" if where else self.message


class WorkbookError(Exception):
    """Every problem found in a workbook (or in rows given to write), in file order."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(str(problem) for problem in self.problems))


_TRUE = frozenset({"yes", "y", "true", "1", "是"})
_FALSE = frozenset({"no", "n", "false", "0", "否"})


def parse_bool(text: str) -> bool | None:
    """yes/no, y/n, true/false, 1/0, 是/否 in any case; None for an empty cell."""
    key = text.strip().casefold()
    if not key:
        return None
    if key in _TRUE:
        return True
    if key in _FALSE:
        return False
    raise ValueError(message("not_bool", text=text))


def split_list(text: str, sep: str = ";") -> tuple[str, ...]:
    """The trimmed items of ``text`` separated by ``sep``; empty items are dropped."""
    return tuple(item for item in (part.strip() for part in text.split(sep)) if item)


def sheet_key(name: str) -> str:
    """How sheet and column names are compared: trimmed, case-insensitive."""
    return name.strip().casefold()


_IGNORED_KEYS = frozenset(sheet_key(name) for name in IGNORED_SHEETS)


def sheet_spec(name: str) -> SheetSpec | None:
    """The declared sheet called ``name``, or None (see ``is_ignored``)."""
    return SHEETS.get(sheet_key(name))


def is_ignored(name: str) -> bool:
    return sheet_key(name) in _IGNORED_KEYS


def unknown_sheet(name: str, *, shown: str | None = None) -> Problem:
    return Problem(
        shown if shown is not None else name.strip(),
        None,
        None,
        message("unknown_sheet", sheets=", ".join(SHEETS), ignored=", ".join(IGNORED_SHEETS)),
    )


def clean_text(text: str) -> str:
    """Trimmed, with every line break as "\\n" (CSV may hold "\\r\\n"; xlsx cannot keep "\\r")."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text.strip()


def cell_text(value: object) -> str:
    """The text of one spreadsheet cell as a person reads it: 9600.0 -> "9600", 0.6 -> "0.6",
    TRUE -> "true", a date -> "2026-03-14", a date and time -> "2026-03-14T09:30:00"."""
    if value is None:
        return ""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _float_text(value)
    if isinstance(value, datetime):
        if value.tzinfo is None and value.time() == time(0):
            return value.date().isoformat()
        return value.isoformat()
    if isinstance(value, (date, time)):
        return value.isoformat()
    return clean_text(str(value))


def _float_text(value: float) -> str:
    """The shortest decimal that reads back as ``value``, never in exponent form."""
    if not math.isfinite(value):
        return repr(value)
    if value.is_integer() and abs(value) < 2**53:
        return str(int(value))
    text = format(Decimal(repr(value)), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def column_letter(index: int) -> str:
    """Excel's name of the column at 0-based ``index``: 0 -> A, 26 -> AA."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def read_sheet(
    spec: SheetSpec,
    records: Iterable[tuple[int, list[str]]],
    problems: list[Problem],
    *,
    csv: bool,
) -> tuple[SheetRow, ...]:
    """The rows of one sheet from ``records`` (its row number and cell texts, already cleaned):
    the first non-empty record is the header; fully empty records are skipped. Problems of the
    header and of cells outside the named columns go to ``problems``."""
    header_number = 0
    positions: dict[str, int] = {}
    width = 0
    named: list[bool] = []
    rows: list[SheetRow] = []
    names = spec.names
    for number, cells in records:
        while cells and not cells[-1]:
            cells.pop()
        if not cells:
            continue
        if not header_number:
            header_number = number
            positions = _header(spec, number, cells, problems)
            width = len(cells)
            named = [bool(cell) for cell in cells]
            continue
        if len(cells) > width and csv:
            problems.append(
                Problem(
                    spec.name,
                    number,
                    None,
                    message("csv_too_many", count=len(cells), header=header_number, width=width),
                )
            )
        for index, cell in enumerate(cells):
            # A value where the header names no column (CSV cells past it were counted above).
            if cell and not (index < width and named[index]) and not (csv and index >= width):
                problem = message("unnamed_cell", header=header_number)
                problems.append(Problem(spec.name, number, column_letter(index), problem))
        size = len(cells)
        values = {
            name: cells[index] if (index := positions.get(name, size)) < size else ""
            for name in names
        }
        rows.append(SheetRow(number, values))
    return tuple(rows)


def _header(
    spec: SheetSpec, number: int, cells: list[str], problems: list[Problem]
) -> dict[str, int]:
    """Where each declared column is (0-based), checking the names in the header row."""
    columns = ", ".join(spec.names)
    positions: dict[str, int] = {}
    for index, text in enumerate(cells):
        if not text:
            continue
        name = sheet_key(text)
        if name in positions:
            first, second = column_letter(positions[name]), column_letter(index)
            problem = message("duplicate_column", first=first, second=second)
            problems.append(Problem(spec.name, number, name, problem))
        elif name in spec.names:
            positions[name] = index
        else:
            close = difflib.get_close_matches(name, spec.names, n=1, cutoff=0.6)
            hint = message("did_you_mean", name=close[0]) if close else ""
            problem = message("unknown_column", hint=hint, sheet=spec.name, columns=columns)
            problems.append(Problem(spec.name, number, text, problem))
    for name in spec.required:
        if name not in positions:
            problem = message("missing_column", sheet=spec.name, columns=columns)
            problems.append(Problem(spec.name, None, name, problem))
    return positions


def format_text() -> str:
    """The format as plain text, for the console's help: one block per sheet."""
    blocks = []
    for spec in SHEETS.values():
        lines = [f"{spec.name}: {tr(I18N_CONTEXT, spec.description)}"]
        for column in spec.columns:
            name = f"[{column.name}]" if column.optional else column.name
            lines.append(f"  {name:<18} {tr(I18N_CONTEXT, column.description)}")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)
