"""A report as an Excel workbook: one sheet a person can sort, filter and sum.

Layout: the title (bold) in row 1, the subtitle in row 2, a blank row, the header (bold, frozen,
with an autofilter over the data rows), the rows, the totals (bold, outside the filter so sorting
never moves them), then the notes and who made the file. Numbers are real numbers with number
formats (money ``#,##0.00`` per the currency's places, quantities per the column's places,
percentages as ``12.5`` shown ``12.5%``), days and moments are Excel dates (moments as the site's
wall-clock time, Excel knowing no zones). Column widths fit the text, CJK characters counting
double.
"""

from __future__ import annotations

import io
import re
from datetime import date, datetime

import openpyxl
from openpyxl.cell.cell import Cell as SheetCell
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from app.documents.report_cells import (
    MINUTES,
    NUMERIC_KINDS,
    check_table,
    display_width,
    format_cell,
    heading,
    local_moment,
    number_of,
)
from app.i18n import tr
from app.queries.report_table import Cell, Column, ColumnKind, ReportTable

I18N_CONTEXT = "report_export"
TITLE_ROW, SUBTITLE_ROW, HEADER_ROW = 1, 2, 4
FIRST_DATA_ROW = HEADER_ROW + 1
MIN_WIDTH, MAX_WIDTH = 8, 60  # column widths in characters
SHEET_NAME_LIMIT = 31
DATE_FORMAT = "yyyy-mm-dd"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm"
_NOT_IN_SHEET_NAME = re.compile(r"[\[\]:*?/\\]")
# What XML 1.0 cannot hold; openpyxl refuses these control characters.
_NOT_IN_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_HEADER_FILL = PatternFill("solid", fgColor="E8E8E8")
_THIN = Side(style="thin", color="888888")


def report_xlsx(table: ReportTable) -> bytes:
    """The report as .xlsx bytes."""
    check_table(table)
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None  # a new workbook always has its first sheet
    sheet.title = sheet_name(table)
    _title(sheet, table)
    _header(sheet, table.columns)
    row_number = FIRST_DATA_ROW
    for row in table.rows:
        _write_row(sheet, row_number, table, row, bold=False)
        row_number += 1
    last_column = get_column_letter(len(table.columns))
    sheet.auto_filter.ref = f"A{HEADER_ROW}:{last_column}{max(row_number - 1, HEADER_ROW)}"
    if table.totals is not None:
        _write_row(sheet, row_number, table, table.totals, bold=True)
        for cell in sheet[row_number]:
            cell.border = Border(top=_THIN)
        row_number += 1
    _notes(sheet, table, row_number + 1)
    sheet.freeze_panes = f"A{FIRST_DATA_ROW}"
    _fit_widths(sheet, table)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def sheet_name(table: ReportTable) -> str:
    """The report's title as a sheet name Excel accepts: at most 31 characters, cut at a word
    boundary when it can be, none of ``[]:*?/\\``, no apostrophe at either end."""
    name = " ".join(_NOT_IN_SHEET_NAME.sub(" ", _clean(table.title)).split()).strip("'")
    if len(name) > SHEET_NAME_LIMIT:
        cut = name[: SHEET_NAME_LIMIT + 1].rsplit(" ", 1)[0]
        name = (cut if len(cut) >= SHEET_NAME_LIMIT // 2 else name[:SHEET_NAME_LIMIT]).rstrip(
            " ,;-'"
        )
    return name or table.name[:SHEET_NAME_LIMIT] or "Report"


def number_format(column: Column) -> str:
    """The Excel number format of a column's numbers, days or moments ("General" for text)."""
    decimals = "." + "0" * column.places if column.places > 0 else ""
    match column.kind:
        case ColumnKind.MONEY | ColumnKind.QUANTITY:
            return f"#,##0{decimals}"
        case ColumnKind.PERCENT:
            return f'0{decimals}"%"'
        case ColumnKind.COUNT:
            return "#,##0"
        case ColumnKind.DATE:
            return DATE_FORMAT
        case ColumnKind.DATETIME:
            return DATETIME_FORMAT
    return "General"


def _title(sheet: Worksheet, table: ReportTable) -> None:
    _put(_at(sheet, TITLE_ROW, 1), table.title).font = Font(bold=True, size=14)
    _put(_at(sheet, SUBTITLE_ROW, 1), table.subtitle).font = Font(italic=True, color="444444")


def _header(sheet: Worksheet, columns: tuple[Column, ...]) -> None:
    for index, column in enumerate(columns, start=1):
        cell = _put(_at(sheet, HEADER_ROW, index), heading(column))
        cell.font = Font(bold=True)
        cell.fill = _HEADER_FILL
        cell.border = Border(bottom=_THIN)
        if column.kind in NUMERIC_KINDS:
            cell.alignment = Alignment(horizontal="right")


def _write_row(
    sheet: Worksheet, row_number: int, table: ReportTable, row: tuple[Cell, ...], bold: bool
) -> None:
    for index, (column, value) in enumerate(zip(table.columns, row, strict=True), start=1):
        cell = _at(sheet, row_number, index)
        if bold:
            cell.font = Font(bold=True)
        if value is None:
            continue
        if isinstance(value, str):
            _put(cell, value)
            continue
        cell.number_format = number_format(column)
        if isinstance(value, datetime):
            cell.value = local_moment(value, table.zone)
        elif isinstance(value, date):
            cell.value = value
        else:
            cell.value = number_of(column, value)


def _notes(sheet: Worksheet, table: ReportTable, row_number: int) -> None:
    generated = local_moment(table.generated_at, table.zone).strftime(MINUTES)
    made = tr(I18N_CONTEXT, "{site}, generated {time}").format(site=table.site, time=generated)
    for offset, note in enumerate((*table.notes, made)):
        _put(_at(sheet, row_number + offset, 1), note).font = Font(italic=True, color="444444")


def _fit_widths(sheet: Worksheet, table: ReportTable) -> None:
    lines = [*table.rows, *([table.totals] if table.totals is not None else [])]
    for index, column in enumerate(table.columns):
        widest = max(
            (display_width(format_cell(column, row[index], table.zone)) for row in lines),
            default=0,
        )
        widest = max(widest, display_width(heading(column)) + 2)  # room for the filter button
        letter = get_column_letter(index + 1)
        sheet.column_dimensions[letter].width = min(max(widest + 2, MIN_WIDTH), MAX_WIDTH)


def _at(sheet: Worksheet, row: int, column: int) -> SheetCell:
    cell = sheet.cell(row, column)
    assert isinstance(cell, SheetCell)  # nothing is merged in a report sheet
    return cell


def _clean(text: str) -> str:
    return _NOT_IN_XML.sub("", text)


def _put(cell: SheetCell, text: str) -> SheetCell:
    """Write ``text`` as text, never as a formula, without what XML cannot hold."""
    cell.value = _clean(text)
    if cell.data_type == "f":  # openpyxl takes "=..." for a formula; stored as text, Excel shows it
        cell.data_type = "s"
    return cell
