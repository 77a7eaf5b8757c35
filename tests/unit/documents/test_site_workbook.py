"""The site workbook (rooms, buses, meters, tenants) as an .xlsx workbook or a folder of CSV files:
what is written reads back unchanged, a workbook typed by a person reads as the text they see,
and every format problem is reported with its sheet, row and column, all at once."""

from __future__ import annotations

import codecs
import hashlib
import re
import tempfile
import zipfile
from collections.abc import Mapping, Sequence
from datetime import date, datetime, time
from pathlib import Path

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.documents import site_workbook
from app.documents.site_workbook import (
    SHEETS,
    Problem,
    SheetRow,
    WorkbookError,
    parse_bool,
    read_workbook,
    split_list,
    workbook_digest,
    write_template,
    write_workbook,
)
from app.documents.site_workbook_format import cell_text

WHOLE_FILE = ""


def texts(workbook: site_workbook.Workbook) -> dict[str, list[dict[str, str]]]:
    return {name: [dict(row.values) for row in rows] for name, rows in workbook.sheets.items()}


def numbers(rows: Sequence[SheetRow]) -> list[int]:
    return [row.number for row in rows]


def problems_of(path: Path) -> tuple[Problem, ...]:
    with pytest.raises(WorkbookError) as caught:
        read_workbook(path)
    return caught.value.problems


def places(problems: Sequence[Problem]) -> list[tuple[str, int | None, str | None]]:
    return [(problem.sheet, problem.row, problem.column) for problem in problems]


def make_xlsx(path: Path, sheets: Mapping[str, Sequence[Sequence[object]]]) -> Path:
    """A workbook as a person makes it in Excel: typed values, openpyxl's ordinary mode."""
    book = openpyxl.Workbook()
    book.remove(book.active)
    for title, rows in sheets.items():
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(list(row))
    book.save(path)
    return path


def make_csv(folder: Path, files: Mapping[str, str], encoding: str = "utf-8") -> Path:
    folder.mkdir(exist_ok=True)
    for name, text in files.items():
        (folder / name).write_bytes(text.encode(encoding))
    return folder


def full(sheet: str, **values: str) -> dict[str, str]:
    """A row of ``sheet`` with every declared column, "" where not given."""
    return {name: values.get(name, "") for name in SHEETS[sheet].names}


ROOMS_HEADER = ["building", "floor", "room", "note"]


# -- the format --------------------------------------------------------------------------------


def test_the_four_sheets_are_declared_once_in_order_with_their_columns() -> None:
    assert list(SHEETS) == ["rooms", "buses", "meters", "tenants"]
    assert SHEETS["rooms"].required == ("building", "floor", "room")
    assert SHEETS["rooms"].optional == ("note",)
    assert SHEETS["buses"].names == (
        "bus",
        "port",
        "baud",
        "parity",
        "stopbits",
        "profile",
        "enabled",
    )
    assert SHEETS["buses"].optional == ("enabled",)
    assert SHEETS["meters"].optional == ("multiplier", "initial_reading")
    assert SHEETS["meters"].required == ("serial", "utility", "room", "bus", "address", "profile")
    assert SHEETS["tenants"].names == (
        "room",
        "holder",
        "holder_ref",
        "phone",
        "tariffs",
        "policy",
        "opening_balance",
    )
    assert SHEETS["tenants"].optional == ("holder_ref", "phone", "opening_balance")
    for spec in SHEETS.values():
        assert spec.description
        assert "\n" not in spec.description
        for column in spec.columns:
            assert column.description.strip()
            assert "\n" not in column.description


def test_the_help_text_lists_every_column_and_marks_the_optional_ones() -> None:
    text = site_workbook.format_text()
    for spec in SHEETS.values():
        assert f"{spec.name}:" in text
        for column in spec.columns:
            shown = f"[{column.name}]" if column.optional else f" {column.name} "
            assert shown in text
            assert column.description in text


# -- round trips -------------------------------------------------------------------------------

