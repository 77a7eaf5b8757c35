"""Every report as a file: CSV (the table alone, for machines), XLSX (numbers a person can sort
and sum) or PDF (to print and sign). Each takes a ``ReportTable`` (``app.queries.report_table``)
and returns the file's bytes; the caller names and writes the file (``EXTENSIONS``).

The Reports screen and ``main.py report`` call ``export(table, fmt)``; ``format_cell`` is the
text a person reads in a cell, shared with the screen.
"""

from __future__ import annotations

from collections.abc import Callable
from types import MappingProxyType

from app.documents.report_cells import format_cell
from app.documents.report_csv import report_csv
from app.documents.report_pdf import report_pdf
from app.documents.report_xlsx import report_xlsx
from app.queries.report_table import ReportTable

__all__ = [
    "EXTENSIONS",
    "FORMATS",
    "export",
    "format_cell",
    "report_csv",
    "report_pdf",
    "report_xlsx",
]

_WRITERS: dict[str, Callable[[ReportTable], bytes]] = {
    "csv": report_csv,
    "xlsx": report_xlsx,
    "pdf": report_pdf,
}
FORMATS = tuple(_WRITERS)
EXTENSIONS = MappingProxyType({fmt: f".{fmt}" for fmt in FORMATS})


def export(table: ReportTable, fmt: str) -> bytes:
    """The report in ``fmt`` (csv, xlsx or pdf; case and a leading dot do not matter)."""
    writer = _WRITERS.get(fmt.strip().lower().removeprefix("."))
    if writer is None:
        raise ValueError(f"Unknown report format {fmt!r}; use one of: {', '.join(FORMATS)}.")
    return writer(table)
