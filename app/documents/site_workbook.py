"""The site workbook on disk: one .xlsx workbook, or a folder of ``<sheet>.csv`` files.

``main.py site template|import|export`` and the console describe a whole site in it (rooms,
buses, meters, tenants; see ``SHEETS``). This module reads and writes the sheets as rows of text
and checks the format; what the text means is the import service's business. Every problem of a
file is found before ``WorkbookError`` is raised, so a person fixes them all in one go.

Read: an .xlsx through openpyxl's streaming reader (cells typed as numbers, dates or booleans
become the text a person sees), or CSV files in UTF-8 (with or without BOM) or GB18030 (what
Chinese Excel saves). Written: text cells with the "@" number format, so leading zeros and long
digit strings survive editing in Excel; CSV in UTF-8 with a BOM so Excel opens Chinese correctly.
A file is written under a temporary name beside it and then put in place, so a failure leaves no
half-written file. What ``read_workbook`` gives, ``write_workbook`` writes back unchanged.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import hashlib
import io
import os
import re
import unicodedata
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Protocol, cast

import openpyxl
from openpyxl.cell.cell import Cell, WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.worksheet._read_only import ReadOnlyWorksheet
from openpyxl.worksheet._write_only import WriteOnlyWorksheet
from openpyxl.worksheet.dimensions import ColumnDimension, DimensionHolder
from openpyxl.worksheet.filters import AutoFilter

from app.documents.atomic_files import put_in_place, temporary_beside
from app.documents.site_workbook_format import (
    I18N_CONTEXT,
    IGNORED_SHEETS,
    SHEETS,
    ColumnSpec,
    Problem,
    SheetRow,
    SheetSpec,
    Workbook,
    WorkbookError,
    cell_text,
    clean_text,
    column_letter,
    format_text,
    is_ignored,
    message,
    parse_bool,
    read_sheet,
    sheet_spec,
    split_list,
    unknown_sheet,
)
from app.i18n import tr

__all__ = [
    "IGNORED_SHEETS",
    "SHEETS",
    "ColumnSpec",
    "Problem",
    "SheetRow",
    "SheetSpec",
    "Workbook",
    "WorkbookError",
    "format_text",
    "parse_bool",
    "read_workbook",
    "split_list",
    "write_template",
    "write_workbook",
]

XLSX_SUFFIXES = (".xlsx", ".xlsm")
OTHER_SPREADSHEETS = (".xls", ".xlsb", ".ods", ".et", ".numbers")
NOTES_SHEET = "notes"
NOTES_COLUMNS = ("sheet", "column", "required", "description")
TEXT_FORMAT = "@"
CELL_LIMIT = 32_767  # characters an Excel cell holds
MIN_WIDTH, MAX_WIDTH = 8, 50  # column widths in characters
# What XML 1.0 cannot hold; openpyxl refuses the control characters and writes the rest broken.
_NOT_IN_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")

Records = Iterator[tuple[int, list[str]]]


def read_workbook(path: Path) -> Workbook:
    """The sheets of an .xlsx workbook or of a folder of ``<sheet>.csv`` files; raises
    ``WorkbookError`` with every problem found."""
    path = Path(path)
    problems: list[Problem] = []
    found: dict[str, tuple[SheetRow, ...]] = {}
    suffix = path.suffix.casefold()
    try:
        is_folder, exists = path.is_dir(), path.exists()
    except OSError as exc:  # a folder on the way may not be open to this user
        problem = _whole(message("unreadable", path=path, reason=_reason(exc)))
        raise WorkbookError([problem]) from exc
    if is_folder:
        _read_folder(path, found, problems)
    elif not exists:
        problems.append(_whole(message("missing_path", path=path)))
    elif suffix == ".csv":
        files = ", ".join(f"{name}.csv" for name in SHEETS)
        problems.append(_whole(message("single_csv", path=path, files=files)))
    elif suffix in OTHER_SPREADSHEETS:
        problems.append(_whole(message("old_format", path=path, suffix=suffix)))
    elif suffix not in XLSX_SUFFIXES:
        problems.append(_whole(message("unknown_kind", path=path)))
    elif not path.is_file():  # a FIFO or a device: opening it would wait for ever
        reason = "not a regular file; give the path of a workbook saved on disk"
        problems.append(_whole(message("unreadable", path=path, reason=reason)))
    else:
        _read_xlsx(path, found, problems)
    if problems:
        raise WorkbookError(problems)
    return Workbook({name: found.get(name, ()) for name in SHEETS})


def workbook_digest(path: Path) -> str:
    """The SHA-256 (hex) of a workbook as the import's audit event records it: of its file's
    name, a zero byte and its bytes; for a folder, of each ``*.csv`` file so, in name order.
    Raises ``OSError`` when a file cannot be read."""
    path = Path(path)
    sha = hashlib.sha256()
    for file in sorted(path.glob("*.csv")) if path.is_dir() else [path]:
        sha.update(file.name.encode() + b"\0" + file.read_bytes())
    return sha.hexdigest()


def write_workbook(path: Path, sheets: Mapping[str, Sequence[Mapping[str, str]]]) -> None:
    """Write ``sheets`` (sheet name -> rows of column name -> text; an absent sheet or column
    is written empty) as an .xlsx workbook when ``path`` ends in .xlsx, else as a folder of CSV
    files. Raises ``WorkbookError`` when the text cannot be stored or the file not written, and
    ValueError for a sheet or column the format does not declare."""
    _write(Path(path), _checked(sheets), notes=False)


def write_template(path: Path) -> None:
    """The empty workbook: every sheet with its header, and (in .xlsx) a notes sheet that
    describes every column."""
    _write(Path(path), {}, notes=True)


def _whole(text: str) -> Problem:
    return Problem("", None, None, text)


def _reason(exc: BaseException) -> str:
    return (exc.strerror if isinstance(exc, OSError) else None) or str(exc) or type(exc).__name__


# -- reading -----------------------------------------------------------------------------------


def _read_xlsx(path: Path, found: dict[str, tuple[SheetRow, ...]], problems: list[Problem]) -> None:
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except OSError as exc:
        problems.append(_whole(message("unreadable", path=path, reason=_reason(exc))))
        return
    except Exception as exc:  # a damaged or foreign file fails in many ways inside openpyxl
        problems.append(_whole(message("not_xlsx", path=path, reason=_reason(exc))))
        return
    try:
        titles: dict[str, str] = {}
        for sheet in book.worksheets:
            if not isinstance(sheet, ReadOnlyWorksheet):
                continue
            # Some programs write a wrong size into the sheet; read every row that is there.
            sheet.reset_dimensions()
            records = _xlsx_records(path, sheet, problems)
            _add_sheet(sheet.title, sheet.title, records, titles, found, problems, csv=False)
    finally:
        book.close()


def _xlsx_records(path: Path, sheet: ReadOnlyWorksheet, problems: list[Problem]) -> Records:
    rows = sheet.values
    number = 0
    while True:
        try:
            row = next(rows)
        except StopIteration:
            return
        except Exception as exc:  # damaged sheet XML: say where, keep what was read
            reason = _reason(exc)
            problems.append(
                Problem(
                    sheet.title, number + 1, None, message("not_xlsx", path=path, reason=reason)
                )
            )
            return
        number += 1
        yield number, [cell_text(value) for value in row]


def _read_folder(
    path: Path, found: dict[str, tuple[SheetRow, ...]], problems: list[Problem]
) -> None:
    try:
        files = sorted(f for f in path.iterdir() if f.suffix.casefold() == ".csv" and f.is_file())
    except OSError as exc:
        problems.append(_whole(message("unreadable", path=path, reason=_reason(exc))))
        return
    if not files:
        names = ", ".join(f"{name}.csv" for name in SHEETS)
        problems.append(_whole(message("no_csv", path=path, files=names)))
        return
    titles: dict[str, str] = {}
    for file in files:
        if is_ignored(file.stem):
            continue
        spec = sheet_spec(file.stem)
        shown = spec.name if spec else file.name
        text = _decode_csv(file, shown, problems)
        if text is not None:
            records = _csv_records(file, shown, text, problems)
            _add_sheet(file.stem, file.name, records, titles, found, problems, csv=True)


def _add_sheet(
    name: str,
    shown: str,
    records: Records,
    titles: dict[str, str],
    found: dict[str, tuple[SheetRow, ...]],
    problems: list[Problem],
    *,
    csv: bool,
) -> None:
    """Read one sheet (or CSV file) called ``name`` (``shown`` as the person knows it)."""
    spec = sheet_spec(name)
    if spec is None:
        # An empty stray sheet (Excel's "Sheet2") holds nothing to lose: no problem.
        if not is_ignored(name) and any(any(cells) for _, cells in records):
            problems.append(unknown_sheet(name, shown=shown))
        return
    if spec.name in titles:
        text = message("duplicate_sheet", name=spec.name, first=titles[spec.name], second=shown)
        problems.append(Problem(spec.name, None, None, text))
        return
    titles[spec.name] = shown
    found[spec.name] = read_sheet(spec, records, problems, csv=csv)


def _decode_csv(file: Path, sheet: str, problems: list[Problem]) -> str | None:
    try:
        data = file.read_bytes()
    except OSError as exc:
        problems.append(
            Problem(sheet, None, None, message("unreadable", path=file, reason=_reason(exc)))
        )
        return None
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        problems.append(Problem(sheet, None, None, message("csv_utf16", file=file.name)))
        return None
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    problems.append(Problem(sheet, None, None, message("csv_encoding", file=file.name)))
    return None


def _csv_records(file: Path, sheet: str, text: str, problems: list[Problem]) -> Records:
    """Records numbered as a spreadsheet shows them (a quoted value may span lines)."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    number = 0
    while True:
        start = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            if "end of data" in str(exc):
                said = message("csv_open_quote", file=file.name, line=start)
            else:
                said = message("csv_syntax", file=file.name, line=reader.line_num, reason=exc)
            problems.append(Problem(sheet, number + 1, None, said))
            return
        number += 1
        yield number, [clean_text(cell) for cell in row]