# Text as read gives it: trimmed, line breaks as "\n", nothing XML cannot hold.
_CHARS = st.one_of(
    st.characters(exclude_categories=("Cs", "Cc", "Cn")),
    st.sampled_from(list(",;\"'\n\t 张伟阳光花园说明房间０")),
)
_TEXT = st.one_of(
    st.text(_CHARS, max_size=24),
    st.from_regex(r"\A0[0-9]{11}\Z"),  # a DL/T 645 address
    st.from_regex(r"\A[1-9][0-9]{15,22}\Z"),  # longer than Excel's 15 digits
    st.sampled_from(["=1+1", '=HYPERLINK("x")', "+86 138 0000", "-5", "@x", "TRUE", "0.6", "1e5"]),
    st.just(""),
).map(str.strip)


def _rows(sheet: str) -> st.SearchStrategy[list[dict[str, str]]]:
    first = SHEETS[sheet].names[0]

    def not_empty(row: dict[str, str]) -> dict[str, str]:
        # A fully empty row is skipped on reading, by design (checked on its own below).
        return row if any(row.values()) else {**row, first: "x"}

    row = st.fixed_dictionaries(dict.fromkeys(SHEETS[sheet].names, _TEXT)).map(not_empty)
    return st.lists(row, max_size=4)


