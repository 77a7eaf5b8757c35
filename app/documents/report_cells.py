"""How one cell of a report (``app.queries.report_table``) reads, shared by every exporter and
the Reports screen: ``format_cell`` gives the display text (thousands separators, the column's
places, moments in the site's zone), ``plain_cell`` the machine-readable text CSV holds.

Cells are checked here too (``check_table``): a float, a naive moment or a row of the wrong
length is a bug in the report query, and the error names the report, the row and the column, so
it is found at once instead of printing a wrong number. A ``str`` is allowed in any column: the
totals row puts its label in the first column whatever that column holds.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime
from decimal import ROUND_HALF_EVEN, Context, Decimal
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from app.queries.report_table import Cell, Column, ColumnKind, ReportTable

NUMERIC_KINDS = frozenset(
    {ColumnKind.COUNT, ColumnKind.MONEY, ColumnKind.QUANTITY, ColumnKind.PERCENT}
)
MINUTES = "%Y-%m-%d %H:%M"
# Wide enough for any quantity a meter counts; quantize fails beyond the context's precision.
_EXACT = Context(prec=60)


@cache
def zone_info(zone: str) -> ZoneInfo:
    """The site's zone; a ValueError saying what to set when the name is unknown."""
    try:
        return ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"Unknown time zone {zone!r}; set the site's zone to an IANA name "
            "such as Asia/Shanghai."
        ) from None


def heading(column: Column) -> str:
    """The column's title with its unit in brackets: ``Energy (kWh)``, ``Amount (CNY)``."""
    return f"{column.title} ({column.unit})" if column.unit else column.title


def money_value(minor: int, places: int) -> Decimal:
    """Integer minor units as an exact Decimal with ``places`` decimals: 123450, 2 -> 1234.50."""
    return Decimal(minor).scaleb(-places, _EXACT)


def rounded(value: int | Decimal, places: int) -> Decimal:
    """``value`` rounded half-even to ``places`` decimals (never shown as "-0.00")."""
    exact = Decimal(value).quantize(Decimal(1).scaleb(-places), ROUND_HALF_EVEN, _EXACT)
    return abs(exact) if exact == 0 else exact


def local_moment(value: datetime, zone: str) -> datetime:
    """An aware moment as the naive wall-clock time of the site's zone."""
    if value.utcoffset() is None:
        raise ValueError(f"{value!r} has no time zone; report moments must be aware.")
    return value.astimezone(zone_info(zone)).replace(tzinfo=None)


def number_of(column: Column, value: Cell) -> Decimal | int | None:
    """The exact number a numeric cell stands for (money in currency units), else None."""
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        return None
    if column.kind is ColumnKind.MONEY and isinstance(value, int):
        return money_value(value, column.places)
    return value


def format_cell(column: Column, value: Cell, zone: str) -> str:
    """The text a person reads: ``1,234.50``, ``-3.07``, ``12,345.678``, ``12.5%``, ``1,234``,
    ``2026-11-30``, ``2026-11-30 08:15`` (in ``zone``), and "" for None."""
    return _text(column, value, zone, grouped=True)


def plain_cell(column: Column, value: Cell, zone: str) -> str:
    """The text a machine reads back: as ``format_cell`` without thousands separators and
    without the percent sign (``1234.50``, ``12.5``)."""
    return _text(column, value, zone, grouped=False)


def _text(column: Column, value: Cell, zone: str, grouped: bool) -> str:
    check_cell(column, value)
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, datetime):
        return local_moment(value, zone).strftime(MINUTES)
    if isinstance(value, date):
        return value.isoformat()
    if column.kind is ColumnKind.MONEY:
        assert isinstance(value, int)  # check_cell refused anything else
        number = money_value(value, column.places)
    elif column.kind is ColumnKind.COUNT:
        number = Decimal(value)
    else:
        number = rounded(value, column.places)
    text = f"{number:,f}" if grouped else f"{number:f}"
    return f"{text}%" if grouped and column.kind is ColumnKind.PERCENT else text


_EXPECTED: dict[ColumnKind, tuple[tuple[type, ...], str]] = {
    ColumnKind.TEXT: ((str,), "text"),
    ColumnKind.COUNT: ((int,), "an int count"),
    ColumnKind.MONEY: ((int,), "int minor units (e.g. 123450 for 1234.50)"),
    ColumnKind.QUANTITY: ((Decimal, int), "a Decimal quantity built from a string"),
    ColumnKind.PERCENT: ((Decimal, int), "a Decimal percentage (12.5 for 12.5 %)"),
    ColumnKind.DATE: ((date,), "a date"),
    ColumnKind.DATETIME: ((datetime,), "an aware datetime"),
}


def check_cell(column: Column, value: Cell) -> None:
    """A ValueError naming the column when ``value`` is not what its kind holds."""
    if value is None or isinstance(value, str):
        return
    types, wanted = _EXPECTED[column.kind]
    wrong = (
        isinstance(value, bool)
        or not isinstance(value, types)
        or (column.kind is ColumnKind.DATE and isinstance(value, datetime))
        or (isinstance(value, Decimal) and not value.is_finite())
    )
    if wrong:
        raise ValueError(
            f"Column {column.key!r} ({column.kind.value}) holds {value!r}; it takes {wanted}. "
            "Fix the report query that fills it."
        )
    if isinstance(value, datetime) and value.utcoffset() is None:
        raise ValueError(
            f"Column {column.key!r} holds the naive moment {value!r}; give it its time zone."
        )


def check_table(table: ReportTable) -> None:
    """Every row and the totals as long as the columns, every cell of its column's kind, the
    zone known; a ValueError naming the report, the row and the column otherwise."""
    zone_info(table.zone)
    if not table.columns:
        raise ValueError(f"Report {table.name!r} has no columns; a report needs at least one.")
    lines = [(f"row {number}", row) for number, row in enumerate(table.rows, start=1)]
    if table.totals is not None:
        lines.append(("the totals row", table.totals))
    width = len(table.columns)
    for where, row in lines:
        if len(row) != width:
            raise ValueError(
                f"Report {table.name!r}: {where} has {len(row)} cells for {width} columns."
            )
        for column, value in zip(table.columns, row, strict=True):
            try:
                check_cell(column, value)
            except ValueError as error:
                raise ValueError(f"Report {table.name!r}, {where}: {error}") from None
    if table.chart is not None:
        table.column(table.chart.category)
        for key in table.chart.series:
            column = table.columns[table.column(key)]
            if column.kind not in NUMERIC_KINDS:
                raise ValueError(
                    f"Report {table.name!r}: the chart draws column {key!r}, which holds "
                    f"{column.kind.value}; a chart series must be a numeric column."
                )


def display_width(text: str) -> int:
    """How many character cells ``text`` takes in a fixed grid: wide (CJK) characters count
    two. The longest line counts for text that has several."""
    return max(
        (
            sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in line)
            for line in text.split("\n")
        ),
        default=0,
    )


# A spreadsheet runs text that starts like a formula; plain numbers ("-3.07") are left alone.
_FORMULA_START = "=+-@\t\r"
_PLAIN_NUMBER = re.compile(r"[+-]?\d[\d,]*(\.\d+)?%?")


def looks_like_formula(text: str) -> bool:
    """Whether Excel would take this text for a formula (CSV and XLSX injection)."""
    return len(text) > 1 and text[0] in _FORMULA_START and not _PLAIN_NUMBER.fullmatch(text)
