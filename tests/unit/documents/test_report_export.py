"""Every report exports as CSV (exact values a program reads back), XLSX (real numbers with
number formats, a frozen and filtered header, bold totals) and PDF (CJK text, thousands
separators, numbered pages, the chart with its legend); bad cells are refused with the report,
row and column named."""

from __future__ import annotations

import csv
import dataclasses
import io
import shutil
import subprocess
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Literal

import openpyxl
import pytest
from openpyxl.worksheet.worksheet import Worksheet

from app.documents.report_cells import display_width, format_cell, plain_cell
from app.documents.report_export import (
    EXTENSIONS,
    export,
    report_csv,
    report_pdf,
    report_xlsx,
)
from app.queries.report_table import Cell, Chart, Column, ColumnKind, ReportTable, totals_of

ZONE = "Asia/Shanghai"  # UTC+8 all year
COLUMNS = (
    Column("room", "Room"),
    Column("day", "Day", ColumnKind.DATE),
    Column("read_at", "Last reading", ColumnKind.DATETIME),
    Column("energy", "Energy", ColumnKind.QUANTITY, unit="kWh", places=3, total=True),
    Column("amount", "Amount", ColumnKind.MONEY, unit="CNY", places=2, total=True),
    Column("share", "Share", ColumnKind.PERCENT, places=1),
    Column("meters", "Meters", ColumnKind.COUNT, total=True),
)
ROWS: tuple[tuple[Cell, ...], ...] = (
    (
        "阳光花园 A-101",
        date(2026, 11, 1),
        datetime(2026, 11, 30, 16, 5, tzinfo=UTC),  # 2026-12-01 00:05 in Shanghai
        Decimal("2.1245"),  # half-even: 2.124
        123450,
        Decimal("12.5"),
        2,
    ),
    ("B-202 王芳", date(2026, 11, 2), None, Decimal("1000.1255"), -307, None, 1),
    ('=HYPERLINK("http://x")', None, None, None, None, Decimal("-0.04"), None),
)


def table(
    rows: tuple[tuple[Cell, ...], ...] = ROWS,
    columns: tuple[Column, ...] = COLUMNS,
    chart: Chart | None = None,
    totals: tuple[Cell, ...] | Literal["sum"] | None = "sum",
    **changes: object,
) -> ReportTable:
    """The energy report over ``rows``; ``totals`` "sum" is the totals row ``totals_of`` makes."""
    report = ReportTable(
        name="energy",
        title="Energy by building, November 2026",
        subtitle="1-30 November 2026, all buildings",
        site="阳光花园小区",
        zone=ZONE,
        generated_at=datetime(2026, 12, 1, 1, 2, tzinfo=UTC),
        columns=columns,
        rows=rows,
        totals=totals_of(columns, rows, "Total") if totals == "sum" else totals,
        chart=chart,
        notes=("Readings after 30 Nov 24:00 count in December.", "备注：含公共区域"),
    )
    return dataclasses.replace(report, **changes)  # type: ignore[arg-type]


def many_rows(count: int) -> tuple[tuple[Cell, ...], ...]:
    return tuple(
        (
            f"楼{i // 10} 室{i}",
            date(2026, 11, 1) + timedelta(days=i % 30),
            datetime(2026, 11, 1, tzinfo=UTC) + timedelta(hours=i),
            Decimal(i) + Decimal("0.5"),
            100_000 * i + 50,
            Decimal(i % 100),
            i,
        )
        for i in range(count)
    )


# -- cells ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("column", "value", "shown", "plain"),
    [
        (COLUMNS[4], 123450, "1,234.50", "1234.50"),
        (COLUMNS[4], -307, "-3.07", "-3.07"),
        (COLUMNS[4], 0, "0.00", "0.00"),
        (Column("yen", "Yen", ColumnKind.MONEY, "JPY", 0), 1234567, "1,234,567", "1234567"),
        (COLUMNS[3], Decimal("2.1245"), "2.124", "2.124"),
        (COLUMNS[3], Decimal("2.1255"), "2.126", "2.126"),
        (COLUMNS[3], Decimal("12345.6"), "12,345.600", "12345.600"),
        (COLUMNS[3], Decimal("-0.0004"), "0.000", "0.000"),
        (COLUMNS[5], Decimal("12.5"), "12.5%", "12.5"),
        (COLUMNS[6], 12345, "12,345", "12345"),
        (COLUMNS[1], date(2026, 11, 3), "2026-11-03", "2026-11-03"),
        (COLUMNS[2], datetime(2026, 11, 30, 16, 5, tzinfo=UTC), "2026-12-01 00:05", None),
        (COLUMNS[0], "实验楼", "实验楼", "实验楼"),
        (COLUMNS[4], "Total", "Total", "Total"),
        (COLUMNS[4], None, "", ""),
    ],
)
def test_a_cell_reads_as_a_person_and_a_program_expect(
    column: Column, value: Cell, shown: str, plain: str | None
) -> None:
    assert format_cell(column, value, ZONE) == shown
    assert plain_cell(column, value, ZONE) == (shown if plain is None else plain)