_SHEETS = st.fixed_dictionaries({name: _rows(name) for name in SHEETS})
_ROUND_TRIP = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_ROUND_TRIP
@given(sheets=_SHEETS)
def test_an_xlsx_workbook_reads_back_exactly_what_was_written(
    sheets: dict[str, list[dict[str, str]]],
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "site.xlsx"
        write_workbook(path, sheets)
        back = read_workbook(path)
    assert texts(back) == sheets
    assert [numbers(rows) for rows in back.sheets.values()] == [
        list(range(2, len(sheets[name]) + 2)) for name in SHEETS
    ]


@_ROUND_TRIP
@given(sheets=_SHEETS)
def test_a_csv_folder_reads_back_exactly_what_was_written(
    sheets: dict[str, list[dict[str, str]]],
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "site"
        write_workbook(path, sheets)
        back = read_workbook(path)
    assert texts(back) == sheets


@pytest.mark.parametrize("name", ["site.xlsx", "site"])
def test_sheets_and_columns_left_out_are_written_empty_and_read_back_empty(
    name: str, tmp_path: Path
) -> None:
    write_workbook(tmp_path / name, {"rooms": [{"building": "A", "floor": "3", "room": "305"}]})
    back = read_workbook(tmp_path / name)
    assert texts(back) == {
        "rooms": [full("rooms", building="A", floor="3", room="305")],
        "buses": [],
        "meters": [],
        "tenants": [],
    }


def test_a_csv_folder_holds_one_utf8_file_per_sheet_with_a_bom(tmp_path: Path) -> None:
    write_workbook(tmp_path / "new" / "site", {"tenants": [full("tenants", holder="张伟")]})
    folder = tmp_path / "new" / "site"
    assert sorted(path.name for path in folder.iterdir()) == [
        "buses.csv",
        "meters.csv",
        "rooms.csv",
        "tenants.csv",
    ]
    data = (folder / "tenants.csv").read_bytes()
    assert data.startswith(codecs.BOM_UTF8)
    assert data.decode("utf-8-sig").splitlines()[0] == ",".join(SHEETS["tenants"].names)
    assert "张伟" in data.decode("utf-8-sig")


def test_every_written_xlsx_cell_is_text_formatted_under_a_bold_header(tmp_path: Path) -> None:
    path = tmp_path / "site.xlsx"
    rows = [full("meters", serial="=1+1", address="000000000001", room="A-305")]
    write_workbook(path, {"meters": rows})
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == list(SHEETS)
    sheet = book["meters"]
    header = next(sheet.iter_rows(min_row=1, max_row=1))
    assert [cell.value for cell in header] == list(SHEETS["meters"].names)
    assert all(cell.font.b for cell in header)
    assert all(cell.number_format == "@" for cell in header)
    data = [cell for cell in next(sheet.iter_rows(min_row=2, max_row=2)) if cell.value]
    assert [cell.value for cell in data] == ["=1+1", "A-305", "000000000001"]
    assert all(cell.number_format == "@" for cell in data)
    assert all(cell.data_type == "s" for cell in data)
    # Columns are text too, so what a person types there later keeps its zeros.
    for letter in "ABCDEFGH":
        dimension = sheet.column_dimensions[letter]
        assert dimension.number_format == "@"
        assert 8 <= dimension.width <= 50
    assert sheet.column_dimensions["H"].width >= len("initial_reading")
    assert sheet.freeze_panes == "A2"


def test_column_widths_follow_the_widest_text_and_count_chinese_double(tmp_path: Path) -> None:
    path = tmp_path / "site.xlsx"
    note = "阳光花园" * 5 + "\nshort"  # 40 columns wide on its widest line
    write_workbook(path, {"rooms": [full("rooms", building="A", note=note)]})
    widths = openpyxl.load_workbook(path)["rooms"].column_dimensions
    assert widths["A"].width == 10  # "building" + 2
    assert widths["D"].width == 42


# -- a workbook typed by a person --------------------------------------------------------------


def test_a_workbook_typed_in_excel_reads_as_the_text_a_person_sees(tmp_path: Path) -> None:
    path = make_xlsx(
        tmp_path / "typed.xlsx",
        {
            "Notes": [["Fill in one sheet per kind of thing."]],
            " BUSES ": [
                ["  BUS ", "Port", "BAUD", "parity", "StopBits", "profile", "Enabled "],
                ["A-east", "COM3", 9600, "N", 1, "dlt645-2007", True],
                [],
                [None, "  ", None],
                ["B", "socket://10.0.0.7:4001", 2400.0, "E", 1.0, "x", False],
            ],
            "meters": [
                [
                    "serial",
                    "utility",
                    "room",
                    "bus",
                    "address",
                    "profile",
                    "multiplier",
                    "initial_reading",
                ],
                [123456, "electricity", "A-305", "A-east", "000000000001", "p", 0.6, 1e-05],
                [
                    "S2",
                    "water",
                    " A-306 ",
                    "A-east",
                    17,
                    "p",
                    None,
                    datetime(2026, 3, 14, 9, 30),
                ],
            ],
            "rooms": [ROOMS_HEADER, ["A", 3, "305", date(2026, 3, 14)]],
            "说明": [["每个工作表一类"]],
        },
    )
    back = read_workbook(path)
    assert texts(back) == {
        "rooms": [full("rooms", building="A", floor="3", room="305", note="2026-03-14")],
        "buses": [
            full(
                "buses",
                bus="A-east",
                port="COM3",
                baud="9600",
                parity="N",
                stopbits="1",
                profile="dlt645-2007",
                enabled="true",
            ),
            full(
                "buses",
                bus="B",
                port="socket://10.0.0.7:4001",
                baud="2400",
                parity="E",
                stopbits="1",
                profile="x",
                enabled="false",
            ),
        ],
        "meters": [
            full(
                "meters",
                serial="123456",
                utility="electricity",
                room="A-305",
                bus="A-east",
                address="000000000001",
                profile="p",
                multiplier="0.6",
                initial_reading="0.00001",
            ),
            full(
                "meters",
                serial="S2",
                utility="water",
                room="A-306",
                bus="A-east",
                address="17",
                profile="p",
                initial_reading="2026-03-14T09:30:00",
            ),
        ],
        "tenants": [],
    }
    assert numbers(back.sheets["buses"]) == [2, 5]
    assert numbers(back.sheets["meters"]) == [2, 3]


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, ""),
        ("  A-305 \t", "A-305"),
        ("line one\r\nline two\rthree", "line one\nline two\nthree"),
        (9600, "9600"),
        (9600.0, "9600"),
        (0.6, "0.6"),
        (0.1 + 0.2, "0.30000000000000004"),
        (1e-05, "0.00001"),
        (-2.5, "-2.5"),
        (-0.0, "0"),
        (1e20, "100000000000000000000"),
        (True, "true"),
        (False, "false"),
        (date(2026, 3, 14), "2026-03-14"),
        (datetime(2026, 3, 14), "2026-03-14"),
        (datetime(2026, 3, 14, 9, 30, 5), "2026-03-14T09:30:05"),
        (time(9, 30), "09:30:00"),
    ],
)
def test_a_cell_reads_as_the_text_a_person_sees(value: object, text: str) -> None:
    assert cell_text(value) == text