# -- writing -----------------------------------------------------------------------------------

Rows = Sequence[Mapping[str, str]]


class _SheetSetup(Protocol):
    """What openpyxl's write-only sheet has (from Worksheet) but its type stubs leave out."""

    column_dimensions: DimensionHolder[str, ColumnDimension]
    auto_filter: AutoFilter
    calculate_dimension: Callable[[], str]


def _checked(sheets: Mapping[str, Rows]) -> dict[str, Rows]:
    """``sheets`` by declared name; a name the format does not know is the caller's mistake."""
    for name, rows in sheets.items():
        spec = SHEETS.get(name)
        if spec is None:
            raise ValueError(f"Unknown sheet {name!r}; the sheets are {', '.join(SHEETS)}.")
        names = set(spec.names)
        for row in rows:
            if not names.issuperset(row):
                wrong = ", ".join(sorted(set(row) - names))
                raise ValueError(
                    f"Unknown column(s) {wrong} in sheet {name}; use {', '.join(spec.names)}."
                )
    return dict(sheets)


def _write(path: Path, sheets: dict[str, Rows], *, notes: bool) -> None:
    try:
        if path.suffix.casefold() == ".xlsx":
            _write_xlsx(path, sheets, notes=notes)
        elif path.suffix.casefold() in (".csv", *XLSX_SUFFIXES, *OTHER_SPREADSHEETS):
            raise WorkbookError([_whole(message("write_kind", path=path))])
        else:
            _write_folder(path, sheets)
    except OSError as exc:
        problem = _whole(message("write_failed", path=path, reason=_reason(exc)))
        raise WorkbookError([problem]) from exc