@pytest.mark.parametrize(
    ("row_change", "words"),
    [
        ({4: 12.5}, ["row 1", "'amount'", "int minor units"]),
        ({3: 1.5}, ["row 1", "'energy'", "Decimal"]),
        ({6: True}, ["row 1", "'meters'", "int count"]),
        ({2: datetime(2026, 11, 30, 16, 5)}, ["row 1", "'read_at'", "time zone"]),
        ({1: datetime(2026, 11, 30, tzinfo=UTC)}, ["row 1", "'day'", "a date"]),
        ({3: Decimal("NaN")}, ["row 1", "'energy'"]),
    ],
)
def test_a_cell_of_the_wrong_kind_is_refused_naming_row_and_column(
    row_change: dict[int, object], words: list[str]
) -> None:
    row = list(ROWS[0])
    for index, value in row_change.items():
        row[index] = value  # type: ignore[call-overload]
    bad = table(rows=(tuple(row), *ROWS[1:]), totals=None)
    for writer in (report_csv, report_xlsx, report_pdf):
        with pytest.raises(ValueError, match="Report 'energy', row 1") as caught:
            writer(bad)
        for word in words:
            assert word in str(caught.value)


def test_rows_of_the_wrong_length_an_unknown_zone_and_a_text_series_are_refused() -> None:
    with pytest.raises(ValueError, match="row 2 has 2 cells for 7 columns"):
        report_csv(table(rows=(ROWS[0], ("x", None)), totals=None))
    with pytest.raises(ValueError, match="the totals row has 1 cells"):
        report_csv(table(totals=("Total",)))
    with pytest.raises(ValueError, match=r"Unknown time zone 'Mars/Base'.*IANA"):
        report_csv(table(zone="Mars/Base"))
    with pytest.raises(ValueError, match=r"chart draws column 'room'.*numeric column"):
        report_pdf(table(chart=Chart("bar", "room", ("room",))))
    with pytest.raises(KeyError, match="no column 'nope'"):
        report_pdf(table(chart=Chart("bar", "nope", ("energy",))))
    with pytest.raises(ValueError, match="'pie' chart; use one of: bar, line"):
        report_pdf(table(chart=Chart("pie", "room", ("energy",))))


def test_export_picks_the_writer_by_format_and_names_the_formats_when_unknown() -> None:
    report = table()
    assert export(report, "csv") == report_csv(report)
    assert export(report, ".XLSX")[:2] == b"PK"  # a zip, as every xlsx
    assert export(report, "pdf").startswith(b"%PDF")
    assert EXTENSIONS == {"csv": ".csv", "xlsx": ".xlsx", "pdf": ".pdf"}
    with pytest.raises(ValueError, match="Unknown report format 'doc'; use one of: csv, xlsx, pdf"):
        export(report, "doc")


def test_wide_characters_count_double() -> None:
    assert display_width("A-101") == 5
    assert display_width("阳光花园") == 8
    assert display_width("ab\n阳光") == 4


# -- CSV -------------------------------------------------------------------------------------


def read_csv(data: bytes) -> list[list[str]]:
    assert data.startswith(b"\xef\xbb\xbf"), "Excel needs the BOM to read UTF-8"
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def test_csv_holds_the_header_the_rows_and_the_totals_as_exact_text() -> None:
    lines = read_csv(report_csv(table()))
    assert lines == [
        ["Room", "Day", "Last reading", "Energy (kWh)", "Amount (CNY)", "Share", "Meters"],
        ["阳光花园 A-101", "2026-11-01", "2026-12-01 00:05", "2.124", "1234.50", "12.5", "2"],
        ["B-202 王芳", "2026-11-02", "", "1000.126", "-3.07", "", "1"],
        ['\'=HYPERLINK("http://x")', "", "", "", "", "0.0", ""],
        ["Total", "", "", "1002.250", "1231.43", "", "3"],
    ]
    # Sums of what the rows show equal the totals: the money is exact.
    amounts = [Decimal(line[4]) for line in lines[1:3]]
    assert sum(amounts) == Decimal(lines[-1][4])