def test_a_sheet_with_only_a_header_or_nothing_at_all_is_empty(tmp_path: Path) -> None:
    path = make_xlsx(tmp_path / "a.xlsx", {"rooms": [ROOMS_HEADER], "buses": []})
    assert texts(read_workbook(path)) == {name: [] for name in SHEETS}


def test_blank_rows_above_the_header_are_skipped_and_rows_keep_their_numbers(
    tmp_path: Path,
) -> None:
    path = make_xlsx(tmp_path / "a.xlsx", {"rooms": [[], [None, " "], ROOMS_HEADER, ["A", 1, 101]]})
    (row,) = read_workbook(path).sheets["rooms"]
    assert row == SheetRow(4, full("rooms", building="A", floor="1", room="101"))


def test_a_workbook_whose_program_wrote_a_wrong_size_still_reads_every_row(
    tmp_path: Path,
) -> None:
    made = make_xlsx(
        tmp_path / "made.xlsx", {"rooms": [ROOMS_HEADER, ["A", 1, 101], ["A", 1, 102]]}
    )
    path = tmp_path / "wrong_size.xlsx"
    with zipfile.ZipFile(made) as source, zipfile.ZipFile(path, "w") as target:
        for item in source.infolist():
            data = source.read(item)
            if item.filename.startswith("xl/worksheets/"):
                data, count = re.subn(rb'<dimension ref="[^"]*"', b'<dimension ref="A1"', data)
                assert count == 1
            target.writestr(item, data)
    assert numbers(read_workbook(path).sheets["rooms"]) == [2, 3]


def test_a_folder_may_hold_some_sheets_and_other_files(tmp_path: Path) -> None:
    folder = make_csv(
        tmp_path / "site",
        {
            "Rooms.CSV": "building,floor,room\r\nA,3,305\r\n",
            "README.csv": "anything,at,all\n1,2,3,4,5\n",
            "notes.txt": "not a CSV file",
        },
    )
    (folder / "说明.csv").write_bytes("Unicode text, not even CSV".encode("utf-16"))
    back = read_workbook(folder)
    assert texts(back)["rooms"] == [full("rooms", building="A", floor="3", room="305")]
    assert texts(back)["meters"] == []


def test_csv_in_gb18030_as_chinese_excel_saves_it_reads(tmp_path: Path) -> None:
    text = "building,floor,room,note\r\n阳光,3,305,朝南 带阳台\r\n"
    folder = make_csv(tmp_path / "site", {"rooms.csv": text}, encoding="gb18030")
    with pytest.raises(UnicodeDecodeError):
        (folder / "rooms.csv").read_bytes().decode("utf-8")  # the test is about a real case
    assert texts(read_workbook(folder))["rooms"] == [
        full("rooms", building="阳光", floor="3", room="305", note="朝南 带阳台")
    ]


def test_csv_in_utf8_with_or_without_bom_reads(tmp_path: Path) -> None:
    plain = make_csv(tmp_path / "plain", {"rooms.csv": "building,floor,room\nA,1,101\n"})
    bom = make_csv(tmp_path / "bom", {"rooms.csv": "building,floor,room\nA,1,101\n"}, "utf-8-sig")
    expected = [full("rooms", building="A", floor="1", room="101")]
    assert texts(read_workbook(plain))["rooms"] == expected
    assert texts(read_workbook(bom))["rooms"] == expected


def test_csv_quotes_commas_and_line_breaks_and_rows_counted_as_a_spreadsheet_does(
    tmp_path: Path,
) -> None:
    folder = make_csv(
        tmp_path / "site",
        {
            "rooms.csv": (
                "building,floor,room,note\r\n"
                'A,1,101,"corner, ""quiet""\r\nsecond line"\r\n'
                "\r\n"
                "A,1,102,,,\r\n"  # trailing empty cells, as Excel writes them
            )
        },
    )
    rooms = read_workbook(folder).sheets["rooms"]
    assert [dict(row.values) for row in rooms] == [
        full("rooms", building="A", floor="1", room="101", note='corner, "quiet"\nsecond line'),
        full("rooms", building="A", floor="1", room="102"),
    ]
    assert numbers(rooms) == [2, 4]


# -- problems ----------------------------------------------------------------------------------