def _xlsx_problems(sheets: dict[str, Rows]) -> list[Problem]:
    problems = []
    for name, rows in sheets.items():
        for number, row in enumerate(rows, start=2):
            for column, text in row.items():
                if len(text) > CELL_LIMIT:
                    said = message("xlsx_too_long", length=len(text), limit=CELL_LIMIT)
                    problems.append(Problem(name, number, column, said))
                elif bad := _NOT_IN_XML.search(text):
                    said = message("xlsx_character", code=f"U+{ord(bad.group()):04X}")
                    problems.append(Problem(name, number, column, said))
    return problems


def _write_xlsx(path: Path, sheets: dict[str, Rows], *, notes: bool) -> None:
    problems = _xlsx_problems(sheets)
    if problems:
        raise WorkbookError(problems)
    book = openpyxl.Workbook(write_only=True)
    for spec in SHEETS.values():
        sheet = book.create_sheet(spec.name)
        rows = sheets.get(spec.name, ())
        _add_table(
            sheet,
            spec.names,
            ([row.get(name, "") for name in spec.names] for row in rows),
            _widths(spec.names, rows),
            len(rows),
        )
    if notes:
        sheet = book.create_sheet(NOTES_SHEET)
        lines = list(_notes())
        widths = _widths(
            NOTES_COLUMNS, [dict(zip(NOTES_COLUMNS, line, strict=True)) for line in lines]
        )
        _add_table(sheet, NOTES_COLUMNS, iter(lines), widths, len(lines))
    try:
        put_in_place(path, lambda temporary: book.save(temporary))
    except BaseException:
        # Finish the sheets a failed save left open, or their streams break when collected.
        for sheet in book.worksheets:
            if isinstance(sheet, WriteOnlyWorksheet) and not sheet.closed:
                with contextlib.suppress(Exception):
                    sheet.close()
        raise