def test_csv_of_a_report_without_rows_or_totals_is_its_header() -> None:
    lines = read_csv(report_csv(table(rows=(), totals=None)))
    assert lines == [
        ["Room", "Day", "Last reading", "Energy (kWh)", "Amount (CNY)", "Share", "Meters"]
    ]


# -- XLSX ------------------------------------------------------------------------------------


def open_sheet(data: bytes) -> Worksheet:
    book = openpyxl.load_workbook(io.BytesIO(data))
    assert len(book.worksheets) == 1
    return book.worksheets[0]


def test_xlsx_holds_real_numbers_with_number_formats() -> None:
    sheet = open_sheet(report_xlsx(table()))
    first = list(sheet[5])
    assert [cell.value for cell in first] == [
        "阳光花园 A-101",
        datetime(2026, 11, 1),
        datetime(2026, 12, 1, 0, 5),  # the site's wall clock
        pytest.approx(2.1245),
        pytest.approx(1234.5),
        pytest.approx(12.5),
        2,
    ]
    assert [cell.number_format for cell in first[1:]] == [
        "yyyy-mm-dd",
        "yyyy-mm-dd hh:mm",
        "#,##0.000",
        "#,##0.00",
        '0.0"%"',
        "#,##0",
    ]
    second = [cell.value for cell in sheet[6]]
    assert second[4] == pytest.approx(-3.07)
    assert second[2] is None
    assert second[5] is None
    assert sheet["A7"].value == '=HYPERLINK("http://x")'
    assert sheet["A7"].data_type == "s", "a room name must never run as a formula"


def test_xlsx_has_title_frozen_filtered_header_bold_totals_and_notes() -> None:
    sheet = open_sheet(report_xlsx(table()))
    assert sheet.title == "Energy by building, November"
    assert sheet["A1"].value == "Energy by building, November 2026"
    assert sheet["A1"].font.b
    assert sheet["A2"].value == "1-30 November 2026, all buildings"
    assert all(cell.value is None for cell in sheet[3])
    header = sheet[4]
    assert [cell.value for cell in header][3:5] == ["Energy (kWh)", "Amount (CNY)"]
    assert all(cell.font.b for cell in header)
    assert sheet.freeze_panes == "A5"
    assert sheet.auto_filter.ref == "A4:G7"  # the data rows; the totals stay put when sorted
    totals = sheet[8]
    assert [cell.value for cell in totals] == [
        "Total",
        None,
        None,
        pytest.approx(1002.2500),
        pytest.approx(1231.43),
        None,
        3,
    ]
    assert all(cell.font.b for cell in totals)
    assert totals[4].number_format == "#,##0.00"
    notes = [sheet.cell(row, 1).value for row in range(10, 13)]
    assert notes == [
        "Readings after 30 Nov 24:00 count in December.",
        "备注：含公共区域",
        "阳光花园小区, generated 2026-12-01 09:02",
    ]


def test_xlsx_column_widths_fit_the_text_wide_characters_counting_double() -> None:
    names = Column("name", "Name")
    codes = Column("code", "Code")
    rows: tuple[tuple[Cell, ...], ...] = (("阳光花园阳光花园阳光花园", "ABCDEFGHIJKL"),)
    sheet = open_sheet(report_xlsx(table(rows=rows, columns=(names, codes), totals=None)))
    wide, narrow = sheet.column_dimensions["A"].width, sheet.column_dimensions["B"].width
    assert wide >= 24
    assert narrow >= 12
    assert wide >= narrow + 10


def test_xlsx_sheet_name_is_one_excel_accepts() -> None:
    title = "Arrears [A/B]: who? *all* \\ buildings in the whole site"
    sheet = open_sheet(report_xlsx(table(title=title)))
    assert len(sheet.title) <= 31
    assert not set(sheet.title) & set("[]:*?/\\")
    assert sheet.title.startswith("Arrears A B who all")


