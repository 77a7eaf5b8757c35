"""The DL/T 645-2007 data identifier table (resources/protocols/dlt645-2007-di.toml)."""

from __future__ import annotations

from datetime import date, time
from decimal import Decimal

import pytest

from app.hardware.dlt645.di_table import DataItem, di_table, parse_di, parse_di_table
from app.hardware.errors import FrameError

# DOMAIN.md section 4: identifier -> (length, decimals, signed)
NUMBERS = {
    0x00010000: (4, 2, False),
    0x00010100: (4, 2, False),
    0x00010200: (4, 2, False),
    0x00010300: (4, 2, False),
    0x00010400: (4, 2, False),
    0x00000000: (4, 2, True),
    0x02010100: (2, 1, False),
    0x02010200: (2, 1, False),
    0x02010300: (2, 1, False),
    0x02020100: (3, 3, True),
    0x02020200: (3, 3, True),
    0x02020300: (3, 3, True),
    0x02030000: (3, 4, True),
    0x02030100: (3, 4, True),
    0x02060000: (2, 3, True),
    0x02060100: (2, 3, True),
    0x00900200: (4, 2, False),
    0x00900201: (4, 2, False),
    0x04001001: (4, 2, False),
    0x04001002: (4, 2, False),
    0x04001003: (4, 2, False),
    0x04001004: (4, 2, False),
    0x04001005: (4, 2, False),
}


def test_every_identifier_of_the_domain_notes_is_in_the_table() -> None:
    table = di_table()
    for di, (length, decimals, signed) in NUMBERS.items():
        item = table[di]
        assert (item.kind, item.length, item.decimals, item.signed) == (
            "number",
            length,
            decimals,
            signed,
        ), item.label
    assert (table[0x04000101].kind, table[0x04000101].length) == ("date", 4)
    assert (table[0x04000102].kind, table[0x04000102].length) == ("time", 3)
    assert (table[0x04000503].kind, table[0x04000503].length) == ("word", 2)


def test_prepaid_limits_are_writable_parameters_and_measurements_are_not() -> None:
    table = di_table()
    limits = [table[0x04001001 + n] for n in range(5)]
    assert [item.param for item in limits] == [
        "alarm_1",
        "alarm_2",
        "overdraft_limit",
        "hoard_limit",
        "close_permit",
    ]
    assert all(item.writable for item in limits)
    assert not table[0x02010100].writable
    assert table[0x00900200].param == "balance"


def test_items_decode_and_encode_their_formats() -> None:
    table = di_table()
    assert table[0x02030000].decode(bytes([0x00, 0x15, 0x81])) == Decimal("-1.1500")
    assert table[0x04000101].decode(table[0x04000101].encode(date(2026, 9, 1))) == date(2026, 9, 1)
    assert table[0x04000102].encode(time(8, 0, 0)) == bytes([0x00, 0x00, 0x08])
    with pytest.raises(FrameError, match="3 data bytes, the format has 2"):
        table[0x02010100].decode(b"\x00\x00\x00")
    with pytest.raises(ValueError, match="takes a number"):
        table[0x02010100].encode(date(2026, 1, 1))


def test_parse_di() -> None:
    assert parse_di("02010100") == 0x02010100
    assert parse_di("0400050a") == 0x0400050A
    for bad in ("0201010", "020101000", "0201010G", 2010100, None, "+2010100"):
        assert parse_di(bad) is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[di.0201010]\nname='x'\nlength=2", "di.0201010: a data identifier is 8 hex digits"),
        ("[di.02010100]\nname='x'\nlength=2\ncolour=1", "di.02010100.colour: unknown key"),
        ("[di.02010100]\nname='x'\nkind='float'\nlength=2", "di.02010100.kind"),
        ("[di.02010100]\nname='x'\nkind='date'\nlength=3", "a date has 4 bytes"),
        ("[di.02010100]\nname='x'", "di.02010100.length"),
        ("x = 1", "di: missing table"),
        ("[di", "not valid TOML"),
    ],
)
def test_a_broken_table_is_reported_with_file_and_key(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=r"^table\.toml: ") as caught:
        parse_di_table(text, "table.toml")
    assert message in str(caught.value)


def test_a_table_entry_builds_an_item() -> None:
    table = parse_di_table(
        "[di.0280000A]\nname = 'frequency'\nlength = 2\ndecimals = 2\nunit = 'Hz'", "t.toml"
    )
    assert table == {0x0280000A: DataItem(0x0280000A, "frequency", "number", 2, 2, False, "Hz")}