def _notes() -> Iterator[tuple[str, ...]]:
    for spec in SHEETS.values():
        yield spec.name, "", "", tr(I18N_CONTEXT, spec.description)
        for column in spec.columns:
            needed = tr(I18N_CONTEXT, "optional" if column.optional else "required")
            yield spec.name, column.name, needed, tr(I18N_CONTEXT, column.description)


def _add_table(
    sheet: WriteOnlyWorksheet,
    header: Sequence[str],
    body: Iterator[Sequence[str]],
    widths: Sequence[float],
    count: int,
) -> None:
    """A bold header and rows of text cells; empty cells are left out (their column is text)."""
    setup = cast(_SheetSetup, sheet)
    size = f"A1:{column_letter(len(header) - 1)}{count + 1}"
    # The streaming writer writes the sheet's size only if the sheet can say it; without it,
    # openpyxl's streaming reader reads every sheet once more just to learn it is not there.
    setup.calculate_dimension = lambda: size
    for index, width in enumerate(widths):
        dimension = setup.column_dimensions[column_letter(index)]
        dimension.width = width
        dimension.number_format = TEXT_FORMAT
    sheet.freeze_panes = "A2"
    setup.auto_filter.ref = size
    bold = Font(bold=True)
    sheet.append([_text_cell(sheet, name, bold) for name in header])
    # The writer turns each appended row into XML at once, so one cell per column serves all.
    cells = [_text_cell(sheet, "") for _ in header]
    for values in body:
        row: list[Cell | None] = []
        for cell, text in zip(cells, values, strict=True):
            if text:
                cell.value = text
                cell.data_type = "s"  # text, even when it starts with "="
                row.append(cell)
            else:
                row.append(None)
        sheet.append(row)


def _text_cell(sheet: WriteOnlyWorksheet, text: str, font: Font | None = None) -> Cell:
    cell = WriteOnlyCell(sheet, value=text or None)
    cell.data_type = "s"
    cell.number_format = TEXT_FORMAT
    if font is not None:
        cell.font = font
    return cell


def _widths(names: Sequence[str], rows: Rows) -> list[float]:
    """Column widths in characters: the widest line of the column (CJK counts double),
    between MIN_WIDTH and MAX_WIDTH."""
    widest = [len(name) for name in names]
    for row in rows:
        for index, name in enumerate(names):
            text = row.get(name, "")
            if text and widest[index] < MAX_WIDTH:
                plain = text.isascii() and "\n" not in text
                widest[index] = max(widest[index], len(text) if plain else _display_width(text))
    return [float(min(max(width + 2, MIN_WIDTH), MAX_WIDTH)) for width in widest]


def _display_width(text: str) -> int:
    return max(
        sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in line)
        for line in text.split("\n")
    )


def _write_folder(path: Path, sheets: dict[str, Rows]) -> None:
    path.mkdir(parents=True, exist_ok=True)
    written: list[tuple[Path, Path]] = []
    try:
        for spec in SHEETS.values():
            final = path / f"{spec.name}.csv"
            temporary = temporary_beside(final)
            written.append((temporary, final))
            with temporary.open("x", encoding="utf-8-sig", newline="") as stream:
                writer = csv.writer(stream, lineterminator="\r\n")
                writer.writerow(spec.names)
                rows = sheets.get(spec.name, ())
                writer.writerows([row.get(name, "") for name in spec.names] for row in rows)
        for temporary, final in written:
            os.replace(temporary, final)
    finally:
        for temporary, _ in written:
            temporary.unlink(missing_ok=True)