def test_a_problem_says_where_it_is() -> None:
    assert str(Problem("meters", 14, "address", "too long.")) == (
        "meters row 14, column address: too long."
    )
    assert str(Problem("meters", None, "address", "missing.")) == "meters, column address: missing."
    assert str(Problem("meters", 3, None, "odd.")) == "meters row 3: odd."
    assert str(Problem("Sheet1", None, None, "unknown.")) == "Sheet1: unknown."
    assert str(Problem(WHOLE_FILE, None, None, "gone.")) == "gone."
    error = WorkbookError([Problem("a", 2, None, "x."), Problem("b", None, None, "y.")])
    assert str(error) == "a row 2: x.\nb: y."


def test_every_problem_of_a_workbook_is_reported_at_once_with_its_place(tmp_path: Path) -> None:
    path = make_xlsx(
        tmp_path / "bad.xlsx",
        {
            "rooms": [
                ["building", "floor", "room", "Floor"],
                ["A", 1, "101"],
                ["A", 1, "102", 1, "stray"],
            ],
            "meters": [
                ["serial", "utility", "room", "bus", "adress", "profile"],
                ["S1", "water", "A-101", "A", "1", "p"],
            ],
            "Sheet1": [["who", "knows"]],
            "Sheet2": [],  # an empty stray sheet loses nothing
            "tenants": [
                ["room", "holder", "tariffs", "policy", "", "phone"],
                ["A", "B", "", "", "x"],
            ],
        },
    )
    problems = problems_of(path)
    assert places(problems) == [
        ("rooms", 1, "floor"),  # duplicate column
        ("rooms", 3, "E"),  # a value under no column name
        ("meters", 1, "adress"),  # unknown column
        ("meters", None, "address"),  # missing required column
        ("Sheet1", None, None),  # unknown sheet
        ("tenants", 2, "E"),  # a value under an empty column name
    ]
    assert "(columns B and D)" in problems[0].message
    assert "did you mean address?" in problems[2].message
    assert "serial, utility, room, bus, address, profile" in problems[2].message
    assert "required" in problems[3].message
    assert "rooms, buses, meters, tenants" in problems[4].message
    assert "row 1" in problems[5].message


def test_two_sheets_of_one_name_are_a_problem(tmp_path: Path) -> None:
    path = make_xlsx(tmp_path / "two.xlsx", {"rooms": [ROOMS_HEADER], " ROOMS ": [ROOMS_HEADER]})
    (problem,) = problems_of(path)
    assert places([problem]) == [("rooms", None, None)]
    assert "rooms" in problem.message
    assert " ROOMS " in problem.message
    header = "building,floor,room\n"
    folder = make_csv(tmp_path / "site", {"rooms.csv": header, "ROOMS.csv": header})
    assert places(problems_of(folder)) == [("rooms", None, None)]


def test_a_csv_row_longer_than_its_header_is_a_problem_of_that_row(tmp_path: Path) -> None:
    folder = make_csv(
        tmp_path / "site",
        {
            "rooms.csv": "building,floor,room\nA,1,101\nA,1,102,quiet, south\n",
            "meters.csv": "serial,utility\nS1,water\n",
            "stuff.csv": "a\n1\n",
        },
    )
    problems = problems_of(folder)
    assert places(problems) == [
        ("meters", None, "room"),
        ("meters", None, "bus"),
        ("meters", None, "address"),
        ("meters", None, "profile"),
        ("rooms", 3, None),
        ("stuff.csv", None, None),
    ]
    assert "5 values" in problems[4].message
    assert "3 columns" in problems[4].message


def test_a_csv_file_with_a_quote_never_closed_says_where_it_opened(tmp_path: Path) -> None:
    folder = make_csv(tmp_path / "site", {"rooms.csv": 'building,floor,room\nA,1,"101\nA,1,102\n'})
    (problem,) = problems_of(folder)
    assert places([problem]) == [("rooms", 2, None)]
    assert "line 2" in problem.message
    assert "rooms.csv" in problem.message


