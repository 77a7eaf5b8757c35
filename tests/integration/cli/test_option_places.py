"""``--data-dir``, ``--db`` and ``--demo`` act wherever they stand, for every command the parser
knows (found by walking it, so a new command is covered without a new line here); a read-only
command on an empty folder creates nothing; ``--db`` names the database the command acts on;
``main.py --help`` loads no database, service or wire code."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
from sqlalchemy import select

from app.cli.parser import build_parser
from app.store.database import Database, sqlite_url_for
from app.store.models import Account
from tests.integration.cli.cli_support import commands
from tests.support import run_python

DATA_DIR = "/srv/meterdesk-site"
URL = "postgresql+psycopg://meterdesk:pw@db.example/meterdesk"
PLACES = ["--data-dir", DATA_DIR, "--db", URL, "--demo"]


def _value(action: argparse.Action) -> str:
    """A value the action takes: its first choice, else the first dummy its type accepts."""
    if action.choices:
        return str(next(iter(action.choices)))
    convert = action.type
    for candidate in ("x", "1", "2026-01-01"):
        if convert is None or not callable(convert):
            return candidate
        try:
            convert(candidate)
        except (ValueError, TypeError, argparse.ArgumentTypeError):
            continue
        return candidate
    raise AssertionError(f"no dummy value for {action.dest}")


def required_args(parser: argparse.ArgumentParser) -> list[str]:
    """What the command cannot do without: each positional, each required option, and the
    first option of each required either-or group, with a value each."""
    out: list[str] = []
    for action in parser._actions:
        if action.option_strings and action.required:
            out += [action.option_strings[0]] + ([_value(action)] if action.nargs != 0 else [])
    for group in parser._mutually_exclusive_groups:
        if group.required:
            first = group._group_actions[0]
            out += [first.option_strings[0]] + ([_value(first)] if first.nargs != 0 else [])
    for action in parser._actions:
        if not action.option_strings:
            out.append(_value(action))
    return out


PARSER = build_parser()
COMMANDS = sorted(commands(PARSER))


def test_the_walk_finds_the_commands() -> None:
    names = {" ".join(path) for path, _ in COMMANDS}
    assert {"account list", "site init", "room generate", "bus add", "meter read", "simulate"} <= (
        names
    )
    assert len(names) == len(COMMANDS) > 50


@pytest.mark.parametrize("command", [path for path, _ in COMMANDS], ids=" ".join)
def test_the_place_options_act_before_and_after_the_command(command: tuple[str, ...]) -> None:
    parser = dict(COMMANDS)[command]
    needed = required_args(parser)
    for argv in ([*PLACES, *command, *needed], [*command, *needed, *PLACES]):
        args = PARSER.parse_args(argv)
        assert (args.data_dir, args.db, args.demo) == (DATA_DIR, URL, True), argv
        assert callable(getattr(args, "handler", None)), argv
    split = [PLACES[0], PLACES[1], *command, *needed, *PLACES[2:]]
    args = PARSER.parse_args(split)
    assert (args.data_dir, args.db, args.demo) == (DATA_DIR, URL, True), split
    args = PARSER.parse_args([*command, *needed])
    assert (args.data_dir, args.db, args.demo) == (None, None, False)


def test_without_a_command_the_options_keep_their_defaults() -> None:
    args = PARSER.parse_args([])
    assert (args.data_dir, args.db, args.demo) == (None, None, False)
    assert getattr(args, "handler", None) is None  # the console window
    args = PARSER.parse_args(PLACES)
    assert (args.data_dir, args.db, args.demo) == (DATA_DIR, URL, True)


# -- end to end --------------------------------------------------------------------------------


def test_db_names_the_database_the_command_acts_on(postgres_url: str, tmp_path: Path) -> None:
    folder = tmp_path / "site"
    size = ["--buildings", "1", "--floors", "1", "--rooms-per-floor", "2"]
    seeded = run_python(["main.py", "demo", "seed", "--db", postgres_url, *size])
    assert seeded.returncode == 0, seeded.stderr
    database = Database(postgres_url)
    try:
        with database.session() as session:
            numbers = sorted(session.scalars(select(Account.number)))
    finally:
        database.dispose()
    assert len(numbers) == 2
    listed = run_python(
        ["main.py", "--db", postgres_url, "account", "list", "--json", "--data-dir", str(folder)]
    )
    assert listed.returncode == 0, listed.stderr
    assert sorted(str(row["account"]) for row in json.loads(listed.stdout)) == numbers
    assert not any(p.suffix in {".db", ".sqlite", ".sqlite3"} for p in folder.rglob("*"))
    assert not (folder / "meterdesk.db").exists()


def test_the_environment_names_the_database_when_db_is_not_given(
    postgres_url: str, tmp_path: Path
) -> None:
    """A PC of a site on PostgreSQL sets METERDESK_DB once; --db still wins over it."""
    folder = tmp_path / "site"
    size = ["--buildings", "1", "--floors", "1", "--rooms-per-floor", "2"]
    env = {"METERDESK_DB": postgres_url}
    seeded = run_python(["main.py", "demo", "seed", "--data-dir", str(folder), *size], env=env)
    assert seeded.returncode == 0, seeded.stderr
    assert postgres_url.rsplit("/", 1)[1] in seeded.stdout  # seeded into the server database
    listed = run_python(
        ["main.py", "account", "list", "--json", "--data-dir", str(folder)], env=env
    )
    assert listed.returncode == 0, listed.stderr
    assert len(json.loads(listed.stdout)) == 2
    assert not any(p.suffix == ".sqlite3" for p in folder.rglob("*"))
    own = run_python(
        ["main.py", "--db", sqlite_url_for(tmp_path / "other"), "db", "status", "--json"], env=env
    )
    assert json.loads(own.stdout)["database"].endswith("meterdesk.sqlite3"), own.stdout


def test_a_read_only_command_creates_nothing_in_an_empty_folder(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    proc = run_python(["main.py", "account", "list", "--data-dir", str(empty)])
    assert proc.returncode == 8
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"error: There is no MeterDesk database in {empty} yet")
    assert "nothing was created" in lines[0]
    assert list(empty.iterdir()) == []
    missing = tmp_path / "missing"
    proc = run_python(["main.py", "--data-dir", str(missing), "site", "show"])
    assert proc.returncode == 8
    assert not missing.exists()


PROBE = """
import contextlib, io, json, sys
from app.cli import main
with contextlib.redirect_stdout(io.StringIO()) as out:
    try:
        main(["--help"])
    except SystemExit as exit:
        code = exit.code
heavy = sorted(
    m for m in sys.modules
    if m.split(".")[0] == "sqlalchemy"
    or m.startswith(("app.services", "app.store", "app.hardware"))
)
print(json.dumps({"code": code, "heavy": heavy, "help": out.getvalue()}))
"""


def test_help_loads_no_database_service_or_wire_code() -> None:
    proc = run_python(["-c", PROBE], timeout=120)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["code"] == 0
    assert "site" in result["help"]
    assert result["heavy"] == []
