"""A report as CSV: the table alone, for machines and for Excel.

UTF-8 with a BOM, so Excel opens Chinese names correctly; one header row of column titles with
their units; the rows, then the totals row if the report has one. No title or notes: a program
reading the file finds the header on line 1. Numbers carry no thousands separators (``1234.50``,
``-3.07``, quantities rounded half-even to the column's places), moments are site-local
``YYYY-MM-DD HH:MM``. Text that Excel would run as a formula (``=HYPERLINK(...)``) gets a
leading apostrophe, the usual guard against CSV injection.
"""

from __future__ import annotations

import csv
import io

from app.documents.report_cells import check_table, heading, looks_like_formula, plain_cell
from app.queries.report_table import Cell, Column, ColumnKind, ReportTable


def report_csv(table: ReportTable) -> bytes:
    """The table as CSV bytes (UTF-8 with BOM, CRLF line ends)."""
    check_table(table)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([_guarded(heading(column)) for column in table.columns])
    lines = [*table.rows, *([table.totals] if table.totals is not None else [])]
    for row in lines:
        writer.writerow(
            [
                _text(column, value, table.zone)
                for column, value in zip(table.columns, row, strict=True)
            ]
        )
    return buffer.getvalue().encode("utf-8-sig")


def _text(column: Column, value: Cell, zone: str) -> str:
    text = plain_cell(column, value, zone)
    return _guarded(text) if isinstance(value, str) or column.kind is ColumnKind.TEXT else text


def _guarded(text: str) -> str:
    return f"'{text}" if looks_like_formula(text) else text