def test_a_csv_file_in_an_unknown_encoding_is_named(tmp_path: Path) -> None:
    folder = make_csv(tmp_path / "site", {"rooms.csv": "building,floor,room\n"})
    (folder / "meters.csv").write_bytes(b"serial,utility\n\xff\xfe\xff,x\n")
    (folder / "tenants.csv").write_bytes("room,holder\n".encode("utf-16"))
    problems = problems_of(folder)
    assert places(problems) == [("meters", None, None), ("tenants", None, None)]
    assert "meters.csv" in problems[0].message
    assert "UTF-8" in problems[0].message
    assert "tenants.csv" in problems[1].message
    assert "UTF-16" in problems[1].message


def test_a_missing_file_or_folder_says_so(tmp_path: Path) -> None:
    for path in (tmp_path / "nowhere.xlsx", tmp_path / "nowhere"):
        (problem,) = problems_of(path)
        assert places([problem]) == [(WHOLE_FILE, None, None)]
        assert str(path) in problem.message
        assert "does not exist" in problem.message


def test_files_that_are_not_a_site_workbook_say_what_to_do(tmp_path: Path) -> None:
    cases = {
        "old.xls": "Save it as an Excel workbook (.xlsx)",
        "rooms.csv": "Give the folder",
        "site.txt": "neither an .xlsx workbook nor a folder",
        "broken.xlsx": "not an .xlsx workbook, or it is damaged",
    }
    for name, advice in cases.items():
        (tmp_path / name).write_bytes(b"not a spreadsheet")
        (problem,) = problems_of(tmp_path / name)
        assert advice in problem.message, name
    (tmp_path / "empty").mkdir()
    (problem,) = problems_of(tmp_path / "empty")
    assert "holds no CSV files" in problem.message
    assert "rooms.csv" in problem.message


def test_text_an_xlsx_cannot_hold_is_refused_before_writing(tmp_path: Path) -> None:
    rows = [
        full("rooms", building="A", note="bell\x07"),
        full("rooms", building="B", note="x" * 32_768),
    ]
    with pytest.raises(WorkbookError) as caught:
        write_workbook(tmp_path / "site.xlsx", {"rooms": rows})
    assert places(caught.value.problems) == [("rooms", 2, "note"), ("rooms", 3, "note")]
    assert "U+0007" in caught.value.problems[0].message
    assert not list(tmp_path.iterdir())
    write_workbook(tmp_path / "site", {"rooms": rows})  # CSV holds any text
    assert texts(read_workbook(tmp_path / "site"))["rooms"] == rows


def test_names_outside_the_format_are_the_callers_mistake(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="Unknown sheet 'flats'"):
        write_workbook(tmp_path / "a.xlsx", {"flats": []})
    with pytest.raises(ValueError, match="Unknown column"):
        write_workbook(tmp_path / "a.xlsx", {"rooms": [{"Building": "A"}]})
    with pytest.raises(WorkbookError, match=r"ending in \.xlsx"):
        write_workbook(tmp_path / "a.csv", {})
    assert not list(tmp_path.iterdir())


def test_a_failed_xlsx_write_leaves_the_old_file_and_no_half_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "site.xlsx"
    path.write_bytes(b"the previous export")

    def half_then_fail(self: openpyxl.Workbook, filename: str) -> None:
        Path(filename).write_bytes(b"PK half")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(openpyxl.Workbook, "save", half_then_fail)
    with pytest.raises(WorkbookError, match="No space left on device"):
        write_workbook(path, {"rooms": [full("rooms", building="A")]})
    assert path.read_bytes() == b"the previous export"
    assert [p.name for p in tmp_path.iterdir()] == ["site.xlsx"]


def test_a_failed_csv_write_leaves_the_old_files_and_no_half_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "site"
    write_workbook(folder, {"rooms": [full("rooms", building="old")]})
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    real_writer = site_workbook.csv.writer
    calls = []

    def failing_writer(stream: object, **options: object) -> object:
        calls.append(stream)
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        return real_writer(stream, **options)

    monkeypatch.setattr(site_workbook.csv, "writer", failing_writer)
    with pytest.raises(WorkbookError, match="No space left on device"):
        write_workbook(folder, {"rooms": [full("rooms", building="new")]})
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before


# -- the template ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["template.xlsx", "template"])
def test_the_template_reads_back_as_an_empty_workbook(name: str, tmp_path: Path) -> None:
    write_template(tmp_path / name)
    assert texts(read_workbook(tmp_path / name)) == {name: [] for name in SHEETS}


