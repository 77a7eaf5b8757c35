"""The shape every report takes, whatever it reports: titled columns of typed cells, a totals
row, an optional chart and notes. The report queries (``app.queries.reports``) fill it; the
exporters (``app.documents.report_export``: CSV, XLSX, PDF), the command line (JSON) and the
Reports screen read it. Pure data: no database, no Qt, so documents may import it.

Cells hold exact values: money as integer minor units (the column says the currency and its
places), quantities as ``Decimal``, counts as ``int``, days as ``date``, moments as aware
``datetime``, and ``None`` for nothing to show.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

Cell = str | int | Decimal | date | datetime | None


class ColumnKind(StrEnum):
    TEXT = "text"
    COUNT = "count"  # int
    MONEY = "money"  # int minor units; ``unit`` is the currency code, ``places`` its decimals
    QUANTITY = "quantity"  # Decimal; ``unit`` e.g. "kWh", "m3", "h"; ``places`` shown
    PERCENT = "percent"  # Decimal, 12.5 means 12.5 %; ``places`` shown
    DATE = "date"  # date
    DATETIME = "datetime"  # aware datetime, shown in the site's zone


@dataclass(frozen=True)
class Column:
    key: str
    title: str
    kind: ColumnKind = ColumnKind.TEXT
    unit: str = ""
    places: int = 0
    total: bool = False  # summed in the totals row


@dataclass(frozen=True)
class Chart:
    """What to draw: one bar (or line) per series over the rows' ``category`` column."""

    kind: str  # "bar" or "line"
    category: str  # the key of the column whose cells label the x axis
    series: tuple[str, ...]  # keys of numeric columns, one series each
    title: str = ""


@dataclass(frozen=True)
class ReportTable:
    name: str  # "energy", "revenue", ...
    title: str  # "Energy by building, November 2026"
    subtitle: str  # the period and the scope in words
    site: str  # the site's name
    zone: str  # the site's time zone (IANA), in which DATETIME cells are shown
    generated_at: datetime  # aware
    columns: tuple[Column, ...]
    rows: tuple[tuple[Cell, ...], ...]
    totals: tuple[Cell, ...] | None = None  # same length as columns; a label in the first
    chart: Chart | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    def column(self, key: str) -> int:
        """The index of the column ``key`` (KeyError naming it if there is none)."""
        for index, column in enumerate(self.columns):
            if column.key == key:
                return index
        raise KeyError(f"report {self.name} has no column {key!r}")

    def values(self, key: str) -> list[Cell]:
        """The cells of column ``key``, row by row."""
        index = self.column(key)
        return [row[index] for row in self.rows]


def totals_of(
    columns: tuple[Column, ...], rows: tuple[tuple[Cell, ...], ...], label: str
) -> tuple[Cell, ...]:
    """A totals row: ``label`` in the first column, the sum of each ``total`` column (ints stay
    ints, quantities stay ``Decimal``), nothing elsewhere."""
    out: list[Cell] = []
    for index, column in enumerate(columns):
        if index == 0:
            out.append(label)
        elif column.total:
            numbers = [cell for row in rows if isinstance(cell := row[index], int | Decimal)]
            if column.kind in (ColumnKind.QUANTITY, ColumnKind.PERCENT):
                out.append(sum((Decimal(n) for n in numbers), Decimal(0)))
            else:
                out.append(sum(int(n) for n in numbers))
        else:
            out.append(None)
    return tuple(out)


def counted(count: int, noun: str) -> str:
    """A totals label: "1 account", "3 accounts"."""
    return f"{count} {noun}{'' if count == 1 else 's'}"
