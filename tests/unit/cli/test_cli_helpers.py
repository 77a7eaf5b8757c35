"""The small helpers every command shares: one ``error:`` line per problem, a UTF-8 file read
as stored and why it could not be, the exit code of a refused port, and the options that choose
accounts. No database, no processes."""

from __future__ import annotations

import argparse
import errno
from pathlib import Path

import pytest

from app.cli.context import read_utf8, report_problems, unreadable_reason
from app.cli.options import add_accounts_target
from app.cli.steps import refused_code
from app.services.setup_checks import SetupRefused
from app.vocabulary import ExitCode


def test_each_problem_is_one_error_line_and_the_code_comes_back(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert report_problems(["key: too big", ValueError("second")]) == ExitCode.REFUSED
    assert report_problems([], ExitCode.USAGE) == ExitCode.USAGE
    out, err = capsys.readouterr()
    assert out == ""
    assert err == "error: key: too big\nerror: second\n"


def test_a_file_is_read_as_stored_and_a_failure_says_why(tmp_path: Path) -> None:
    stored = tmp_path / "tariff.toml"
    stored.write_bytes('name = "Dorm"\r\nnote = "Café"\r\n'.encode())
    assert read_utf8(str(stored)) == 'name = "Dorm"\r\nnote = "Café"\r\n'  # line endings kept

    latin = tmp_path / "latin.toml"
    latin.write_bytes("note = 'Café'".encode("latin-1"))
    with pytest.raises(UnicodeDecodeError) as bad_text:
        read_utf8(str(latin))
    assert unreadable_reason(bad_text.value) == "not UTF-8 text"

    with pytest.raises(FileNotFoundError) as missing:
        read_utf8(str(tmp_path / "nowhere.toml"))
    assert unreadable_reason(missing.value) == "No such file or directory"
    assert unreadable_reason(OSError("the disk said no")) == "the disk said no"  # no strerror
    assert unreadable_reason(OSError(errno.EACCES, "Permission denied")) == "Permission denied"


def test_a_refused_port_exits_11_and_any_other_refusal_1() -> None:
    assert refused_code(SetupRefused("port", "COM9 cannot be opened.")) == 11
    assert refused_code(SetupRefused("bus", "There is no bus 'B'.")) == ExitCode.REFUSED


def _assign() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="assign")
    add_accounts_target(parser)
    return parser


def test_accounts_are_chosen_by_number_or_by_building_and_floor() -> None:
    by_number = _assign().parse_args(["--account", "100001", "--account", "100002"])
    assert (by_number.account, by_number.building, by_number.floor) == (
        ["100001", "100002"],
        None,
        None,
    )
    by_place = _assign().parse_args(["--building", "Block 7", "--floor", "2"])
    assert (by_place.account, by_place.building, by_place.floor) == (None, "Block 7", 2)


@pytest.mark.parametrize(
    "argv", [[], ["--floor", "2"], ["--account", "100001", "--building", "Block 7"]]
)
def test_accounts_need_one_way_to_choose_them(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        _assign().parse_args(argv)
    assert exit_.value.code == 2
    assert "--account" in capsys.readouterr().err