def test_xlsx_of_a_report_without_rows_filters_the_header_alone() -> None:
    sheet = open_sheet(report_xlsx(table(rows=(), totals=None, notes=())))
    assert sheet.auto_filter.ref == "A4:G4"
    assert sheet["A6"].value == "阳光花园小区, generated 2026-12-01 09:02"


# -- PDF -------------------------------------------------------------------------------------


def poppler(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.skip(f"{tool} (poppler-utils) is not installed")
    return path


def pdf_pages(pdf: bytes, tmp_path: Path) -> list[str]:
    """The text of each page (pdftotext ends every page with a form feed)."""
    path = tmp_path / "report.pdf"
    path.write_bytes(pdf)
    done = subprocess.run(
        [poppler("pdftotext"), "-layout", str(path), "-"], capture_output=True, check=True
    )
    return done.stdout.decode("utf-8").split("\f")[:-1]


def page_size(pdf: bytes, tmp_path: Path) -> tuple[float, float]:
    path = tmp_path / "size.pdf"
    path.write_bytes(pdf)
    done = subprocess.run([poppler("pdfinfo"), str(path)], capture_output=True, check=True)
    line = next(x for x in done.stdout.decode().splitlines() if x.startswith("Page size:"))
    width, _, height = line.split(":", 1)[1].split()[:3]
    return float(width), float(height)


def test_pdf_shows_title_chinese_names_formatted_numbers_and_page_numbers(tmp_path: Path) -> None:
    pages = pdf_pages(report_pdf(table()), tmp_path)
    assert len(pages) == 1
    text = pages[0]
    for expected in (
        "Energy by building, November 2026",
        "1-30 November 2026, all buildings",
        "阳光花园小区 - generated 2026-12-01 09:02",
        "阳光花园 A-101",
        "B-202 王芳",
        "Amount (CNY)",
        "1,234.50",
        "-3.07",
        "1,002.250",  # the totals
        "1,231.43",
        "12.5%",
        "2026-12-01 00:05",
        "备注：含公共区域",
        "Page 1 of 1",
    ):
        assert expected in text, expected


def test_pdf_of_two_hundred_rows_runs_over_pages_each_with_header_and_number(
    tmp_path: Path,
) -> None:
    rows = many_rows(200)
    pages = pdf_pages(
        report_pdf(table(rows=rows, totals=totals_of(COLUMNS, rows, "合计"))), tmp_path
    )
    count = len(pages)
    assert count > 1
    for number, page in enumerate(pages, start=1):
        assert "Amount (CNY)" in page, f"page {number} lacks the column header"
        assert f"Page {number} of {count}" in page
    text = "\n".join(pages)
    assert "楼19 室199" in text
    assert "199,000.50" in text
    assert "合计" in pages[-1]
    assert "19,900,100.00" in pages[-1]  # the sum of 100,000 * i + 50 minor units, i < 200


def test_pdf_turns_landscape_beyond_seven_columns(tmp_path: Path) -> None:
    wide = (*COLUMNS, Column("extra", "Extra", ColumnKind.COUNT))
    rows = tuple((*row, 1) for row in ROWS)
    portrait = page_size(report_pdf(table()), tmp_path)
    landscape = page_size(report_pdf(table(rows=rows, columns=wide, totals=None)), tmp_path)
    assert portrait[0] < portrait[1]
    assert landscape[0] > landscape[1]


def test_pdf_chart_draws_a_legend_and_says_when_categories_are_left_out(tmp_path: Path) -> None:
    plain = report_pdf(table())
    bars = report_pdf(
        table(chart=Chart("bar", "room", ("energy", "amount"), title="Energy and amount"))
    )
    assert len(bars) > len(plain)
    text = "\n".join(pdf_pages(bars, tmp_path))
    assert "Energy and amount" in text
    assert "Energy (kWh)" in text.split("Energy and amount", 1)[1], "the legend names the series"
    assert "shows the first" not in text

    rows = many_rows(60)
    lines = report_pdf(table(rows=rows, chart=Chart("line", "day", ("amount",), title="By day")))
    text = "\n".join(pdf_pages(lines, tmp_path))
    after = text.split("By day", 1)[1]
    assert "Amount (CNY)" in after
    assert "The chart shows the first 40 of 60 rows." in after


def test_pdf_of_a_report_without_rows_says_so(tmp_path: Path) -> None:
    text = "\n".join(pdf_pages(report_pdf(table(rows=(), totals=None)), tmp_path))
    assert "Nothing to report for this period." in text
    assert "Page 1 of 1" in text