def test_the_template_notes_describe_every_column(tmp_path: Path) -> None:
    write_template(tmp_path / "template.xlsx")
    book = openpyxl.load_workbook(tmp_path / "template.xlsx")
    assert book.sheetnames == [*SHEETS, "notes"]
    for spec in SHEETS.values():
        header = [cell.value for cell in next(book[spec.name].iter_rows())]
        assert header == list(spec.names)
    notes = [tuple(cell or "" for cell in row) for row in book["notes"].values]
    assert notes[0] == ("sheet", "column", "required", "description")
    for spec in SHEETS.values():
        assert (spec.name, "", "", spec.description) in notes
        for column in spec.columns:
            needed = "optional" if column.optional else "required"
            assert (spec.name, column.name, needed, column.description) in notes


# -- speed, by construction --------------------------------------------------------------------


def test_reading_streams_the_workbook_and_written_sheets_state_their_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Large sites stay fast because (1) the reader uses openpyxl's streaming mode, which holds
    one row at a time instead of every cell object, and (2) our sheets carry their size, without
    which openpyxl's streaming reader parses each whole sheet once more while opening it."""
    path = tmp_path / "site.xlsx"
    write_workbook(path, {"rooms": [full("rooms", building=str(n)) for n in range(30)]})
    sheet = openpyxl.load_workbook(path, read_only=True)["rooms"]
    assert (sheet.max_row, sheet.max_column) == (31, 4)
    opened: list[dict[str, object]] = []
    real = openpyxl.load_workbook

    def spy(filename: Path, **options: bool) -> openpyxl.Workbook:
        opened.append(options)
        return real(filename, **options)

    monkeypatch.setattr(site_workbook.openpyxl, "load_workbook", spy)
    assert len(read_workbook(path).sheets["rooms"]) == 30
    assert opened == [{"read_only": True, "data_only": True}]


# -- helpers for the import service ------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("", None),
        ("   ", None),
        ("yes", True),
        (" YES ", True),
        ("Y", True),
        ("true", True),
        ("TRUE", True),
        ("1", True),
        ("是", True),
        ("no", False),
        ("N", False),
        ("False", False),
        ("0", False),
        ("否", False),
    ],
)
def test_parse_bool_reads_yes_and_no(text: str, value: bool | None) -> None:
    assert parse_bool(text) is value


@pytest.mark.parametrize("text", ["maybe", "2", "on", "yes please", "对"])
def test_parse_bool_refuses_anything_else_and_says_what_is_allowed(text: str) -> None:
    with pytest.raises(ValueError, match="yes, no, true, false, 1, 0, 是 or 否") as caught:
        parse_bool(text)
    assert repr(text) in str(caught.value)


def test_split_list_trims_and_drops_empty_items() -> None:
    assert split_list(" Residential 2026 ; Tiered water;; ") == ("Residential 2026", "Tiered water")
    assert split_list("") == ()
    assert split_list(" ; ") == ()
    assert split_list("a, b,,c", sep=",") == ("a", "b", "c")
    assert split_list("a;b", sep=",") == ("a;b",)


def test_a_workbooks_digest_is_the_sha256_of_its_file_or_of_its_csv_files(tmp_path: Path) -> None:
    """What the import's audit event records: the SHA-256 of the file's name, a zero byte and
    its bytes; for a folder, of each CSV file so, in name order."""
    book = tmp_path / "site.xlsx"
    write_workbook(book, {"rooms": [{"building": "A", "floor": "1", "room": "101"}]})
    expected = hashlib.sha256(b"site.xlsx\0" + book.read_bytes()).hexdigest()
    assert workbook_digest(book) == expected
    folder = tmp_path / "site"
    write_workbook(folder, {"rooms": [{"building": "A", "floor": "1", "room": "101"}]})
    (folder / "notes.txt").write_text("not a sheet")  # only the CSV files count
    sha = hashlib.sha256()
    for file in sorted(folder.glob("*.csv")):
        sha.update(file.name.encode() + b"\0" + file.read_bytes())
    digest = workbook_digest(folder)
    assert digest == sha.hexdigest()
    (folder / "rooms.csv").write_bytes((folder / "rooms.csv").read_bytes() + b"A,2,201\r\n")
    assert workbook_digest(folder) != digest
