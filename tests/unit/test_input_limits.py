"""The input limits of ``app.input_limits``, each tested: the bounded file reader (regular files
only, a size limit, a byte-order mark dropped), TOML nesting measured without recursion, digits,
control characters, dates."""

from __future__ import annotations

import os
from datetime import date, datetime
from pathlib import Path

import pytest

from app.input_limits import (
    EARLIEST_DATE,
    LATEST_DATE,
    MAX_FILE_BYTES,
    MAX_TOML_NESTING,
    InputTooLarge,
    control_character,
    date_in_range,
    decimal_digits,
    read_limited,
    read_limited_text,
    toml_nesting,
    too_deep,
)


def test_a_regular_file_is_read_whole_with_its_line_endings(tmp_path: Path) -> None:
    path = tmp_path / "t.toml"
    path.write_bytes(b'name = "x"\r\nprice = "1"\n')
    assert read_limited(path) == b'name = "x"\r\nprice = "1"\n'


def test_a_byte_order_mark_is_dropped_from_text(tmp_path: Path) -> None:
    path = tmp_path / "notepad.toml"
    path.write_bytes(b'\xef\xbb\xbfname = "x"\n')
    assert read_limited_text(path) == 'name = "x"\n'


def test_a_file_past_the_limit_is_refused_before_it_is_read(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    path.write_bytes(b"x" * 101)
    assert read_limited(path, limit=101) == b"x" * 101
    with pytest.raises(InputTooLarge) as caught:
        read_limited(path, limit=100)
    assert "larger than" in (caught.value.strerror or "")
    assert MAX_FILE_BYTES >= 4 * 1024 * 1024


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
def test_an_endless_device_is_refused_at_once(device: str) -> None:
    if not os.path.exists(device):
        pytest.skip(f"no {device} here")
    with pytest.raises(InputTooLarge) as caught:
        read_limited(device)
    assert caught.value.strerror == "not a regular file; give the path of a file saved on disk"


def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    if not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs on this platform")
    fifo = tmp_path / "usage.csv"
    os.mkfifo(fifo)
    with pytest.raises(InputTooLarge, match="not a regular file"):
        read_limited(fifo)


def test_a_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputTooLarge, match="not a regular file"):
        read_limited(tmp_path)


def test_a_missing_file_is_the_usual_os_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read_limited(tmp_path / "nowhere.toml")


@pytest.mark.parametrize(
    ("text", "depth"),
    [
        ('name = "x"\n', 0),
        ("[tiers]\nsteps = [{ upto = 1 }]\n", 2),
        ("[[fees]]\nname = 'x'\n", 2),
        ('a = "[[[[[[[[[[[[[[[[[[[["\n', 0),  # brackets in a string do not nest
        ("a = '[[[[[[[[[[[[[[[[[[[['\n", 0),
        ('a = """\n[[[[[[[[[[[[[[[[[[[[\n"""\n', 0),
        ("a = '''[[[[[[[[[[[[[[[[[[[[[[[[''' \n", 0),
        ('a = "\\"[[[[[[[[[[[[[[[[[[[["\n', 0),  # an escaped quote does not end the string
        ("# [[[[[[[[[[[[[[[[[[[[[[[[[[\na = 1\n", 0),  # nor in a comment
        ('a = """x""""\nb = [1]\n', 1),  # up to two quotes may close a multi-line string
    ],
)
def test_nesting_counts_brackets_outside_strings_and_comments(text: str, depth: int) -> None:
    assert toml_nesting(text) == depth


def test_nesting_past_the_limit_is_refused_without_recursion() -> None:
    assert too_deep("a = " + "[" * MAX_TOML_NESTING + "]" * MAX_TOML_NESTING) is None
    deep = "a = " + "[" * (MAX_TOML_NESTING + 1) + "]" * (MAX_TOML_NESTING + 1)
    assert too_deep(deep) == MAX_TOML_NESTING + 1
    assert too_deep("a = " + "[" * 200_000) == 200_000  # far past Python's recursion limit


def test_the_shipped_toml_files_are_well_inside_the_nesting_limit() -> None:
    root = Path(__file__).resolve().parents[2] / "resources"
    for path in [*root.glob("meters/*.toml"), *root.glob("tariffs/*.toml")]:
        assert toml_nesting(path.read_text(encoding="utf-8")) <= MAX_TOML_NESTING // 4, path


def test_digits_are_counted_in_all_and_before_the_point() -> None:
    assert decimal_digits("0.5800") == (5, 1)
    assert decimal_digits("-123.4") == (4, 3)
    assert decimal_digits("7") == (1, 1)


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("Dorm electricity", None),
        ("宿舍电费 2026", None),
        ("Dorm\x00", "U+0000"),
        ("a\tb", "U+0009"),
        ("a\nb", "U+000A"),
        ("a\x1bb", "U+001B"),
        ("a\x85b", "U+0085"),
        ("a\ud800b", "U+D800"),
    ],
)
def test_control_characters_and_lone_surrogates_are_found(text: str, found: str | None) -> None:
    assert control_character(text) == found


def test_dates_are_kept_inside_the_calendar_meterdesk_works_in() -> None:
    assert date_in_range(date(2026, 9, 1))
    assert date_in_range(datetime(2026, 9, 1, 8, 0))
    assert date_in_range(EARLIEST_DATE)
    assert date_in_range(LATEST_DATE)
    assert not date_in_range(date(1, 1, 1))
    assert not date_in_range(datetime(9999, 12, 31, 23, 59))
